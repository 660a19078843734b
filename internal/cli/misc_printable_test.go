package cli

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain ünïcode 日本 ✓ \\n": "plain ünïcode 日本 ✓ \\n",
		"a\nb\r\tc":              `a\nb\r\tc`,
		"\x00\x1b[31m\x07\x7f":   `\x00\x1b[31m\a\x7f`,
		"\u0085\u009b":           `\u0085\u009b`,
		"\xff\xc3(":              `\xff\xc3(`,
		"\u202eabc\u2066":        `\u202eabc\u2066`,
		"":                       "",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
