// natsfn:globals Blob File FormData
// natsfn:needs 20_streams
// natsfn web extension: Blob and File (W3C File API) and FormData (XHR
// standard), with FormData's multipart/form-data encoding and parsing for
// fetch's bodies.
(function (internals, natives) {
  'use strict';
  const { define, shared, utf8Encode, utf8Decode, viewBytes } = internals;
  const streams = shared.streams;

  // copyBytes returns a fresh Uint8Array of an ArrayBuffer's or a view's
  // bytes, or null for anything else.
  function copyBytes(v) {
    if (ArrayBuffer.isView(v)) return viewBytes(v).slice();
    if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer)) return new Uint8Array(v).slice();
    return null;
  }
  function concat(parts, total) {
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { out.set(p, off); off += p.length; }
    return out;
  }
  // blobType: the type as given when it is printable ASCII, lowercased; else ''.
  function blobType(t) {
    if (t === undefined) return '';
    t = String(t);
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return '';
    }
    return t.toLowerCase();
  }

  // decodeText is UTF-8 decode: a leading BOM is dropped.
  function decodeText(b) {
    const start = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    return utf8Decode(b, start, b.length);
  }

  let blobBytes;
  class Blob {
    #bytes; // never handed out: slices share it, readers get copies
    #type;
    constructor(parts, options) {
      const o = options === undefined || options === null ? {} : options;
      const endings = o.endings === undefined ? 'transparent' : String(o.endings);
      if (endings !== 'transparent' && endings !== 'native') throw new TypeError("Blob: endings must be 'transparent' or 'native'");
      this.#type = blobType(o.type);
      if (parts === undefined) { this.#bytes = new Uint8Array(0); return; }
      if (parts === null || typeof parts !== 'object' || typeof parts[Symbol.iterator] !== 'function') {
        throw new TypeError('Blob: the parts must be an iterable');
      }
      const chunks = [];
      let total = 0;
      for (const part of parts) {
        let b = copyBytes(part);
        if (b === null) {
          if (isBlob(part)) b = part.#bytes;
          else {
            let s = String(part);
            if (endings === 'native') s = s.replace(/\r\n|\r/g, '\n');
            b = utf8Encode(s);
          }
        }
        chunks.push(b);
        total += b.length;
      }
      this.#bytes = concat(chunks, total);
    }
    static { blobBytes = (b) => b.#bytes; }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start, end, contentType) {
      const n = this.#bytes.length;
      const rel = (v, dflt) => {
        if (v === undefined) return dflt;
        v = Math.trunc(Number(v)) || 0;
        return v < 0 ? Math.max(n + v, 0) : Math.min(v, n);
      };
      const from = rel(start, 0), to = rel(end, n);
      const out = new Blob([], { type: contentType === undefined ? '' : contentType });
      out.#bytes = this.#bytes.subarray(from, Math.max(from, to));
      return out;
    }
    text() { return Promise.resolve(decodeText(this.#bytes)); }
    arrayBuffer() { return Promise.resolve(this.#bytes.slice().buffer); }
    bytes() { return Promise.resolve(this.#bytes.slice()); }
    stream() { return streams.bytesStream(this.#bytes); }
  }
  Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: 'Blob', configurable: true });
  function isBlob(v) {
    try { blobBytes(v); return true; } catch (_) { return false; }
  }

  class File extends Blob {
    #name;
    #lastModified;
    constructor(bits, name, options) {
      if (arguments.length < 2) throw new TypeError('File: 2 arguments required');
      super(bits, options);
      const o = options === undefined || options === null ? {} : options;
      this.#name = String(name);
      this.#lastModified = o.lastModified === undefined ? Date.now() : Math.trunc(Number(o.lastModified)) || 0;
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
    get webkitRelativePath() { return ''; }
  }
  Object.defineProperty(File.prototype, Symbol.toStringTag, { value: 'File', configurable: true });
  const isFile = (v) => v instanceof File && isBlob(v);

  // ---- FormData
  let formEntries;
  // entryValue: a string, or a File (a Blob becomes one named filename, or 'blob').
  function entryValue(value, filename, argc) {
    if (isBlob(value)) {
      if (isFile(value) && filename === undefined) return value;
      const name = filename !== undefined ? String(filename) : isFile(value) ? value.name : 'blob';
      return new File([value], name, { type: value.type, lastModified: isFile(value) ? value.lastModified : undefined });
    }
    if (argc > 2) throw new TypeError("FormData: a filename is only for Blob values");
    return String(value);
  }
  class FormData {
    #list = []; // [name, value]
    constructor(form) {
      if (form !== undefined) throw new TypeError('FormData: there are no form elements here');
    }
    static { formEntries = (f) => f.#list; }
    append(name, value, filename) {
      if (arguments.length < 2) throw new TypeError('FormData.append: 2 arguments required');
      this.#list.push([String(name), entryValue(value, filename, arguments.length)]);
    }
    delete(name) { name = String(name); this.#list = this.#list.filter((e) => e[0] !== name); }
    get(name) { name = String(name); const e = this.#list.find((x) => x[0] === name); return e === undefined ? null : e[1]; }
    getAll(name) { name = String(name); return this.#list.filter((x) => x[0] === name).map((x) => x[1]); }
    has(name) { name = String(name); return this.#list.some((x) => x[0] === name); }
    set(name, value, filename) {
      if (arguments.length < 2) throw new TypeError('FormData.set: 2 arguments required');
      name = String(name);
      const entry = [name, entryValue(value, filename, arguments.length)];
      const i = this.#list.findIndex((x) => x[0] === name);
      if (i < 0) { this.#list.push(entry); return; }
      this.#list = this.#list.filter((x, j) => j <= i || x[0] !== name);
      this.#list[i] = entry;
    }
    forEach(fn, thisArg) {
      if (typeof fn !== 'function') throw new TypeError('FormData.forEach: callback must be a function');
      for (let i = 0; i < this.#list.length; i++) fn.call(thisArg, this.#list[i][1], this.#list[i][0], this);
    }
    *entries() { for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]]; }
    *keys() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0]; }
    *values() { for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1]; }
    [Symbol.iterator]() { return this.entries(); }
  }
  Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: 'FormData', configurable: true });
  const isFormData = (v) => { try { formEntries(v); return true; } catch (_) { return false; } };

  // ---- multipart/form-data (RFC 7578, as the HTML standard encodes it)
  const HEX = '0123456789abcdef';
  function newBoundary() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    let s = '----natsfnFormBoundary';
    for (let i = 0; i < b.length; i++) s += HEX[b[i] >> 4] + HEX[b[i] & 15];
    return s;
  }
  // Names and filenames escape line breaks and quotes; string values get
  // CRLF line breaks.
  const escapeName = (s) => s.replace(/\r\n|\r|\n/g, '\r\n').replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  const escapeFilename = (s) => s.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
  function encodeMultipart(form) {
    const boundary = newBoundary();
    const parts = [];
    let total = 0;
    const add = (b) => { parts.push(b); total += b.length; };
    for (const [name, value] of formEntries(form)) {
      let head = '--' + boundary + '\r\nContent-Disposition: form-data; name="' + escapeName(name) + '"';
      if (typeof value === 'string') {
        add(utf8Encode(head + '\r\n\r\n' + value.replace(/\r\n|\r|\n/g, '\r\n') + '\r\n'));
      } else {
        head += '; filename="' + escapeFilename(value.name) + '"\r\nContent-Type: ' + (value.type || 'application/octet-stream') + '\r\n\r\n';
        add(utf8Encode(head));
        add(blobBytes(value));
        add(utf8Encode('\r\n'));
      }
    }
    add(utf8Encode('--' + boundary + '--\r\n'));
    return { bytes: concat(parts, total), contentType: 'multipart/form-data; boundary=' + boundary };
  }

  function indexOf(b, pattern, from) {
    const n = pattern.length, last = b.length - n, first = pattern[0];
    for (let i = from; i <= last; i++) {
      if (b[i] !== first) continue;
      let j = 1;
      while (j < n && b[i + j] === pattern[j]) j++;
      if (j === n) return i;
    }
    return -1;
  }
  // param reads a parameter (quoted or not) of a header value.
  function param(value, name) {
    const re = new RegExp('(?:^|;)\\s*' + name + '\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))', 'i');
    const m = re.exec(value);
    if (m === null) return null;
    return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
  }
  const unescapeName = (s) => s.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%22/g, '"');
  const bad = () => new TypeError('formData: the body is not valid multipart/form-data');

  function parseMultipart(bytes, contentType) {
    const boundary = param(contentType, 'boundary');
    if (!boundary) throw new TypeError('formData: multipart/form-data without a boundary');
    const delimiter = utf8Encode('--' + boundary);
    const next = utf8Encode('\r\n--' + boundary);
    const form = new FormData();
    let pos = indexOf(bytes, delimiter, 0);
    if (pos < 0) throw bad();
    pos += delimiter.length;
    for (;;) {
      if (bytes[pos] === 0x2d && bytes[pos + 1] === 0x2d) return form; // the closing --boundary--
      if (bytes[pos] !== 0x0d || bytes[pos + 1] !== 0x0a) throw bad();
      pos += 2;
      const headEnd = indexOf(bytes, utf8Encode('\r\n\r\n'), pos);
      if (headEnd < 0) throw bad();
      let name = null, filename = null, type = '';
      for (const line of utf8Decode(bytes, pos, headEnd).split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon < 0) throw bad();
        const field = line.slice(0, colon).trim().toLowerCase(), value = line.slice(colon + 1).trim();
        if (field === 'content-disposition') {
          if (!/^form-data\s*(;|$)/i.test(value)) throw bad();
          name = param(value, 'name');
          filename = param(value, 'filename');
        } else if (field === 'content-type') type = value;
      }
      if (name === null) throw bad();
      const start = headEnd + 4;
      const end = indexOf(bytes, next, start);
      if (end < 0) throw bad();
      if (filename !== null) form.append(unescapeName(name), new File([bytes.subarray(start, end)], unescapeName(filename), { type }));
      else form.append(unescapeName(name), utf8Decode(bytes, start, end));
      pos = end + next.length;
    }
  }
  function parseURLEncoded(text) {
    const form = new FormData();
    for (const [k, v] of new URLSearchParams(text)) form.append(k, v);
    return form;
  }

  define('Blob', Blob);
  define('File', File);
  define('FormData', FormData);
  shared.blob = Object.freeze({ Blob, File, FormData, isBlob, blobBytes, isFormData, encodeMultipart, parseMultipart, parseURLEncoded, copyBytes, decodeText });
})
