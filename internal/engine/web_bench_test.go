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

// BenchmarkNewURL parses the same URL each time, as a function calling
// one endpoint does: the isolate's cache answers. BenchmarkNewURLParse
// parses a new one each time: the conforming parser in Go.
func BenchmarkNewURL(b *testing.B) {
	benchJS(b, "", `new URL('https://user@example.com:8080/a/b/../c?x=1&y=2#frag');`)
}

func BenchmarkNewURLParse(b *testing.B) {
	benchJS(b, "let n = 0;", `new URL('https://user@example.com:8080/a/b/../c?x=1&y=2#frag' + n++);`)
}

func BenchmarkURLSearchParams(b *testing.B) {
	benchJS(b, "", `new URL('https://example.com/?a=1&b=two+words&c=%C3%A9').searchParams.get('c');`)
}

const digestSetup = `const small = new Uint8Array(64), kib = new Uint8Array(1024), mib = new Uint8Array(1 << 20);`

func BenchmarkDigestSHA256_64B(b *testing.B) {
	benchJS(b, digestSetup, `crypto.subtle.digest('SHA-256', small);`)
}

func BenchmarkDigestSHA256_1KiB(b *testing.B) {
	benchJS(b, digestSetup, `crypto.subtle.digest('SHA-256', kib);`)
}

func BenchmarkDigestSHA256_1MiB(b *testing.B) {
	benchJS(b, digestSetup, `crypto.subtle.digest('SHA-256', mib);`)
}

func BenchmarkHMACSign(b *testing.B) {
	benchJS(b, `let key; crypto.subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']).then((k) => { key = k; });
		const data = new Uint8Array(64);`, `crypto.subtle.sign('HMAC', key, data);`)
}

func BenchmarkTextDecoderShiftJIS(b *testing.B) {
	benchJS(b, `const td = new TextDecoder('shift_jis'); const text = new Uint8Array(1024).fill(0x41);`, `td.decode(text);`)
}
