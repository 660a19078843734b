// natsfn web extension: timers and the other globals of the event loop
// (HTML's timers and microtask queuing, High Resolution Time, reportError).
// The engine's loop (loop.go) runs them; none outlives the invocation that
// armed it (docs/host-services.md, "Timers and pending calls").
(function (internals, natives) {
  'use strict';
  const { define, setTimer, clearTimer, reportError: report } = internals;
  const TypeErrorCtor = TypeError, ErrorCtor = Error, toNumber = Number;
  const { defineProperty } = Reflect;
  const nativeNow = natives.now, nativeTimeOrigin = natives.timeOrigin;

  // timerDelay converts a delay as WebIDL's long does, and clamps it to 0
  // or more: a delay past 2^31-1 ms wraps, as in browsers.
  function timerDelay(v) {
    const n = toNumber(v);
    if (!(n === n) || n === Infinity || n === -Infinity) return 0;
    const l = n | 0; // ToInt32: truncates, then wraps modulo 2^32
    return l > 0 ? l : 0;
  }

  function timerCallback(name, handler) {
    if (typeof handler === 'function') return handler;
    throw new TypeErrorCtor(name + ': the callback must be a function (natsfn does not evaluate strings)');
  }

  function arm(name, handler, timeout, args, repeat) {
    const id = setTimer(timerCallback(name, handler), args, timerDelay(timeout), repeat);
    if (id === 0) {
      const e = new ErrorCtor(name + ': too many timers are armed');
      defineProperty(e, 'code', { value: 'RATE_LIMITED', writable: true, enumerable: true, configurable: true });
      throw e;
    }
    return id;
  }

  function timerId(id) {
    const n = toNumber(id);
    return n > 0 && n <= 0x7fffffff ? n | 0 : 0;
  }

  define('setTimeout', function setTimeout(handler, timeout = 0, ...args) {
    return arm('setTimeout', handler, timeout, args, false);
  });
  define('setInterval', function setInterval(handler, timeout = 0, ...args) {
    return arm('setInterval', handler, timeout, args, true);
  });
  // One pool of ids: each clears either kind, as in HTML.
  define('clearTimeout', function clearTimeout(id = 0) { clearTimer(timerId(id)); });
  define('clearInterval', function clearInterval(id = 0) { clearTimer(timerId(id)); });

  // queueMicrotask: an async function resumes in exactly one microtask,
  // and await of a plain value looks up nothing user code can replace.
  async function runMicrotask(callback) {
    await undefined;
    try {
      callback();
    } catch (e) {
      report(e);
    }
  }
  define('queueMicrotask', function queueMicrotask(callback) {
    if (typeof callback !== 'function') throw new TypeErrorCtor('queueMicrotask: the callback must be a function');
    runMicrotask(callback);
  });

  define('reportError', {
    reportError(e) {
      if (arguments.length === 0) throw new TypeErrorCtor('reportError: 1 argument required, but only 0 present');
      report(e);
    },
  }.reportError);

  // performance: a monotonic clock in ms, in steps of 5 µs (loop.go,
  // clockGrain), from timeOrigin, when the isolate started.
  const timeOrigin = nativeTimeOrigin();
  class Performance {
    get timeOrigin() { return timeOrigin; }
    now() { return nativeNow(); }
    toJSON() { return { timeOrigin }; }
  }
  define('Performance', Performance);
  define('performance', new Performance());
})
