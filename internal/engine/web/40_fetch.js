// natsfn:globals Headers Request Response fetch
// natsfn:needs 10_events 20_streams 30_blob
// natsfn web extension: the Fetch standard's Headers, Request, Response and
// fetch. fetch runs through the host's http.request, the same call as
// hostServices.http, so it meets the same egress policy, limits and
// deadline. Request bodies are read whole before the call, and the
// response arrives whole (the host caps its size) and is then offered as a
// stream.
//
// There is no browser around: no CORS, no credentials or cache modes, no
// guards on headers (every header may be set, none is forbidden).
(function (internals, natives) {
  'use strict';
  const { define, shared, utf8Encode, hostAsync } = internals;
  const streams = shared.streams;
  const blob = shared.blob;
  const { isAbortSignal, onAbort, newSignal } = shared.abort;
  const anySignal = AbortSignal.any;
  const AbortSignalCtor = AbortSignal;
  const URLSearchParamsCtor = URLSearchParams;

  // ---- Headers
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function headerName(name) {
    name = String(name);
    if (!TOKEN.test(name)) throw new TypeError('Headers: invalid header name ' + JSON.stringify(name));
    return name.toLowerCase();
  }
  // headerValue strips leading and trailing HTTP whitespace and refuses
  // NUL, CR, LF and anything that is no byte.
  function headerValue(value) {
    value = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (/[\0\r\n]|[^\u0000-\u00ff]/.test(value)) throw new TypeError('Headers: invalid header value ' + JSON.stringify(value));
    return value;
  }

  let headerList;
  class Headers {
    #list = []; // [lowercase name, value], in the order added
    constructor(init) {
      if (init === undefined || init === null) return;
      if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError('Headers: init must be an object or a sequence of pairs');
      if (#list in init) { this.#list = init.#list.map((e) => [e[0], e[1]]); return; }
      const iter = init[Symbol.iterator];
      if (iter !== undefined && iter !== null) {
        for (const pair of init) {
          if (pair === null || typeof pair !== 'object' || typeof pair[Symbol.iterator] !== 'function') throw new TypeError('Headers: each pair must be a sequence');
          const p = [...pair];
          if (p.length !== 2) throw new TypeError('Headers: each pair must have two elements, a name and a value');
          this.append(p[0], p[1]);
        }
        return;
      }
      for (const k of Reflect.ownKeys(init)) {
        const d = Reflect.getOwnPropertyDescriptor(init, k);
        if (d === undefined || !d.enumerable) continue;
        if (typeof k === 'symbol') throw new TypeError('Headers: names must be strings');
        this.append(k, init[k]);
      }
    }
    static { headerList = (h) => h.#list; }
    append(name, value) { this.#list.push([headerName(name), headerValue(value)]); }
    delete(name) { name = headerName(name); this.#list = this.#list.filter((e) => e[0] !== name); }
    get(name) {
      name = headerName(name);
      let out = null;
      for (const e of this.#list) if (e[0] === name) out = out === null ? e[1] : out + ', ' + e[1];
      return out;
    }
    getSetCookie() { return this.#list.filter((e) => e[0] === 'set-cookie').map((e) => e[1]); }
    has(name) { name = headerName(name); return this.#list.some((e) => e[0] === name); }
    set(name, value) {
      name = headerName(name);
      value = headerValue(value);
      const i = this.#list.findIndex((e) => e[0] === name);
      if (i < 0) { this.#list.push([name, value]); return; }
      this.#list = this.#list.filter((e, j) => j <= i || e[0] !== name);
      this.#list[i] = [name, value];
    }
    // sorted and combined, as iteration shows them; set-cookie stays apart.
    #sorted() {
      const names = [...new Set(this.#list.map((e) => e[0]))].sort();
      const out = [];
      for (const n of names) {
        if (n === 'set-cookie') { for (const v of this.getSetCookie()) out.push([n, v]); } else out.push([n, this.get(n)]);
      }
      return out;
    }
    forEach(fn, thisArg) {
      if (typeof fn !== 'function') throw new TypeError('Headers.forEach: callback must be a function');
      for (const [k, v] of this.#sorted()) fn.call(thisArg, v, k, this);
    }
    *entries() { yield* this.#sorted(); }
    *keys() { for (const e of this.#sorted()) yield e[0]; }
    *values() { for (const e of this.#sorted()) yield e[1]; }
    [Symbol.iterator]() { return this.entries(); }
  }
  Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });

  // ---- bodies: { source: Uint8Array | null, stream: ReadableStream | null, used }
  // source is kept for bodies made from bytes so they need no stream until
  // someone asks for .body; it is shared by clones, so readers get copies.

  // extractBody returns [body, content type or null] for a BodyInit.
  function extractBody(init) {
    const bytesBody = (b) => ({ source: b, stream: null, used: false });
    if (typeof init === 'string') return [bytesBody(utf8Encode(init)), 'text/plain;charset=UTF-8'];
    if (init instanceof URLSearchParamsCtor) return [bytesBody(utf8Encode(init.toString())), 'application/x-www-form-urlencoded;charset=UTF-8'];
    const b = blob.copyBytes(init);
    if (b !== null) return [bytesBody(b), null];
    if (blob.isBlob(init)) return [bytesBody(blob.blobBytes(init)), init.type === '' ? null : init.type];
    if (blob.isFormData(init)) { const m = blob.encodeMultipart(init); return [bytesBody(m.bytes), m.contentType]; }
    if (streams.isReadableStream(init)) {
      if (init.locked || streams.isDisturbed(init)) throw new TypeError('the body stream is locked or has been read');
      return [{ source: null, stream: init, used: false }, null];
    }
    return [bytesBody(utf8Encode(String(init))), 'text/plain;charset=UTF-8'];
  }
  function bodyUsed(body) {
    return body !== null && (body.used || (body.stream !== null && streams.isDisturbed(body.stream)));
  }
  function bodyStream(body) {
    if (body === null) return null;
    if (body.stream === null) {
      body.stream = streams.bytesStream(body.used ? new Uint8Array(0) : body.source);
      if (body.used) streams.cancel(body.stream); // read already: the stream shows it as disturbed
      body.source = null;
    }
    return body.stream;
  }
  // consume reads the whole body; the bytes may be shared (copy before
  // handing them out).
  function consume(body) {
    if (bodyUsed(body)) return Promise.reject(new TypeError('Body is unusable: body already used'));
    if (body === null) return Promise.resolve(new Uint8Array(0));
    if (body.stream !== null) {
      if (body.stream.locked) return Promise.reject(new TypeError('Body is unusable: the body stream is locked'));
      return streams.readAll(body.stream);
    }
    body.used = true;
    return Promise.resolve(body.source);
  }
  function cloneBody(body) {
    if (body === null) return null;
    if (bodyUsed(body)) throw new TypeError('cannot clone: body already used');
    if (body.stream === null) return { source: body.source, stream: null, used: false };
    if (body.stream.locked) throw new TypeError('cannot clone: the body stream is locked');
    const [a, b] = body.stream.tee();
    body.stream = a;
    return { source: null, stream: b, used: false };
  }
  const decodeText = blob.decodeText;
  function mimeType(headers) {
    const ct = headers.get('content-type');
    return ct === null ? '' : ct;
  }

  // The Body mixin, as methods over the two accessors each class gives.
  function bodyMixin(proto, state) {
    const methods = {
      get body() { return bodyStream(state(this).body); },
      get bodyUsed() { return bodyUsed(state(this).body); },
      arrayBuffer() {
        const s = state(this);
        return consume(s.body).then((b) => b.slice().buffer);
      },
      bytes() { return consume(state(this).body).then((b) => b.slice()); },
      text() { return consume(state(this).body).then(decodeText); },
      json() { return consume(state(this).body).then((b) => JSON.parse(decodeText(b))); },
      blob() {
        const s = state(this);
        return consume(s.body).then((b) => new blob.Blob([b], { type: mimeType(s.headers) }));
      },
      formData() {
        const s = state(this);
        return consume(s.body).then((b) => {
          const type = mimeType(s.headers);
          const essence = type.split(';')[0].trim().toLowerCase();
          if (essence === 'multipart/form-data') return blob.parseMultipart(b, type);
          if (essence === 'application/x-www-form-urlencoded') return blob.parseURLEncoded(decodeText(b));
          throw new TypeError('formData: the content type is neither multipart/form-data nor application/x-www-form-urlencoded');
        });
      },
    };
    for (const key of Object.keys(Object.getOwnPropertyDescriptors(methods))) {
      const d = Object.getOwnPropertyDescriptor(methods, key);
      d.enumerable = false;
      Object.defineProperty(proto, key, d);
    }
  }

  // ---- Request
  const METHODS = { DELETE: 1, GET: 1, HEAD: 1, OPTIONS: 1, POST: 1, PUT: 1 };
  const FORBIDDEN_METHODS = { CONNECT: 1, TRACE: 1, TRACK: 1 };
  const REDIRECTS = ['follow', 'error', 'manual'];
  function normalizeMethod(m) {
    m = String(m);
    if (!TOKEN.test(m)) throw new TypeError('Request: invalid method ' + JSON.stringify(m));
    const upper = m.toUpperCase();
    if (FORBIDDEN_METHODS[upper] === 1) throw new TypeError('Request: method ' + m + ' is forbidden');
    return METHODS[upper] === 1 ? upper : m;
  }
  function parseURL(u, what) {
    let url;
    try { url = new URL(u); } catch (_) { throw new TypeError(what + ': invalid URL ' + JSON.stringify(String(u)) + ' (there is no base URL: it must be absolute)'); }
    if (url.username !== '' || url.password !== '') throw new TypeError(what + ': a URL with credentials is not allowed');
    return url.href;
  }

  let requestState;
  class Request {
    #s;
    constructor(input, init) {
      if (arguments.length === 0) throw new TypeError('Request: 1 argument required');
      init = init === undefined || init === null ? {} : init;
      let from = null;
      try { from = requestState(input); } catch (_) { /* a URL */ }
      const s = {
        url: from !== null ? from.url : parseURL(input, 'Request'),
        method: from !== null ? from.method : 'GET',
        headers: null, body: null, redirect: from !== null ? from.redirect : 'follow',
        signalSource: from !== null ? from.signalSource : null, signal: null,
      };
      if (init.method !== undefined) s.method = normalizeMethod(init.method);
      if (init.redirect !== undefined) {
        s.redirect = String(init.redirect);
        if (!REDIRECTS.includes(s.redirect)) throw new TypeError("Request: redirect must be 'follow', 'error' or 'manual'");
      }
      if (init.signal !== undefined) {
        if (init.signal !== null && !isAbortSignal(init.signal)) throw new TypeError("Request: 'signal' must be an AbortSignal");
        s.signalSource = init.signal;
      }
      s.headers = new Headers(init.headers !== undefined ? init.headers : from !== null ? from.headers : undefined);
      let body = null;
      const initBody = init.body;
      if (initBody !== undefined && initBody !== null) {
        if (s.method === 'GET' || s.method === 'HEAD') throw new TypeError('Request: a ' + s.method + ' request has no body');
        const [b, type] = extractBody(initBody);
        body = b;
        if (type !== null && !s.headers.has('content-type')) s.headers.append('content-type', type);
      } else if (from !== null && from.body !== null) {
        if (bodyUsed(from.body)) throw new TypeError('Request: the input request body is already used');
        if ((s.method === 'GET' || s.method === 'HEAD') && initBody === undefined) throw new TypeError('Request: a ' + s.method + ' request has no body');
        // The new request takes the input's body; the input is used up.
        body = { source: from.body.source, stream: from.body.stream, used: false };
        from.body.used = true;
      }
      s.body = body;
      this.#s = s;
    }
    static { requestState = (r) => r.#s; }
    get method() { return this.#s.method; }
    get url() { return this.#s.url; }
    get headers() { return this.#s.headers; }
    get redirect() { return this.#s.redirect; }
    get signal() {
      const s = this.#s;
      if (s.signal === null) s.signal = s.signalSource === null ? newSignal() : anySignal.call(AbortSignalCtor, [s.signalSource]);
      return s.signal;
    }
    get destination() { return ''; }
    get referrer() { return 'about:client'; }
    get referrerPolicy() { return ''; }
    get mode() { return 'cors'; }
    get credentials() { return 'same-origin'; }
    get cache() { return 'default'; }
    get integrity() { return ''; }
    get keepalive() { return false; }
    get isReloadNavigation() { return false; }
    get isHistoryNavigation() { return false; }
    get duplex() { return 'half'; }
    clone() {
      const s = this.#s;
      const r = new Request(s.url, { method: s.method, headers: s.headers, redirect: s.redirect, signal: s.signalSource });
      r.#s.body = cloneBody(s.body);
      return r;
    }
  }
  bodyMixin(Request.prototype, (r) => requestState(r));
  Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: 'Request', configurable: true });

  // ---- Response
  const NULL_BODY_STATUS = { 101: 1, 103: 1, 204: 1, 205: 1, 304: 1 };
  const REDIRECT_STATUS = { 301: 1, 302: 1, 303: 1, 307: 1, 308: 1 };
  let responseState, constructing = null;

  class Response {
    #s;
    constructor(body, init) {
      if (constructing !== null) { this.#s = constructing; constructing = null; return; }
      init = init === undefined || init === null ? {} : init;
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError('Response: status must be an integer from 200 to 599');
      const statusText = init.statusText === undefined ? '' : String(init.statusText);
      if (/[^\t\x20-\x7e\x80-\xff]/.test(statusText)) throw new TypeError('Response: invalid statusText');
      const s = { type: 'default', url: '', redirected: false, status, statusText, headers: new Headers(init.headers), body: null };
      if (body !== undefined && body !== null) {
        if (NULL_BODY_STATUS[status] === 1) throw new TypeError('Response: a ' + status + ' response has no body');
        const [b, type] = extractBody(body);
        s.body = b;
        if (type !== null && !s.headers.has('content-type')) s.headers.append('content-type', type);
      }
      this.#s = s;
    }
    static { responseState = (r) => r.#s; }
    get type() { return this.#s.type; }
    get url() { return this.#s.url; }
    get redirected() { return this.#s.redirected; }
    get status() { return this.#s.status; }
    get ok() { return this.#s.status >= 200 && this.#s.status <= 299; }
    get statusText() { return this.#s.statusText; }
    get headers() { return this.#s.headers; }
    clone() {
      const s = this.#s;
      return newResponse({ ...s, headers: new Headers(s.headers), body: cloneBody(s.body) });
    }
    static error() {
      return newResponse({ type: 'error', url: '', redirected: false, status: 0, statusText: '', headers: new Headers(), body: null });
    }
    static redirect(url, status) {
      const href = parseURL(url, 'Response.redirect');
      status = status === undefined ? 302 : Number(status);
      if (REDIRECT_STATUS[status] !== 1) throw new RangeError('Response.redirect: status must be 301, 302, 303, 307 or 308');
      const headers = new Headers();
      headers.set('location', href);
      return newResponse({ type: 'default', url: '', redirected: false, status, statusText: '', headers, body: null });
    }
    static json(data, init) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError('Response.json: the data cannot be serialised as JSON');
      const r = new Response(text, init);
      const h = r.#s.headers;
      // extractBody gave text/plain; JSON's type wins unless init set one.
      const given = init !== undefined && init !== null && init.headers !== undefined && new Headers(init.headers).has('content-type');
      if (!given) h.set('content-type', 'application/json');
      return r;
    }
  }
  bodyMixin(Response.prototype, (r) => responseState(r));
  Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: 'Response', configurable: true });
  function newResponse(s) { constructing = s; return new Response(); }

  // ---- fetch
  function fetch(input, init) {
    return new Promise((resolve, reject) => {
      const request = new Request(input, init);
      const s = requestState(request);
      const signal = s.signalSource;
      if (signal !== null && signal.aborted) { reject(signal.reason); return; }
      let done = false;
      let forget = () => {};
      if (signal !== null) {
        // An abort settles the promise at once; the host call finishes on
        // its own and its answer is dropped.
        forget = onAbort(signal, () => { if (!done) { done = true; reject(signal.reason); } });
      }
      const finish = (fn, v) => { if (done) return; done = true; forget(); fn(v); };
      const headers = { __proto__: null };
      for (const [name, value] of headerList(s.headers)) {
        if (headers[name] === undefined) headers[name] = [];
        headers[name].push(value);
      }
      const hostHeaders = {};
      for (const name in headers) hostHeaders[name] = headers[name];
      consume(s.body).then((bytes) => {
        if (done) return undefined;
        const opts = { headers: hostHeaders, redirect: s.redirect === 'follow' ? 'follow' : 'manual' };
        return hostAsync('http.request', [s.method, s.url, opts], s.body === null ? undefined : bytes).then((answer) => {
          const r = answer.result;
          if (s.redirect === 'error' && REDIRECT_STATUS[r.status] === 1) {
            throw new TypeError('fetch: ' + s.url + ' answered with a redirect and redirect is \'error\'');
          }
          const h = new Headers();
          const list = headerList(h);
          for (const name of Object.keys(r.headers || {})) for (const v of r.headers[name]) list.push([name, v]);
          const body = answer.body === null || s.method === 'HEAD' || NULL_BODY_STATUS[r.status] === 1
            ? null : { source: answer.body, stream: null, used: false };
          const redirected = typeof r.url === 'string' && r.url !== '';
          finish(resolve, newResponse({
            type: 'basic', url: redirected ? parseURLOrRaw(r.url) : s.url, redirected,
            status: r.status, statusText: typeof r.status_text === 'string' ? r.status_text : '', headers: h, body,
          }));
        });
      }).then(undefined, (e) => finish(reject, e));
    });
  }
  function parseURLOrRaw(u) { try { return new URL(u).href; } catch (_) { return u; } }

  define('Headers', Headers);
  define('Request', Request);
  define('Response', Response);
  define('fetch', fetch);
})
