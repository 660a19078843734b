package engine

import "testing"

// benchJS reports the cost of one run of body: each invocation runs it
// 100 times, so the invocation's own cost hardly counts.
func benchJS(b *testing.B, setup, body string) {
	iso := newIsolate(b, setup+"\n(s, p) => { for (let i = 0; i < 100; i++) { "+body+" } }", Options{})
	if res := invoke(iso, ""); res.Err != nil {
		b.Fatalf("%v: %s", res.Err, res.Detail)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += 100 {
		invoke(iso, "")
	}
}

// 16 KiB of text, mostly ASCII with some two- and three-byte characters.
const textSetup = `const td = new TextDecoder(); const text = new TextEncoder().encode('héllo wörld, €uro — '.repeat(800));`

func BenchmarkTextDecoderUTF8(b *testing.B) { benchJS(b, textSetup, `td.decode(text);`) }

func BenchmarkNewURL(b *testing.B) {
	benchJS(b, "", `new URL('https://user@example.com:8080/a/b/../c?x=1&y=2#frag');`)
}

func BenchmarkURLSearchParams(b *testing.B) {
	benchJS(b, "", `new URL('https://example.com/?a=1&b=two+words&c=%C3%A9').searchParams.get('c');`)
}
