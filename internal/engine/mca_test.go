package engine

import (
	"strings"
	"testing"
)

// TestMinimumCommonAPI checks that every interface and global of the
// WinterTC Minimum Common API that docs/runtime.md lists as there is there
// in a function, with the right type. Each entry is an expression and its
// typeof.
func TestMinimumCommonAPI(t *testing.T) {
	have := [][2]string{
		{"AbortController", "function"}, {"AbortSignal", "function"}, {"Blob", "function"},
		{"ByteLengthQueuingStrategy", "function"}, {"CompressionStream", "function"}, {"CountQueuingStrategy", "function"},
		{"Crypto", "function"}, {"CryptoKey", "function"}, {"CustomEvent", "function"}, {"DecompressionStream", "function"},
		{"DOMException", "function"}, {"ErrorEvent", "function"}, {"Event", "function"}, {"EventTarget", "function"},
		{"File", "function"}, {"FormData", "function"}, {"Headers", "function"}, {"Performance", "function"},
		{"PromiseRejectionEvent", "function"}, {"ReadableStream", "function"}, {"ReadableStreamDefaultController", "function"},
		{"ReadableStreamDefaultReader", "function"}, {"Request", "function"}, {"Response", "function"},
		{"SubtleCrypto", "function"}, {"TextDecoder", "function"}, {"TextDecoderStream", "function"},
		{"TextEncoder", "function"}, {"TextEncoderStream", "function"}, {"TransformStream", "function"},
		{"TransformStreamDefaultController", "function"}, {"URL", "function"}, {"URLSearchParams", "function"},
		{"WritableStream", "function"}, {"WritableStreamDefaultController", "function"}, {"WritableStreamDefaultWriter", "function"},
		{"WebAssembly.Global", "function"}, {"WebAssembly.Instance", "function"}, {"WebAssembly.Memory", "function"},
		{"WebAssembly.Module", "function"}, {"WebAssembly.Table", "function"}, {"WebAssembly.Tag", "function"},
		{"WebAssembly.Exception", "function"}, {"WebAssembly.CompileError", "function"}, {"WebAssembly.LinkError", "function"},
		{"WebAssembly.RuntimeError", "function"}, {"WebAssembly.compile", "function"}, {"WebAssembly.compileStreaming", "function"},
		{"WebAssembly.instantiate", "function"}, {"WebAssembly.instantiateStreaming", "function"},
		{"WebAssembly.JSTag", "object"}, {"WebAssembly.validate", "function"},
		{"globalThis", "object"}, {"atob", "function"}, {"btoa", "function"}, {"clearTimeout", "function"},
		{"clearInterval", "function"}, {"console", "object"}, {"crypto", "object"}, {"fetch", "function"},
		{"navigator.userAgent", "string"}, {"performance", "object"}, {"performance.now", "function"},
		{"performance.timeOrigin", "number"}, {"queueMicrotask", "function"}, {"reportError", "function"},
		{"self", "object"}, {"setTimeout", "function"}, {"setInterval", "function"}, {"structuredClone", "function"},
	}
	var js strings.Builder
	js.WriteString("const out = [];\n")
	for _, h := range have {
		js.WriteString("out.push(typeof " + h[0] + ");\n")
	}
	js.WriteString(`out.push(self === globalThis, crypto instanceof Crypto, performance instanceof Performance); return out.join(' ');`)
	var want []string
	for _, h := range have {
		want = append(want, h[1])
	}
	want = append(want, "true", "true", "true")
	iso := newIsolate(t, "async () => {\n"+js.String()+"\n}", Options{})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	got := strings.Fields(string(res.Body))
	for k := range want {
		if k >= len(got) || got[k] != want[k] {
			name := "the checks after the table"
			if k < len(have) {
				name = have[k][0]
			}
			g := "nothing"
			if k < len(got) {
				g = got[k]
			}
			t.Errorf("typeof %s: got %s, want %s", name, g, want[k])
		}
	}
}
