// natsfn web extension: URL and URLSearchParams (WHATWG URL standard).
// Parsing, the setters and serialisation are Go's (url.go, a conforming
// parser); a URL object keeps the components Go last answered. The
// URLSearchParams list and its application/x-www-form-urlencoded parser and
// serialiser are the standard's algorithms, here.
(function (internals, natives) {
  'use strict';
  const { define, utf8Encode, utf8Decode } = internals;
  const { apply, defineProperty, getOwnPropertyDescriptor, ownKeys } = Reflect;
  const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
  const split = uncurry(String.prototype.split);
  const indexOf = uncurry(String.prototype.indexOf);
  const strSlice = uncurry(String.prototype.slice);
  const charCodeAt = uncurry(String.prototype.charCodeAt);
  const toWellFormed = uncurry(String.prototype.toWellFormed);
  const arraySort = uncurry(Array.prototype.sort);
  const fromCharCode = String.fromCharCode;
  const toStr = String;
  const TypeErrorCtor = TypeError;
  const SymbolIterator = Symbol.iterator;
  const urlParse = natives.urlParse, urlSet = natives.urlSet;
  const MapCtor = Map;
  const mapGet = uncurry(Map.prototype.get), mapSet = uncurry(Map.prototype.set);
  const mapClear = uncurry(Map.prototype.clear), mapSize = uncurry(getOwnPropertyDescriptor(Map.prototype, 'size').get);

  // add appends v to a without running a setter user code put on
  // Array.prototype.
  const add = (a, v) => defineProperty(a, a.length, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true });

  // usv converts to a USVString: lone surrogates become U+FFFD.
  const usv = (v) => toWellFormed(toStr(v));

  // ---- application/x-www-form-urlencoded
  const HEX = '0123456789ABCDEF';
  function hexVal(c) {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x41 && c <= 0x46) return c - 0x37;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  }
  // formDecode replaces '+' by a space and percent-decodes the UTF-8 bytes.
  function formDecode(s) {
    if (indexOf(s, '%') < 0 && indexOf(s, '+') < 0) return s;
    const b = utf8Encode(s);
    const n = b.length;
    let w = 0;
    for (let i = 0; i < n; i++) {
      let c = b[i];
      if (c === 0x2b) c = 0x20;
      else if (c === 0x25 && i + 2 < n) {
        const h = hexVal(b[i + 1]), l = hexVal(b[i + 2]);
        if (h >= 0 && l >= 0) { c = (h << 4) | l; i += 2; }
      }
      b[w++] = c;
    }
    return utf8Decode(b, 0, w);
  }
  function formParse(s) {
    const list = [];
    const parts = split(s, '&');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === '') continue;
      const eq = indexOf(part, '=');
      const name = eq < 0 ? part : strSlice(part, 0, eq);
      const value = eq < 0 ? '' : strSlice(part, eq + 1);
      add(list, [formDecode(name), formDecode(value)]);
    }
    return list;
  }
  // formEncode leaves ASCII alphanumerics and *-._ alone, writes a space as
  // '+' and percent-encodes every other UTF-8 byte.
  function formEncode(s) {
    let plain = true;
    for (let i = 0; i < s.length && plain; i++) plain = isFormSafe(charCodeAt(s, i));
    if (plain) return s;
    const b = utf8Encode(s);
    let out = '';
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (isFormSafe(c)) out += fromCharCode(c);
      else if (c === 0x20) out += '+';
      else out += '%' + HEX[c >> 4] + HEX[c & 15];
    }
    return out;
  }
  function isFormSafe(c) {
    return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c === 0x2a || c === 0x2d || c === 0x2e || c === 0x5f;
  }
  function formSerialize(list) {
    let out = '';
    for (let i = 0; i < list.length; i++) {
      if (i > 0) out += '&';
      out += formEncode(list[i][0]) + '=' + formEncode(list[i][1]);
    }
    return out;
  }

  // ---- URLSearchParams. Its URL (when it has one) hears of each change.
  let paramsList, setParamsList, bindParams;
  class URLSearchParams {
    #list = [];
    #url = null; // the owning URL's update function
    static {
      paramsList = (p) => p.#list;
      setParamsList = (p, list) => { p.#list = list; };
      bindParams = (p, update) => { p.#url = update; };
    }
    constructor(init = '') {
      if (typeof init === 'object' && init !== null || typeof init === 'function') {
        const iter = init[SymbolIterator];
        if (iter !== undefined && iter !== null) {
          if (typeof iter !== 'function') throw new TypeErrorCtor('URLSearchParams: init is not iterable');
          for (const pair of init) {
            if ((typeof pair !== 'object' || pair === null) && typeof pair !== 'function') throw new TypeErrorCtor('URLSearchParams: each pair must be a sequence');
            const items = [];
            for (const x of pair) add(items, usv(x));
            if (items.length !== 2) throw new TypeErrorCtor('URLSearchParams: each pair must have exactly two items');
            add(this.#list, items);
          }
        } else {
          const keys = ownKeys(init);
          for (let i = 0; i < keys.length; i++) {
            const k = keys[i];
            if (typeof k !== 'string') continue;
            const d = getOwnPropertyDescriptor(init, k);
            if (d === undefined || !d.enumerable) continue;
            add(this.#list, [usv(k), usv(init[k])]);
          }
        }
        return;
      }
      let s = usv(init);
      if (charCodeAt(s, 0) === 0x3f) s = strSlice(s, 1);
      this.#list = formParse(s);
    }
    #update() { if (this.#url !== null) this.#url(formSerialize(this.#list)); }
    get size() { return this.#list.length; }
    append(name, value) {
      if (arguments.length < 2) throw new TypeErrorCtor('URLSearchParams.append: 2 arguments required');
      add(this.#list, [usv(name), usv(value)]);
      this.#update();
    }
    delete(name, value = undefined) {
      if (arguments.length < 1) throw new TypeErrorCtor('URLSearchParams.delete: 1 argument required');
      name = usv(name);
      if (value !== undefined) value = usv(value);
      const list = this.#list, kept = [];
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === name && (value === undefined || list[i][1] === value)) continue;
        add(kept, list[i]);
      }
      this.#list = kept;
      this.#update();
    }
    get(name) {
      if (arguments.length < 1) throw new TypeErrorCtor('URLSearchParams.get: 1 argument required');
      name = usv(name);
      const list = this.#list;
      for (let i = 0; i < list.length; i++) if (list[i][0] === name) return list[i][1];
      return null;
    }
    getAll(name) {
      if (arguments.length < 1) throw new TypeErrorCtor('URLSearchParams.getAll: 1 argument required');
      name = usv(name);
      const list = this.#list, out = [];
      for (let i = 0; i < list.length; i++) if (list[i][0] === name) add(out, list[i][1]);
      return out;
    }
    has(name, value = undefined) {
      if (arguments.length < 1) throw new TypeErrorCtor('URLSearchParams.has: 1 argument required');
      name = usv(name);
      if (value !== undefined) value = usv(value);
      const list = this.#list;
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] === name && (value === undefined || list[i][1] === value)) return true;
      }
      return false;
    }
    set(name, value) {
      if (arguments.length < 2) throw new TypeErrorCtor('URLSearchParams.set: 2 arguments required');
      name = usv(name); value = usv(value);
      const list = this.#list, kept = [];
      let found = false;
      for (let i = 0; i < list.length; i++) {
        if (list[i][0] !== name) { add(kept, list[i]); continue; }
        if (!found) { found = true; add(kept, [name, value]); }
      }
      if (!found) add(kept, [name, value]);
      this.#list = kept;
      this.#update();
    }
    // sort is stable and compares names by UTF-16 code units, as JS's
    // string comparison does.
    sort() {
      arraySort(this.#list, (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#update();
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') throw new TypeErrorCtor('URLSearchParams.forEach: callback must be a function');
      for (let i = 0; i < this.#list.length; i++) {
        const e = this.#list[i];
        apply(callback, thisArg, [e[1], e[0], this]);
      }
    }
    *#iterate(kind) {
      for (let i = 0; i < this.#list.length; i++) {
        const e = this.#list[i];
        yield kind === 0 ? e[0] : kind === 1 ? e[1] : [e[0], e[1]];
      }
    }
    keys() { return this.#iterate(0); }
    values() { return this.#iterate(1); }
    entries() { return this.#iterate(2); }
    [SymbolIterator]() { return this.#iterate(2); }
    toString() { return formSerialize(this.#list); }
  }
  defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams', configurable: true });

  // ---- URL. fields are Go's answer: see urlFields in url.go.
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5, HOSTNAME = 6, PORT = 7,
    PATHNAME = 8, SEARCH = 9, HASH = 10;
  // Parsing is a pure function of url and base, and a function tends to
  // parse the same few URLs on every call (its API's endpoints, its own
  // request's URL): the last answers are kept, as a crossing into Go and
  // a conforming parse cost ten times a lookup. The field arrays are
  // shared: they are replaced, never changed.
  const MAX_CACHED = 128, MAX_BASES = 32; // at most 4,224 answers kept
  const plain = new MapCtor(); // url -> fields
  const based = new MapCtor(); // base -> url -> fields
  function parse(url, base) {
    let cache = plain;
    if (base !== undefined) {
      cache = mapGet(based, base);
      if (cache === undefined) {
        if (mapSize(based) >= MAX_BASES) mapClear(based);
        cache = new MapCtor();
        mapSet(based, base, cache);
      }
    }
    let f = mapGet(cache, url);
    if (f !== undefined) return f;
    const fields = base === undefined ? urlParse(url) : urlParse(url, base);
    f = fields === undefined ? null : split(fields, '\0');
    if (mapSize(cache) >= MAX_CACHED) mapClear(cache);
    mapSet(cache, url, f);
    return f;
  }
  class URL {
    #f;
    #params = null;
    constructor(url, base = undefined) {
      if (arguments.length < 1) throw new TypeErrorCtor('URL: 1 argument required');
      url = usv(url);
      const f = parse(url, base === undefined ? undefined : usv(base));
      if (f === null) throw new TypeErrorCtor('Invalid URL: ' + url);
      this.#f = f;
    }
    static parse(url, base = undefined) {
      try { return new URL(url, base); } catch (_) { return null; }
    }
    static canParse(url, base = undefined) {
      return parse(usv(url), base === undefined ? undefined : usv(base)) !== null;
    }
    #set(setter, value) {
      const f = urlSet(this.#f[HREF], setter, usv(value));
      if (f === undefined) return;
      this.#f = split(f, '\0');
      if (setter === 'search' && this.#params !== null) setParamsList(this.#params, formParse(strSlice(this.#f[SEARCH], 1)));
    }
    get href() { return this.#f[HREF]; }
    set href(v) {
      v = usv(v);
      const f = parse(v);
      if (f === null) throw new TypeErrorCtor('Invalid URL: ' + v);
      this.#f = f;
      if (this.#params !== null) setParamsList(this.#params, formParse(strSlice(f[SEARCH], 1)));
    }
    get origin() { return this.#f[ORIGIN]; }
    get protocol() { return this.#f[PROTOCOL]; }
    set protocol(v) { this.#set('protocol', v); }
    get username() { return this.#f[USERNAME]; }
    set username(v) { this.#set('username', v); }
    get password() { return this.#f[PASSWORD]; }
    set password(v) { this.#set('password', v); }
    get host() { return this.#f[HOST]; }
    set host(v) { this.#set('host', v); }
    get hostname() { return this.#f[HOSTNAME]; }
    set hostname(v) { this.#set('hostname', v); }
    get port() { return this.#f[PORT]; }
    set port(v) { this.#set('port', v); }
    get pathname() { return this.#f[PATHNAME]; }
    set pathname(v) { this.#set('pathname', v); }
    get search() { return this.#f[SEARCH]; }
    set search(v) { this.#set('search', v); }
    get searchParams() {
      if (this.#params === null) {
        const p = new URLSearchParams(this.#f[SEARCH]);
        // The list's changes set the query as serialised, an empty one to
        // none (the search setter does exactly that with this input).
        bindParams(p, (query) => {
          const f = urlSet(this.#f[HREF], 'search', query);
          if (f !== undefined) this.#f = split(f, '\0');
        });
        this.#params = p;
      }
      return this.#params;
    }
    get hash() { return this.#f[HASH]; }
    set hash(v) { this.#set('hash', v); }
    toString() { return this.#f[HREF]; }
    toJSON() { return this.#f[HREF]; }
  }
  defineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL', configurable: true });
  for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'searchParams', 'hash']) {
    const d = getOwnPropertyDescriptor(URL.prototype, k);
    d.enumerable = true;
    defineProperty(URL.prototype, k, d);
  }
  define('URL', URL);
  define('URLSearchParams', URLSearchParams);
})
