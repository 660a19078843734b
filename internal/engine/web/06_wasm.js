// natsfn web extension: the Promise-returning WebAssembly functions.
// V8 finishes WebAssembly.compile and WebAssembly.instantiate on a
// platform task that natsfn's isolates never run, so their promises would
// never settle. These replacements compile with the synchronous
// constructors instead (on the isolate's thread, as the rest of a
// function's work) and settle at once; they keep the WebAssembly JS API's
// results and errors: a CompileError or LinkError rejects the promise.
// compileStreaming and instantiateStreaming, which V8 leaves to the
// embedder, read a Response (or a promise of one) whole first.
(function (internals, natives) {
  'use strict';
  const WA = globalThis.WebAssembly;
  if (typeof WA !== 'object' || WA === null) return;
  const { Module, Instance } = WA;
  const { defineProperty, construct } = Reflect;
  const PromiseCtor = Promise, TypeErrorCtor = TypeError;
  const then = Function.prototype.call.bind(Promise.prototype.then);
  const moduleExports = Module.exports;
  const isModule = (v) => { try { moduleExports(v); return true; } catch (_) { return false; } };
  const compile = (bytes) => construct(Module, [bytes]);
  const instance = (module, imports) => construct(Instance, [module, imports]);
  // run settles a new promise with f's result, or rejects with what it throws.
  const run = (f) => new PromiseCtor((resolve) => resolve(f()));

  // responseBytes checks what the WebAssembly Web API asks of a Response and
  // reads its body.
  function responseBytes(source) {
    return then(PromiseCtor.resolve(source), (r) => {
      if (typeof r !== 'object' || r === null || typeof r.arrayBuffer !== 'function' || typeof r.headers !== 'object') {
        throw new TypeErrorCtor('WebAssembly: the source must be a Response or a promise of one');
      }
      const type = r.headers.get('Content-Type');
      if (type === null || String(type).split(';')[0].trim().toLowerCase() !== 'application/wasm') {
        throw new TypeErrorCtor("WebAssembly: the Response's Content-Type is not application/wasm");
      }
      if (!r.ok) throw new TypeErrorCtor('WebAssembly: the Response has status ' + r.status);
      return r.arrayBuffer();
    });
  }
  const methods = {
    compile(bytes) { return run(() => compile(bytes)); },
    instantiate(source, importObject = undefined) {
      return run(() => {
        if (isModule(source)) return instance(source, importObject);
        const module = compile(source);
        return { module, instance: instance(module, importObject) };
      });
    },
    compileStreaming(source) { return then(responseBytes(source), compile); },
    instantiateStreaming(source, importObject = undefined) {
      return then(responseBytes(source), (bytes) => {
        const module = compile(bytes);
        return { module, instance: instance(module, importObject) };
      });
    },
  };
  for (const name of ['compile', 'instantiate', 'compileStreaming', 'instantiateStreaming']) {
    defineProperty(WA, name, { value: methods[name], writable: true, enumerable: false, configurable: true });
  }
})
