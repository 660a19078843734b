package engine

import (
	"strings"
	"testing"
)

// webCase runs js as the body of an async function and compares what it
// returns (as the reply's bytes: strings as is, the rest as JSON).
type webCase struct{ name, js, want string }

func runWebCases(t *testing.T, cases []webCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iso := newIsolate(t, "async (__subject, __payload) => {\n"+tc.js+"\n}", opts)
			res := invoke(iso, "")
			if res.Err != nil {
				t.Fatalf("error %v: %s", res.Err, res.Detail)
			}
			if got := string(res.Body); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// errName is a snippet that evaluates to what f throws or rejects with:
// "Name: message" or "Name(code)" for DOMExceptions.
const errHelpers = `
const thrown = async (f) => { try { await f(); return 'no error'; } catch (e) { return e instanceof DOMException ? e.name + '(' + e.code + ')' : e.constructor.name; } };
const collect = async (stream) => { const out = []; for await (const c of stream) out.push(c); return out; };
`

func TestEvents(t *testing.T) {
	runWebCases(t, []webCase{
		{"dispatch order, once, this, handleEvent", errHelpers + `
			const t = new EventTarget(); const log = [];
			t.addEventListener('x', function (e) { log.push('a:' + (this === t) + ':' + e.type + ':' + (e.target === t) + ':' + e.eventPhase); });
			t.addEventListener('x', { handleEvent(e) { log.push('b:' + (this !== t)); } }, { once: true });
			const c = () => log.push('c'); t.addEventListener('x', c); t.addEventListener('x', c);
			t.dispatchEvent(new Event('x')); t.dispatchEvent(new Event('x')); t.dispatchEvent(new Event('y'));
			t.removeEventListener('x', c); t.dispatchEvent(new Event('x'));
			return log.join(' ');`,
			"a:true:x:true:2 b:true c a:true:x:true:2 c a:true:x:true:2"},
		{"capture flag in removal", `
			const t = new EventTarget(); let n = 0; const f = () => n++;
			t.addEventListener('x', f, true); t.removeEventListener('x', f); t.dispatchEvent(new Event('x'));
			t.removeEventListener('x', f, { capture: true }); t.dispatchEvent(new Event('x'));
			return n;`, "1"},
		{"stopImmediatePropagation", `
			const t = new EventTarget(); const log = [];
			t.addEventListener('x', (e) => { log.push(1); e.stopImmediatePropagation(); });
			t.addEventListener('x', () => log.push(2));
			t.dispatchEvent(new Event('x')); return log;`, "[1]"},
		{"preventDefault only when cancelable", `
			const t = new EventTarget(); t.addEventListener('x', (e) => e.preventDefault());
			const a = new Event('x'), b = new Event('x', { cancelable: true });
			return [t.dispatchEvent(a), a.defaultPrevented, t.dispatchEvent(b), b.defaultPrevented, b.cancelable];`,
			"[true,false,false,true,true]"},
		{"passive ignores preventDefault", `
			const t = new EventTarget(); t.addEventListener('x', (e) => e.preventDefault(), { passive: true });
			const e = new Event('x', { cancelable: true }); return [t.dispatchEvent(e), e.defaultPrevented];`, "[true,false]"},
		{"listener exception does not stop dispatch", `
			const t = new EventTarget(); const log = [];
			t.addEventListener('x', () => { throw new Error('boom'); }); t.addEventListener('x', () => log.push('after'));
			t.dispatchEvent(new Event('x')); return log;`, `["after"]`},
		{"signal removes listener", `
			const t = new EventTarget(); const ac = new AbortController(); let n = 0;
			t.addEventListener('x', () => n++, { signal: ac.signal }); t.dispatchEvent(new Event('x'));
			ac.abort(); t.dispatchEvent(new Event('x'));
			t.addEventListener('x', () => n++, { signal: ac.signal }); t.dispatchEvent(new Event('x'));
			return n;`, "1"},
		{"CustomEvent and re-dispatch", errHelpers + `
			const t = new EventTarget(); let d;
			t.addEventListener('x', (e) => { d = e.detail; });
			const e = new CustomEvent('x', { detail: { a: 1 } }); t.dispatchEvent(e);
			let again; t.addEventListener('y', (ev) => { again = ev; });
			const inner = new Event('y'); t.addEventListener('z', () => { try { t.dispatchEvent(inner); t.dispatchEvent(inner); } catch (x) { again = x.name; } });
			return [d, new CustomEvent('q').detail, Event.AT_TARGET, e.eventPhase, e.currentTarget, await thrown(() => t.dispatchEvent({}))];`,
			`[{"a":1},null,2,0,null,"TypeError"]`},
	}, Options{})
}

func TestAbort(t *testing.T) {
	runWebCases(t, []webCase{
		{"abort with default reason", errHelpers + `
			const ac = new AbortController(); const s = ac.signal; const log = [];
			s.onabort = (e) => log.push('onabort:' + e.type);
			s.addEventListener('abort', () => log.push('listener'));
			const before = s.aborted; ac.abort(); ac.abort('again');
			return [before, s.aborted, s.reason.name, s.reason.code, s.reason instanceof DOMException, log, await thrown(() => s.throwIfAborted())];`,
			`[false,true,"AbortError",20,true,["onabort:abort","listener"],"AbortError(20)"]`},
		{"abort with a reason", `
			const ac = new AbortController(); ac.abort('why');
			let r; try { ac.signal.throwIfAborted(); } catch (e) { r = e; }
			return [ac.signal.reason, r];`, `["why","why"]`},
		{"AbortSignal.abort and illegal constructor", errHelpers + `
			const s = AbortSignal.abort(); const t = AbortSignal.abort(42);
			return [s.aborted, s.reason.name, t.reason, await thrown(() => new AbortSignal()), s instanceof EventTarget, String(s)];`,
			`[true,"AbortError",42,"TypeError",true,"[object AbortSignal]"]`},
		{"AbortSignal.any", `
			const a = new AbortController(), b = new AbortController();
			const any = AbortSignal.any([a.signal, b.signal]); let fired = 0;
			any.addEventListener('abort', () => fired++);
			b.abort('b'); a.abort('a');
			const pre = AbortSignal.any([new AbortController().signal, AbortSignal.abort('early')]);
			return [any.aborted, any.reason, fired, pre.aborted, pre.reason];`,
			`[true,"b",1,true,"early"]`},
		{"DOMException codes", `
			return [new DOMException('m', 'TimeoutError').code, new DOMException('m').code, new DOMException('m', 'DataCloneError').code, new DOMException('x', 'AbortError').message];`,
			`[23,0,25,"x"]`},
	}, Options{})
}

func TestBlob(t *testing.T) {
	runWebCases(t, []webCase{
		{"parts and size", `
			const b = new Blob(['héllo', new Uint8Array([32, 33]), new Uint16Array([0x4141]).buffer, new Blob(['!'])], { type: 'Text/Plain' });
			return [b.size, b.type, await b.text()];`, `[11,"text/plain","héllo !AA!"]`},
		{"type outside ASCII is dropped", `return new Blob([], { type: 'a\u00e9' }).type;`, ``},
		{"slice", `
			const b = new Blob(['0123456789']);
			return [await b.slice(2, 5).text(), await b.slice(-3).text(), await b.slice(-3, -1).text(), await b.slice(5, 2).text(), b.slice(0, 1, 'X/Y').type, b.slice(1).size];`,
			`["234","789","78","","x/y",9]`},
		{"arrayBuffer bytes stream", errHelpers + `
			const b = new Blob(['ab']);
			const ab = await b.arrayBuffer(); const by = await b.bytes();
			by[0] = 0; // a copy: the blob is unchanged
			const chunks = await collect(b.stream());
			return [ab instanceof ArrayBuffer, ab.byteLength, by instanceof Uint8Array, await b.text(), chunks.length, Array.from(chunks[0])];`,
			`[true,2,true,"ab",1,[97,98]]`},
		{"not iterable", errHelpers + `return [await thrown(() => new Blob('abc')), await thrown(() => new Blob(5))];`, `["TypeError","TypeError"]`},
		{"File", `
			const f = new File(['x'], 'a.txt', { type: 'text/plain', lastModified: 42 });
			const g = new File([], 'b');
			return [f.name, f.lastModified, f.type, f.size, f instanceof Blob, typeof g.lastModified, g.lastModified > 0, String(f)];`,
			`["a.txt",42,"text/plain",1,true,"number",true,"[object File]"]`},
	}, Options{})
}

func TestFormData(t *testing.T) {
	runWebCases(t, []webCase{
		{"methods", `
			const f = new FormData();
			f.append('a', '1'); f.append('b', 2); f.append('a', '3');
			const first = [f.get('a'), f.getAll('a'), f.has('b'), f.get('z')];
			f.set('a', 'x'); f.delete('b');
			const keys = [...f.keys()];
			f.append('file', new Blob(['data'], { type: 'text/plain' }));
			f.append('named', new Blob(['d']), 'n.txt');
			const file = f.get('file'), named = f.get('named');
			return [first, keys, [...f.entries()].length, file instanceof File, file.name, file.type, named.name];`,
			`[["1",["1","3"],true,null],["a"],3,true,"blob","text/plain","n.txt"]`},
		{"multipart round trip", `
			const f = new FormData();
			f.append('greeting', 'hello\nworld'); f.append('quote"d', 'v');
			f.append('up', new File([new Uint8Array([0, 1, 255])], 'bin.dat', { type: 'application/octet-stream' }));
			const req = new Request('http://x/', { method: 'POST', body: f });
			const ct = req.headers.get('content-type');
			const back = await req.formData();
			const up = back.get('up');
			return [ct.startsWith('multipart/form-data; boundary='), back.get('greeting'), back.get('quote"d'), up.name, Array.from(await up.bytes())];`,
			`[true,"hello\r\nworld","v","bin.dat",[0,1,255]]`},
		{"urlencoded", `
			const r = new Response(new URLSearchParams({ a: '1 2', b: 'é' }));
			const ct = r.headers.get('content-type');
			const f = await r.formData();
			return [ct, f.get('a'), f.get('b')];`,
			`["application/x-www-form-urlencoded;charset=UTF-8","1 2","é"]`},
	}, Options{})
}

func TestWebGlobalsPresent(t *testing.T) {
	names := []string{"Event", "EventTarget", "CustomEvent", "AbortController", "AbortSignal", "Blob", "File", "FormData",
		"ReadableStream", "WritableStream", "TransformStream", "ReadableStreamDefaultReader", "WritableStreamDefaultWriter",
		"CountQueuingStrategy", "ByteLengthQueuingStrategy", "TextEncoderStream", "TextDecoderStream",
		"Headers", "Request", "Response", "fetch"}
	iso := newIsolate(t, `() => [`+"'"+strings.Join(names, "','")+"'"+`].filter((n) => typeof globalThis[n] !== 'function')`, Options{})
	if res := invoke(iso, ""); res.Err != nil || string(res.Body) != "[]" {
		t.Fatalf("missing globals: %s %v %s", res.Body, res.Err, res.Detail)
	}
}
