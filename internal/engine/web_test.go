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
		{"text drops a BOM", `return (await new Blob([new Uint8Array([0xef, 0xbb, 0xbf, 0x68])]).text()) + (await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x69])).text());`, "hi"},
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

func TestReadableStream(t *testing.T) {
	runWebCases(t, []webCase{
		{"start enqueue close, reader", `
			const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
			const r = rs.getReader(); const out = [rs.locked];
			out.push(await r.read(), await r.read(), await r.read(), await r.read());
			await r.closed; r.releaseLock(); out.push(rs.locked);
			return out;`,
			`[true,{"value":"a","done":false},{"value":"b","done":false},{"done":true},{"done":true},false]`},
		{"pull on demand with highWaterMark", `
			const pulls = []; let i = 0;
			const rs = new ReadableStream({ pull(c) { pulls.push(c.desiredSize); c.enqueue(i++); if (i === 3) c.close(); } }, new CountQueuingStrategy({ highWaterMark: 2 }));
			await null; await null;
			const early = pulls.length;
			const out = []; for await (const v of rs) out.push(v);
			return [early, out, pulls];`,
			`[2,[0,1,2],[2,1,1]]`},
		{"size strategy and desiredSize", `
			let ctl; new ReadableStream({ start(c) { ctl = c; } }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
			const before = ctl.desiredSize; ctl.enqueue(new Uint8Array(4)); return [before, ctl.desiredSize];`, `[10,6]`},
		{"errors and cancel", errHelpers + `
			const bad = new ReadableStream({ start(c) { c.error(new RangeError('x')); } });
			const e1 = await thrown(() => bad.getReader().read());
			let reason; const rs = new ReadableStream({ cancel(r) { reason = r; } });
			await rs.cancel('stop');
			const r = rs.getReader(); const done = await r.read();
			const pullThrows = new ReadableStream({ pull() { throw new SyntaxError('p'); } });
			const e2 = await thrown(() => pullThrows.getReader().read());
			const locked = new ReadableStream(); locked.getReader();
			return [e1, reason, done.done, e2, await thrown(() => locked.getReader()), await thrown(() => locked.cancel())];`,
			`["RangeError","stop",true,"SyntaxError","TypeError","TypeError"]`},
		{"releaseLock rejects pending reads", errHelpers + `
			const rs = new ReadableStream(); const r = rs.getReader();
			const pending = thrown(() => r.read()); r.releaseLock();
			return [await pending, await thrown(() => r.closed), rs.locked];`, `["TypeError","TypeError",false]`},
		{"async iteration cancels on break unless preventCancel", `
			let cancels = 0;
			const mk = () => new ReadableStream({ pull(c) { c.enqueue(1); }, cancel() { cancels++; } });
			const a = mk(); for await (const v of a) break;
			const b = mk(); for await (const v of b.values({ preventCancel: true })) break;
			return [cancels, a.locked, b.locked];`, `[1,false,false]`},
		{"tee", errHelpers + `
			const rs = new ReadableStream({ start(c) { c.enqueue('x'); c.enqueue('y'); c.close(); } });
			const [a, b] = rs.tee();
			return [await collect(a), await collect(b), rs.locked];`, `[["x","y"],["x","y"],true]`},
		{"from async and sync iterables", errHelpers + `
			async function* gen() { yield 1; yield 2; }
			return [await collect(ReadableStream.from(gen())), await collect(ReadableStream.from(['a', 'b'])), await collect(ReadableStream.from(new Set([Promise.resolve(3)])))];`,
			`[[1,2],["a","b"],[3]]`},
		{"a start that throws makes the constructor throw", errHelpers + `
			const boom = () => { throw new RangeError('start'); };
			return [await thrown(() => new ReadableStream({ start: boom })), await thrown(() => new WritableStream({ start: boom })),
				await thrown(() => new TransformStream({ start: boom })), await thrown(() => new ReadableStream({ pull: 5 }))];`,
			`["RangeError","RangeError","RangeError","TypeError"]`},
		{"bytes type", errHelpers + `
			const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1])); c.close(); } });
			return [await thrown(() => rs.getReader({ mode: 'byob' })), (await collect(rs)).length];`, `["TypeError",1]`},
	}, Options{})
}

func TestWritableAndTransformStreams(t *testing.T) {
	runWebCases(t, []webCase{
		{"writer, backpressure, close", `
			const log = []; let release;
			const ws = new WritableStream({
				write(chunk) { log.push('w:' + chunk); return new Promise((r) => { release = r; }); },
				close() { log.push('close'); },
			}, new CountQueuingStrategy({ highWaterMark: 2 }));
			const w = ws.getWriter();
			log.push('ds:' + w.desiredSize);
			const p1 = w.write('a'); const p2 = w.write('b');
			log.push('ds:' + w.desiredSize);
			let readyNow = false; w.ready.then(() => { readyNow = true; });
			await null; await null; await null;
			log.push('ready:' + readyNow);
			release(); await p1; release(); await p2;
			await w.ready; log.push('ds:' + w.desiredSize);
			await w.close(); await w.closed;
			return log;`,
			`["ds:2","ds:0","w:a","ready:false","w:b","ds:2","close"]`},
		{"abort", errHelpers + `
			let reason; const ws = new WritableStream({ abort(r) { reason = r; } });
			const w = ws.getWriter(); await w.abort('gone');
			return [reason, await thrown(() => w.write('x')), await thrown(() => w.closed)];`, `["gone","String","String"]`},
		{"sink write error errors the stream", errHelpers + `
			const ws = new WritableStream({ write() { throw new RangeError('w'); } });
			const w = ws.getWriter();
			return [await thrown(() => w.write(1)), await thrown(() => w.closed), w.desiredSize];`, `["RangeError","RangeError",null]`},
		{"controller signal", `
			let sig; const ws = new WritableStream({ start(c) { sig = c.signal; } });
			await ws.abort('r'); return [sig.aborted, sig.reason];`, `[true,"r"]`},
		{"transform and flush", errHelpers + `
			const ts = new TransformStream({
				transform(chunk, c) { c.enqueue(chunk.toUpperCase()); c.enqueue('|'); },
				flush(c) { c.enqueue('end'); },
			});
			const w = ts.writable.getWriter(); w.write('a'); w.write('b'); w.close();
			return (await collect(ts.readable)).join('');`, `A|B|end`},
		{"transform cancel and abort cross over", errHelpers + `
			const log = [];
			const a = new TransformStream({ cancel(r) { log.push('cancel:' + r); } });
			await a.readable.cancel('r1');
			const e1 = await thrown(() => a.writable.getWriter().write('x'));
			const b = new TransformStream({ cancel(r) { log.push('abort:' + r); } });
			await b.writable.abort(new SyntaxError('w'));
			const e2 = await thrown(() => b.readable.getReader().read());
			const c = new TransformStream({ transform(ch, ctl) { ctl.terminate(); } });
			const w = c.writable.getWriter(); const r = c.readable.getReader();
			w.write('x').catch(() => {});
			return [log, e1, e2, (await r.read()).done];`, `[["cancel:r1","abort:SyntaxError: w"],"String","SyntaxError",true]`},
		{"transform errors", errHelpers + `
			const t = new TransformStream({ transform() { throw new RangeError('t'); } });
			const w = t.writable.getWriter();
			const read = thrown(() => t.readable.getReader().read()); // until a read, the write waits (backpressure)
			return [await thrown(() => w.write(1)), await read, await thrown(() => w.closed)];`,
			`["RangeError","RangeError","RangeError"]`},
		{"identity transform, pipeThrough, pipeTo", errHelpers + `
			const src = ReadableStream.from(['x', 'y', 'z']);
			const out = []; let closed = false;
			await src.pipeThrough(new TransformStream()).pipeTo(new WritableStream({ write(c) { out.push(c); }, close() { closed = true; } }));
			return [out, closed, src.locked];`, `[["x","y","z"],true,false]`},
		{"pipeTo propagates errors and preventClose", errHelpers + `
			let aborted; const bad = new ReadableStream({ start(c) { c.enqueue(1); c.error(new SyntaxError('s')); } });
			const e1 = await thrown(() => bad.pipeTo(new WritableStream({ abort(r) { aborted = r.name; } })));
			let cancelled; const src = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { cancelled = r.name; } });
			const e2 = await thrown(() => src.pipeTo(new WritableStream({ write() { throw new RangeError('r'); } })));
			let closed = false; const dest = new WritableStream({ close() { closed = true; } });
			await ReadableStream.from([1]).pipeTo(dest, { preventClose: true });
			return [e1, aborted, e2, cancelled, closed, dest.locked];`, `["SyntaxError","SyntaxError","RangeError","RangeError",false,false]`},
		{"pipeTo with a signal", errHelpers + `
			const ac = new AbortController(); let cancelled, aborted;
			const src = new ReadableStream({ cancel(r) { cancelled = r.name; } });
			const p = thrown(() => src.pipeTo(new WritableStream({ abort(r) { aborted = r.name; } }), { signal: ac.signal }));
			ac.abort();
			return [await p, cancelled, aborted];`, `["AbortError(20)","AbortError","AbortError"]`},
		{"TextEncoderStream and TextDecoderStream", errHelpers + `
			const enc = new TextEncoderStream();
			const dec = new TextDecoderStream();
			const w = enc.writable.getWriter();
			w.write('h\u00e9'); w.write('\ud83d'); w.write('\ude00!'); w.close();
			const bytes = await collect(enc.readable.pipeThrough(new TransformStream()));
			const lens = bytes.map((b) => b.length);
			const text = (await collect(ReadableStream.from([new Uint8Array([0xef, 0xbb, 0xbf, 104]), new Uint8Array([105])]).pipeThrough(dec))).join('');
			return [enc.encoding, lens, text, dec.encoding, dec.fatal, dec.ignoreBOM];`, `["utf-8",[3,5],"hi","utf-8",false,false]`},
	}, Options{})
}

// TestTextDecoderStreamSplit needs a TextDecoder that keeps an incomplete
// sequence between decode(chunk, {stream: true}) calls.
func TestTextDecoderStreamSplit(t *testing.T) {
	iso := newIsolate(t, `() => new TextDecoder().decode(new Uint8Array([0xe2]), { stream: true }) === ''`, Options{})
	if res := invoke(iso, ""); string(res.Body) != "true" {
		t.Skip("TextDecoder does not stream yet")
	}
	runWebCases(t, []webCase{
		{"a character split over chunks", errHelpers + `
			const b = new Uint8Array([0xe2, 0x82, 0xac, 0xe2]);
			const parts = [b.subarray(0, 1), b.subarray(1, 3), b.subarray(3)];
			return (await collect(ReadableStream.from(parts).pipeThrough(new TextDecoderStream()))).join('');`, "€\ufffd"},
		{"fatal", errHelpers + `
			return thrown(() => collect(ReadableStream.from([new Uint8Array([0xff])]).pipeThrough(new TextDecoderStream('utf-8', { fatal: true }))));`, "TypeError"},
	}, Options{})
}

func TestHeaders(t *testing.T) {
	runWebCases(t, []webCase{
		{"case-insensitive, combined, sorted", `
			const h = new Headers({ 'Content-Type': 'text/plain', 'X-B': '1' });
			h.append('x-b', ' 2 '); h.append('Set-Cookie', 'a=1'); h.append('set-cookie', 'b=2'); h.append('A', 'z');
			return [h.get('CONTENT-TYPE'), h.get('x-b'), h.get('nope'), h.has('X-b'), h.getSetCookie(), [...h]];`,
			`["text/plain","1, 2",null,true,["a=1","b=2"],[["a","z"],["content-type","text/plain"],["set-cookie","a=1"],["set-cookie","b=2"],["x-b","1, 2"]]]`},
		{"set delete and init forms", `
			const h = new Headers([['a', '1'], ['a', '2'], ['b', '3']]);
			h.set('A', 'x'); h.delete('b');
			const copy = new Headers(h); copy.append('c', '4');
			const seen = []; copy.forEach((v, k, o) => seen.push(k + '=' + v + ':' + (o === copy)));
			return [[...h.keys()], [...h.values()], seen];`,
			`[["a"],["x"],["a=x:true","c=4:true"]]`},
		{"validation", errHelpers + `
			return [await thrown(() => new Headers({ 'bad name': 'x' })), await thrown(() => new Headers().append('a', 'x\ny')),
				await thrown(() => new Headers([['a']])), await thrown(() => new Headers().set('a', '\u0100')), await thrown(() => new Headers().get('b(')),
				new Headers({ a: '\t v \t' }).get('a')];`,
			`["TypeError","TypeError","TypeError","TypeError","TypeError","v"]`},
	}, Options{})
}

func TestRequestResponse(t *testing.T) {
	runWebCases(t, []webCase{
		{"request basics", errHelpers + `
			const r = new Request('https://example.com/a/../b?q=1', { method: 'post', headers: { 'X-A': '1' }, body: 'hi' });
			return [r.url, r.method, r.headers.get('x-a'), r.headers.get('content-type'), r.redirect, r.bodyUsed, await r.text(), r.bodyUsed,
				await thrown(() => r.text()), new Request('http://x/', { method: 'patch' }).method, r.signal.aborted, r.mode, r.credentials, r.cache];`,
			`["https://example.com/b?q=1","POST","1","text/plain;charset=UTF-8","follow",false,"hi",true,"TypeError","patch",false,"cors","same-origin","default"]`},
		{"request errors", errHelpers + `
			return [await thrown(() => new Request('/relative')), await thrown(() => new Request('http://x/', { body: 'a' })),
				await thrown(() => new Request('http://x/', { method: 'CONNECT' })), await thrown(() => new Request('http://x/', { method: 'bad method' })),
				await thrown(() => new Request('http://u:p@x/')), await thrown(() => new Request('http://x/', { redirect: 'nope' })),
				await thrown(() => new Request('http://x/', { signal: {} }))];`,
			`["TypeError","TypeError","TypeError","TypeError","TypeError","TypeError","TypeError"]`},
		{"request from request, clone, signal", errHelpers + `
			const ac = new AbortController();
			const a = new Request('http://x/p', { method: 'PUT', body: 'data', signal: ac.signal, redirect: 'manual' });
			const c = a.clone();
			const b = new Request(a, { headers: { 'x-new': '1' } });
			ac.abort('stop');
			return [b.method, b.url, b.redirect, b.headers.get('x-new'), await b.text(), a.bodyUsed, await c.text(), b.signal.aborted, b.signal.reason, c.signal.reason];`,
			`["PUT","http://x/p","manual","1","data",true,"data",true,"stop","stop"]`},
		{"request body stream", `
			const body = ReadableStream.from([new TextEncoder().encode('ab'), new Uint8Array([99])]);
			const r = new Request('http://x/', { method: 'POST', body, duplex: 'half' });
			return [r.body === body, r.headers.get('content-type'), await r.text()];`, `[true,null,"abc"]`},
		{"response basics", errHelpers + `
			const r = new Response('{"a":1}', { status: 201, statusText: 'Made', headers: { 'X-Y': 'z' } });
			const d = new Response();
			return [r.status, r.ok, r.statusText, r.headers.get('x-y'), r.type, r.url, r.redirected, await r.json(), r.bodyUsed,
				d.status, d.body, await d.text(), d.bodyUsed, new Response(null, { status: 404 }).ok];`,
			`[201,true,"Made","z","default","",false,{"a":1},true,200,null,"",false,false]`},
		{"response statics", errHelpers + `
			const j = Response.json({ a: [1] }, { status: 202, headers: { 'x-h': '1' } });
			const e = Response.error();
			const r = Response.redirect('http://x/next', 301);
			return [j.status, j.headers.get('content-type'), j.headers.get('x-h'), await j.text(), e.type, e.status,
				r.status, r.headers.get('location'), await thrown(() => Response.redirect('http://x/', 200)),
				await thrown(() => new Response('x', { status: 204 })), await thrown(() => new Response('', { status: 99 })),
				await thrown(() => Response.json(undefined))];`,
			`[202,"application/json","1","{\"a\":[1]}","error",0,301,"http://x/next","RangeError","TypeError","RangeError","TypeError"]`},
		{"body kinds", `
			const u8 = new Uint8Array([104, 105]);
			const fromBuf = await new Response(u8.buffer).text();
			const fromView = await new Response(new DataView(u8.buffer)).text();
			const fromBlob = new Response(new Blob(['b'], { type: 'text/x' }));
			const blob = await new Response('xyz', { headers: { 'content-type': 'Text/Y' } }).blob();
			const ab = await new Response('ab').arrayBuffer();
			const by = await new Response('ab').bytes();
			return [fromBuf, fromView, fromBlob.headers.get('content-type'), await fromBlob.text(), blob.type, blob.size, ab.byteLength, by.length];`,
			`["hi","hi","text/x","b","text/y",3,2,2]`},
		{"body stream and clone", errHelpers + `
			const r = new Response('stream me');
			const c = r.clone();
			const chunks = await collect(r.body);
			const text = new TextDecoder().decode(chunks[0]);
			const s = new Response(ReadableStream.from([new Uint8Array([49]), new Uint8Array([50])]));
			const s2 = s.clone();
			return [text, r.bodyUsed, await c.text(), await s.text(), await s2.text(), await thrown(() => r.clone()), await thrown(() => r.arrayBuffer())];`,
			`["stream me",true,"stream me","12","12","TypeError","TypeError"]`},
		{"json and text errors", errHelpers + `
			return [await thrown(() => new Response('nope').json()), await thrown(() => new Response(ReadableStream.from(['str'])).text()),
				await thrown(() => new Response('a=1', { headers: { 'content-type': 'text/plain' } }).formData())];`,
			`["SyntaxError","TypeError","TypeError"]`},
	}, Options{})
}

func TestErrorAndRejectionEvents(t *testing.T) {
	runWebCases(t, []webCase{
		{"ErrorEvent", errHelpers + `
			const err = new Error('boom');
			const e = new ErrorEvent('error', { message: 'm', filename: 'f.js', lineno: 3, colno: -1, error: err, cancelable: true });
			const d = new ErrorEvent('error');
			const t = new EventTarget(); let seen; t.addEventListener('error', (x) => { seen = x.error; x.preventDefault(); });
			return [e instanceof Event, e.type, e.message, e.filename, e.lineno, e.colno, e.error === err, d.message, d.lineno, d.error,
				t.dispatchEvent(e), seen === err, Object.prototype.toString.call(e), await thrown(() => new ErrorEvent())];`,
			`[true,"error","m","f.js",3,4294967295,true,"",0,null,false,true,"[object ErrorEvent]","TypeError"]`},
		{"PromiseRejectionEvent", errHelpers + `
			const p = Promise.reject(new Error('x')); p.catch(() => {});
			const e = new PromiseRejectionEvent('unhandledrejection', { promise: p, reason: 42, cancelable: true });
			return [e instanceof Event, e.promise === p, e.reason, e.cancelable, new PromiseRejectionEvent('x', { promise: p }).reason,
				await thrown(() => new PromiseRejectionEvent('x')), await thrown(() => new PromiseRejectionEvent('x', {})),
				await thrown(() => new PromiseRejectionEvent('x', { promise: 1 })), Object.prototype.toString.call(e)];`,
			`[true,true,42,true,null,"TypeError","TypeError","TypeError","[object PromiseRejectionEvent]"]`},
	}, Options{})
}
