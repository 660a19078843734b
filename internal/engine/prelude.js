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
(function (natives, envJSON) {
  'use strict';
  const HEADER = 32;
  let exchange = new SharedArrayBuffer(64 * 1024);
  let slots = new Int32Array(exchange, 0, 8);
  let bytes = new Uint8Array(exchange);

  // grow replaces the exchange with one of at least n data bytes. The engine
  // notices through the buffer getter.
  function grow(n) {
    let size = exchange.byteLength;
    while (size < HEADER + n) size *= 2;
    const next = new SharedArrayBuffer(size);
    natives.exchange(next);
    exchange = next;
    slots = new Int32Array(exchange, 0, 8);
    bytes = new Uint8Array(exchange);
  }

  // ---- UTF-8, with U+FFFD for ill-formed input as the Encoding standard says.
  function utf8Encode(s) {
    s = String(s);
    const out = new Uint8Array(s.length * 3);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) { out[n++] = c; continue; }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
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
    return out.subarray(0, n);
  }

  // utf8Decode decodes b[start:end]; with fatal, ill-formed input throws.
  function utf8Decode(b, start, end, fatal) {
    let s = '';
    let chunk = [];
    for (let i = start; i < end;) {
      const c = b[i];
      let cp = 0xfffd, len = 1;
      if (c < 0x80) { cp = c; }
      else if (c >= 0xc2 && c <= 0xdf && i + 1 < end && (b[i + 1] & 0xc0) === 0x80) {
        cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f); len = 2;
      } else if (c >= 0xe0 && c <= 0xef && i + 2 < end && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80) {
        cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) { cp = 0xfffd; len = 1; } else len = 3;
      } else if (c >= 0xf0 && c <= 0xf4 && i + 3 < end && (b[i + 1] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) === 0x80 && (b[i + 3] & 0xc0) === 0x80) {
        cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f);
        if (cp < 0x10000 || cp > 0x10ffff) { cp = 0xfffd; len = 1; } else len = 4;
      }
      if (fatal && cp === 0xfffd && len === 1 && c >= 0x80) throw new TypeError('TextDecoder: the input is not valid UTF-8');
      i += len;
      if (cp > 0xffff) {
        cp -= 0x10000;
        chunk.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        chunk.push(cp);
      }
      if (chunk.length >= 8192) { s += String.fromCharCode.apply(null, chunk); chunk = []; }
    }
    return s + String.fromCharCode.apply(null, chunk);
  }

  // ---- Bytes: the Uint8Array kind of payload and of host-service results.
  class Bytes extends Uint8Array {
    text() { return utf8Decode(this, 0, this.length); }
    json() { return JSON.parse(this.text()); }
    toJSON() { return this.text(); }
  }
  // Typed-array methods such as subarray/slice return plain views.
  Object.defineProperty(Bytes, Symbol.species, { value: Uint8Array });

  function bytesFromExchange(offset, n) {
    const b = new Bytes(n);
    b.set(bytes.subarray(offset, offset + n));
    return b;
  }

  // toBody turns a host-service value or a reply into bytes: bytes as is,
  // strings as UTF-8, anything else as JSON.
  function toBody(v) {
    if (v instanceof Uint8Array) return v;
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return new Uint8Array(v);
    if (typeof v === 'string') return utf8Encode(v);
    const json = JSON.stringify(v);
    return utf8Encode(json === undefined ? '' : json);
  }

  // ---- host services
  class HostError extends Error {
    constructor(message, code) { super(message); this.code = code; }
  }
  HostError.prototype.name = 'Error';

  // host calls op with JSON args and an optional binary body; it returns
  // { result, body } or throws an Error/TypeError with a code.
  function host(op, args, body) {
    const argBytes = utf8Encode(JSON.stringify(args));
    const opBytes = utf8Encode(op);
    const bodyBytes = body === undefined ? null : toBody(body);
    const need = opBytes.length + argBytes.length + (bodyBytes ? bodyBytes.length : 0);
    if (HEADER + need > bytes.length) grow(need);
    slots[0] = opBytes.length;
    slots[1] = argBytes.length;
    slots[2] = bodyBytes ? bodyBytes.length : -1;
    let o = HEADER;
    bytes.set(opBytes, o); o += opBytes.length;
    bytes.set(argBytes, o); o += argBytes.length;
    if (bodyBytes) bytes.set(bodyBytes, o);
    natives.host();
    // The engine may have grown the exchange while answering.
    const status = slots[0], resultLen = slots[1], bodyLen = slots[2];
    const text = utf8Decode(bytes, HEADER, HEADER + resultLen);
    if (status !== 0) {
      const e = JSON.parse(text);
      if (e.type === 'TypeError') {
        const t = new TypeError(e.message);
        t.code = e.code;
        throw t;
      }
      throw new HostError(e.message, e.code);
    }
    return {
      result: resultLen ? JSON.parse(text) : null,
      body: bodyLen >= 0 ? bytesFromExchange(HEADER + resultLen, bodyLen) : null,
    };
  }

  function str(name, v) {
    if (typeof v !== 'string') throw new TypeError(name + ' must be a string');
    return v;
  }
  function opts(name, v) {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object') throw new TypeError(name + ' must be an object');
    return v;
  }
  function required(name, v) {
    if (v === undefined) throw new TypeError(name + ' is required');
    return v;
  }

  const kv = Object.freeze({
    get(key) { const r = host('kv.get', [str('key', key)]); return r.result.found ? r.body : null; },
    set(key, value) { return host('kv.set', [str('key', key)], required('value', value)).result; },
    put(key, value) { return kv.set(key, value); },
    delete(key) { host('kv.delete', [str('key', key)]); },
    keys() { return host('kv.keys', []).result || []; },
  });

  const objectStore = Object.freeze({
    put(name, data) { return host('obj.put', [str('name', name)], required('data', data)).result; },
    get(name) { const r = host('obj.get', [str('name', name)]); return r.result.found ? r.body : null; },
    delete(name) { host('obj.delete', [str('name', name)]); },
    list() { return host('obj.list', []).result || []; },
  });

  function timeoutMs(o) {
    if (o.timeout === undefined) return undefined;
    if (typeof o.timeout !== 'number' || !(o.timeout > 0)) throw new TypeError('opts.timeout must be a positive number of milliseconds');
    return o.timeout;
  }

  const messaging = Object.freeze({
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
      const out = [];
      let off = 0;
      for (const n of r.result.sizes) { out.push(r.body.slice(off, off + n)); off += n; }
      // slice() gives plain Uint8Arrays (species); make them Bytes again.
      return out.map((b) => { const x = new Bytes(b.length); x.set(b); return x; });
    },
  });

  function httpCall(method, url, body, o) {
    o = opts('opts', o);
    const r = host('http.request', [method, str('url', url), { headers: o.headers, timeout_ms: timeoutMs(o) }], body);
    const b = r.body || new Bytes(0);
    return { status: r.result.status, headers: r.result.headers, body: b, response: b.text() };
  }
  const http = Object.freeze({
    get(url, o) { return httpCall('GET', url, undefined, o); },
    head(url, o) { return httpCall('HEAD', url, undefined, o); },
    post(url, body, o) { return httpCall('POST', url, body, o); },
    put(url, body, o) { return httpCall('PUT', url, body, o); },
    patch(url, body, o) { return httpCall('PATCH', url, body, o); },
    del(url, body, o) { return httpCall('DELETE', url, body, o); },
    delete(url, body, o) { return httpCall('DELETE', url, body, o); },
  });

  const hostServices = Object.freeze({ http, kv, objectStore, messaging });

  // ---- console
  function format(args) {
    return args.map((a) => {
      if (typeof a === 'string') return a;
      if (a instanceof Error) return a.stack || String(a);
      if (typeof a === 'function' || typeof a === 'symbol' || typeof a === 'bigint' || a === undefined) return String(a);
      try { const j = JSON.stringify(a); return j === undefined ? String(a) : j; } catch (_) { return String(a); }
    }).join(' ');
  }
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = (...args) => natives.log(level === 'log' ? 'info' : level, format(args));
  }

  // ---- web globals
  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s = '') { const b = utf8Encode(s); const out = new Uint8Array(b.length); out.set(b); return out; }
    encodeInto(s, dest) {
      const b = utf8Encode(s);
      const n = Math.min(b.length, dest.length);
      dest.set(b.subarray(0, n));
      return { read: n === b.length ? String(s).length : undefined, written: n };
    }
  }
  class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      const l = String(label).toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') throw new RangeError('TextDecoder supports only utf-8');
      this.fatal = !!options.fatal;
    }
    get encoding() { return 'utf-8'; }
    decode(input) {
      if (input === undefined) return '';
      const b = toBody(input);
      const s = utf8Decode(b, 0, b.length, this.fatal);
      return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
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

  class DOMException extends Error {
    constructor(message = '', name = 'Error') { super(message); this.name = name; }
  }

  function getRandomValues(arr) {
    if (!ArrayBuffer.isView(arr) || arr instanceof Float32Array || arr instanceof Float64Array || arr instanceof DataView) {
      throw new TypeError('crypto.getRandomValues: argument must be an integer typed array');
    }
    if (arr.byteLength > 65536) throw new DOMException('crypto.getRandomValues: at most 65536 bytes', 'QuotaExceededError');
    if (HEADER + arr.byteLength > bytes.length) grow(arr.byteLength);
    natives.random(arr.byteLength);
    new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(bytes.subarray(HEADER, HEADER + arr.byteLength));
    return arr;
  }
  function randomUUID() {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
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


  // ---- URL and URLSearchParams: the common subset of the WHATWG URL API
  // for absolute URLs with a host (http, https, ws, nats, ...) and
  // relative references against them.
  class URLSearchParams {
    constructor(init) {
      this._list = [];
      if (init === undefined || init === null) return;
      if (typeof init === 'string') {
        const q = init.startsWith('?') ? init.slice(1) : init;
        for (const part of q.split('&')) {
          if (!part) continue;
          const i = part.indexOf('=');
          const k = i < 0 ? part : part.slice(0, i);
          const v = i < 0 ? '' : part.slice(i + 1);
          this._list.push([formDecode(k), formDecode(v)]);
        }
      } else if (typeof init[Symbol.iterator] === 'function') {
        for (const [k, v] of init) this._list.push([String(k), String(v)]);
      } else {
        for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
      }
    }
    append(k, v) { this._list.push([String(k), String(v)]); this._update(); }
    delete(k) { this._list = this._list.filter((e) => e[0] !== k); this._update(); }
    get(k) { const e = this._list.find((x) => x[0] === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter((x) => x[0] === k).map((x) => x[1]); }
    has(k) { return this._list.some((x) => x[0] === k); }
    set(k, v) {
      k = String(k);
      const i = this._list.findIndex((x) => x[0] === k);
      if (i < 0) this._list.push([k, String(v)]);
      else { this._list[i][1] = String(v); this._list = this._list.filter((x, j) => j <= i || x[0] !== k); }
      this._update();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._update(); }
    forEach(fn, thisArg) { for (const [k, v] of this._list) fn.call(thisArg, v, k, this); }
    keys() { return this._list.map((x) => x[0])[Symbol.iterator](); }
    values() { return this._list.map((x) => x[1])[Symbol.iterator](); }
    entries() { return this._list.map((x) => [x[0], x[1]])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get size() { return this._list.length; }
    toString() { return this._list.map(([k, v]) => formEncode(k) + '=' + formEncode(v)).join('&'); }
    _update() { if (this._url) this._url._search = this._list.length ? '?' + this.toString() : ''; }
  }
  function formDecode(s) {
    try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (_) { return s; }
  }
  function formEncode(s) {
    return encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  }

  const DEFAULT_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21' };
  const URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)\/\/(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?([^?#]*)(\?[^#]*)?(#.*)?$/;

  function normalizePath(path) {
    const out = [];
    for (const seg of path.split('/').slice(1)) {
      if (seg === '..') { if (out.length) out.pop(); }
      else if (seg !== '.') out.push(seg);
    }
    const last = path.split('/').pop();
    if (last === '.' || last === '..') out.push('');
    return '/' + out.join('/');
  }

  class URL {
    constructor(input, base) {
      input = String(input).trim();
      let m = URL_RE.exec(input);
      if (!m && base !== undefined) {
        const b = base instanceof URL ? base : new URL(base);
        let ref = input;
        let hash = '';
        const h = ref.indexOf('#');
        if (h >= 0) { hash = ref.slice(h); ref = ref.slice(0, h); }
        let search = '';
        const q = ref.indexOf('?');
        if (q >= 0) { search = ref.slice(q); ref = ref.slice(0, q); }
        let path;
        if (ref.startsWith('//')) return new URL(b.protocol + input);
        if (ref.startsWith('/')) path = ref;
        else if (ref === '') { path = b.pathname; if (q < 0) search = b.search; }
        else path = b.pathname.slice(0, b.pathname.lastIndexOf('/') + 1) + ref;
        m = URL_RE.exec(b.protocol + '//' + b.host + normalizePath(path) + search + hash);
      }
      if (!m || !m[4]) throw new TypeError('Invalid URL: ' + input);
      this._protocol = m[1].toLowerCase();
      this._username = m[2] || '';
      this._password = m[3] || '';
      this._hostname = m[4].toLowerCase();
      this._port = m[5] && m[5] !== DEFAULT_PORTS[this._protocol] ? m[5] : '';
      this._pathname = normalizePath(m[6] ? m[6].replace(/\\/g, '/') : '/');
      this._search = m[7] && m[7] !== '?' ? m[7] : '';
      this._hash = m[8] && m[8] !== '#' ? m[8] : '';
      this._params = null;
    }
    get protocol() { return this._protocol; }
    get username() { return this._username; }
    get password() { return this._password; }
    get hostname() { return this._hostname; }
    set hostname(v) { this._hostname = String(v).toLowerCase(); }
    get port() { return this._port; }
    set port(v) { v = String(v); this._port = v === DEFAULT_PORTS[this._protocol] ? '' : v; }
    get host() { return this._hostname + (this._port ? ':' + this._port : ''); }
    get origin() { return this._protocol + '//' + this.host; }
    get pathname() { return this._pathname; }
    set pathname(v) { v = String(v); this._pathname = normalizePath(v.startsWith('/') ? v : '/' + v); }
    get search() { return this._search; }
    set search(v) { v = String(v); this._search = v && v !== '?' ? (v.startsWith('?') ? v : '?' + v) : ''; this._params = null; }
    get searchParams() {
      if (!this._params) { this._params = new URLSearchParams(this._search); this._params._url = this; }
      return this._params;
    }
    get hash() { return this._hash; }
    set hash(v) { v = String(v); this._hash = v && v !== '#' ? (v.startsWith('#') ? v : '#' + v) : ''; }
    get href() {
      const auth = this._username ? this._username + (this._password ? ':' + this._password : '') + '@' : '';
      return this._protocol + '//' + auth + this.host + this._pathname + this._search + this._hash;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
    static canParse(u, b) { try { new URL(u, b); return true; } catch (_) { return false; } }
  }

  const env = Object.freeze(JSON.parse(envJSON));
  const define = (name, value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  define('hostServices', hostServices);
  define('env', env);
  define('console', console);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('btoa', btoa);
  define('atob', atob);
  define('DOMException', DOMException);
  define('structuredClone', structuredClone);
  define('URL', URL);
  define('URLSearchParams', URLSearchParams);
  define('crypto', Object.freeze({ getRandomValues, randomUUID }));

  // ---- invocation
  let handler = null;
  let pending = null; // the settled state of a returned promise

  function setHandler(h) {
    if (typeof h !== 'function') {
      throw new TypeError('the script must evaluate to a function, or export one as default; it evaluated to ' + (h === null ? 'null' : typeof h));
    }
    handler = h;
  }

  // writeReply stores v in the exchange: slots[0] = 0 for bytes, 1 for
  // empty; slots[1] = length.
  function writeReply(v) {
    if (v === undefined || v === null) { slots[0] = 1; slots[1] = 0; return; }
    const b = toBody(v);
    if (HEADER + b.length > bytes.length) grow(b.length);
    bytes.set(b, HEADER);
    slots[0] = 0;
    slots[1] = b.length;
  }

  function writeError(e) {
    let text;
    try { text = e instanceof Error ? (e.stack || String(e)) : 'uncaught ' + format([e]); } catch (_) { text = 'uncaught exception'; }
    const b = utf8Encode(text);
    if (HEADER + b.length > bytes.length) grow(b.length);
    bytes.set(b, HEADER);
    slots[0] = 3;
    slots[1] = b.length;
  }

  function readString(off, n) {
    // Subjects are ASCII in practice; decode properly anyway.
    return utf8Decode(bytes, off, off + n);
  }

  // invoke runs the handler on the message the engine wrote into the
  // exchange: slots 0..3 are the lengths of subject, reply, headers JSON
  // and payload, stored in that order from HEADER on.
  function invoke() {
    const subjectLen = slots[0], replyLen = slots[1], headersLen = slots[2], payloadLen = slots[3];
    let o = HEADER;
    const subject = readString(o, subjectLen); o += subjectLen;
    const reply = replyLen ? readString(o, replyLen) : ''; o += replyLen;
    const headers = headersLen ? JSON.parse(readString(o, headersLen)) : {}; o += headersLen;
    const payload = bytesFromExchange(o, payloadLen);
    let r;
    try {
      r = handler.call(globalThis, subject, payload, { headers, reply });
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        pending = { state: 0, value: undefined };
        const p = pending;
        Promise.resolve(r).then((v) => { p.state = 1; p.value = v; }, (e) => { p.state = 2; p.value = e; });
        slots[0] = 2;
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
    if (!p || p.state === 0) { slots[0] = 2; return; }
    pending = null;
    try {
      if (p.state === 1) writeReply(p.value); else writeError(p.value);
    } catch (e) {
      writeError(e);
    }
  }

  function prepare(n) { if (HEADER + n > bytes.length) grow(n); }

  natives.exchange(exchange);
  return { setHandler, invoke, settle, prepare };
})
