package engine

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// compressHelpers: run pipes chunks through a transform and returns the
// output joined; text is a sample with some repetition.
const compressHelpers = errHelpers + `
const run = async (chunks, ts) => {
  const rs = new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
  const parts = []; let n = 0;
  for await (const c of rs.pipeThrough(ts)) { if (!(c instanceof Uint8Array)) throw new Error('not a Uint8Array'); parts.push(c); n += c.length; }
  const out = new Uint8Array(n); let off = 0; for (const p of parts) { out.set(p, off); off += p.length; } return out;
};
const text = 'natsfn compresses this line. '.repeat(2000) + 'éß∑ the end';
const enc = (s) => new TextEncoder().encode(s), dec = (b) => new TextDecoder().decode(b);
const split = (b, size) => { const out = []; for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size)); return out; };
const errOf = async (f) => { try { await f(); return 'no error'; } catch (e) { return e.constructor.name; } };
`

func TestCompressionStreams(t *testing.T) {
	var cases []webCase
	for _, f := range []string{"gzip", "deflate", "deflate-raw"} {
		cases = append(cases,
			webCase{f + " round trip", compressHelpers + `
				const z = await run([enc(text)], new CompressionStream('` + f + `'));
				const back = await run(split(z, 7), new DecompressionStream('` + f + `'));
				return [z.length < 400, dec(back) === text];`, "[true,true]"},
			webCase{f + " in many chunks, buffers of every kind", compressHelpers + `
				const src = enc(text);
				const chunks = split(src, 1000).map((c, i) => i % 3 === 0 ? c : i % 3 === 1 ? c.slice().buffer : new DataView(c.slice().buffer));
				const z = await run(chunks, new CompressionStream('` + f + `'));
				const back = await run(split(z, 1), new DecompressionStream('` + f + `'));
				return dec(back) === text;`, "true"},
			webCase{f + " empty input", compressHelpers + `
				const z = await run([], new CompressionStream('` + f + `'));
				const back = await run([z], new DecompressionStream('` + f + `'));
				return [z.length > 0, back.length, await errOf(() => run([], new DecompressionStream('` + f + `')))];`, `[true,0,"TypeError"]`},
			webCase{f + " truncated, junk after the end, corrupt", compressHelpers + `
				const z = await run([enc(text)], new CompressionStream('` + f + `'));
				const junk = new Uint8Array(z.length + 1); junk.set(z); junk[z.length] = 1;
				const bad = z.slice(); for (let i = 2; i < 12; i++) bad[i] ^= 0x5a;
				return [
					await errOf(() => run([z.subarray(0, z.length - 3)], new DecompressionStream('` + f + `'))),
					await errOf(() => run([junk], new DecompressionStream('` + f + `'))),
					await errOf(() => run([z, new Uint8Array([0])], new DecompressionStream('` + f + `'))),
					await errOf(() => run([bad], new DecompressionStream('` + f + `'))),
				];`, `["TypeError","TypeError","TypeError","TypeError"]`},
		)
	}
	cases = append(cases,
		webCase{"arguments and classes", compressHelpers + `
			const c = new CompressionStream('gzip');
			return [
				await errOf(() => new CompressionStream('brotli')), await errOf(() => new DecompressionStream()),
				await errOf(() => new CompressionStream('GZIP')),
				await errOf(() => run(['text'], new CompressionStream('gzip'))),
				await errOf(() => run([42], new DecompressionStream('gzip'))),
				Object.prototype.toString.call(c), c.readable instanceof ReadableStream, c.writable instanceof WritableStream,
			];`, `["TypeError","TypeError","TypeError","TypeError","TypeError","[object CompressionStream]",true,true]`},
		webCase{"a hundred streams one after another", compressHelpers + `
			let ok = 0;
			for (let i = 0; i < 100; i++) {
				const z = await run([enc('x' + i)], new CompressionStream('deflate'));
				if (dec(await run([z], new DecompressionStream('deflate'))) === 'x' + i) ok++;
			}
			return ok;`, "100"},
		webCase{"cancel and error give the state back", compressHelpers + `
			for (let i = 0; i < 40; i++) {
				const d = new DecompressionStream('gzip'); const w = d.writable.getWriter();
				const r = d.readable.getReader();
				const z = await run([enc(text)], new CompressionStream('gzip'));
				const p = r.read(); await w.write(z.subarray(0, 100)); await r.cancel('done'); await p;
				await errOf(() => run([new Uint8Array([1, 2, 3])], new DecompressionStream('gzip')));
			}
			return dec(await run([await run([enc('still')], new CompressionStream('gzip'))], new DecompressionStream('gzip')));`, "still"},
	)
	runWebCases(t, cases, Options{})
}

// TestCompressionInterop: JavaScript reads what Go's compress packages
// write, and the other way round.
func TestCompressionInterop(t *testing.T) {
	plain := strings.Repeat("interop between Go and natsfn; ", 500)
	writers := map[string]func(io.Writer) io.WriteCloser{
		"gzip":        func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		"deflate":     func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
		"deflate-raw": func(w io.Writer) io.WriteCloser { z, _ := flate.NewWriter(w, flate.BestCompression); return z },
	}
	readers := map[string]func(io.Reader) (io.Reader, error){
		"gzip":        func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"deflate":     func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) },
		"deflate-raw": func(r io.Reader) (io.Reader, error) { return flate.NewReader(r), nil },
	}
	for format, newWriter := range writers {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			w := newWriter(&buf)
			w.Write([]byte(plain))
			w.Close()
			arr := jsBytes(buf.Bytes())
			iso := newIsolate(t, compressHelpers+`;async (s, payload) => {
				const back = dec(await run(split(new Uint8Array(`+arr+`), 100), new DecompressionStream('`+format+`')));
				if (back !== payload.text()) return 'mismatch';
				return run([payload], new CompressionStream('`+format+`'));
			}`, Options{})
			res := invoke(iso, plain)
			if res.Err != nil {
				t.Fatalf("%v: %s", res.Err, res.Detail)
			}
			r, err := readers[format](bytes.NewReader(res.Body))
			if err != nil {
				t.Fatalf("%s: Go cannot read natsfn's output %q: %v", format, res.Body, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != plain {
				t.Fatalf("%s: Go read %d bytes, err %v", format, len(got), err)
			}
		})
	}
	// A fixed gzip member (of "hello\n", as gzip(1) writes it).
	runWebCases(t, []webCase{{"known gzip bytes", compressHelpers + `
		const z = new Uint8Array([0x1f,0x8b,0x08,0x00,0x00,0x00,0x00,0x00,0x00,0x03,0xcb,0x48,0xcd,0xc9,0xc9,0xe7,0x02,0x00,0x20,0x30,0x3a,0x36,0x06,0x00,0x00,0x00]);
		return dec(await run([z], new DecompressionStream('gzip')));`, "hello\n"}}, Options{})
}

// TestDecompressionBomb: what the decompression streams of one invocation
// produce is capped by the heap limit, with a RangeError; the isolate
// serves on.
func TestDecompressionBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(make([]byte, 64<<20)) // 64 MiB of zeros: about 64 KB deflated
	w.Close()
	arr := jsBytes(buf.Bytes())
	iso := newIsolate(t, compressHelpers+`;const bomb = new Uint8Array(`+arr+`);
	async (s) => {
		if (s === 'small') return dec(await run([await run([enc('fine')], new CompressionStream('gzip'))], new DecompressionStream('gzip')));
		let seen = 0;
		try {
			const rs = new ReadableStream({ start(c) { c.enqueue(bomb); c.close(); } }).pipeThrough(new DecompressionStream('deflate-raw'));
			for await (const c of rs) seen += c.length;
			return 'no error after ' + seen;
		} catch (e) { return e.constructor.name + ' ' + (seen <= 16 << 20) + ' ' + e.message; }
	}`, Options{HeapBytes: 16 << 20})
	res := invoke(iso, "")
	if res.Err != nil || !strings.HasPrefix(string(res.Body), "RangeError true ") {
		t.Fatalf("bomb: %v %s %q", res.Err, res.Detail, res.Body)
	}
	t.Logf("%s", res.Body)
	if len(buf.Bytes()) > 1<<20 {
		t.Fatalf("the bomb is %d bytes", buf.Len())
	}
	if res := invokeOn(iso, "small"); res.Err != nil || string(res.Body) != "fine" {
		t.Fatalf("after the bomb: %v %s %q", res.Err, res.Detail, res.Body)
	}
}

// TestCompressionStreamBound: a function holds at most maxZStreams
// streams; the rest error with a RangeError, and the next invocation
// starts afresh.
func TestCompressionStreamBound(t *testing.T) {
	iso := newIsolate(t, compressHelpers+`;const kept = [];
	async (s) => {
		const results = [];
		for (let i = 0; i < `+fmt.Sprint(maxZStreams+1)+`; i++) {
			const c = new CompressionStream('gzip');
			const w = c.writable.getWriter(), r = c.readable.getReader();
			kept.push({ w, r }); r.read().catch(() => {});
			results.push(w.write(enc('x')).then(() => 'ok', (e) => e.constructor.name));
		}
		const r = await Promise.all(results);
		// The first stream, kept from an earlier invocation, is gone.
		const old = s === 'again' ? await (kept[0].r.read().catch(() => {}), kept[0].w.write(enc('y'))).then(() => 'ok', (e) => e.constructor.name) : '';
		return [r.filter((x) => x === 'ok').length, r[r.length - 1], old];
	}`, Options{})
	want := fmt.Sprintf(`[%d,"RangeError",""]`, maxZStreams)
	if res := invoke(iso, ""); res.Err != nil || string(res.Body) != want {
		t.Fatalf("first: %v %s %s", res.Err, res.Detail, res.Body)
	}
	if got := len(iso.zs.streams); got != 0 {
		t.Fatalf("%d streams outlived the invocation", got)
	}
	want = fmt.Sprintf(`[%d,"RangeError","TypeError"]`, maxZStreams)
	if res := invokeOn(iso, "again"); res.Err != nil || string(res.Body) != want {
		t.Fatalf("again: %v %s %s", res.Err, res.Detail, res.Body)
	}
}

// invokeOn invokes iso with subject as __subject.
func invokeOn(iso *Isolate, subject string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return iso.Invoke(ctx, &Invocation{Subject: subject, Reply: "_INBOX.x"})
}

// jsBytes writes b as a JavaScript array literal.
func jsBytes(b []byte) string {
	ints := make([]int, len(b))
	for k, c := range b {
		ints[k] = int(c)
	}
	out, _ := json.Marshal(ints)
	return string(out)
}
