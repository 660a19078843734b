// The natsfn prelude: runs once in every context before the user's script.
// It installs the globals a function may use and returns the internal
// entry points the engine calls. Everything the engine shares with this file
// goes through one SharedArrayBuffer ("the exchange"), laid out as:
//
//   bytes 0..31   eight int32 slots (HEADER_SLOTS), meaning set per call
//   bytes 32..    data
//
// The natives (host, log, random, exchange) arrive as an argument and are
// never visible to user code. exchange(sab) tells the engine which buffer is
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
  const freeze = Object.freeze, objectKeys = Object.keys;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const nativeHost = natives.host, nativeLog = natives.log, nativeRandom = natives.random, nativeExchange = natives.exchange;

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

  // host calls op with JSON args and an optional binary body; it returns
  // { result, body } or throws an Error/TypeError with a code.
  function host(op, args, body) {
    // User code (toJSON, getters) runs here, before the exchange is touched.
    const argBytes = utf8Encode(jsonStringify(args));
    const opBytes = utf8Encode(op);
    const bodyBytes = body === undefined ? null : toBody(body);
    const opLen = taLength(opBytes), argLen = taLength(argBytes);
    const bodyLen = bodyBytes === null ? -1 : taLength(bodyBytes);
    // From here to restoreReply no user code runs.
    const saved = keepReply();
    let status, resultLen, text, resultBody;
    try {
      reserve(opLen + argLen + (bodyLen > 0 ? bodyLen : 0));
      slots[0] = opLen;
      slots[1] = argLen;
      slots[2] = bodyLen;
      taSet(bytes, opBytes, HEADER);
      taSet(bytes, argBytes, HEADER + opLen);
      if (bodyBytes !== null) taSet(bytes, bodyBytes, HEADER + opLen + argLen);
      nativeHost();
      // The engine may have grown the exchange while answering.
      status = slots[0];
      resultLen = slots[1];
      const resultBodyLen = slots[2];
      if (!(resultLen >= 0 && resultBodyLen >= -1 && HEADER + resultLen + (resultBodyLen > 0 ? resultBodyLen : 0) <= size)) {
        throw new ErrorCtor('natsfn: malformed host answer');
      }
      text = utf8Decode(bytes, HEADER, HEADER + resultLen);
      resultBody = resultBodyLen >= 0 ? fromExchange(HEADER + resultLen, resultBodyLen, Bytes) : null;
    } finally {
      restoreReply(saved);
    }
    if (status !== 0) {
      const e = jsonParse(text);
      const typeError = e.type === 'TypeError';
      const err = construct(typeError ? TypeErrorCtor : ErrorCtor, [e.message], typeError ? TypeErrorCtor : HostError);
      dataProperty(err, 'code', e.code);
      throw err;
    }
    return { __proto__: null, result: resultLen ? jsonParse(text) : null, body: resultBody };
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

  const kv = freeze({
    get(key) { const r = host('kv.get', [str('key', key)]); return r.result.found ? r.body : null; },
    set(key, value) { return host('kv.set', [str('key', key)], required('value', value)).result; },
    put(key, value) { return kv.set(key, value); },
    delete(key) { host('kv.delete', [str('key', key)]); },
    keys() { return host('kv.keys', []).result || []; },
  });

  const objectStore = freeze({
    put(name, data) { return host('obj.put', [str('name', name)], required('data', data)).result; },
    get(name) { const r = host('obj.get', [str('name', name)]); return r.result.found ? r.body : null; },
    delete(name) { host('obj.delete', [str('name', name)]); },
    list() { return host('obj.list', []).result || []; },
  });

  function timeoutMs(o) {
    if (o.timeout === undefined) return undefined;
    if (typeof o.timeout !== 'number' || !(o.timeout > 0)) throw new TypeErrorCtor('opts.timeout must be a positive number of milliseconds');
    return o.timeout;
  }

  const messaging = freeze({
    publish(subject, payload, o) {
      o = opts('opts', o);
      host('msg.publish', [str('subject', subject), { headers: o.headers }], payload === undefined ? '' : payload);
    },
    request(subject, payload, o) {
      o = opts('opts', o);
      return host('msg.request', [str('subject', subject), { timeout_ms: timeoutMs(o), headers: o.headers }],
        payload === undefined ? '' : payload).body;
    },
    requestMany(subject, payload, o) {
      o = opts('opts', o);
      const r = host('msg.requestMany', [str('subject', subject), { timeout_ms: timeoutMs(o), max: o.max, stall_ms: o.stall }],
        payload === undefined ? '' : payload);
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
    },
  });

  function httpCall(method, url, body, o) {
    o = opts('opts', o);
    const r = host('http.request', [method, str('url', url), { headers: o.headers, timeout_ms: timeoutMs(o) }], body);
    const b = r.body || newBytes(0);
    return { status: r.result.status, headers: r.result.headers, body: b, response: bytesText(b) };
  }
  const http = freeze({
    get(url, o) { return httpCall('GET', url, undefined, o); },
    head(url, o) { return httpCall('HEAD', url, undefined, o); },
    post(url, body, o) { return httpCall('POST', url, body, o); },
    put(url, body, o) { return httpCall('PUT', url, body, o); },
    patch(url, body, o) { return httpCall('PATCH', url, body, o); },
    del(url, body, o) { return httpCall('DELETE', url, body, o); },
    delete(url, body, o) { return httpCall('DELETE', url, body, o); },
  });

  const hostServices = freeze({ http, kv, objectStore, messaging });

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

  // ---- internals: what the web extensions (web/*.js) build on. They are
  // natsfn's own code, run once after this file and before the user's; no
  // view of the exchange is among these.
  // hostAsync is the Promise form of host: it resolves to { result, body }
  // or rejects with the same coded Error.
  function hostAsync(op, args, body) {
    return new Promise((resolve) => { resolve(host(op, args, body)); });
  }
  const internals = freeze({
    __proto__: null,
    define, host, hostAsync, utf8Encode, utf8Decode, toBody, viewBytes, newBytes, Bytes,
    DOMException, format, log: (level, line) => { nativeLog(level, toStr(line)); },
    // shared: what one extension hands to a later one (its classes, say).
    shared: { __proto__: null },
  });

  nativeExchange(exchange);
  return { setHandler, invoke, settle, prepare, internals };
})
