package engine

import (
	"os"
	"testing"
)

// TestTextDecoder checks the Encoding standard's common cases: labels,
// BOM handling, fatal errors, maximal-subpart replacement, streaming split
// sequences in UTF-8, UTF-16 and the legacy encodings, and encodeInto.
func TestTextDecoder(t *testing.T) {
	src, err := os.ReadFile("testdata/textdecoder.js")
	if err != nil {
		t.Fatal(err)
	}
	iso := newIsolate(t, "() => {\n"+string(src)+"\nreturn out; }", Options{})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	want, err := os.ReadFile("testdata/textdecoder.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != string(want[:len(want)-1]) {
		t.Fatalf("got  %s\nwant %s", res.Body, want)
	}
}
