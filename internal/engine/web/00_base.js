// natsfn web extension: small globals of the WinterTC Minimum Common API
// that need nothing from the host. Every file in web/ has this form: a
// function of the prelude's internals and the Go natives registered for
// the extensions (extensions.go).
(function (internals, natives) {
  'use strict';
  const { define } = internals;
  define('navigator', Object.freeze({ userAgent: natives.userAgent() }));
  // HTML's self is the global object itself, as in a worker.
  define('self', globalThis);
})
