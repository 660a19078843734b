// natsfn:globals ReadableStream ReadableStreamDefaultReader ReadableStreamDefaultController WritableStream WritableStreamDefaultWriter WritableStreamDefaultController TransformStream TransformStreamDefaultController ByteLengthQueuingStrategy CountQueuingStrategy TextEncoderStream TextDecoderStream
// natsfn:needs 10_events
// natsfn web extension: the WHATWG Streams standard's ReadableStream (with
// default readers; type 'bytes' is accepted and behaves as a default stream
// of views, without BYOB readers), WritableStream, TransformStream, the
// two queuing strategies, and TextEncoderStream/TextDecoderStream from the
// Encoding standard.
//
// The algorithms follow the standard's abstract operations, named after
// them in comments where that helps. Stream, controller, reader and writer
// state lives in a private field holding a plain record; rs(), ws() and
// friends reach it (and throw a TypeError for anything else).
(function (internals, natives) {
  'use strict';
  const { define, shared } = internals;
  const { isAbortSignal, onAbort, signalAbort, newSignal } = shared.abort;

  // ---- promises
  function deferred() {
    const d = {};
    d.promise = new Promise((resolve, reject) => { d.resolve = resolve; d.reject = reject; });
    return d;
  }
  const noop = () => {};
  function handled(p) { p.then(undefined, noop); return p; }
  function rejected(e) { return handled(Promise.reject(e)); }
  const resolved = (v) => Promise.resolve(v);
  // call runs an underlying source's or sink's method and always returns a
  // promise: a throw becomes a rejection.
  function call(obj, method, args) {
    try {
      return method === undefined ? resolved(undefined) : resolved(method.apply(obj, args));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  function method(obj, name) {
    if (obj === undefined || obj === null) return undefined;
    const m = obj[name];
    if (m === undefined || m === null) return undefined;
    if (typeof m !== 'function') throw new TypeError(name + ' must be a function');
    return m;
  }

  // ---- queuing strategies
  function highWaterMark(strategy, fallback) {
    const hwm = strategy === undefined || strategy === null ? undefined : strategy.highWaterMark;
    if (hwm === undefined) return fallback;
    const n = Number(hwm);
    if (Number.isNaN(n) || n < 0) throw new RangeError('highWaterMark must be a number >= 0');
    return n;
  }
  function sizeAlgorithm(strategy) {
    const size = strategy === undefined || strategy === null ? undefined : strategy.size;
    if (size === undefined) return () => 1;
    if (typeof size !== 'function') throw new TypeError('size must be a function');
    return (chunk) => size(chunk);
  }
  function strategyInit(init, name) {
    if (init === null || typeof init !== 'object' || init.highWaterMark === undefined) throw new TypeError(name + ': highWaterMark is required');
    return Number(init.highWaterMark);
  }
  const byteLength = function size(chunk) { return chunk.byteLength; };
  const countOne = function size() { return 1; };
  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, 'ByteLengthQueuingStrategy'); }
    get highWaterMark() { return this.#hwm; }
    get size() { return byteLength; }
  }
  class CountQueuingStrategy {
    #hwm;
    constructor(init) { this.#hwm = strategyInit(init, 'CountQueuingStrategy'); }
    get highWaterMark() { return this.#hwm; }
    get size() { return countOne; }
  }

  // A queue with sizes (the standard's "queue-with-sizes").
  function enqueueWithSize(c, value, size) {
    size = Number(size);
    if (!(size >= 0) || size === Infinity) throw new RangeError('the size of a chunk must be a finite number >= 0');
    c.queue.push({ value, size });
    c.queueTotalSize += size;
  }
  function dequeue(c) {
    const e = c.queue.shift();
    c.queueTotalSize -= e.size;
    if (c.queueTotalSize < 0) c.queueTotalSize = 0;
    return e.value;
  }
  function resetQueue(c) { c.queue = []; c.queueTotalSize = 0; }

  // ================================================================ ReadableStream
  let rs, rsController, rsReader, newReadableController, isReadableStream;
  let constructingController = false;
  // internalSource: the algorithms of a stream natsfn makes itself
  // (createReadableStream), read by the constructor it calls at once.
  let internalSource = null;

  class ReadableStream {
    #s;
    constructor(source, strategy) {
      this.#s = { state: 'readable', reader: undefined, storedError: undefined, disturbed: false, controller: undefined };
      if (internalSource !== null) {
        const i = internalSource;
        internalSource = null;
        setUpReadableController(this, newReadableController(), i.start, i.pull, i.cancel, i.hwm, i.size, false);
        return;
      }
      if (source === null) source = undefined;
      const type = source === undefined ? undefined : source.type;
      if (type !== undefined && String(type) !== 'bytes') throw new TypeError("ReadableStream: type must be 'bytes' or undefined");
      const bytes = type !== undefined;
      if (bytes && strategy !== undefined && strategy !== null && strategy.size !== undefined) throw new RangeError("ReadableStream: a 'bytes' stream takes no size");
      const hwm = highWaterMark(strategy, bytes ? 0 : 1);
      const size = bytes ? byteLength : sizeAlgorithm(strategy);
      const start = method(source, 'start'), pull = method(source, 'pull'), cancel = method(source, 'cancel');
      const controller = newReadableController();
      setUpReadableController(this, controller,
        (c) => (start === undefined ? undefined : start.call(source, c)),
        (c) => call(source, pull, [c]),
        (reason) => call(source, cancel, [reason]),
        hwm, size, bytes);
    }
    static {
      rs = (x) => x.#s;
      isReadableStream = (x) => typeof x === 'object' && x !== null && #s in x;
    }
    get locked() { return this.#s.reader !== undefined; }
    cancel(reason) {
      if (this.#s.reader !== undefined) return rejected(new TypeError('ReadableStream.cancel: the stream is locked'));
      return readableCancel(this, reason);
    }
    getReader(options) {
      const s = this.#s;
      const mode = options === undefined || options === null ? undefined : options.mode;
      if (mode !== undefined) {
        if (String(mode) === 'byob') throw new TypeError('ReadableStream.getReader: BYOB readers are not supported');
        throw new TypeError("ReadableStream.getReader: mode must be 'byob' or undefined");
      }
      if (s.reader !== undefined) throw new TypeError('ReadableStream.getReader: the stream is locked');
      return new ReadableStreamDefaultReader(this);
    }
    pipeThrough(transform, options) {
      if (this.#s.reader !== undefined) throw new TypeError('ReadableStream.pipeThrough: the stream is locked');
      const { readable, writable } = transform;
      if (!isReadableStream(readable)) throw new TypeError('pipeThrough: transform.readable must be a ReadableStream');
      if (!isWritableStream(writable)) throw new TypeError('pipeThrough: transform.writable must be a WritableStream');
      if (ws(writable).writer !== undefined) throw new TypeError('pipeThrough: transform.writable is locked');
      handled(pipe(this, writable, pipeOptions(options)));
      return readable;
    }
    pipeTo(dest, options) {
      if (this.#s.reader !== undefined) return rejected(new TypeError('ReadableStream.pipeTo: the stream is locked'));
      if (!isWritableStream(dest)) return rejected(new TypeError('ReadableStream.pipeTo: destination must be a WritableStream'));
      if (ws(dest).writer !== undefined) return rejected(new TypeError('ReadableStream.pipeTo: the destination is locked'));
      let o;
      try { o = pipeOptions(options); } catch (e) { return rejected(e); }
      return pipe(this, dest, o);
    }
    tee() { return tee(this); }
    values(options) {
      const preventCancel = !!(options !== undefined && options !== null && options.preventCancel);
      return asyncIterator(this.getReader(), preventCancel);
    }
    [Symbol.asyncIterator](options) { return this.values(options); }
    static from(iterable) { return readableFrom(iterable); }
  }
  Object.defineProperty(ReadableStream.prototype, Symbol.toStringTag, { value: 'ReadableStream', configurable: true });

  class ReadableStreamDefaultController {
    #c;
    constructor() {
      if (!constructingController) throw new TypeError('Illegal constructor');
      constructingController = false;
      this.#c = { stream: undefined, queue: [], queueTotalSize: 0, started: false, closeRequested: false,
        pullAgain: false, pulling: false, size: undefined, hwm: 0, pull: undefined, cancel: undefined, bytes: false };
    }
    static { rsController = (x) => x.#c; }
    get desiredSize() { return desiredSize(this.#c); }
    get byobRequest() { return null; } // 'bytes' streams: no BYOB requests
    close() {
      const c = this.#c;
      if (!canCloseOrEnqueue(c)) throw new TypeError('ReadableStream: cannot close a stream that is closed or closing');
      controllerClose(c);
    }
    enqueue(chunk) {
      const c = this.#c;
      if (!canCloseOrEnqueue(c)) throw new TypeError('ReadableStream: cannot enqueue into a stream that is closed or closing');
      if (c.bytes && !ArrayBuffer.isView(chunk)) throw new TypeError("ReadableStream: a 'bytes' stream takes ArrayBuffer views");
      controllerEnqueue(c, chunk);
    }
    error(e) { controllerError(this.#c, e); }
  }
  newReadableController = () => { constructingController = true; return new ReadableStreamDefaultController(); };

  // SetUpReadableStreamDefaultController
  function setUpReadableController(stream, controller, start, pull, cancel, hwm, size, bytes) {
    const c = rsController(controller);
    c.stream = stream;
    c.hwm = hwm;
    c.size = size;
    c.pull = pull;
    c.cancel = cancel;
    c.bytes = !!bytes;
    rs(stream).controller = controller;
    // A start that throws makes the constructor throw, as the standard says.
    const started = resolved(start(controller));
    started.then(() => { c.started = true; callPullIfNeeded(c); }, (e) => controllerError(c, e));
  }

  // CreateReadableStream: a stream of natsfn's own, from algorithms.
  function createReadableStream(start, pull, cancel, hwm = 1, size = () => 1) {
    internalSource = { start, pull, cancel, hwm, size };
    return new ReadableStream();
  }

  function desiredSize(c) {
    const state = rs(c.stream).state;
    if (state === 'errored') return null;
    if (state === 'closed') return 0;
    return c.hwm - c.queueTotalSize;
  }
  function canCloseOrEnqueue(c) {
    return !c.closeRequested && c.stream !== undefined && rs(c.stream).state === 'readable';
  }
  function clearAlgorithms(c) { c.pull = undefined; c.cancel = undefined; c.size = undefined; }

  function shouldCallPull(c) {
    if (c.stream === undefined || !canCloseOrEnqueue(c) || !c.started) return false;
    const s = rs(c.stream);
    if (s.reader !== undefined && rsReader(s.reader).requests.length > 0) return true;
    return desiredSize(c) > 0;
  }
  function callPullIfNeeded(c) {
    if (!shouldCallPull(c)) return;
    if (c.pulling) { c.pullAgain = true; return; }
    c.pulling = true;
    c.pull(rs(c.stream).controller).then(() => {
      c.pulling = false;
      if (c.pullAgain) { c.pullAgain = false; callPullIfNeeded(c); }
    }, (e) => controllerError(c, e));
  }
  function controllerClose(c) {
    if (!canCloseOrEnqueue(c)) return;
    c.closeRequested = true;
    if (c.queue.length === 0) { clearAlgorithms(c); readableClose(c.stream); }
  }
  function controllerEnqueue(c, chunk) {
    if (!canCloseOrEnqueue(c)) return;
    const s = rs(c.stream);
    if (s.reader !== undefined && rsReader(s.reader).requests.length > 0) {
      rsReader(s.reader).requests.shift().chunk(chunk);
    } else {
      try {
        enqueueWithSize(c, chunk, c.size(chunk));
      } catch (e) {
        controllerError(c, e);
        throw e;
      }
    }
    callPullIfNeeded(c);
  }
  function controllerError(c, e) {
    if (c.stream === undefined || rs(c.stream).state !== 'readable') return;
    resetQueue(c);
    clearAlgorithms(c);
    readableError(c.stream, e);
  }
  // ReadableStreamDefaultControllerHasBackpressure
  function hasBackpressure(c) { return !shouldCallPull(c); }

  function readableClose(stream) {
    const s = rs(stream);
    s.state = 'closed';
    if (s.reader === undefined) return;
    const r = rsReader(s.reader);
    r.closed.resolve(undefined);
    const requests = r.requests;
    r.requests = [];
    for (const req of requests) req.close();
  }
  function readableError(stream, e) {
    const s = rs(stream);
    s.state = 'errored';
    s.storedError = e;
    if (s.reader === undefined) return;
    const r = rsReader(s.reader);
    handled(r.closed.promise);
    r.closed.reject(e);
    const requests = r.requests;
    r.requests = [];
    for (const req of requests) req.error(e);
  }
  function readableCancel(stream, reason) {
    const s = rs(stream);
    s.disturbed = true;
    if (s.state === 'closed') return resolved(undefined);
    if (s.state === 'errored') return rejected(s.storedError);
    readableClose(stream);
    const c = rsController(s.controller);
    resetQueue(c);
    const cancel = c.cancel;
    clearAlgorithms(c);
    const p = cancel === undefined ? resolved(undefined) : cancel(reason);
    return p.then(() => undefined);
  }
  // the controller's pull steps: answer a read request.
  function pullSteps(c, request) {
    if (c.queue.length > 0) {
      const chunk = dequeue(c);
      if (c.closeRequested && c.queue.length === 0) { clearAlgorithms(c); readableClose(c.stream); }
      else callPullIfNeeded(c);
      request.chunk(chunk);
      return;
    }
    rsReader(rs(c.stream).reader).requests.push(request);
    callPullIfNeeded(c);
  }

  class ReadableStreamDefaultReader {
    #r;
    constructor(stream) {
      if (!isReadableStream(stream)) throw new TypeError('ReadableStreamDefaultReader: argument must be a ReadableStream');
      const s = rs(stream);
      if (s.reader !== undefined) throw new TypeError('ReadableStreamDefaultReader: the stream is locked');
      this.#r = { stream, requests: [], closed: deferred() };
      s.reader = this;
      if (s.state === 'closed') this.#r.closed.resolve(undefined);
      else if (s.state === 'errored') { handled(this.#r.closed.promise); this.#r.closed.reject(s.storedError); }
    }
    static { rsReader = (x) => x.#r; }
    get closed() { return this.#r.closed.promise; }
    cancel(reason) {
      const r = this.#r;
      if (r.stream === undefined) return rejected(new TypeError('reader has no stream: its lock was released'));
      return readableCancel(r.stream, reason);
    }
    read() {
      const r = this.#r;
      if (r.stream === undefined) return rejected(new TypeError('reader has no stream: its lock was released'));
      const d = deferred();
      readerRead(this, {
        chunk: (value) => d.resolve({ value, done: false }),
        close: () => d.resolve({ value: undefined, done: true }),
        error: (e) => d.reject(e),
      });
      return d.promise;
    }
    releaseLock() {
      const r = this.#r;
      if (r.stream === undefined) return;
      const e = new TypeError('the reader was released');
      const s = rs(r.stream);
      if (s.state === 'readable') r.closed.reject(e);
      else { r.closed = deferred(); r.closed.reject(e); }
      handled(r.closed.promise);
      const requests = r.requests;
      r.requests = [];
      for (const req of requests) req.error(e);
      s.reader = undefined;
      r.stream = undefined;
    }
  }
  function readerRead(reader, request) {
    const s = rs(rsReader(reader).stream);
    s.disturbed = true;
    if (s.state === 'closed') request.close();
    else if (s.state === 'errored') request.error(s.storedError);
    else pullSteps(rsController(s.controller), request);
  }

  // ---- async iteration
  const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
  const ReadableStreamAsyncIteratorPrototype = Object.create(AsyncIteratorPrototype);
  function asyncIterator(reader, preventCancel) {
    const it = Object.create(ReadableStreamAsyncIteratorPrototype);
    let ongoing = null, finished = false;
    function nextSteps() {
      if (finished) return resolved({ value: undefined, done: true });
      const d = deferred();
      readerRead(reader, {
        chunk: (value) => d.resolve({ value, done: false }),
        close: () => { finished = true; reader.releaseLock(); d.resolve({ value: undefined, done: true }); },
        error: (e) => { finished = true; reader.releaseLock(); d.reject(e); },
      });
      return d.promise;
    }
    function returnSteps(value) {
      if (finished) return resolved({ value, done: true });
      finished = true;
      if (!preventCancel) {
        const p = reader.cancel(value);
        reader.releaseLock();
        return p.then(() => ({ value, done: true }));
      }
      reader.releaseLock();
      return resolved({ value, done: true });
    }
    Object.defineProperty(it, 'next', { value: () => {
      ongoing = ongoing === null ? nextSteps() : ongoing.then(nextSteps, nextSteps);
      return ongoing;
    } });
    Object.defineProperty(it, 'return', { value: (value) => {
      const p = ongoing === null ? returnSteps(value) : ongoing.then(() => returnSteps(value), () => returnSteps(value));
      ongoing = p;
      return p;
    } });
    return it;
  }

  // ---- ReadableStream.from
  function readableFrom(iterable) {
    if (iterable === null || iterable === undefined) throw new TypeError('ReadableStream.from: argument must be iterable');
    let iterator;
    const asyncMethod = iterable[Symbol.asyncIterator];
    if (asyncMethod !== undefined && asyncMethod !== null) iterator = asyncMethod.call(iterable);
    else {
      const syncMethod = iterable[Symbol.iterator];
      if (typeof syncMethod !== 'function') throw new TypeError('ReadableStream.from: argument must be iterable');
      const sync = syncMethod.call(iterable);
      iterator = {
        next: () => { const r = sync.next(); return resolved(r.value).then((value) => ({ value, done: !!r.done })); },
        return: (v) => (typeof sync.return === 'function' ? resolved(sync.return(v)) : resolved({ value: v, done: true })),
      };
    }
    if (iterator === null || typeof iterator !== 'object') throw new TypeError('ReadableStream.from: the iterator is not an object');
    return createReadableStream(
      () => undefined,
      (c) => resolved(iterator.next()).then((r) => {
        if (r === null || typeof r !== 'object') throw new TypeError('ReadableStream.from: the iterator result is not an object');
        if (r.done) controllerClose(rsController(c));
        else controllerEnqueue(rsController(c), r.value);
      }),
      (reason) => {
        const ret = iterator.return;
        if (ret === undefined || ret === null) return resolved(undefined);
        return call(iterator, ret, [reason]).then((r) => {
          if (r === null || typeof r !== 'object') throw new TypeError('ReadableStream.from: the iterator result is not an object');
        });
      },
      0);
  }

  // ---- tee (ReadableStreamDefaultTee); chunks are shared, not cloned.
  function tee(stream) {
    const reader = stream.getReader();
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false, reason1, reason2;
    let branch1, branch2;
    const cancelled = deferred();
    function pull() {
      if (reading) { readAgain = true; return resolved(undefined); }
      reading = true;
      readerRead(reader, {
        chunk: (value) => {
          resolved(undefined).then(() => {
            readAgain = false;
            if (!canceled1) controllerEnqueue(rsController(rs(branch1).controller), value);
            if (!canceled2) controllerEnqueue(rsController(rs(branch2).controller), value);
            reading = false;
            if (readAgain) pull();
          });
        },
        close: () => {
          reading = false;
          if (!canceled1) controllerClose(rsController(rs(branch1).controller));
          if (!canceled2) controllerClose(rsController(rs(branch2).controller));
          if (!canceled1 || !canceled2) cancelled.resolve(undefined);
        },
        error: () => { reading = false; },
      });
      return resolved(undefined);
    }
    function cancelBranch(first) {
      return (reason) => {
        if (first) { canceled1 = true; reason1 = reason; } else { canceled2 = true; reason2 = reason; }
        if (canceled1 && canceled2) cancelled.resolve(readableCancel(stream, [reason1, reason2]));
        return cancelled.promise;
      };
    }
    branch1 = createReadableStream(() => undefined, pull, cancelBranch(true));
    branch2 = createReadableStream(() => undefined, pull, cancelBranch(false));
    rsReader(reader).closed.promise.then(undefined, (e) => {
      controllerError(rsController(rs(branch1).controller), e);
      controllerError(rsController(rs(branch2).controller), e);
      if (!canceled1 || !canceled2) cancelled.resolve(undefined);
    });
    return [branch1, branch2];
  }

  // ---- pipeTo (ReadableStreamPipeTo)
  function pipeOptions(o) {
    if (o === undefined || o === null) return { preventClose: false, preventAbort: false, preventCancel: false, signal: undefined };
    const signal = o.signal;
    if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError("pipeTo: 'signal' must be an AbortSignal");
    return { preventClose: !!o.preventClose, preventAbort: !!o.preventAbort, preventCancel: !!o.preventCancel, signal };
  }
  function pipe(source, dest, { preventClose, preventAbort, preventCancel, signal }) {
    const reader = source.getReader();
    const writer = dest.getWriter();
    rs(source).disturbed = true;
    const done = deferred();
    let shuttingDown = false;
    let currentWrite = resolved(undefined);
    let forget = noop;
    const w = ws(dest);

    function waitForWrites() {
      const last = currentWrite;
      return last.then(() => (last === currentWrite ? undefined : waitForWrites()), () => (last === currentWrite ? undefined : waitForWrites()));
    }
    function finalize(isError, error) {
      writer.releaseLock();
      reader.releaseLock();
      forget();
      if (isError) done.reject(error); else done.resolve(undefined);
    }
    function shutdown(action, isError, error) {
      if (shuttingDown) return;
      shuttingDown = true;
      const run = () => {
        if (action === undefined) { finalize(isError, error); return; }
        let p;
        try { p = resolved(action()); } catch (e) { p = Promise.reject(e); }
        p.then(() => finalize(isError, error), (e) => finalize(true, e));
      };
      if (w.state === 'writable' && !closeQueuedOrInFlight(w)) waitForWrites().then(run);
      else run();
    }

    if (signal !== undefined) {
      const abortAlgorithm = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) actions.push(() => (ws(dest).state === 'writable' ? writableAbort(dest, error) : undefined));
        if (!preventCancel) actions.push(() => (rs(source).state === 'readable' ? readableCancel(source, error) : undefined));
        shutdown(() => Promise.all(actions.map((a) => a())), true, error);
      };
      if (signal.aborted) { abortAlgorithm(); return done.promise; }
      forget = onAbort(signal, abortAlgorithm);
    }

    // Errors and closing, forward and backward.
    const onSourceError = (e) => {
      if (preventAbort) shutdown(undefined, true, e);
      else shutdown(() => writableAbort(dest, e), true, e);
    };
    const onDestError = (e) => {
      if (preventCancel) shutdown(undefined, true, e);
      else shutdown(() => readableCancel(source, e), true, e);
    };
    const onSourceClosed = () => {
      if (preventClose) shutdown(undefined, false);
      else shutdown(() => writerCloseWithErrorPropagation(writer), false);
    };
    if (rs(source).state === 'errored') onSourceError(rs(source).storedError);
    else if (w.state === 'errored' || w.state === 'erroring') onDestError(w.storedError);
    else if (rs(source).state === 'closed') onSourceClosed();
    else if (closeQueuedOrInFlight(w) || w.state === 'closed') {
      const e = new TypeError('pipeTo: the destination is closed');
      if (preventCancel) shutdown(undefined, true, e);
      else shutdown(() => readableCancel(source, e), true, e);
    }
    if (shuttingDown) return done.promise;
    rsReader(reader).closed.promise.then(onSourceClosed, onSourceError);
    wsWriter(writer).closed.promise.then(undefined, onDestError);

    function step() {
      if (shuttingDown) return;
      wsWriter(writer).ready.promise.then(() => {
        if (shuttingDown) return;
        readerRead(reader, {
          chunk: (chunk) => {
            currentWrite = handled(writerWrite(writer, chunk));
            step();
          },
          close: noop,
          error: noop,
        });
      }, noop);
    }
    step();
    return done.promise;
  }

  // ================================================================ WritableStream
  let ws, wsController, wsWriter, newWritableController, isWritableStream;
  let internalSink = null; // as internalSource, for createWritableStream
  const closeSentinel = {};

  class WritableStream {
    #s;
    constructor(sink, strategy) {
      this.#s = { state: 'writable', storedError: undefined, writer: undefined, controller: undefined,
        writeRequests: [], inFlightWrite: undefined, closeRequest: undefined, inFlightClose: undefined,
        pendingAbort: undefined, backpressure: false };
      if (internalSink !== null) {
        const i = internalSink;
        internalSink = null;
        setUpWritableController(this, newWritableController(), i.start, i.write, i.close, i.abort, i.hwm, i.size);
        return;
      }
      if (sink === null) sink = undefined;
      if (sink !== undefined && sink.type !== undefined) throw new RangeError('WritableStream: type must be undefined');
      const size = sizeAlgorithm(strategy);
      const hwm = highWaterMark(strategy, 1);
      const start = method(sink, 'start'), write = method(sink, 'write'), close = method(sink, 'close'), abort = method(sink, 'abort');
      setUpWritableController(this, newWritableController(),
        (c) => (start === undefined ? undefined : start.call(sink, c)),
        (chunk, c) => call(sink, write, [chunk, c]),
        () => call(sink, close, []),
        (reason) => call(sink, abort, [reason]),
        hwm, size);
    }
    static {
      ws = (x) => x.#s;
      isWritableStream = (x) => typeof x === 'object' && x !== null && #s in x;
    }
    get locked() { return this.#s.writer !== undefined; }
    abort(reason) {
      if (this.#s.writer !== undefined) return rejected(new TypeError('WritableStream.abort: the stream is locked'));
      return writableAbort(this, reason);
    }
    close() {
      if (this.#s.writer !== undefined) return rejected(new TypeError('WritableStream.close: the stream is locked'));
      if (closeQueuedOrInFlight(this.#s)) return rejected(new TypeError('WritableStream.close: the stream is closing'));
      return writableClose(this);
    }
    getWriter() { return new WritableStreamDefaultWriter(this); }
  }
  Object.defineProperty(WritableStream.prototype, Symbol.toStringTag, { value: 'WritableStream', configurable: true });

  class WritableStreamDefaultController {
    #c;
    constructor() {
      if (!constructingController) throw new TypeError('Illegal constructor');
      constructingController = false;
      this.#c = { stream: undefined, queue: [], queueTotalSize: 0, started: false, size: undefined, hwm: 1,
        write: undefined, close: undefined, abort: undefined, signal: newSignal() };
    }
    static { wsController = (x) => x.#c; }
    get signal() { return this.#c.signal; }
    error(e) {
      const c = this.#c;
      if (ws(c.stream).state !== 'writable') return;
      writableControllerError(c, e);
    }
  }
  newWritableController = () => { constructingController = true; return new WritableStreamDefaultController(); };

  function setUpWritableController(stream, controller, start, write, close, abort, hwm, size) {
    const c = wsController(controller);
    const s = ws(stream);
    c.stream = stream;
    s.controller = controller;
    c.size = size; c.hwm = hwm; c.write = write; c.close = close; c.abort = abort;
    updateBackpressure(s, writableBackpressure(c));
    const started = resolved(start(controller));
    started.then(() => { c.started = true; advanceQueueIfNeeded(c); },
      (e) => { c.started = true; dealWithRejection(stream, e); });
  }
  function createWritableStream(start, write, close, abort, hwm = 1, size = () => 1) {
    internalSink = { start, write, close, abort, hwm, size };
    return new WritableStream();
  }

  function closeQueuedOrInFlight(s) { return s.closeRequest !== undefined || s.inFlightClose !== undefined; }
  function operationInFlight(s) { return s.inFlightWrite !== undefined || s.inFlightClose !== undefined; }

  function writableAbort(stream, reason) {
    const s = ws(stream);
    if (s.state === 'closed' || s.state === 'errored') return resolved(undefined);
    signalAbort(wsController(s.controller).signal, reason);
    if (s.state === 'closed' || s.state === 'errored') return resolved(undefined);
    if (s.pendingAbort !== undefined) return s.pendingAbort.promise;
    const wasAlreadyErroring = s.state === 'erroring';
    if (wasAlreadyErroring) reason = undefined;
    const d = deferred();
    s.pendingAbort = { promise: d.promise, resolve: d.resolve, reject: d.reject, reason, wasAlreadyErroring };
    if (!wasAlreadyErroring) startErroring(stream, reason);
    return d.promise;
  }
  function writableClose(stream) {
    const s = ws(stream);
    if (s.state === 'closed' || s.state === 'errored') return rejected(new TypeError('WritableStream: the stream is closed or errored'));
    const d = deferred();
    s.closeRequest = d;
    if (s.writer !== undefined && s.backpressure && s.state === 'writable') wsWriter(s.writer).ready.resolve(undefined);
    const c = wsController(s.controller);
    enqueueWithSize(c, closeSentinel, 0);
    advanceQueueIfNeeded(c);
    return d.promise;
  }
  function dealWithRejection(stream, e) {
    if (ws(stream).state === 'writable') startErroring(stream, e);
    else finishErroring(stream);
  }
  function startErroring(stream, reason) {
    const s = ws(stream);
    s.state = 'erroring';
    s.storedError = reason;
    if (s.writer !== undefined) writerEnsureReadyRejected(wsWriter(s.writer), reason);
    if (!operationInFlight(s) && wsController(s.controller).started) finishErroring(stream);
  }
  function finishErroring(stream) {
    const s = ws(stream);
    s.state = 'errored';
    const c = wsController(s.controller);
    resetQueue(c);
    for (const req of s.writeRequests) req.reject(s.storedError);
    s.writeRequests = [];
    const abort = s.pendingAbort;
    if (abort === undefined) { rejectCloseAndClosedIfNeeded(s); return; }
    s.pendingAbort = undefined;
    if (abort.wasAlreadyErroring) { abort.reject(s.storedError); rejectCloseAndClosedIfNeeded(s); return; }
    const abortAlgorithm = c.abort;
    clearWritableAlgorithms(c);
    const p = abortAlgorithm === undefined ? resolved(undefined) : abortAlgorithm(abort.reason);
    p.then(() => { abort.resolve(undefined); rejectCloseAndClosedIfNeeded(s); },
      (r) => { abort.reject(r); rejectCloseAndClosedIfNeeded(s); });
  }
  function rejectCloseAndClosedIfNeeded(s) {
    if (s.closeRequest !== undefined) { s.closeRequest.reject(s.storedError); s.closeRequest = undefined; }
    if (s.writer !== undefined) {
      const w = wsWriter(s.writer);
      handled(w.closed.promise);
      w.closed.reject(s.storedError);
    }
  }
  function updateBackpressure(s, bp) {
    if (s.writer !== undefined && bp !== s.backpressure) {
      const w = wsWriter(s.writer);
      if (bp) w.ready = deferred(); else w.ready.resolve(undefined);
    }
    s.backpressure = bp;
  }

  function writableDesiredSize(c) { return c.hwm - c.queueTotalSize; }
  function writableBackpressure(c) { return writableDesiredSize(c) <= 0; }
  function clearWritableAlgorithms(c) { c.write = c.close = c.abort = undefined; c.size = undefined; }
  function writableControllerError(c, e) { clearWritableAlgorithms(c); startErroring(c.stream, e); }
  function errorIfNeeded(c, e) { if (ws(c.stream).state === 'writable') writableControllerError(c, e); }
  function chunkSize(c, chunk) {
    if (c.size === undefined) return 1;
    try { return c.size(chunk); } catch (e) { errorIfNeeded(c, e); return 1; }
  }
  function controllerWrite(c, chunk, size) {
    try { enqueueWithSize(c, chunk, size); } catch (e) { errorIfNeeded(c, e); return; }
    const s = ws(c.stream);
    if (!closeQueuedOrInFlight(s) && s.state === 'writable') updateBackpressure(s, writableBackpressure(c));
    advanceQueueIfNeeded(c);
  }
  function advanceQueueIfNeeded(c) {
    const stream = c.stream;
    const s = ws(stream);
    if (!c.started || s.inFlightWrite !== undefined) return;
    if (s.state === 'erroring') { finishErroring(stream); return; }
    if (c.queue.length === 0) return;
    const value = c.queue[0].value;
    if (value === closeSentinel) {
      s.inFlightClose = s.closeRequest;
      s.closeRequest = undefined;
      dequeue(c);
      const close = c.close;
      clearWritableAlgorithms(c);
      close().then(() => {
        s.inFlightClose.resolve(undefined);
        s.inFlightClose = undefined;
        if (s.state === 'erroring') {
          s.storedError = undefined;
          if (s.pendingAbort !== undefined) { s.pendingAbort.resolve(undefined); s.pendingAbort = undefined; }
        }
        s.state = 'closed';
        if (s.writer !== undefined) wsWriter(s.writer).closed.resolve(undefined);
      }, (e) => {
        s.inFlightClose.reject(e);
        s.inFlightClose = undefined;
        if (s.pendingAbort !== undefined) { s.pendingAbort.reject(e); s.pendingAbort = undefined; }
        dealWithRejection(stream, e);
      });
      return;
    }
    s.inFlightWrite = s.writeRequests.shift();
    c.write(value, s.controller).then(() => {
      s.inFlightWrite.resolve(undefined);
      s.inFlightWrite = undefined;
      dequeue(c);
      if (!closeQueuedOrInFlight(s) && s.state === 'writable') updateBackpressure(s, writableBackpressure(c));
      advanceQueueIfNeeded(c);
    }, (e) => {
      if (s.state === 'writable') clearWritableAlgorithms(c);
      s.inFlightWrite.reject(e);
      s.inFlightWrite = undefined;
      dealWithRejection(stream, e);
    });
  }

  class WritableStreamDefaultWriter {
    #w;
    constructor(stream) {
      if (!isWritableStream(stream)) throw new TypeError('WritableStreamDefaultWriter: argument must be a WritableStream');
      const s = ws(stream);
      if (s.writer !== undefined) throw new TypeError('WritableStream.getWriter: the stream is locked');
      const w = this.#w = { stream, ready: deferred(), closed: deferred() };
      s.writer = this;
      if (s.state === 'writable') {
        if (closeQueuedOrInFlight(s) || !s.backpressure) w.ready.resolve(undefined);
      } else if (s.state === 'erroring') {
        handled(w.ready.promise); w.ready.reject(s.storedError);
      } else if (s.state === 'closed') {
        w.ready.resolve(undefined); w.closed.resolve(undefined);
      } else {
        handled(w.ready.promise); w.ready.reject(s.storedError);
        handled(w.closed.promise); w.closed.reject(s.storedError);
      }
    }
    static { wsWriter = (x) => x.#w; }
    get closed() { return this.#w.closed.promise; }
    get ready() { return this.#w.ready.promise; }
    get desiredSize() {
      const w = this.#w;
      if (w.stream === undefined) throw new TypeError('writer has no stream: its lock was released');
      const s = ws(w.stream);
      if (s.state === 'errored' || s.state === 'erroring') return null;
      if (s.state === 'closed') return 0;
      return writableDesiredSize(wsController(s.controller));
    }
    abort(reason) {
      const w = this.#w;
      if (w.stream === undefined) return rejected(new TypeError('writer has no stream: its lock was released'));
      return writableAbort(w.stream, reason);
    }
    close() {
      const w = this.#w;
      if (w.stream === undefined) return rejected(new TypeError('writer has no stream: its lock was released'));
      if (closeQueuedOrInFlight(ws(w.stream))) return rejected(new TypeError('WritableStream: the stream is closing'));
      return writableClose(w.stream);
    }
    releaseLock() {
      const w = this.#w;
      if (w.stream === undefined) return;
      const e = new TypeError('the writer was released');
      writerEnsureReadyRejected(w, e);
      // WritableStreamDefaultWriterEnsureClosedPromiseRejected
      w.closed = deferred();
      handled(w.closed.promise);
      w.closed.reject(e);
      ws(w.stream).writer = undefined;
      w.stream = undefined;
    }
    write(chunk) { return writerWrite(this, chunk); }
  }
  function writerEnsureReadyRejected(w, e) {
    w.ready = deferred();
    handled(w.ready.promise);
    w.ready.reject(e);
  }
  function writerWrite(writer, chunk) {
    const w = wsWriter(writer);
    const stream = w.stream;
    if (stream === undefined) return rejected(new TypeError('writer has no stream: its lock was released'));
    const s = ws(stream);
    const c = wsController(s.controller);
    const size = chunkSize(c, chunk);
    if (stream !== w.stream) return rejected(new TypeError('the writer was released'));
    if (s.state === 'errored') return rejected(s.storedError);
    if (closeQueuedOrInFlight(s) || s.state === 'closed') return rejected(new TypeError('WritableStream: the stream is closing or closed'));
    if (s.state === 'erroring') return rejected(s.storedError);
    const d = deferred();
    s.writeRequests.push(d);
    controllerWrite(c, chunk, size);
    return d.promise;
  }
  function writerCloseWithErrorPropagation(writer) {
    const s = ws(wsWriter(writer).stream);
    if (closeQueuedOrInFlight(s) || s.state === 'closed') return resolved(undefined);
    if (s.state === 'errored') return rejected(s.storedError);
    return writableClose(wsWriter(writer).stream);
  }

  // ================================================================ TransformStream
  class TransformStream {
    #readable;
    #writable;
    constructor(transformer, writableStrategy, readableStrategy) {
      if (transformer === null) transformer = undefined;
      if (transformer !== undefined && transformer.readableType !== undefined) throw new RangeError('TransformStream: readableType must be undefined');
      if (transformer !== undefined && transformer.writableType !== undefined) throw new RangeError('TransformStream: writableType must be undefined');
      const readableHWM = highWaterMark(readableStrategy, 0), readableSize = sizeAlgorithm(readableStrategy);
      const writableHWM = highWaterMark(writableStrategy, 1), writableSize = sizeAlgorithm(writableStrategy);
      const start = method(transformer, 'start'), transform = method(transformer, 'transform');
      const flush = method(transformer, 'flush'), cancel = method(transformer, 'cancel');
      const t = { backpressure: undefined, backpressureChange: undefined, readableController: undefined, writable: undefined, finish: undefined };
      constructingController = true;
      const controller = new TransformStreamDefaultController(t);
      const startPromise = deferred();
      const setBackpressure = (bp) => {
        if (t.backpressureChange !== undefined) t.backpressureChange.resolve(undefined);
        t.backpressureChange = deferred();
        t.backpressure = bp;
      };
      t.setBackpressure = setBackpressure;
      const errorWritableAndUnblockWrite = (e) => {
        t.transform = t.flush = t.cancel = undefined;
        errorIfNeeded(wsController(ws(t.writable).controller), e);
        if (t.backpressure) setBackpressure(false);
      };
      t.errorWritableAndUnblockWrite = errorWritableAndUnblockWrite;
      const error = (e) => { controllerError(t.readableController, e); errorWritableAndUnblockWrite(e); };
      t.error = error;
      t.transform = transform === undefined
        ? (chunk) => { transformEnqueue(t, chunk); return resolved(undefined); }
        : (chunk) => call(transformer, transform, [chunk, controller]);
      t.flush = (c) => call(transformer, flush, [c]);
      t.cancel = (reason) => call(transformer, cancel, [reason]);
      const performTransform = (chunk) => t.transform(chunk).then(undefined, (r) => { error(r); throw r; });
      // finishing: the first of close, abort and cancel runs the user's
      // flush or cancel; the others wait for it.
      const finishWith = (run) => {
        if (t.finish !== undefined) return null;
        t.finish = deferred();
        const flushOrCancel = run === 'flush' ? t.flush : t.cancel;
        t.transform = t.flush = t.cancel = undefined;
        return { p: flushOrCancel, d: t.finish };
      };
      this.#writable = createWritableStream(
        () => startPromise.promise,
        (chunk) => {
          if (t.backpressure) {
            return t.backpressureChange.promise.then(() => {
              const s = ws(t.writable);
              if (s.state === 'erroring') throw s.storedError;
              return performTransform(chunk);
            });
          }
          return performTransform(chunk);
        },
        () => { // close
          const f = finishWith('flush');
          if (f === null) return t.finish.promise;
          const rc = t.readableController;
          f.p(controller).then(() => {
            const rsState = rs(rc.stream);
            if (rsState.state === 'errored') { f.d.reject(rsState.storedError); return; }
            controllerClose(rc);
            f.d.resolve(undefined);
          }, (r) => { controllerError(rc, r); f.d.reject(r); });
          return f.d.promise;
        },
        (reason) => { // abort
          const f = finishWith('cancel');
          if (f === null) return t.finish.promise;
          const rc = t.readableController;
          f.p(reason).then(() => {
            const rsState = rs(rc.stream);
            if (rsState.state === 'errored') { f.d.reject(rsState.storedError); return; }
            controllerError(rc, reason);
            f.d.resolve(undefined);
          }, (r) => { controllerError(rc, r); f.d.reject(r); });
          return f.d.promise;
        },
        writableHWM, writableSize);
      t.writable = this.#writable;
      this.#readable = createReadableStream(
        () => startPromise.promise,
        () => { setBackpressure(false); return t.backpressureChange.promise; },
        (reason) => { // cancel
          const f = finishWith('cancel');
          if (f === null) return t.finish.promise;
          f.p(reason).then(() => {
            const s = ws(t.writable);
            if (s.state === 'errored') { f.d.reject(s.storedError); return; }
            errorIfNeeded(wsController(s.controller), reason);
            if (t.backpressure) setBackpressure(false);
            f.d.resolve(undefined);
          }, (r) => { errorWritableAndUnblockWrite(r); f.d.reject(r); });
          return f.d.promise;
        },
        readableHWM, readableSize);
      t.readableController = rsController(rs(this.#readable).controller);
      setBackpressure(true);
      startPromise.resolve(start === undefined ? undefined : start.call(transformer, controller));
    }
    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
  }
  Object.defineProperty(TransformStream.prototype, Symbol.toStringTag, { value: 'TransformStream', configurable: true });

  function transformEnqueue(t, chunk) {
    const rc = t.readableController;
    if (!canCloseOrEnqueue(rc)) throw new TypeError('TransformStream: the readable side cannot take more chunks');
    try {
      controllerEnqueue(rc, chunk);
    } catch (e) {
      t.errorWritableAndUnblockWrite(e);
      throw rs(rc.stream).storedError;
    }
    const bp = hasBackpressure(rc);
    if (bp !== t.backpressure) t.setBackpressure(true);
  }

  class TransformStreamDefaultController {
    #t;
    constructor(t) {
      if (!constructingController) throw new TypeError('Illegal constructor');
      constructingController = false;
      this.#t = t;
    }
    get desiredSize() { return desiredSize(this.#t.readableController); }
    enqueue(chunk) { transformEnqueue(this.#t, chunk); }
    error(e) { this.#t.error(e); }
    terminate() {
      const t = this.#t;
      controllerClose(t.readableController);
      t.errorWritableAndUnblockWrite(new TypeError('TransformStream: terminated'));
    }
  }

  // ================================================================ encoding streams
  class TextEncoderStream {
    #ts;
    constructor() {
      let pending = ''; // a lone high surrogate at the end of the last chunk
      const encoder = new TextEncoder();
      this.#ts = new TransformStream({
        transform(chunk, c) {
          let s = pending + String(chunk);
          pending = '';
          const last = s.charCodeAt(s.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) { pending = s[s.length - 1]; s = s.slice(0, -1); }
          if (s.length > 0) c.enqueue(encoder.encode(s));
        },
        flush(c) { if (pending !== '') c.enqueue(new Uint8Array([0xef, 0xbf, 0xbd])); },
      });
    }
    get encoding() { return 'utf-8'; }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
  }

  class TextDecoderStream {
    #ts;
    #decoder;
    constructor(label = 'utf-8', options = undefined) {
      const o = options === undefined || options === null ? {} : options;
      const decoder = this.#decoder = new TextDecoder(label, { fatal: !!o.fatal, ignoreBOM: !!o.ignoreBOM });
      this.#ts = new TransformStream({
        transform(chunk, c) {
          if (!ArrayBuffer.isView(chunk) && !(chunk instanceof ArrayBuffer) && !(chunk instanceof SharedArrayBuffer)) {
            throw new TypeError('TextDecoderStream: chunks must be ArrayBuffers or views');
          }
          const s = decoder.decode(chunk, { stream: true });
          if (s !== '') c.enqueue(s);
        },
        flush(c) {
          const s = decoder.decode();
          if (s !== '') c.enqueue(s);
        },
      });
    }
    get encoding() { return this.#decoder.encoding; }
    get fatal() { return this.#decoder.fatal; }
    get ignoreBOM() { return !!this.#decoder.ignoreBOM; }
    get readable() { return this.#ts.readable; }
    get writable() { return this.#ts.writable; }
  }

  // ---- for later files: read a whole stream, make one from bytes.
  function readAll(stream) {
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    const d = deferred();
    const step = () => {
      readerRead(reader, {
        chunk: (v) => {
          if (!ArrayBuffer.isView(v)) { reader.releaseLock(); d.reject(new TypeError('the stream gave a chunk that is not a Uint8Array')); return; }
          const b = internals.viewBytes(v);
          chunks.push(b.slice());
          total += b.length;
          step();
        },
        close: () => {
          reader.releaseLock();
          const out = new Uint8Array(total);
          let off = 0;
          for (const c of chunks) { out.set(c, off); off += c.length; }
          d.resolve(out);
        },
        error: (e) => { reader.releaseLock(); d.reject(e); },
      });
    };
    step();
    return d.promise;
  }
  // bytesStream is a stream of one chunk, a copy of bytes, then closes.
  function bytesStream(bytes) {
    return createReadableStream((c) => {
      const rc = rsController(c);
      if (bytes.length > 0) controllerEnqueue(rc, bytes.slice());
      controllerClose(rc);
    }, () => resolved(undefined), () => resolved(undefined), 0);
  }
  const isDisturbed = (stream) => rs(stream).disturbed;

  define('ReadableStream', ReadableStream);
  define('ReadableStreamDefaultReader', ReadableStreamDefaultReader);
  define('ReadableStreamDefaultController', ReadableStreamDefaultController);
  define('WritableStream', WritableStream);
  define('WritableStreamDefaultWriter', WritableStreamDefaultWriter);
  define('WritableStreamDefaultController', WritableStreamDefaultController);
  define('TransformStream', TransformStream);
  define('TransformStreamDefaultController', TransformStreamDefaultController);
  define('ByteLengthQueuingStrategy', ByteLengthQueuingStrategy);
  define('CountQueuingStrategy', CountQueuingStrategy);
  define('TextEncoderStream', TextEncoderStream);
  define('TextDecoderStream', TextDecoderStream);
  shared.streams = Object.freeze({
    ReadableStream, TransformStream, isReadableStream, readAll, bytesStream, isDisturbed,
    cancel: readableCancel,
  });
})
