// natsfn:globals CompressionStream DecompressionStream
// natsfn:needs 14_encoding 20_streams
// natsfn web extension: CompressionStream and DecompressionStream (WHATWG
// Compression standard), TransformStreams of bytes with the work done by
// Go's compress/gzip, compress/zlib and compress/flate (compression.go).
// A stream takes its Go state on its first chunk and gives it back when it
// ends, errors or is cancelled, or when the invocation ends. Chunks travel
// through the extensions' scratch (14_encoding.js); output comes back in
// steps of at most 1 MiB, each a fresh Uint8Array.
(function (internals, natives) {
  'use strict';
  const { define, shared } = internals;
  const { scratch, bufferSource } = shared;
  const { TransformStream } = shared.streams;
  const { apply, defineProperty, getOwnPropertyDescriptor, getPrototypeOf } = Reflect;
  const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
  const U8 = Uint8Array;
  const taLength = uncurry(getOwnPropertyDescriptor(getPrototypeOf(U8.prototype), 'length').get);
  const indexOf = uncurry(String.prototype.indexOf), strSlice = uncurry(String.prototype.slice);
  const toStr = String;
  const TypeErrorCtor = TypeError, RangeErrorCtor = RangeError;
  const { zOpen, zWrite, zEnd, zPull, zFree } = natives;
  const FORMATS = { __proto__: null, gzip: 0, deflate: 1, 'deflate-raw': 2 };
  // Room the scratch gets for a step's output; Go never uses more than it has.
  const ROOM = 256 << 10;

  // Go answers an error as "TypeError:message" or "RangeError:message".
  function fail(answer) {
    const k = indexOf(answer, ':');
    const msg = strSlice(answer, k + 1);
    return strSlice(answer, 0, k) === 'RangeError' ? new RangeErrorCtor(msg) : new TypeErrorCtor(msg);
  }

  function transformer(format, decompress, what) {
    const f = FORMATS[toStr(format)];
    if (f === undefined) throw new TypeErrorCtor(what + ': unsupported format ' + toStr(format) + " (use 'gzip', 'deflate' or 'deflate-raw')");
    let id = 0; // 0: no Go state yet; -1: gone
    const open = () => {
      if (id === -1) throw new TypeErrorCtor(what + ': the stream has ended');
      if (id !== 0) return;
      const r = zOpen(f, decompress);
      if (typeof r === 'string') throw fail(r);
      id = r;
    };
    const free = () => { if (id > 0) zFree(id); id = -1; };
    // drain enqueues the output of one Go call and of the pulls that follow.
    const drain = (c, r) => {
      for (;;) {
        if (typeof r === 'string') { id = -1; throw fail(r); }
        if (r > 0) c.enqueue(new U8(scratch.take(0, r)));
        if (scratch.slot(0) !== 1) break;
        r = zPull(id);
      }
      scratch.done();
    };
    return new TransformStream({
      transform(chunk, c) {
        try {
          const b = bufferSource(chunk, what);
          open();
          const n = taLength(b);
          scratch.reserve(n > ROOM ? n : ROOM);
          scratch.put(b, 0);
          drain(c, zWrite(id, n));
        } catch (e) {
          free();
          throw e;
        }
      },
      flush(c) {
        try {
          open();
          scratch.reserve(ROOM);
          drain(c, zEnd(id));
        } finally {
          free();
        }
      },
      cancel() { free(); },
    });
  }

  class CompressionStream {
    #ts;
    constructor(format) { this.#ts = transformer(format, false, 'CompressionStream'); }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
  }
  class DecompressionStream {
    #ts;
    constructor(format) { this.#ts = transformer(format, true, 'DecompressionStream'); }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
  }
  defineProperty(CompressionStream.prototype, Symbol.toStringTag, { value: 'CompressionStream', configurable: true });
  defineProperty(DecompressionStream.prototype, Symbol.toStringTag, { value: 'DecompressionStream', configurable: true });
  define('CompressionStream', CompressionStream);
  define('DecompressionStream', DecompressionStream);
})
