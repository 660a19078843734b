// natsfn:globals Event CustomEvent ErrorEvent PromiseRejectionEvent EventTarget AbortController AbortSignal
// natsfn web extension: Event, CustomEvent, EventTarget (DOM standard), and
// AbortController/AbortSignal, which are built on them. There is no tree
// of nodes, so dispatch only ever reaches the target itself: capture and
// bubbling are accepted and have nothing to pass through.
//
// State lives in private fields; the static blocks hand the few functions
// other classes here need (and later files, through internals.shared).
(function (internals, natives) {
  'use strict';
  const { define, shared, DOMException } = internals;

  let eventState, targetListeners;

  function reportException(e) {
    // A listener's exception is reported, not thrown at dispatchEvent's caller.
    const report = globalThis.reportError;
    if (typeof report === 'function') { try { report(e); return; } catch (_) { /* fall through */ } }
    internals.log('error', 'uncaught exception in event listener: ' + internals.format([e]));
  }

  class Event {
    #s;
    constructor(type, init) {
      if (arguments.length === 0) throw new TypeError("Event constructor: 1 argument required, but only 0 present");
      init = init === undefined || init === null ? {} : init;
      this.#s = {
        type: String(type), bubbles: !!init.bubbles, cancelable: !!init.cancelable, composed: !!init.composed,
        canceled: false, stop: false, stopImmediate: false, dispatching: false, passive: false,
        target: null, currentTarget: null, phase: 0, timeStamp: Date.now(),
      };
    }
    static { eventState = (e) => e.#s; }
    get type() { return this.#s.type; }
    get target() { return this.#s.target; }
    get srcElement() { return this.#s.target; }
    get currentTarget() { return this.#s.currentTarget; }
    composedPath() { return this.#s.currentTarget ? [this.#s.currentTarget] : []; }
    get eventPhase() { return this.#s.phase; }
    stopPropagation() { this.#s.stop = true; }
    get cancelBubble() { return this.#s.stop; }
    set cancelBubble(v) { if (v) this.#s.stop = true; }
    stopImmediatePropagation() { this.#s.stop = true; this.#s.stopImmediate = true; }
    get bubbles() { return this.#s.bubbles; }
    get cancelable() { return this.#s.cancelable; }
    get returnValue() { return !this.#s.canceled; }
    set returnValue(v) { if (!v) this.preventDefault(); }
    preventDefault() { const s = this.#s; if (s.cancelable && !s.passive) s.canceled = true; }
    get defaultPrevented() { return this.#s.canceled; }
    get composed() { return this.#s.composed; }
    get isTrusted() { return false; }
    get timeStamp() { return this.#s.timeStamp; }
  }
  for (const [name, value] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    Object.defineProperty(Event, name, { value, enumerable: true });
    Object.defineProperty(Event.prototype, name, { value, enumerable: true });
  }

  class CustomEvent extends Event {
    #detail;
    constructor(type, init) {
      super(type, init);
      this.#detail = init === undefined || init === null || init.detail === undefined ? null : init.detail;
    }
    get detail() { return this.#detail; }
  }

  // ErrorEvent and PromiseRejectionEvent (HTML). natsfn fires neither
  // itself: its global object is no EventTarget (docs/runtime.md); code
  // written for one runtime or another may still construct them.
  const dictOf = (init, what) => {
    if (init === undefined || init === null) return {};
    if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError(what + ': the init must be an object');
    return init;
  };
  class ErrorEvent extends Event {
    #message; #filename; #lineno; #colno; #error;
    constructor(type, init = undefined) {
      if (arguments.length === 0) throw new TypeError('ErrorEvent: 1 argument required, but only 0 present');
      const d = dictOf(init, 'ErrorEvent');
      super(type, init);
      this.#message = d.message === undefined ? '' : String(d.message);
      this.#filename = d.filename === undefined ? '' : String(d.filename);
      this.#lineno = d.lineno === undefined ? 0 : Number(d.lineno) >>> 0;
      this.#colno = d.colno === undefined ? 0 : Number(d.colno) >>> 0;
      this.#error = d.error;
    }
    get message() { return this.#message; }
    get filename() { return this.#filename; }
    get lineno() { return this.#lineno; }
    get colno() { return this.#colno; }
    get error() { return this.#error; }
  }
  class PromiseRejectionEvent extends Event {
    #promise; #reason;
    constructor(type, init) {
      if (arguments.length < 2) throw new TypeError('PromiseRejectionEvent: 2 arguments required, but only ' + arguments.length + ' present');
      const d = dictOf(init, 'PromiseRejectionEvent');
      const promise = d.promise;
      if (promise === undefined) throw new TypeError('PromiseRejectionEvent: init.promise is required');
      if ((typeof promise !== 'object' && typeof promise !== 'function') || promise === null) throw new TypeError('PromiseRejectionEvent: init.promise must be an object');
      super(type, init);
      this.#promise = promise;
      this.#reason = d.reason;
    }
    get promise() { return this.#promise; }
    get reason() { return this.#reason; }
  }

  // flatten reads the options of add/removeEventListener.
  function flatten(options) {
    if (typeof options === 'boolean') return { capture: options, once: false, passive: false, signal: undefined };
    if (options === undefined || options === null || typeof options !== 'object') return { capture: false, once: false, passive: false, signal: undefined };
    return { capture: !!options.capture, once: !!options.once, passive: !!options.passive, signal: options.signal };
  }

  class EventTarget {
    #listeners = new Map(); // type -> [{ callback, capture, once, passive, removed }]
    constructor() {}
    static { targetListeners = (t) => t.#listeners; }

    addEventListener(type, callback, options) {
      const list = this.#listeners; // brand check before anything else
      const o = flatten(options);
      if (callback === undefined || callback === null) return;
      if (typeof callback !== 'function' && typeof callback !== 'object') throw new TypeError('addEventListener: the listener must be a function or an object');
      if (o.signal !== undefined && !isAbortSignal(o.signal)) throw new TypeError("addEventListener: 'signal' is not an AbortSignal");
      if (o.signal !== undefined && o.signal.aborted) return;
      type = String(type);
      let entries = list.get(type);
      if (entries === undefined) { entries = []; list.set(type, entries); }
      for (const l of entries) if (l.callback === callback && l.capture === o.capture) return;
      const listener = { callback, capture: o.capture, once: o.once, passive: o.passive, removed: false };
      entries.push(listener);
      if (o.signal !== undefined) onAbort(o.signal, () => removeListener(this, type, listener));
    }

    removeEventListener(type, callback, options) {
      const entries = this.#listeners.get(String(type));
      if (entries === undefined) return;
      const capture = typeof options === 'boolean' ? options : !!(options && options.capture);
      for (const l of entries) {
        if (l.callback === callback && l.capture === capture) { removeListener(this, String(type), l); return; }
      }
    }

    dispatchEvent(event) {
      const list = this.#listeners;
      let s;
      try { s = eventState(event); } catch (_) { throw new TypeError("dispatchEvent: argument is not an Event"); }
      if (s.dispatching) throw new DOMException('the event is already being dispatched', 'InvalidStateError');
      s.dispatching = true;
      s.target = this;
      s.currentTarget = this;
      s.phase = 2;
      try {
        const entries = list.get(s.type);
        if (entries !== undefined && !s.stop) {
          for (const l of entries.slice()) {
            if (l.removed) continue;
            if (l.once) removeListener(this, s.type, l);
            s.passive = l.passive;
            try {
              if (typeof l.callback === 'function') l.callback.call(this, event);
              else {
                const handle = l.callback.handleEvent;
                if (typeof handle !== 'function') throw new TypeError("the listener's handleEvent is not a function");
                handle.call(l.callback, event);
              }
            } catch (e) {
              reportException(e);
            }
            s.passive = false;
            if (s.stopImmediate) break;
          }
        }
      } finally {
        s.dispatching = false;
        s.phase = 0;
        s.currentTarget = null;
        s.stop = false;
        s.stopImmediate = false;
      }
      return !s.canceled;
    }
  }

  function removeListener(target, type, listener) {
    const entries = targetListeners(target).get(type);
    listener.removed = true;
    if (entries === undefined) return;
    const i = entries.indexOf(listener);
    if (i >= 0) entries.splice(i, 1);
  }

  // ---- AbortController and AbortSignal (DOM standard, "Aborting ongoing activities").
  let signalState, isAbortSignal;
  let constructing = false;

  class AbortSignal extends EventTarget {
    #s;
    constructor() {
      if (!constructing) throw new TypeError('Illegal constructor');
      super();
      constructing = false;
      // algorithms: what natsfn's own code runs on abort (fetch, pipeTo,
      // listeners' signals); dependents: signals made by AbortSignal.any.
      this.#s = { aborted: false, reason: undefined, algorithms: [], dependents: null, onabort: null, onabortListener: null };
    }
    static {
      signalState = (x) => x.#s;
      isAbortSignal = (x) => typeof x === 'object' && x !== null && #s in x;
    }
    get aborted() { return this.#s.aborted; }
    get reason() { return this.#s.reason; }
    throwIfAborted() { if (this.#s.aborted) throw this.#s.reason; }
    get onabort() { return this.#s.onabort; }
    set onabort(fn) {
      const s = this.#s;
      s.onabort = typeof fn === 'function' || (typeof fn === 'object' && fn !== null) ? fn : null;
      if (s.onabortListener === null) {
        // An event handler attribute is one listener, added when first set,
        // that calls whatever the attribute holds at dispatch time.
        s.onabortListener = (e) => { const h = s.onabort; if (typeof h === 'function') h.call(this, e); };
        this.addEventListener('abort', s.onabortListener);
      }
    }
    static abort(reason) {
      const signal = newSignal();
      const s = signal.#s;
      s.aborted = true;
      s.reason = reason === undefined ? abortError() : reason;
      return signal;
    }
    static timeout(ms) {
      ms = Number(ms);
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError('AbortSignal.timeout: milliseconds must be a finite number >= 0');
      const setTimeout = globalThis.setTimeout;
      if (typeof setTimeout !== 'function') throw new TypeError('AbortSignal.timeout: timers are not available');
      const signal = newSignal();
      setTimeout(() => signalAbort(signal, new DOMException('signal timed out', 'TimeoutError')), Math.trunc(ms));
      return signal;
    }
    static any(signals) {
      const list = [];
      for (const s of signals) {
        if (!isAbortSignal(s)) throw new TypeError('AbortSignal.any: every element must be an AbortSignal');
        list.push(s);
      }
      const result = newSignal();
      for (const s of list) {
        if (s.#s.aborted) { result.#s.aborted = true; result.#s.reason = s.#s.reason; return result; }
      }
      for (const s of list) {
        const st = s.#s;
        if (st.dependents === null) st.dependents = new Set();
        st.dependents.add(result);
      }
      return result;
    }
  }

  function newSignal() { constructing = true; return new AbortSignal(); }
  function abortError() { return new DOMException('signal is aborted without reason', 'AbortError'); }

  // signalAbort aborts signal and the signals AbortSignal.any made from it:
  // every reason is set first, then each runs its algorithms and fires abort.
  function signalAbort(signal, reason) {
    const s = signalState(signal);
    if (s.aborted) return;
    s.aborted = true;
    s.reason = reason === undefined ? abortError() : reason;
    const dependents = [];
    if (s.dependents !== null) {
      for (const d of s.dependents) {
        const ds = signalState(d);
        if (ds.aborted) continue;
        ds.aborted = true;
        ds.reason = s.reason;
        dependents.push(d);
      }
      s.dependents = null;
    }
    runAbortSteps(signal);
    for (const d of dependents) runAbortSteps(d);
  }
  function runAbortSteps(signal) {
    const s = signalState(signal);
    const algorithms = s.algorithms;
    s.algorithms = [];
    for (const fn of algorithms) {
      try { fn(); } catch (e) { reportException(e); }
    }
    signal.dispatchEvent(new Event('abort'));
  }

  // onAbort runs fn when signal aborts (at once if it has); the returned
  // function forgets fn.
  function onAbort(signal, fn) {
    const s = signalState(signal);
    if (s.aborted) { fn(); return () => {}; }
    s.algorithms.push(fn);
    return () => { const i = s.algorithms.indexOf(fn); if (i >= 0) s.algorithms.splice(i, 1); };
  }

  class AbortController {
    #signal = newSignal();
    get signal() { return this.#signal; }
    abort(reason) { signalAbort(this.#signal, reason); }
  }

  Object.defineProperty(ErrorEvent.prototype, Symbol.toStringTag, { value: 'ErrorEvent', configurable: true });
  Object.defineProperty(PromiseRejectionEvent.prototype, Symbol.toStringTag, { value: 'PromiseRejectionEvent', configurable: true });
  Object.defineProperty(AbortSignal.prototype, Symbol.toStringTag, { value: 'AbortSignal', configurable: true });
  Object.defineProperty(AbortController.prototype, Symbol.toStringTag, { value: 'AbortController', configurable: true });

  define('Event', Event);
  define('CustomEvent', CustomEvent);
  define('ErrorEvent', ErrorEvent);
  define('PromiseRejectionEvent', PromiseRejectionEvent);
  define('EventTarget', EventTarget);
  define('AbortController', AbortController);
  define('AbortSignal', AbortSignal);
  shared.Event = Event;
  shared.abort = Object.freeze({ isAbortSignal, onAbort, signalAbort, newSignal });
})
