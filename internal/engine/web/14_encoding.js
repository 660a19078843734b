// natsfn web extension: TextDecoder (WHATWG Encoding standard) and the
// extensions' scratch buffer for binary data to and from Go.
//
// UTF-8 and UTF-16 are decoded here in JS; every other encoding the
// standard lists is decoded by Go (encoding.go) through the scratch, a
// SharedArrayBuffer of this file's own that never leaves natsfn's code:
// callers get copies. Later extensions (16_crypto.js) use it through
// internals.shared.scratch.
(function (internals, natives) {
  'use strict';
  const { define, utf8Decode, viewBytes, shared } = internals;
  const { apply, construct, defineProperty, getOwnPropertyDescriptor, getPrototypeOf } = Reflect;
  const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
  const getter = (obj, key) => uncurry(getOwnPropertyDescriptor(obj, key).get);
  const U8 = Uint8Array, I32 = Int32Array, AB = ArrayBuffer, SAB = SharedArrayBuffer;
  const TAProto = getPrototypeOf(U8.prototype);
  const taLength = getter(TAProto, 'length');
  const taSet = uncurry(TAProto.set);
  const taBuffer = getter(TAProto, 'buffer');
  const taByteOffset = getter(TAProto, 'byteOffset');
  const abByteLength = getter(AB.prototype, 'byteLength');
  const sabByteLength = getter(SAB.prototype, 'byteLength');
  const isView = AB.isView;
  const fromCharCode = String.fromCharCode;
  const charCodeAt = uncurry(String.prototype.charCodeAt);
  const strSlice = uncurry(String.prototype.slice);
  const indexOf = uncurry(String.prototype.indexOf);
  const isWellFormed = uncurry(String.prototype.isWellFormed);
  const toWellFormed = uncurry(String.prototype.toWellFormed);
  const toStr = String;
  const TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const nativeScratch = natives.scratch, encodingName = natives.encodingName, decodeLegacy = natives.decodeLegacy;

  // ---- the scratch: int32 slots in bytes 0..15, data from HEADER on.
  const HEADER = 16, START_SIZE = 64 * 1024, TRIM_ABOVE = 4 << 20;
  let size, sab, data, slots;
  function adopt(s) {
    const next = new SAB(s);
    nativeScratch(next);
    sab = next; size = s;
    data = new U8(sab, HEADER);
    slots = new I32(sab, 0, 4);
  }
  adopt(START_SIZE);
  // reserve makes room for n data bytes (contents not kept).
  function reserve(n) {
    if (HEADER + n <= size) return;
    if (!(n <= 0x7fffffff - HEADER)) throw new RangeErrorCtor('natsfn: data too large');
    let s = size;
    while (s < HEADER + n) s *= 2;
    adopt(s);
  }
  const scratch = {
    __proto__: null,
    reserve,
    // done ends a use: a scratch one large call grew is given back, so it
    // is not kept for as long as the isolate lives.
    done() { if (size > TRIM_ABOVE) adopt(START_SIZE); },
    // put copies the genuine Uint8Array b to data offset off.
    put(b, off) { taSet(data, b, off); },
    // take copies n data bytes from off into a fresh ArrayBuffer.
    take(off, n) { const out = new AB(n); taSet(new U8(out), new U8(sab, HEADER + off, n)); return out; },
    slot(k) { return slots[k]; },
  };
  shared.scratch = scratch;

  // bufferSource is a genuine Uint8Array over an ArrayBuffer, a
  // SharedArrayBuffer or a view's bytes; anything else is a TypeError.
  function isBuffer(v) {
    try { abByteLength(v); return true; } catch (_) { /* not an ArrayBuffer */ }
    try { sabByteLength(v); return true; } catch (_) { return false; }
  }
  function bufferSource(v, what) {
    if (isView(v)) return viewBytes(v);
    if (typeof v === 'object' && v !== null && isBuffer(v)) return new U8(v);
    throw new TypeErrorCtor(what + ': expected an ArrayBuffer or a view of one');
  }
  shared.bufferSource = bufferSource;

  function concat(a, b) {
    const na = taLength(a);
    if (na === 0) return b;
    const out = new U8(na + taLength(b));
    taSet(out, a);
    taSet(out, b, na);
    return out;
  }
  const EMPTY = new U8(0);
  function copyRange(b, from, to) {
    const out = new U8(to - from);
    taSet(out, new U8(taBuffer(b), taByteOffset(b) + from, to - from));
    return out;
  }

  // utf8Tail is where an incomplete but so far valid UTF-8 sequence at the
  // end of b[0:end] begins (end when there is none): streaming keeps it for
  // the next call.
  function utf8Tail(b, end) {
    for (let k = 1; k <= 3 && k <= end; k++) {
      const c = b[end - k];
      if (c >= 0x80 && c <= 0xbf) continue;
      const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
      if (need < k) return end;
      if (k > 1) {
        const d = b[end - k + 1];
        if ((c === 0xe0 && d < 0xa0) || (c === 0xed && d > 0x9f) || (c === 0xf0 && d < 0x90) || (c === 0xf4 && d > 0x8f)) return end;
      }
      return end - k;
    }
    return end;
  }

  // utf16 decodes whole code units of b[0:end]; lone surrogates become
  // U+FFFD (or throw with fatal).
  const CHUNK = 4096;
  const units = new Array(CHUNK).fill(0);
  function utf16Decode(b, end, be, fatal) {
    let s = '', k = 0;
    for (let i = 0; i + 1 < end; i += 2) {
      units[k++] = be ? (b[i] << 8) | b[i + 1] : b[i] | (b[i + 1] << 8);
      if (k === CHUNK) { s += apply(fromCharCode, null, units); k = 0; }
    }
    for (let j = 0; j < k; j++) s += fromCharCode(units[j]);
    if (isWellFormed(s)) return s;
    if (fatal) throw new TypeErrorCtor('TextDecoder: the input is not valid UTF-16');
    return toWellFormed(s);
  }
  // utf16Tail keeps an odd byte and a lead surrogate at the end.
  function utf16Tail(b, end, be) {
    let t = end - (end & 1);
    if (t >= 2) {
      const u = be ? (b[t - 2] << 8) | b[t - 1] : b[t - 2] | (b[t - 1] << 8);
      if (u >= 0xd800 && u <= 0xdbff) t -= 2;
    }
    return t;
  }

  class TextDecoder {
    #encoding; #fatal; #ignoreBOM;
    #pending = EMPTY; #streaming = false; #bomSeen = false;
    constructor(label = 'utf-8', options = undefined) {
      const name = encodingName(toStr(label));
      if (name === undefined || name === 'replacement') throw new RangeErrorCtor('TextDecoder: unknown encoding ' + toStr(label));
      if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
        throw new TypeErrorCtor('TextDecoder: options must be an object');
      }
      this.#encoding = name;
      this.#fatal = options != null && !!options.fatal;
      this.#ignoreBOM = options != null && !!options.ignoreBOM;
    }
    get encoding() { return this.#encoding; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input = undefined, options = undefined) {
      if (options !== undefined && options !== null && typeof options !== 'object' && typeof options !== 'function') {
        throw new TypeErrorCtor('TextDecoder.decode: options must be an object');
      }
      const stream = options != null && !!options.stream;
      if (!this.#streaming) { this.#pending = EMPTY; this.#bomSeen = false; }
      this.#streaming = stream;
      const b = input === undefined ? this.#pending : concat(this.#pending, bufferSource(input, 'TextDecoder.decode'));
      const n = taLength(b);
      const enc = this.#encoding, fatal = this.#fatal;
      let s, used;
      try {
        if (enc === 'utf-8') {
          used = stream ? utf8Tail(b, n) : n;
          s = utf8Decode(b, 0, used, fatal);
        } else if (enc === 'utf-16le' || enc === 'utf-16be') {
          const be = enc === 'utf-16be';
          used = stream ? utf16Tail(b, n, be) : n;
          s = utf16Decode(b, used, be, fatal);
          if (!stream && (n & 1) === 1) {
            if (fatal) throw new TypeErrorCtor('TextDecoder: the input is not valid UTF-16');
            s += '\ufffd';
          }
        } else {
          reserve(n);
          taSet(data, b);
          s = decodeLegacy(enc, n, !stream);
          used = slots[0];
          scratch.done();
          if (fatal && indexOf(s, '\ufffd') >= 0) throw new TypeErrorCtor('TextDecoder: the input is not valid ' + enc);
        }
      } catch (e) {
        this.#pending = EMPTY; this.#streaming = false;
        throw e;
      }
      this.#pending = used < n ? copyRange(b, used, n) : EMPTY;
      if (s.length > 0 && !this.#bomSeen) {
        this.#bomSeen = true;
        if (!this.#ignoreBOM && charCodeAt(s, 0) === 0xfeff && (enc === 'utf-8' || enc === 'utf-16le' || enc === 'utf-16be')) s = strSlice(s, 1);
      }
      return s;
    }
  }
  defineProperty(TextDecoder.prototype, Symbol.toStringTag, { value: 'TextDecoder', configurable: true });
  shared.TextDecoder = TextDecoder;
  define('TextDecoder', TextDecoder);
})
