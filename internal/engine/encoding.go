package engine

import (
	"errors"

	v8 "github.com/tommie/v8go"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/transform"
)

// The Encoding standard's legacy encodings for TextDecoder
// (web/14_encoding.js): golang.org/x/text's htmlindex holds the standard's
// label table. UTF-8 and UTF-16 are decoded in JS, which is faster for
// them and needs no copy.

func init() {
	// encodingName(label) -> the canonical name, or undefined.
	registerNative("encodingName", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		enc, err := htmlindex.Get(strArg(info.Args(), 0))
		if err != nil {
			return nil, nil
		}
		name, err := htmlindex.Name(enc)
		if err != nil {
			return nil, nil
		}
		return v8.NewValue(i.iso, name)
	})
	// decodeLegacy(name, n, flush) decodes n scratch bytes and returns the
	// text; slot 0 says how many bytes it used. Without flush, an
	// incomplete sequence at the end is left for the next call.
	registerNative("decodeLegacy", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		enc, err := htmlindex.Get(strArg(args, 0))
		if err != nil || enc == encoding.Replacement {
			return nil, errors.New("decodeLegacy: unknown encoding")
		}
		src, err := i.web.in(0, intArg(args, 1))
		if err != nil {
			return nil, err
		}
		text, used := decodeChunk(enc.NewDecoder(), src, len(args) > 2 && args[2].Boolean())
		i.web.setSlot(0, used)
		return v8.NewValue(i.iso, text)
	})
}

// decodeChunk runs t over src and reports how much of src it consumed.
func decodeChunk(t transform.Transformer, src []byte, atEOF bool) (string, int) {
	dst := make([]byte, 3*len(src)+16)
	var out []byte
	used := 0
	for {
		nDst, nSrc, err := t.Transform(dst, src[used:], atEOF)
		out = append(out, dst[:nDst]...)
		used += nSrc
		if err != transform.ErrShortDst || (nDst == 0 && nSrc == 0) {
			return string(out), used
		}
	}
}
