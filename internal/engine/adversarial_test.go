package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/api"
)

// tamperHarness wraps a tampering snippet in a function that, by subject,
// tampers (the snippet, with rec to record every value its hooks see),
// answers ordinary calls, or checks whether any recorded value is, or
// views, the exchange. The harness captures what it uses before any
// snippet runs.
const tamperHarness = `
const T = (() => {
	const apply = Reflect.apply, getOwn = Object.getOwnPropertyDescriptor, getProto = Object.getPrototypeOf;
	const taBuffer = getOwn(getProto(Uint8Array.prototype), 'buffer').get;
	const dvBuffer = getOwn(DataView.prototype, 'buffer').get;
	const mapSet = Map.prototype.set, mapGet = Map.prototype.get;
	const U8 = Uint8Array, TextDecoderC = TextDecoder, tdDecode = TextDecoder.prototype.decode, P = Promise;
	const abLength = getOwn(ArrayBuffer.prototype, 'byteLength').get;
	const seen = new Map();
	let count = 0, isExchange = null;
	function exchangeIn(x) {
		if (isExchange(x)) return true;
		try { if (isExchange(apply(taBuffer, x, []))) return true; } catch (_) {}
		try { if (isExchange(apply(dvBuffer, x, []))) return true; } catch (_) {}
		return false;
	}
	return {
		U8, P,
		decode: (label, b) => apply(tdDecode, new TextDecoderC(label), [b]),
		abLength: (b) => apply(abLength, b, []),
		init() { isExchange = globalThis.__isExchange; delete globalThis.__isExchange; },
		rec(...xs) {
			for (let i = 0; i < xs.length; i++) {
				const x = xs[i];
				if ((typeof x === 'object' && x !== null) || typeof x === 'function') apply(mapSet, seen, [count++, x]);
			}
		},
		check() {
			for (let k = 0; k < count; k++) if (exchangeIn(apply(mapGet, seen, [k]))) return 'LEAK';
			return 'clean:' + count;
		},
	};
})();
(s, p, m) => {
	const rec = T.rec;
	const TA = Object.getPrototypeOf(Uint8Array), TAP = TA.prototype;
	switch (s) {
	case 'init': T.init(); return 'ready';
	case 'probe': return T.check();
	case 'echo': return p;
	case 'host': return hostServices.kv.get('k');
	case 'many': return hostServices.messaging.requestMany('s', 'x');
	case 'json': return { s, reply: m.reply, h: m.headers };
	case 'async': return (async () => { await null; hostServices.kv.keys(); return 'async-ok'; })();
	case 'promises': return (async () => {
		const a = hostServices.promises.kv.get('k'), b = hostServices.promises.messaging.requestMany('s', 'x');
		await b;
		return await a;
	})();
	case 'timer': return new T.P((r) => setTimeout((v) => r(v), 0, 'timer-ok'));
	case 'random': return crypto.getRandomValues(new T.U8(8));
	case 'web': return (async () => {
		const d = T.decode('shift_jis', new T.U8([0x82, 0xa0]));
		const h = await crypto.subtle.digest('SHA-256', new T.U8([97, 98, 99]));
		const k = await crypto.subtle.importKey('raw', new T.U8(4), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
		const sig = await crypto.subtle.sign('HMAC', k, new T.U8(1));
		return d + new T.U8(h)[0] + ':' + T.abLength(sig) + ':' + new URL('http://a/b?c=1').searchParams.get('c');
	})();
	case 'console': console.log('line', { a: 1 }, [2]); return;
	case 'tamper': {
//SNIPPET
	}
	}
	throw new Error('unknown subject ' + s);
};
`

func tamperProgram(snippet string) string {
	return strings.Replace(tamperHarness, "//SNIPPET", snippet, 1)
}

// installExchangeProbe gives the script __isExchange(v): whether v is the
// SharedArrayBuffer the engine uses as the exchange now (the same memory),
// or the web extensions' scratch.
func installExchangeProbe(t testing.TB, iso *Isolate) {
	t.Helper()
	tmpl := v8.NewFunctionTemplateWithError(iso.iso, func(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		defer info.Release()
		same := false
		if args := info.Args(); len(args) == 1 && args[0].IsSharedArrayBuffer() {
			if buf, release, err := args[0].SharedArrayBufferGetContents(); err == nil {
				same = len(buf) > 0 && (len(iso.exchange) > 0 && &buf[0] == &iso.exchange[0] ||
					len(iso.web.buf) > 0 && &buf[0] == &iso.web.buf[0])
				release()
			}
		}
		return v8.NewValue(iso.iso, same)
	})
	if err := iso.ctx.Global().Set("__isExchange", tmpl.GetFunction(iso.ctx)); err != nil {
		t.Fatal(err)
	}
}

func call(iso *Isolate, subject, payload string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return iso.Invoke(ctx, &Invocation{Subject: subject, Reply: "_INBOX.x", Payload: []byte(payload)})
}

// anyReply marks a tampering call whose reply is not checked (it may also
// fail): what matters is what happens next.
const anyReply = "\x00any"

var tamperCases = []struct {
	name, snippet string
	want          string // the tampering call's reply; anyReply, or "" with wantErr
	wantErr       bool
}{
	{"lying length subclass as reply", `
		let n = 0;
		class E extends Uint8Array { get length() { rec(this); return ++n > 1 ? 1e9 : 0; } }
		return new E(4);`, "\x00\x00\x00\x00", false},
	{"TypedArray length getter", `
		const d = Object.getOwnPropertyDescriptor(TAP, 'length');
		let n = 0;
		Object.defineProperty(TAP, 'length', { get() { rec(this); return n++ % 2 ? 1 << 30 : d.get.call(this); }, configurable: true });
		Object.defineProperty(Uint8Array.prototype, 'length', { get() { rec(this); return -1; }, configurable: true });
		return new Uint8Array([1, 2, 3]);`, "\x01\x02\x03", false},
	{"TypedArray buffer, byteOffset, byteLength getters", `
		for (const k of ['buffer', 'byteOffset', 'byteLength']) {
			Object.defineProperty(TAP, k, { get() { rec(this); return k === 'buffer' ? new ArrayBuffer(8) : 1 << 30; }, configurable: true });
		}
		return new Int16Array([1, 2]);`, "\x01\x00\x02\x00", false},
	{"TypedArray methods", `
		for (const P of [TAP, Uint8Array.prototype]) {
			for (const k of ['subarray', 'slice', 'set', 'map', 'filter', 'fill', 'copyWithin', 'at', 'values', 'entries', 'keys',
				'forEach', 'indexOf', 'includes', 'join', 'reverse', 'sort', 'every', 'some', 'find', 'reduce', 'toString']) {
				P[k] = function (...a) { rec(this, ...a); return new Uint8Array(5); };
			}
			P[Symbol.iterator] = function () { rec(this); return [][Symbol.iterator](); };
		}
		hostServices.kv.get('k');
		return hostServices.kv.get('k');`, `value-of-["k"]`, false},
	{"species through constructor", `
		Uint8Array.prototype.constructor = { [Symbol.species]: function (...a) { rec(...a); return new Uint8Array(...a); } };
		return hostServices.kv.get('k');`, `value-of-["k"]`, false},
	{"species getters", `
		const spy = { get() { rec(this); return function (...a) { rec(...a); return new Uint8Array(...a); }; }, configurable: true };
		Object.defineProperty(TA, Symbol.species, spy);
		Object.defineProperty(Uint8Array, Symbol.species, spy);
		Object.defineProperty(Int32Array, Symbol.species, spy);
		Object.defineProperty(TAP, 'constructor', { get() { rec(this); return Uint8Array; }, configurable: true });
		Object.defineProperty(Uint8Array.prototype, 'constructor', { get() { rec(this); return Uint8Array; }, configurable: true });
		crypto.getRandomValues(new Uint8Array(4));
		return hostServices.kv.get('k');`, `value-of-["k"]`, false},
	{"ArrayBuffer and SharedArrayBuffer prototypes", `
		for (const C of [ArrayBuffer, SharedArrayBuffer]) {
			for (const k of ['byteLength', 'maxByteLength', 'growable', 'resizable', 'detached']) {
				if (Object.getOwnPropertyDescriptor(C.prototype, k)) {
					Object.defineProperty(C.prototype, k, { get() { rec(this); return 1 << 30; }, configurable: true });
				}
			}
			C.prototype.slice = function (...a) { rec(this, ...a); return new C(1); };
			Object.defineProperty(C, Symbol.species, { get() { rec(this); return C; }, configurable: true });
		}
		ArrayBuffer.isView = (v) => { rec(v); return false; };
		return new Uint8Array([9]).buffer;`, "\x09", false},
	{"Promise and then replaced", `
		const then = Promise.prototype.then, P = Promise;
		Promise.prototype.then = function (...a) { rec(this, ...a); return then.apply(this, a); };
		Object.defineProperty(Promise.prototype, 'constructor', { get() { rec(this); return P; }, configurable: true });
		Object.defineProperty(Object.prototype, 'then', { get() { rec(this); return undefined; }, configurable: true });
		Object.defineProperty(Array.prototype, '0', { set(v) { rec(this, v); }, get() { return undefined; }, configurable: true });
		globalThis.Promise = function (...a) { rec(...a); throw new Error('no'); };
		return hostServices.promises.kv.get('k').then((v) => { setTimeout(() => {}, 0); return v; });`, `value-of-["k"]`, false},
	{"constructors replaced", `
		const S = SharedArrayBuffer, U = Uint8Array;
		globalThis.SharedArrayBuffer = function (n) { const b = new S(16); rec(b); return b; };
		for (const k of ['Uint8Array', 'Int32Array', 'ArrayBuffer', 'DataView']) {
			globalThis[k] = function (...a) { rec(...a); return new U(1); };
		}
		return 'x'.repeat(100000);`, strings.Repeat("x", 100000), false},
	{"TextEncoder and TextDecoder prototypes", `
		TextDecoder.prototype.decode = function (...a) { rec(this, ...a); return 'x'; };
		TextEncoder.prototype.encode = function (...a) { rec(this, ...a); return new Uint8Array(1 << 20); };
		TextEncoder.prototype.encodeInto = function (...a) { rec(this, ...a); return { read: 1e9, written: 1e9 }; };
		return new TextDecoder().decode(new Uint8Array([104, 105]));`, "x", false},
	{"JSON", `
		JSON.stringify = (...a) => { rec(...a); return { length: 1 << 30 }; };
		JSON.parse = (...a) => { rec(...a); return { found: true, sizes: [1e9] }; };
		return { a: 1 };`, `{"a":1}`, false},
	{"Promise", `
		const then = Promise.prototype.then;
		Promise.prototype.then = function (...a) { rec(this, ...a); return then.apply(this, a); };
		Object.defineProperty(Promise, Symbol.species, { get() { rec(this); return Promise; }, configurable: true });
		Promise.resolve = (...a) => { rec(...a); return new Promise(() => {}); };
		Promise.prototype.constructor = function (...a) { rec(...a); };
		return (async () => { await null; hostServices.kv.keys(); return 'done'; })();`, "done", false},
	{"Array prototype", `
		for (const k of ['push', 'pop', 'map', 'join', 'forEach', 'slice', 'concat', 'indexOf', 'filter', 'reduce', 'splice', 'fill', 'find']) {
			Array.prototype[k] = function (...a) { rec(this, ...a); return 'tampered'; };
		}
		const iterate = Array.prototype[Symbol.iterator];
		Array.prototype[Symbol.iterator] = function () { rec(this); return iterate.call(this); };
		Array.from = (...a) => { rec(...a); return []; };
		Array.isArray = (x) => { rec(x); return true; };
		for (let i = 0; i < 4; i++) {
			Object.defineProperty(Array.prototype, i, { get() { rec(this); return 7; }, set(v) { rec(this, v); }, configurable: true });
		}
		console.log('a', 1);
		return hostServices.messaging.requestMany('s', 'x');`, `["a","bc"]`, false},
	{"Object prototype", `
		for (const k of ['then', 'state', 'value', 'result', 'body', 'code', 'headers', 'reply', 'found', 'status', 'type',
			'message', 'length', 'get', 'set', 'writable', 'enumerable', 'configurable', '0', '1']) {
			Object.defineProperty(Object.prototype, k,
				{ __proto__: null, get() { rec(this); return undefined; }, set(v) { rec(this, v); }, configurable: true });
		}
		return (async () => { await null; return hostServices.kv.get('k'); })();`, `value-of-["k"]`, false},
	{"Object, Reflect and Function", `
		for (const k of ['defineProperty', 'getOwnPropertyDescriptor', 'freeze', 'getPrototypeOf', 'setPrototypeOf', 'keys']) {
			Object[k] = (...a) => { rec(...a); return a[0]; };
		}
		for (const k of Object.getOwnPropertyNames(Reflect)) Reflect[k] = (...a) => { rec(...a); };
		const many = hostServices.messaging.requestMany;
		for (const k of ['call', 'apply', 'bind']) Function.prototype[k] = function (...a) { rec(this, ...a); };
		return many('s', 'x');`, `["a","bc"]`, false},
	{"String", `
		String.prototype.charCodeAt = function () { rec(this); return 1e9; };
		String.fromCharCode = (...a) => { rec(...a); return 'X'; };
		String.prototype.slice = function () { return 'X'; };
		String.prototype.toLowerCase = function () { return 'X'; };
		globalThis.String = function (v) { rec(v); return { length: 1e9 }; };
		return 'héllo ' + new TextDecoder().decode(new TextEncoder().encode('€'));`, "héllo €", false},
	{"Error, stack and hasInstance", `
		Error.prepareStackTrace = (e, sites) => {
			for (const c of sites) rec(c.getThis(), c.getFunction());
			return { length: 1e9, toString() { return 'fake stack'; } };
		};
		Object.defineProperty(Error, Symbol.hasInstance, { value: (x) => { rec(x); return true; } });
		throw new Error('boom');`, "", true},
	{"thrown hostile values", `
		throw new Proxy(new (class extends Uint8Array { get length() { return 1e9; } })(3), {
			get(t, k) { rec(t); return k === 'stack' ? { length: 1e9 } : Reflect.get(t, k); },
		});`, "", true},
	{"hostile reply values", `
		return new Proxy(new Uint8Array([1]), { get(t, k, r) { rec(t, r); return Reflect.get(t, k); } });`, `{"0":1}`, false},
	{"detached reply", `
		const u = new Uint8Array(8);
		u.buffer.transfer();
		return u;`, anyReply, false},
	{"resized reply", `
		const ab = new ArrayBuffer(4, { maxByteLength: 1 << 20 });
		const u = new Uint8Array(ab);
		ab.resize(1);
		return u;`, "\x00", false},
	{"payload class and prototype", `
		const B = p.constructor;
		B.prototype.text = function () { rec(this); return 'x'; };
		B.prototype.json = function () { rec(this); return 'x'; };
		Object.setPrototypeOf(B, function (...a) { rec(...a); return new Uint8Array(1); });
		try { Object.defineProperty(B, Symbol.species, { value: function (...a) { rec(...a); } }); } catch (_) {}
		return p;`, "tp", false},
	{"console arguments", `
		console.log({ toJSON() { rec(this); return 1e9; } }, { get stack() { return 1; } }, Symbol('s'), 10n,
			new Proxy({}, { ownKeys() { throw 1; } }), { toString() { throw 2; }, toJSON() { throw 3; } });
		return 'logged';`, "logged", false},
	{"crypto arguments", `
		crypto.getRandomValues(new (class extends Uint8Array { get length() { return 1e9; } get byteLength() { return 1e9; } })(8));
		try { crypto.getRandomValues(new DataView(new ArrayBuffer(8))); } catch (_) {}
		try { crypto.getRandomValues({ byteLength: 8, buffer: new ArrayBuffer(8) }); } catch (_) {}
		return crypto.randomUUID().length;`, "36", false},
	{"host call from a promise callback after the reply", `
		Promise.resolve().then(() => hostServices.kv.keys());
		return 'mine';`, "mine", false},
	{"growing host call from a promise callback after the reply", `
		Promise.resolve().then(() => hostServices.kv.set('k', new Uint8Array(200000)));
		Promise.resolve().then(() => crypto.getRandomValues(new Uint8Array(65536)));
		return 'mine';`, "mine", false},
	{"host call from a promise callback while pending", `
		Promise.resolve().then(() => hostServices.kv.keys());
		return new Promise((resolve) => Promise.resolve().then(() => { hostServices.kv.keys(); resolve('later'); }));`, "later", false},
}

// TestTampering runs every tampering snippet, then ordinary calls on the
// same isolate: the process survives, the tampering call fails or answers
// right, the next calls answer right, and no value a hook saw is the
// exchange.
func TestTampering(t *testing.T) {
	for _, tc := range tamperCases {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			iso := newIsolate(t, tamperProgram(tc.snippet), Options{
				Host:    echoHost{},
				Console: func(level, line string) { lines = append(lines, level+" "+line) },
			})
			installExchangeProbe(t, iso)
			if res := call(iso, "init", ""); res.Err != nil || string(res.Body) != "ready" {
				t.Fatalf("init: %v %s %q", res.Err, res.Detail, res.Body)
			}
			res := call(iso, "tamper", "tp")
			switch {
			case tc.wantErr:
				if res.Err == nil || res.Err.Code != api.CodeInternal {
					t.Errorf("tamper: got %v %q, want an error", res.Err, res.Body)
				}
			case tc.want == anyReply:
			case res.Err != nil || string(res.Body) != tc.want:
				t.Errorf("tamper: got %v (%s) %.60q, want %.60q", res.Err, res.Detail, res.Body, tc.want)
			}
			lines = nil
			checkOrdinaryCalls(t, iso)
			if len(lines) != 1 || lines[0] != `info line {"a":1} [2]` {
				t.Errorf("console lines %q", lines)
			}
			if res := call(iso, "probe", ""); res.Err != nil || !strings.HasPrefix(string(res.Body), "clean") {
				t.Errorf("probe: %v %s %q", res.Err, res.Detail, res.Body)
			}
			if iso.Broken() {
				t.Error("isolate broken")
			}
		})
	}
}

func checkOrdinaryCalls(t testing.TB, iso *Isolate) {
	t.Helper()
	payload := "payload-ü\x00\xff"
	for _, c := range []struct{ subject, want string }{
		{"echo", payload},
		{"host", `value-of-["k"]`},
		{"many", `["a","bc"]`},
		{"json", `{"s":"json","reply":"_INBOX.x","h":{}}`},
		{"async", "async-ok"},
		{"promises", `value-of-["k"]`},
		{"timer", "timer-ok"},
		{"console", ""},
		{"web", "あ186:32:1"},
		{"echo", payload},
	} {
		if res := call(iso, c.subject, payload); res.Err != nil || string(res.Body) != c.want {
			t.Errorf("%s: got %v (%s) %q, want %q", c.subject, res.Err, res.Detail, res.Body, c.want)
		}
	}
	if res := call(iso, "random", ""); res.Err != nil || len(res.Body) != 8 {
		t.Errorf("random: got %v (%s) %q", res.Err, res.Detail, res.Body)
	}
}

// TestAsyncHostCallKeepsReply: an async function that calls a host service
// after an await replies with its own value, not the host's answer.
func TestAsyncHostCallKeepsReply(t *testing.T) {
	iso := newIsolate(t, `async (s, p) => { await null; hostServices.kv.keys(); return "mine" }`, Options{Host: echoHost{}})
	for n := 0; n < 3; n++ {
		if res := invoke(iso, ""); res.Err != nil || string(res.Body) != "mine" {
			t.Fatalf("got %v %q", res.Err, res.Body)
		}
	}
}

// FuzzTamper runs arbitrary snippets as the tampering call of the harness,
// then ordinary calls. Whatever the snippet does, the process must not
// panic, results must be well formed, and no value the hooks recorded may
// be the exchange.
func FuzzTamper(f *testing.F) {
	for _, tc := range tamperCases {
		f.Add(tc.snippet)
	}
	f.Add(`return p.subarray(1)`)
	f.Add(`return [p, m, s]`)
	f.Add(`Object.defineProperty(TAP, 'length', { get() { rec(this); return -1 } }); return new Int8Array([-1])`)
	f.Fuzz(func(t *testing.T, snippet string) {
		p, err := Compile("fuzz.js", tamperProgram(snippet))
		if err != nil {
			return
		}
		iso, err := NewIsolate(p, Options{Host: echoHost{}, HeapBytes: 64 << 20})
		if err != nil {
			return
		}
		defer iso.Dispose()
		installExchangeProbe(t, iso)
		for _, subject := range []string{"init", "tamper", "echo", "host", "many", "async", "promises", "timer", "random", "console", "probe"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			res := iso.Invoke(ctx, &Invocation{Subject: subject, Reply: "_INBOX.x", Payload: []byte("payload")})
			cancel()
			if res.Err != nil && res.Body != nil {
				t.Fatalf("%s: both an error and a body", subject)
			}
			if iso.Broken() {
				return
			}
			if subject == "probe" && res.Err == nil && bytes.Equal(res.Body, []byte("LEAK")) {
				t.Fatalf("the exchange reached user code")
			}
		}
	})
}
