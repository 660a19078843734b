// The natsfn prelude: runs once in every context before the user's script.
// It installs the globals a function may use and returns the internal
// entry points the engine calls. Everything the engine shares with this file
// goes through one SharedArrayBuffer ("the exchange"), laid out as:
//
//   bytes 0..31   eight int32 slots (HEADER_SLOTS), meaning set per call
//   bytes 32..    data
//
// The natives (host, hostStart, timerSet, timerClear, log, random, exchange)
// arrive as an argument and are never visible to user code. exchange(sab) tells the engine which buffer is
// current; it is called at start and whenever the buffer grows.
//
// User code runs in the same context and may replace any global or any
// property of a built-in prototype. So the prelude captures every built-in it
// relies on below, before user code runs, and calls them uncurried: a
// replaced getter or method must neither change the lengths the prelude
// writes for the engine nor ever see a view of the exchange (as `this`, as an
// argument, or through a species constructor). No typed array over the
// exchange leaves this file: data is copied out into fresh arrays. The
// functions are strict, so stack-trace call sites and `caller` expose neither
// their receivers nor themselves.
(function (natives, envJSON) {
  'use strict';

  // ---- intrinsics
  const { apply, construct, defineProperty, getOwnPropertyDescriptor, getPrototypeOf } = Reflect;
  const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
  const getter = (obj, key) => uncurry(getOwnPropertyDescriptor(obj, key).get);
  const global = globalThis;
  const U8 = Uint8Array, I32 = Int32Array, AB = ArrayBuffer, SAB = SharedArrayBuffer;
  const TAProto = getPrototypeOf(U8.prototype);
  const taLength = getter(TAProto, 'length');
  const taBuffer = getter(TAProto, 'buffer');
  const taByteOffset = getter(TAProto, 'byteOffset');
  const taByteLength = getter(TAProto, 'byteLength');
  const taTag = getter(TAProto, Symbol.toStringTag); // the typed array's kind, or undefined for anything else
  const taSet = uncurry(TAProto.set);
  const dvBuffer = getter(DataView.prototype, 'buffer');
  const dvByteOffset = getter(DataView.prototype, 'byteOffset');
  const dvByteLength = getter(DataView.prototype, 'byteLength');
  const abByteLength = getter(AB.prototype, 'byteLength');
  const sabByteLength = getter(SAB.prototype, 'byteLength');
  const isView = AB.isView;
  const hasInstance = uncurry(Function.prototype[Symbol.hasInstance]);
  const species = Symbol.species;
  const toStr = String;
  const fromCharCode = String.fromCharCode;
  const charCodeAt = uncurry(String.prototype.charCodeAt);
  const strSlice = uncurry(String.prototype.slice);
  const toLowerCase = uncurry(String.prototype.toLowerCase);
  const jsonStringify = JSON.stringify, jsonParse = JSON.parse;
  const freeze = Object.freeze, objectKeys = Object.keys, hasOwn = Object.hasOwn;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const PromiseCtor = Promise;
  const nativeHost = natives.host, nativeLog = natives.log, nativeRandom = natives.random, nativeExchange = natives.exchange;
  const nativeHostStart = natives.hostStart, nativeTimerSet = natives.timerSet, nativeTimerClear = natives.timerClear;

  // Brand checks through internal slots: instanceof and Symbol.toStringTag
  // answer what user code tells them.
  function isArrayBuffer(v) { try { abByteLength(v); return true; } catch (_) { return false; } }
  function isSharedArrayBuffer(v) { try { sabByteLength(v); return true; } catch (_) { return false; } }
  function dataProperty(obj, key, value) {
    defineProperty(obj, key, { __proto__: null, value, writable: true, enumerable: true, configurable: true });
  }

  // ---- the exchange
  const HEADER = 32;
  const MAX_DATA = 0x7fffffff - HEADER; // the engine reads lengths as int32
  const START_SIZE = 64 * 1024;
  let size = START_SIZE;
  let exchange = new SAB(size);
  let slots = new I32(exchange, 0, 8);
  let bytes = new U8(exchange);
  // sealed: a reply (or "pending") is written and the engine has not read it
  // yet. Promise callbacks the function left behind run in between and may
  // call host services; those calls keep the reply (keepReply).
  let sealed = false;

  // reserve makes the exchange hold at least n data bytes, replacing it with
  // a larger one (contents not kept) when it does not.
  function reserve(n) {
    if (HEADER + n <= size) return;
    if (!(n <= MAX_DATA)) throw new RangeErrorCtor('natsfn: message too large');
    let s = size;
    while (s < HEADER + n) s *= 2;
    const next = new SAB(s);
    nativeExchange(next);
    exchange = next;
    size = s;
    slots = new I32(exchange, 0, 8);
    bytes = new U8(exchange);
  }

  // fromExchange copies exchange[off, off+n) into a fresh Uint8Array whose
  // prototype is newTarget's (Bytes or Uint8Array).
  function fromExchange(off, n, newTarget) {
    const out = construct(U8, [n], newTarget);
    taSet(out, new U8(exchange, off, n));
    return out;
  }

  // writeData stores the genuine Uint8Array b at HEADER and returns its length.
  function writeData(b) {
    const n = taLength(b);
    reserve(n);
    taSet(bytes, b, HEADER);
    return n;
  }

  // keepReply saves a sealed reply before a host or random call overwrites
  // the exchange; restoreReply puts it back. Neither runs user code.
  function keepReply() {
    if (!sealed) return null;
    const status = slots[0], n = slots[1];
    return { __proto__: null, status, n, data: status === 0 || status === 3 ? fromExchange(HEADER, n, U8) : null };
  }
  function restoreReply(saved) {
    if (saved === null) return;
    if (saved.data !== null) writeData(saved.data);
    slots[0] = saved.status;
    slots[1] = saved.n;
  }

  // ---- UTF-8, with U+FFFD for ill-formed input as the Encoding standard says.
  // utf8Encode returns a genuine Uint8Array over a buffer of its own.
  function utf8Encode(s) {
    s = toStr(s);
    const buf = new AB(s.length * 3);
    const out = new U8(buf);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let c = charCodeAt(s, i);
      if (c < 0x80) { out[n++] = c; continue; }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = charCodeAt(s, i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[n++] = 0xf0 | (c >> 18);
          out[n++] = 0x80 | ((c >> 12) & 0x3f);
          out[n++] = 0x80 | ((c >> 6) & 0x3f);
          out[n++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x800) {
        out[n++] = 0xc0 | (c >> 6);
        out[n++] = 0x80 | (c & 0x3f);
      } else {
        out[n++] = 0xe0 | (c >> 12);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
      }
    }
    return new U8(buf, 0, n);
  }

  // utf8Decode decodes b[start:end] (b a genuine typed array) as the
  // Encoding standard's UTF-8 decoder does: each maximal ill-formed
  // subsequence becomes one U+FFFD; with fatal, it throws instead. Code
  // units gather in units, whose elements all exist from the start: storing
  // into an Array index it lacks would run a setter user code put on
  // Array.prototype. Full chunks become a string in one call; the rest (and
  // so any short string) one unit at a time. No user code runs in here, so
  // units can be shared.
  const CHUNK = 4096;
  const units = new Array(CHUNK).fill(0);
  function utf8Decode(b, start, end, fatal) {
    let s = '';
    let k = 0;
    for (let i = start; i < end;) {
      const c = b[i++];
      let cp = c;
      if (c >= 0x80) {
        // need continuation bytes, the first within [lo, hi], the rest 80..BF.
        let need = 0, lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; if (c === 0xe0) lo = 0xa0; else if (c === 0xed) hi = 0x9f; }
        else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; if (c === 0xf0) lo = 0x90; else if (c === 0xf4) hi = 0x8f; }
        let got = 0;
        while (got < need && i < end) {
          const d = b[i];
          if (d < lo || d > hi) break;
          cp = (cp << 6) | (d & 0x3f);
          lo = 0x80; hi = 0xbf;
          i++; got++;
        }
        if (need === 0 || got < need) {
          if (fatal) throw new TypeErrorCtor('TextDecoder: the input is not valid UTF-8');
          cp = 0xfffd;
        }
      }
      if (cp > 0xffff) {
        cp -= 0x10000;
        units[k++] = 0xd800 + (cp >> 10);
        if (k === CHUNK) { s += apply(fromCharCode, null, units); k = 0; }
        cp = 0xdc00 + (cp & 0x3ff);
      }
      units[k++] = cp;
      if (k === CHUNK) { s += apply(fromCharCode, null, units); k = 0; }
    }
    for (let j = 0; j < k; j++) s += fromCharCode(units[j]);
    return s;
  }

  // ---- Bytes: the Uint8Array kind of payload and of host-service results.
  class Bytes extends U8 {
    text() { const b = viewBytes(this); return utf8Decode(b, 0, taLength(b)); }
    json() { return jsonParse(bytesText(this)); }
    toJSON() { return bytesText(this); }
  }
  // Typed-array methods such as subarray/slice return plain views.
  defineProperty(Bytes, species, { value: U8 });
  const bytesText = uncurry(Bytes.prototype.text);
  const newBytes = (n) => construct(U8, [n], Bytes); // not `new Bytes`: its super() follows a prototype user code can change

  // viewBytes is a genuine Uint8Array over the bytes of the view v; it throws
  // a TypeError for anything else.
  function viewBytes(v) {
    const tag = taTag(v);
    if (tag === 'Uint8Array') return v;
    if (tag !== undefined) return new U8(taBuffer(v), taByteOffset(v), taByteLength(v));
    if (isView(v)) return new U8(dvBuffer(v), dvByteOffset(v), dvByteLength(v)); // a view that is no typed array is a DataView
    throw new TypeErrorCtor('expected a typed array or DataView');
  }

  // toBody turns a host-service value or a reply into a genuine Uint8Array:
  // bytes as is, strings as UTF-8, anything else as JSON.
  function toBody(v) {
    if (typeof v === 'string') return utf8Encode(v);
    if (typeof v === 'object' && v !== null) {
      if (isView(v)) return viewBytes(v);
      // The prototype test keeps the throwing brand check off the path of
      // plain objects (a throw costs microseconds).
      if ((hasInstance(AB, v) && isArrayBuffer(v)) || (hasInstance(SAB, v) && isSharedArrayBuffer(v))) return new U8(v);
    }
    const json = jsonStringify(v);
    return utf8Encode(json === undefined ? '' : json);
  }

  // ---- host services
  class HostError extends ErrorCtor {}
  HostError.prototype.name = 'Error';

  // Internal records such as encodeCall's are plain object literals: only
  // their own properties are ever read, and V8 keeps a literal with a null
  // prototype as a slow dictionary.

  // encodeCall turns a host call's arguments into bytes. User code (toJSON,
  // getters) runs here, before the exchange is touched.
  function encodeCall(op, args, body) {
    return {
      op: utf8Encode(op),
      args: utf8Encode(jsonStringify(args)),
      body: body === undefined ? null : toBody(body),
    };
  }

  // writeCall stores an encoded call for the engine: slots 0..2 are the
  // lengths of op, args JSON and body (-1 for none). No user code runs.
  function writeCall(c) {
    const opLen = taLength(c.op), argLen = taLength(c.args);
    const bodyLen = c.body === null ? -1 : taLength(c.body);
    reserve(opLen + argLen + (bodyLen > 0 ? bodyLen : 0));
    slots[0] = opLen;
    slots[1] = argLen;
    slots[2] = bodyLen;
    taSet(bytes, c.op, HEADER);
    taSet(bytes, c.args, HEADER + opLen);
    if (c.body !== null) taSet(bytes, c.body, HEADER + opLen + argLen);
  }

  // readAnswer copies out the engine's answer to a host call: slot 0 the
  // status (0 ok, 1 error), slot 1 the result JSON's length, slot 2 the
  // body's length or -1. The engine may have grown the exchange meanwhile.
  function readAnswer() {
    const status = slots[0], resultLen = slots[1], bodyLen = slots[2];
    if (!(resultLen >= 0 && bodyLen >= -1 && HEADER + resultLen + (bodyLen > 0 ? bodyLen : 0) <= size)) {
      throw new ErrorCtor('natsfn: malformed host answer');
    }
    return {
      status,
      text: utf8Decode(bytes, HEADER, HEADER + resultLen),
      body: bodyLen >= 0 ? fromExchange(HEADER + resultLen, bodyLen, Bytes) : null,
    };
  }

  // answerError is the coded Error (or TypeError) of a failed answer.
  function answerError(text) {
    const e = jsonParse(text);
    const typeError = e.type === 'TypeError';
    const err = construct(typeError ? TypeErrorCtor : ErrorCtor, [e.message], typeError ? TypeErrorCtor : HostError);
    dataProperty(err, 'code', e.code);
    return err;
  }

  // answerValue is what host and hostAsync hand back: { result, body }.
  function answerValue(a) {
    return { __proto__: null, result: a.text !== '' ? jsonParse(a.text) : null, body: a.body };
  }

  // host calls op with JSON args and an optional binary body; it returns
  // { result, body } or throws an Error/TypeError with a code. It blocks
  // until the host answers.
  function host(op, args, body) {
    const c = encodeCall(op, args, body);
    // From here to restoreReply no user code runs.
    const saved = keepReply();
    let a;
    try {
      writeCall(c);
      nativeHost();
      a = readAnswer();
    } finally {
      restoreReply(saved);
    }
    if (a.status !== 0) throw answerError(a.text);
    return answerValue(a);
  }

  // ---- asynchronous host calls. hostAsync starts the call in the engine
  // (natives.hostStart, which answers in slot 0 a status and in slot 1 the
  // call's id) and keeps the promise's resolve functions by id; once the
  // call is done, the engine writes its answer into the exchange, as for
  // host, and calls complete(id). The engine forgets every call when an
  // invocation ends, and invoke() then drops the functions kept here.
  let calls = { __proto__: null }, callCount = 0;

  function hostAsync(op, args, body) {
    let resolve, reject;
    const p = new PromiseCtor((res, rej) => { resolve = res; reject = rej; });
    let c;
    try {
      c = encodeCall(op, args, body);
    } catch (e) {
      reject(e);
      return p;
    }
    const saved = keepReply();
    let id = 0, a = null;
    try {
      writeCall(c);
      nativeHostStart();
      if (slots[0] === 0) id = slots[1]; else a = readAnswer();
    } catch (e) {
      a = null;
      reject(e);
    } finally {
      restoreReply(saved);
    }
    if (id > 0) {
      calls[id] = { resolve, reject };
      callCount++;
    } else if (a !== null) {
      reject(answerError(a.text));
    }
    return p;
  }

  // complete settles the promise of call id with the answer the engine
  // wrote. Everything is copied out before the promise settles; the
  // reactions (user code) run after this returns.
  function complete(id) {
    const c = calls[id];
    if (c === undefined) return;
    delete calls[id];
    callCount--;
    let a;
    try {
      a = readAnswer();
    } catch (e) {
      c.reject(e);
      return;
    } finally {
      // What was in the exchange before the answer, if anything, was
      // the pending reply's status, which settle() rewrites.
      slots[0] = 2;
      slots[1] = 0;
    }
    if (a.status !== 0) c.reject(answerError(a.text));
    else c.resolve(answerValue(a));
  }

  function str(name, v) {
    if (typeof v !== 'string') throw new TypeErrorCtor(name + ' must be a string');
    return v;
  }
  function opts(name, v) {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object') throw new TypeErrorCtor(name + ' must be an object');
    return v;
  }
  function required(name, v) {
    if (v === undefined) throw new TypeErrorCtor(name + ' is required');
    return v;
  }
  function timeoutMs(o) {
    if (o.timeout === undefined) return undefined;
    if (typeof o.timeout !== 'number' || !(o.timeout > 0)) throw new TypeErrorCtor('opts.timeout must be a positive number of milliseconds');
    return o.timeout;
  }

  // Every host-service method is written once, as a request (check the
  // arguments, name the call) and an answer (turn { result, body } into the
  // method's value); service() makes its synchronous and its Promise form.
  const req = (op, args, body) => ({ op, args, body });
  const payloadOf = (payload) => (payload === undefined ? '' : payload);
  const resultOf = (r) => r.result;
  const nothing = () => undefined;
  const foundBody = (r) => (r.result.found ? r.body : null);
  const listOf = (r) => r.result || [];

  function splitMany(r) {
    const sizes = r.result.sizes, body = r.body;
    const total = taLength(body);
    const out = [];
    for (let i = 0, off = 0; i < sizes.length; i++) {
      const n = sizes[i];
      if (!(n >= 0 && off + n <= total)) throw new ErrorCtor('natsfn: malformed host answer');
      const b = newBytes(n);
      taSet(b, new U8(taBuffer(body), taByteOffset(body) + off, n));
      dataProperty(out, i, b);
      off += n;
    }
    return out;
  }

  function httpRequest(method) {
    return (url, body, o) => {
      o = opts('opts', o);
      return req('http.request', [method, str('url', url), { headers: o.headers, timeout_ms: timeoutMs(o) }], body);
    };
  }
  // GET and HEAD take no body: their second argument is opts.
  const httpNoBody = (method) => { const r = httpRequest(method); return (url, o) => r(url, undefined, o); };
  function httpAnswer(r) {
    const b = r.body || newBytes(0);
    return { status: r.result.status, headers: r.result.headers, body: b, response: bytesText(b) };
  }

  const kvSet = [(key, value) => req('kv.set', [str('key', key)], required('value', value)), resultOf];
  const httpDelete = [httpRequest('DELETE'), httpAnswer];
  const methods = {
    kv: {
      get: [(key) => req('kv.get', [str('key', key)]), foundBody],
      set: kvSet,
      put: kvSet,
      delete: [(key) => req('kv.delete', [str('key', key)]), nothing],
      keys: [() => req('kv.keys', []), listOf],
    },
    objectStore: {
      put: [(name, data) => req('obj.put', [str('name', name)], required('data', data)), resultOf],
      get: [(name) => req('obj.get', [str('name', name)]), foundBody],
      delete: [(name) => req('obj.delete', [str('name', name)]), nothing],
      list: [() => req('obj.list', []), listOf],
    },
    messaging: {
      publish: [(subject, payload, o) => {
        o = opts('opts', o);
        return req('msg.publish', [str('subject', subject), { headers: o.headers }], payloadOf(payload));
      }, nothing],
      request: [(subject, payload, o) => {
        o = opts('opts', o);
        return req('msg.request', [str('subject', subject), { timeout_ms: timeoutMs(o), headers: o.headers }], payloadOf(payload));
      }, (r) => r.body],
      requestMany: [(subject, payload, o) => {
        o = opts('opts', o);
        return req('msg.requestMany', [str('subject', subject), { timeout_ms: timeoutMs(o), max: o.max, stall_ms: o.stall }], payloadOf(payload));
      }, splitMany],
    },
    http: {
      get: [httpNoBody('GET'), httpAnswer],
      head: [httpNoBody('HEAD'), httpAnswer],
      post: [httpRequest('POST'), httpAnswer],
      put: [httpRequest('PUT'), httpAnswer],
      patch: [httpRequest('PATCH'), httpAnswer],
      del: httpDelete,
      delete: httpDelete,
    },
  };

  // service makes the two forms of one service's methods. Arguments are
  // checked in the Promise form too, and a bad one rejects: an async
  // function turns the throw into a rejection.
  function service(ms) {
    const sync = {}, promises = {};
    const names = objectKeys(ms);
    for (let i = 0; i < names.length; i++) {
      const request = ms[names[i]][0], answer = ms[names[i]][1];
      const syncForm = function (a, b, c) { const q = request(a, b, c); return answer(host(q.op, q.args, q.body)); };
      const promiseForm = async function (a, b, c) { const q = request(a, b, c); return answer(await hostAsync(q.op, q.args, q.body)); };
      defineProperty(syncForm, 'name', { value: names[i] });
      defineProperty(promiseForm, 'name', { value: names[i] });
      dataProperty(sync, names[i], syncForm);
      dataProperty(promises, names[i], promiseForm);
    }
    return { __proto__: null, sync: freeze(sync), promises: freeze(promises) };
  }
  const kv = service(methods.kv), objectStore = service(methods.objectStore);
  const messaging = service(methods.messaging), http = service(methods.http);

  const hostServices = freeze({
    http: http.sync, kv: kv.sync, objectStore: objectStore.sync, messaging: messaging.sync,
    // The same methods, each returning a Promise: their calls run at the
    // same time, and the function's code runs on while they do.
    promises: freeze({ http: http.promises, kv: kv.promises, objectStore: objectStore.promises, messaging: messaging.promises }),
  });

  // ---- console
  function formatOne(a) {
    if (typeof a === 'string') return a;
    if (typeof a === 'function' || typeof a === 'symbol' || typeof a === 'bigint' || a === undefined) return toStr(a);
    if (hasInstance(ErrorCtor, a)) { const stack = a.stack; return toStr(stack || a); }
    const j = jsonStringify(a);
    return j === undefined ? toStr(a) : j;
  }
  // format always returns a string, whatever the arguments do.
  function format(args) {
    let s = '';
    for (let i = 0; i < args.length; i++) {
      let part;
      try { part = formatOne(args[i]); } catch (_) {
        try { part = toStr(args[i]); } catch (_) { part = '[unprintable]'; }
      }
      s += (i === 0 ? '' : ' ') + part;
    }
    return s;
  }
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const as = level === 'log' ? 'info' : level;
    console[level] = (...args) => { nativeLog(as, format(args)); };
  }

  // ---- web globals
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s = '') { const b = utf8Encode(s); const out = new U8(taLength(b)); taSet(out, b); return out; }
    // encodeInto writes whole code points only and says how many UTF-16
    // code units it read and bytes it wrote.
    encodeInto(s, dest) {
      if (taTag(dest) !== 'Uint8Array') throw new TypeErrorCtor('TextEncoder.encodeInto: dest must be a Uint8Array');
      s = toStr(s);
      const room = taLength(dest);
      let read = 0, written = 0;
      while (read < s.length) {
        let c = charCodeAt(s, read), units = 1;
        if (c >= 0xd800 && c <= 0xdbff && read + 1 < s.length) {
          const d = charCodeAt(s, read + 1);
          if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); units = 2; }
        }
        if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
        const n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (written + n > room) break;
        if (n === 1) dest[written] = c;
        else if (n === 2) { dest[written] = 0xc0 | (c >> 6); dest[written + 1] = 0x80 | (c & 0x3f); }
        else if (n === 3) { dest[written] = 0xe0 | (c >> 12); dest[written + 1] = 0x80 | ((c >> 6) & 0x3f); dest[written + 2] = 0x80 | (c & 0x3f); }
        else { dest[written] = 0xf0 | (c >> 18); dest[written + 1] = 0x80 | ((c >> 12) & 0x3f); dest[written + 2] = 0x80 | ((c >> 6) & 0x3f); dest[written + 3] = 0x80 | (c & 0x3f); }
        written += n;
        read += units;
      }
      return { read, written };
    }
  }

  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function btoa(s) {
    s = String(s);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new DOMException('btoa: string contains characters outside Latin1', 'InvalidCharacterError');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
    }
    return out;
  }
  function atob(s) {
    s = String(s).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new DOMException('atob: invalid base64', 'InvalidCharacterError');
    let out = '', bits = 0, acc = 0;
    for (let i = 0; i < s.length; i++) {
      acc = (acc << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 255); }
    }
    return out;
  }

  // The legacy code numbers of the WebIDL standard's error names; others are 0.
  const DOM_CODES = { __proto__: null, IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9,
    InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
    InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25 };
  class DOMException extends Error {
    constructor(message = '', name = 'Error') { super(message); this.name = toStr(name); }
    get code() { return DOM_CODES[this.name] || 0; }
  }

  function getRandomValues(arr) {
    const tag = taTag(arr);
    if (tag === undefined || tag === 'Float16Array' || tag === 'Float32Array' || tag === 'Float64Array') {
      throw new TypeErrorCtor('crypto.getRandomValues: argument must be an integer typed array');
    }
    const n = taByteLength(arr);
    if (n > 65536) throw new DOMException('crypto.getRandomValues: at most 65536 bytes', 'QuotaExceededError');
    const dest = new U8(taBuffer(arr), taByteOffset(arr), n);
    const saved = keepReply();
    try {
      reserve(n);
      nativeRandom(n);
      taSet(dest, new U8(exchange, HEADER, n));
    } finally {
      restoreReply(saved);
    }
    return arr;
  }
  const HEX = '0123456789abcdef';
  function randomUUID() {
    const b = getRandomValues(new U8(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let s = '';
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
      s += HEX[b[i] >> 4] + HEX[b[i] & 15];
    }
    return s;
  }

  function structuredClone(v) {
    const seen = new Map();
    function clone(x) {
      if (typeof x === 'function' || typeof x === 'symbol') throw new DOMException('value could not be cloned', 'DataCloneError');
      if (x === null || typeof x !== 'object') return x;
      if (seen.has(x)) return seen.get(x);
      let out;
      if (Array.isArray(x)) { out = []; seen.set(x, out); x.forEach((e, i) => { out[i] = clone(e); }); return out; }
      if (x instanceof Date) return new Date(x.getTime());
      if (x instanceof RegExp) return new RegExp(x.source, x.flags);
      if (ArrayBuffer.isView(x)) { out = x.slice(); seen.set(x, out); return out; }
      if (x instanceof ArrayBuffer) return x.slice(0);
      if (x instanceof Map) { out = new Map(); seen.set(x, out); x.forEach((val, k) => out.set(clone(k), clone(val))); return out; }
      if (x instanceof Set) { out = new Set(); seen.set(x, out); x.forEach((val) => out.add(clone(val))); return out; }
      if (x instanceof Error) { out = new Error(x.message); out.name = x.name; return out; }
      out = {};
      seen.set(x, out);
      for (const k of Object.keys(x)) out[k] = clone(x[k]);
      return out;
    }
    return clone(v);
  }


  const env = freeze(jsonParse(envJSON));
  const define = (name, value) => defineProperty(global, name, { value, writable: true, configurable: true });
  define('hostServices', hostServices);
  define('env', env);
  define('console', console);
  define('TextEncoder', TextEncoder);
  define('btoa', btoa);
  define('atob', atob);
  define('DOMException', DOMException);
  define('structuredClone', structuredClone);
  define('crypto', freeze({ getRandomValues, randomUUID }));

  // ---- invocation
  let handler = null;
  let pending = null; // the settled state of a returned promise

  function setHandler(h) {
    if (typeof h !== 'function') {
      throw new TypeErrorCtor('the script must evaluate to a function, or export one as default; it evaluated to ' + (h === null ? 'null' : typeof h));
    }
    handler = h;
  }

  // writeReply stores v in the exchange: slots[0] = 0 for bytes, 1 for
  // empty; slots[1] = length. User code (toJSON, getters) runs in toBody,
  // before the exchange is written.
  function writeReply(v) {
    if (v === undefined || v === null) { slots[0] = 1; slots[1] = 0; writeDisposition(0); sealed = true; return; }
    const b = toBody(v);
    const n = writeData(b);
    slots[0] = 0;
    slots[1] = n;
    writeDisposition(n);
    sealed = true;
  }

  // ---- a consumer delivery's disposition (docs/triggers.md): msg.ack(),
  // msg.nak(delayMs) and msg.term(reason) decide how the node finishes
  // the message; the first decision stands. Slots 4..6 carry it out: the
  // kind (0 none, 1 ack, 2 nak, 3 term), the nak's delay in ms and the
  // length of the term's reason, stored after the reply's data.
  let disp = 0, dispDelay = 0, dispReason = '';
  const MAX_REASON = 256;
  function decide(kind, delay, reason) {
    if (disp !== 0) return;
    disp = kind; dispDelay = delay; dispReason = reason;
  }
  function nakDelay(ms) {
    if (ms === undefined) return 0;
    if (typeof ms !== 'number' || !(ms >= 0)) throw new TypeErrorCtor('msg.nak: delayMs must be a number of milliseconds >= 0');
    return ms > 0x7fffffff ? 0x7fffffff : ms - (ms % 1);
  }
  // writeDisposition follows a reply or an error of n data bytes. The
  // reason is dropped when it does not fit the exchange as it is (growing
  // it would lose the reply).
  function writeDisposition(n) {
    slots[4] = disp;
    slots[5] = dispDelay;
    slots[6] = 0;
    if (disp !== 3 || dispReason === '') return;
    const r = utf8Encode(strSlice(dispReason, 0, MAX_REASON));
    const rn = taLength(r);
    if (HEADER + n + rn > size) return;
    taSet(bytes, r, HEADER + n);
    slots[6] = rn;
  }
  // deliveryMsg is the third argument of a consumer delivery: what the
  // trigger says of the message (meta, e.g. stream, seq, key, operation)
  // and the four decisions.
  function deliveryMsg(headers, meta) {
    const msg = { headers, reply: '' };
    if (meta !== null && typeof meta === 'object') {
      const keys = objectKeys(meta);
      for (let i = 0; i < keys.length; i++) dataProperty(msg, keys[i], meta[keys[i]]);
    }
    dataProperty(msg, 'ack', function ack() { decide(1, 0, ''); });
    dataProperty(msg, 'nak', function nak(delayMs) { decide(2, nakDelay(delayMs), ''); });
    dataProperty(msg, 'term', function term(reason) { decide(3, 0, reason === undefined ? '' : toStr(reason)); });
    // The node keeps a message in progress for as long as the function
    // may run (its timeout), so there is nothing more to tell the server.
    dataProperty(msg, 'inProgress', function inProgress() {});
    return msg;
  }

  function errorText(e) {
    try {
      if (hasInstance(ErrorCtor, e)) { const stack = e.stack; return toStr(stack || e); }
      return 'uncaught ' + format([e]);
    } catch (_) {
      return 'uncaught exception';
    }
  }

  // errorMessage is what the caller may be shown of an exception: its
  // name and message, without the stack.
  const MAX_MESSAGE = 512;
  function errorMessage(e) {
    let m;
    try {
      if (hasInstance(ErrorCtor, e)) {
        const name = e.name, message = e.message;
        m = message === undefined || message === '' ? toStr(name) : toStr(name) + ': ' + toStr(message);
      } else {
        m = 'uncaught ' + format([e]);
      }
    } catch (_) {
      m = 'uncaught exception';
    }
    return strSlice(m, 0, MAX_MESSAGE);
  }

  // writeError stores the exception's text (its stack) as the data, and
  // its message after it, its length in slots[2].
  function writeError(e) {
    const message = utf8Encode(errorMessage(e));
    const n = writeData(utf8Encode(errorText(e)));
    const mn = taLength(message);
    slots[2] = 0;
    if (HEADER + n + mn <= size) {
      taSet(bytes, message, HEADER + n);
      slots[2] = mn;
    }
    slots[0] = 3;
    slots[1] = n;
    writeDisposition(n + slots[2]);
    sealed = true;
  }

  // track waits for a returned promise or thenable. await, unlike then(),
  // looks up neither Promise.prototype.then nor a species constructor.
  async function track(r, p) {
    try {
      p.value = await r;
      p.state = 1;
    } catch (e) {
      p.value = e;
      p.state = 2;
    }
  }

  // invoke runs the handler on the message the engine wrote into the
  // exchange: slots 0..3 are the lengths of subject, reply, headers JSON
  // and payload, stored in that order from HEADER on. Everything is read
  // before user code runs.
  function invoke() {
    sealed = false;
    pending = null;
    // The engine has forgotten the last invocation's timers and calls.
    if (timerCount !== 0 || callCount !== 0) forgetPending();
    const subjectLen = slots[0], replyLen = slots[1], headersLen = slots[2], payloadLen = slots[3], metaLen = slots[4];
    disp = 0; dispDelay = 0; dispReason = '';
    let o = HEADER;
    const subject = utf8Decode(bytes, o, o + subjectLen); o += subjectLen;
    const reply = replyLen ? utf8Decode(bytes, o, o + replyLen) : ''; o += replyLen;
    const headers = headersLen ? jsonParse(utf8Decode(bytes, o, o + headersLen)) : {}; o += headersLen;
    const payload = fromExchange(o, payloadLen, Bytes); o += payloadLen;
    try {
      const msg = metaLen > 0 ? deliveryMsg(headers, jsonParse(utf8Decode(bytes, o, o + metaLen))) : { headers, reply };
      const r = apply(handler, global, [subject, payload, msg]);
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        const p = { __proto__: null, state: 0, value: undefined };
        pending = p;
        slots[0] = 2;
        sealed = true;
        track(r, p);
        return;
      }
      writeReply(r);
    } catch (e) {
      writeError(e);
    }
  }

  // settle reports a promise returned by the last invoke, once microtasks ran.
  function settle() {
    const p = pending;
    if (p === null || p.state === 0) { slots[0] = 2; sealed = true; return; }
    pending = null;
    sealed = false;
    try {
      if (p.state === 1) writeReply(p.value); else writeError(p.value);
    } catch (e) {
      writeError(e);
    }
  }

  // prepare(n) makes room for n data bytes; prepare(-1) gives a grown
  // exchange back, replacing it with one of the starting size.
  function prepare(n) {
    if (n >= 0) { reserve(n); return; }
    if (size <= START_SIZE) return;
    size = START_SIZE;
    exchange = new SAB(size);
    nativeExchange(exchange);
    slots = new I32(exchange, 0, 8);
    bytes = new U8(exchange);
  }

  // ---- timers. The engine keeps each timer's due time (natives.timerSet,
  // timerClear) and calls fire(id) when it is due; the callback and its
  // arguments stay here. timerSet returns false once the invocation's
  // reply is decided: such a timer would never run, so nothing is kept.
  let timers = { __proto__: null }, timerCount = 0, lastTimerId = 0;
  const MAX_TIMER_ID = 0x7fffffff;

  // setTimer arms a timer of delay ms (an integer >= 0) that calls
  // callback(...args) once, or every delay ms with repeat; it returns the
  // timer's id, a positive integer, or 0 when too many timers are armed.
  function setTimer(callback, args, delay, repeat) {
    lastTimerId = lastTimerId === MAX_TIMER_ID ? 1 : lastTimerId + 1;
    const id = lastTimerId;
    const armed = nativeTimerSet(id, delay);
    if (armed < 0) return 0;
    if (armed > 0) {
      timers[id] = { callback, args, delay, repeat };
      timerCount++;
    }
    return id;
  }

  function clearTimer(id) {
    if (timers[id] === undefined) return;
    delete timers[id];
    timerCount--;
    nativeTimerClear(id);
  }

  // fire runs timer id's callback; an interval is armed again after it,
  // unless the callback cleared it. An exception is reported, as HTML does,
  // and the function goes on.
  function fire(id) {
    const t = timers[id];
    if (t === undefined) return;
    if (!t.repeat) { delete timers[id]; timerCount--; }
    try {
      apply(t.callback, global, t.args);
    } catch (e) {
      reportError(e);
    }
    if (t.repeat && timers[id] === t && nativeTimerSet(id, t.delay) <= 0) { delete timers[id]; timerCount--; }
  }

  function forgetPending() {
    timers = { __proto__: null };
    timerCount = 0;
    calls = { __proto__: null };
    callCount = 0;
  }

  // reportError logs an exception nobody caught (from a timer, a
  // microtask or reportError()) as the error of a failed call is logged.
  function reportError(e) {
    nativeLog('error', errorText(e));
  }

  // ---- internals: what the web extensions (web/*.js) build on. They are
  // natsfn's own code, run once after this file and before the user's; no
  // view of the exchange is among these. hostAsync is the Promise form of
  // host: it resolves to { result, body } or rejects with the same coded
  // Error. setTimer and clearTimer are the timers' core (web/05_timers.js).
  // lazy puts an accessor on the global object for each global of the
  // lazy web extensions (extensions.go), given as JSON [[name, k], ...]:
  // the first use of one runs load(k), whose define replaces the accessor
  // with the value. An assignment before that replaces it too, and the
  // extension is not run for it.
  function lazy(json, load) {
    const list = jsonParse(json);
    for (let i = 0; i < list.length; i++) {
      const name = list[i][0], k = list[i][1];
      defineProperty(global, name, {
        __proto__: null,
        configurable: true,
        enumerable: false,
        get() {
          load(k);
          const d = getOwnPropertyDescriptor(global, name);
          return d !== undefined && hasOwn(d, 'value') ? d.value : undefined;
        },
        set(v) { defineProperty(global, name, { __proto__: null, value: v, writable: true, configurable: true }); },
      });
    }
  }

  const internals = freeze({
    __proto__: null,
    define, host, hostAsync, setTimer, clearTimer, reportError, utf8Encode, utf8Decode, toBody, viewBytes, newBytes, Bytes,
    DOMException, format, lazy,
    log: (level, line) => { nativeLog(level, toStr(line)); },
    // shared: what one extension hands to a later one (its classes, say).
    shared: { __proto__: null },
  });

  nativeExchange(exchange);
  return { setHandler, invoke, settle, prepare, complete, fire, internals };
})
