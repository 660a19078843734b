// natsfn web extension: crypto.subtle (W3C Web Cryptography API) with the
// work done by Go's crypto (subtle.go). This file checks arguments, key
// usages and extractability and keeps every key's material in a private
// field of its CryptoKey: raw bytes for a secret key, PKCS #8 DER for a
// private key, SPKI DER for a public one. Data travels to and from Go
// through the extensions' scratch (14_encoding.js); results are copied out
// into fresh ArrayBuffers. Every method returns a Promise; the work itself
// is done at once, on the isolate's thread.
(function (internals, natives) {
  'use strict';
  const { define, shared, DOMException: DOMExceptionCtor } = internals;
  const { scratch, bufferSource } = shared;
  const { apply, getOwnPropertyDescriptor, defineProperty } = Reflect;
  const uncurry = (fn) => apply(Function.prototype.bind, Function.prototype.call, [fn]);
  const getter = (obj, key) => uncurry(getOwnPropertyDescriptor(obj, key).get);
  const U8 = Uint8Array, AB = ArrayBuffer, PromiseCtor = Promise;
  const taLength = getter(Object.getPrototypeOf(U8.prototype), 'length');
  const jsonStringify = JSON.stringify, jsonParse = JSON.parse;
  const toLowerCase = uncurry(String.prototype.toLowerCase);
  const freeze = Object.freeze;
  const toStr = String;
  const TypeErrorCtor = TypeError;
  const nativeSubtle = natives.subtle, nativeDigest = natives.subtleDigest;
  const oldCrypto = globalThis.crypto;

  const copy = (a) => { const out = []; for (let i = 0; i < a.length; i++) add(out, a[i]); return out; };
  const fail = (name, message) => new DOMExceptionCtor(message, name);

  // ---- Go calls. segs (at most four) are genuine Uint8Arrays put one
  // after another; their lengths follow the request as arguments. The
  // answer's results are in r.b0 and r.b1. User code may have put getters
  // and setters on Object.prototype and Array.prototype, so what is made
  // here has no prototype or is read through own properties only (see
  // subtleResp in subtle.go).
  function call(req, segs) {
    const n = segs.length;
    const l0 = n > 0 ? taLength(segs[0]) : 0, l1 = n > 1 ? taLength(segs[1]) : 0;
    const l2 = n > 2 ? taLength(segs[2]) : 0, l3 = n > 3 ? taLength(segs[3]) : 0;
    const total = l0 + l1 + l2 + l3;
    const text = jsonStringify(req);
    for (;;) {
      scratch.reserve(total);
      if (n > 0) scratch.put(segs[0], 0);
      if (n > 1) scratch.put(segs[1], l0);
      if (n > 2) scratch.put(segs[2], l0 + l1);
      if (n > 3) scratch.put(segs[3], l0 + l1 + l2);
      const answer = n === 0 ? nativeSubtle(text) : n === 1 ? nativeSubtle(text, l0) : n === 2 ? nativeSubtle(text, l0, l1)
        : n === 3 ? nativeSubtle(text, l0, l1, l2) : nativeSubtle(text, l0, l1, l2, l3);
      const r = jsonParse(answer);
      if (r.grow > 0) { scratch.reserve(r.grow > total ? r.grow : total); continue; }
      if (r.error !== '') throw fail(r.error, r.message);
      const out = r.out;
      const res = { __proto__: null, r, b0: undefined, b1: undefined };
      if (out.length > 0) res.b0 = scratch.take(0, out[0]);
      if (out.length > 1) res.b1 = scratch.take(out[0], out[1]);
      scratch.done();
      return res;
    }
  }
  // add appends v to the array a without running a setter user code put
  // on Array.prototype; prop defines a data property likewise.
  function prop(o, k, v) { defineProperty(o, k, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true }); }
  const add = (a, v) => prop(a, a.length, v);
  const bytesOf = (buf) => new U8(buf);
  const EMPTY = new U8(0);

  // ---- algorithm names and parameters
  const NAMES = { __proto__: null };
  for (const n of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512', 'HMAC', 'AES-GCM', 'AES-CBC', 'AES-CTR', 'AES-KW', 'ECDSA', 'ECDH',
    'Ed25519', 'X25519', 'RSASSA-PKCS1-v1_5', 'RSA-PSS', 'RSA-OAEP', 'PBKDF2', 'HKDF']) NAMES[toLowerCase(n)] = n;
  const HASHES = { __proto__: null, 'SHA-1': 1, 'SHA-256': 1, 'SHA-384': 1, 'SHA-512': 1 };
  const CURVES = { __proto__: null, 'P-256': 1, 'P-384': 1, 'P-521': 1 };
  const SECRET = { __proto__: null, HMAC: 1, 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1, PBKDF2: 1, HKDF: 1 };
  const AES = { __proto__: null, 'AES-GCM': 1, 'AES-CBC': 1, 'AES-CTR': 1 };
  const RSA = { __proto__: null, 'RSASSA-PKCS1-v1_5': 1, 'RSA-PSS': 1, 'RSA-OAEP': 1 };
  // Which usages each algorithm's keys allow: [secret or private, public].
  const SIGN = [['sign'], ['verify']];
  const USAGES = {
    __proto__: null,
    HMAC: [['sign', 'verify']], 'AES-GCM': [['encrypt', 'decrypt', 'wrapKey', 'unwrapKey']],
    ECDSA: SIGN, Ed25519: SIGN, 'RSASSA-PKCS1-v1_5': SIGN, 'RSA-PSS': SIGN,
    'RSA-OAEP': [['decrypt', 'unwrapKey'], ['encrypt', 'wrapKey']],
    ECDH: [['deriveKey', 'deriveBits'], []], X25519: [['deriveKey', 'deriveBits'], []],
    PBKDF2: [['deriveKey', 'deriveBits']], HKDF: [['deriveKey', 'deriveBits']],
  };
  USAGES['AES-CBC'] = USAGES['AES-CTR'] = USAGES['AES-GCM'];
  for (const k in USAGES) if (USAGES[k].length === 2) USAGES[k][2] = USAGES[k][0].concat(USAGES[k][1]);
  const ALL_USAGES = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey'];

  // normalize turns an AlgorithmIdentifier into an object with the
  // canonical name; unknown names are a NotSupportedError.
  function normalize(alg) {
    let name;
    if (typeof alg === 'string') { name = alg; alg = { name }; }
    else if (typeof alg === 'object' && alg !== null) {
      if (alg.name === undefined) throw new TypeErrorCtor('the algorithm has no name');
      name = toStr(alg.name);
    } else throw new TypeErrorCtor('an algorithm is a string or an object with a name');
    const canon = NAMES[toLowerCase(name)];
    if (canon === undefined) throw fail('NotSupportedError', 'unsupported algorithm ' + name);
    return { alg, name: canon };
  }
  function hashParam(h) {
    if (h === undefined) throw new TypeErrorCtor('the algorithm needs a hash');
    const n = normalize(h).name;
    if (!HASHES[n]) throw fail('NotSupportedError', 'unsupported hash ' + n);
    return n;
  }
  function curveParam(c) {
    const n = toStr(c);
    if (!CURVES[n]) throw fail('NotSupportedError', 'unsupported namedCurve ' + n);
    return n;
  }
  function bytesParam(v, what) { return bufferSource(v, what); }
  function usagesParam(u) {
    if (typeof u !== 'object' || u === null) throw new TypeErrorCtor('keyUsages must be a sequence');
    const out = [];
    for (const x of u) {
      const s = toStr(x);
      let known = false;
      for (let i = 0; i < ALL_USAGES.length; i++) if (ALL_USAGES[i] === s) known = true;
      if (!known) throw new TypeErrorCtor('unknown key usage ' + s);
      let dup = false;
      for (let i = 0; i < out.length; i++) if (out[i] === s) dup = true;
      if (!dup) add(out, s);
    }
    return out;
  }
  function checkUsages(usages, allowed) {
    for (let i = 0; i < usages.length; i++) {
      let ok = false;
      for (let j = 0; j < allowed.length; j++) if (allowed[j] === usages[i]) ok = true;
      if (!ok) throw fail('SyntaxError', 'usage ' + usages[i] + ' is not allowed for this key');
    }
  }
  const only = (usages, allowed) => {
    const out = [];
    for (let i = 0; i < usages.length; i++) for (let j = 0; j < allowed.length; j++) if (allowed[j] === usages[i]) add(out, usages[i]);
    return out;
  };
  const hashBlockBits = (h) => (h === 'SHA-384' || h === 'SHA-512' ? 1024 : 512);

  // ---- CryptoKey
  // A key's state (#s) is what natsfn trusts: user code may change the
  // algorithm object and usages array the getters hand out, or the getters
  // themselves, but not this.
  const TOKEN = {};
  let stateOf;
  class CryptoKey {
    #s; #algorithm; #usages;
    static { stateOf = (k) => k.#s; }
    constructor(token, s) {
      if (token !== TOKEN) throw new TypeErrorCtor('Illegal constructor');
      this.#s = s;
      this.#algorithm = exposed(s.algorithm);
      this.#usages = copy(s.usages);
    }
    get type() { return this.#s.type; }
    get extractable() { return this.#s.extractable; }
    get algorithm() { return this.#algorithm; }
    get usages() { return this.#usages; }
  }
  defineProperty(CryptoKey.prototype, Symbol.toStringTag, { value: 'CryptoKey', configurable: true });
  function isKey(k) { try { stateOf(k); return true; } catch (_) { return false; } }
  // st is k's state; k must be a CryptoKey.
  function st(k) {
    if (!isKey(k)) throw new TypeErrorCtor('not a CryptoKey');
    return stateOf(k);
  }
  const keyData = (k) => stateOf(k).material;
  const newKey = (type, extractable, algorithm, usages, material) =>
    new CryptoKey(TOKEN, freeze({ __proto__: null, type, extractable, algorithm: freeze(algorithm), usages: freeze(usages), material }));
  // exposed is a fresh copy of a key algorithm for user code.
  function exposed(a) {
    const o = { name: a.name };
    if (a.hash !== undefined) o.hash = { name: a.hash.name };
    if (a.length !== undefined) o.length = a.length;
    if (a.namedCurve !== undefined) o.namedCurve = a.namedCurve;
    if (a.modulusLength !== undefined) {
      o.modulusLength = a.modulusLength;
      const e = new U8(taLength(a.publicExponent));
      for (let i = 0; i < e.length; i++) e[i] = a.publicExponent[i];
      o.publicExponent = e;
    }
    return o;
  }

  // keyAlgorithm is what key.algorithm shows, from the normalized import or
  // generate parameters and Go's answer.
  function keyAlgorithm(name, p, r) {
    if (name === 'HMAC') return { __proto__: null, name, hash: { __proto__: null, name: p.hash }, length: r.bits };
    if (AES[name]) return { __proto__: null, name, length: r.bits };
    if (name === 'ECDSA' || name === 'ECDH') return { __proto__: null, name, namedCurve: p.curve };
    if (RSA[name]) {
      let e = r.publicExponent, len = 0;
      for (let v = e; v > 0; v = (v - (v % 256)) / 256) len++;
      const exp = new U8(len);
      for (let i = len - 1; i >= 0; i--) { exp[i] = e % 256; e = (e - (e % 256)) / 256; }
      return { __proto__: null, name, modulusLength: r.bits, publicExponent: exp, hash: { __proto__: null, name: p.hash } };
    }
    return { __proto__: null, name };
  }

  // keyParams reads what importKey and generateKey need from the algorithm.
  function keyParams(n, generate) {
    const { alg, name } = n;
    const p = { __proto__: null, name, hash: '', curve: '', length: -1 };
    if (name === 'HMAC') {
      p.hash = hashParam(alg.hash);
      if (alg.length !== undefined) {
        p.length = +alg.length;
        if (!(p.length > 0)) throw fail('OperationError', 'HMAC length must be positive');
      } else if (generate) p.length = hashBlockBits(p.hash);
    } else if (AES[name]) {
      if (generate) {
        p.length = +alg.length;
        if (p.length !== 128 && p.length !== 192 && p.length !== 256) throw fail('OperationError', 'AES length must be 128, 192 or 256');
      }
    } else if (name === 'ECDSA' || name === 'ECDH') {
      p.curve = curveParam(alg.namedCurve);
    } else if (RSA[name]) {
      p.hash = hashParam(alg.hash);
      if (generate) {
        p.length = +alg.modulusLength;
        const e = bytesParam(alg.publicExponent, 'publicExponent');
        let v = 0;
        for (let i = 0; i < taLength(e); i++) v = v * 256 + e[i];
        if (v !== 65537) throw fail('OperationError', 'only the public exponent 65537 is supported');
      }
    } else if (name === 'AES-KW') {
      throw fail('NotSupportedError', 'AES-KW is not supported');
    } else if (HASHES[name]) {
      throw fail('NotSupportedError', name + ' is not a key algorithm');
    } else if ((name === 'PBKDF2' || name === 'HKDF') && generate) {
      throw fail('NotSupportedError', name + ' keys are imported, not generated');
    }
    return p;
  }

  // ---- JWK
  const JWK_FIELDS = ['kty', 'crv', 'k', 'x', 'y', 'd', 'n', 'e', 'p', 'q', 'dp', 'dq', 'qi'];
  const HASH_SUFFIX = { __proto__: null, 'SHA-1': '1', 'SHA-256': '256', 'SHA-384': '384', 'SHA-512': '512' };
  function jwkAlg(name, p, bits) {
    const h = HASH_SUFFIX[p.hash];
    switch (name) {
      case 'HMAC': return 'HS' + (p.hash === 'SHA-1' ? '1' : h);
      case 'AES-GCM': return 'A' + bits + 'GCM';
      case 'AES-CBC': return 'A' + bits + 'CBC';
      case 'AES-CTR': return 'A' + bits + 'CTR';
      case 'RSASSA-PKCS1-v1_5': return 'RS' + h;
      case 'RSA-PSS': return 'PS' + h;
      case 'RSA-OAEP': return p.hash === 'SHA-1' ? 'RSA-OAEP' : 'RSA-OAEP-' + h;
      case 'ECDSA': return { __proto__: null, 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[p.curve];
      case 'Ed25519': return 'Ed25519';
    }
    return undefined;
  }
  function checkJWK(jwk, name, p, usages, extractable) {
    if (typeof jwk !== 'object' || jwk === null) throw new TypeErrorCtor('a jwk key must be an object');
    const out = { __proto__: null };
    for (let i = 0; i < JWK_FIELDS.length; i++) {
      const v = jwk[JWK_FIELDS[i]];
      if (v !== undefined) prop(out, JWK_FIELDS[i], toStr(v));
    }
    if (jwk.ext === false && extractable) throw fail('DataError', 'the JWK is not extractable');
    if (jwk.key_ops !== undefined) {
      const ops = usagesParam(jwk.key_ops);
      for (let i = 0; i < usages.length; i++) {
        let ok = false;
        for (let j = 0; j < ops.length; j++) if (ops[j] === usages[i]) ok = true;
        if (!ok) throw fail('DataError', 'key_ops does not allow ' + usages[i]);
      }
    }
    if (jwk.use !== undefined && usages.length > 0) {
      const sig = name === 'HMAC' || SIGN === USAGES[name];
      if (toStr(jwk.use) !== (sig ? 'sig' : 'enc')) throw fail('DataError', 'the JWK use does not fit');
    }
    if (jwk.alg !== undefined && name !== 'ECDH' && name !== 'X25519' && name !== 'PBKDF2' && name !== 'HKDF') {
      const a = toStr(jwk.alg);
      const bits = out.k !== undefined ? (out.k.length * 6) & ~7 : 0;
      const want = jwkAlg(name, p, bits);
      if (!(a === want || (name === 'Ed25519' && a === 'EdDSA'))) throw fail('DataError', 'the JWK alg ' + a + ' does not fit ' + name);
    }
    return out;
  }

  // ---- the operations, each run inside a Promise
  function importKey(format, keyData, algorithm, extractable, keyUsages) {
    format = toStr(format);
    const n = normalize(algorithm);
    const p = keyParams(n, false);
    const name = n.name;
    if (!USAGES[name]) throw fail('NotSupportedError', name + ' keys cannot be imported');
    extractable = !!extractable;
    const usages = usagesParam(keyUsages);
    const req = { __proto__: null, op: 'import', jwk: '', alg: name, hash: p.hash, curve: p.curve, format, length: p.length };
    let segs = [];
    if (format === 'jwk') req.jwk = jsonStringify(checkJWK(keyData, name, p, usages, extractable));
    else if (format === 'raw' || format === 'spki' || format === 'pkcs8') segs = [bytesParam(keyData, 'keyData')];
    else throw new TypeErrorCtor('unknown key format ' + format);
    if ((name === 'PBKDF2' || name === 'HKDF') && (format !== 'raw' || extractable)) {
      throw fail(format !== 'raw' ? 'NotSupportedError' : 'SyntaxError', name + ' keys are imported raw and not extractable');
    }
    const res = call(req, segs), r = res.r;
    const type = r.type;
    const allowed = USAGES[name];
    checkUsages(usages, type === 'public' ? allowed[1] : allowed[0]);
    if (type !== 'public' && usages.length === 0) throw fail('SyntaxError', 'a ' + type + ' key needs at least one usage');
    return newKey(type, extractable, keyAlgorithm(name, p, r), usages, bytesOf(res.b0));
  }

  function exportKey(format, key) {
    format = toStr(format);
    const k = st(key);
    if (!k.extractable) throw fail('InvalidAccessError', 'the key is not extractable');
    const alg = k.algorithm;
    const res = call({ __proto__: null, op: 'export', alg: alg.name, type: k.type, format }, [k.material]);
    if (format !== 'jwk') return res.b0;
    const jwk = res.r.jwk;
    const a = jwkAlg(alg.name, { __proto__: null, hash: alg.hash ? alg.hash.name : '', curve: alg.namedCurve }, alg.length);
    if (a !== undefined) prop(jwk, 'alg', a);
    prop(jwk, 'key_ops', copy(k.usages));
    prop(jwk, 'ext', k.extractable);
    return jwk;
  }

  function generateKey(algorithm, extractable, keyUsages) {
    const n = normalize(algorithm);
    const name = n.name;
    const p = keyParams(n, true);
    if (!USAGES[name]) throw fail('NotSupportedError', name + ' keys cannot be generated');
    extractable = !!extractable;
    const usages = usagesParam(keyUsages);
    const allowed = USAGES[name];
    checkUsages(usages, allowed.length === 1 ? allowed[0] : allowed[2]);
    const res = call({ __proto__: null, op: 'generate', alg: name, hash: p.hash, curve: p.curve, length: p.length }, []);
    const algo = keyAlgorithm(name, p, res.r);
    if (SECRET[name]) {
      if (usages.length === 0) throw fail('SyntaxError', 'a secret key needs at least one usage');
      return newKey('secret', extractable, algo, usages, bytesOf(res.b0));
    }
    const privUsages = only(usages, allowed[0]);
    if (privUsages.length === 0) throw fail('SyntaxError', 'the private key needs at least one usage');
    return {
      privateKey: newKey('private', extractable, algo, privUsages, bytesOf(res.b0)),
      publicKey: newKey('public', true, algo, only(usages, allowed[1]), bytesOf(res.b1)),
    };
  }

  // useKey checks that key may do usage with the algorithm name.
  function useKey(key, name, usage) {
    const k = st(key);
    if (k.algorithm.name !== name) throw fail('InvalidAccessError', 'the key is for ' + k.algorithm.name + ', not ' + name);
    const u = k.usages;
    for (let i = 0; i < u.length; i++) if (u[i] === usage) return k;
    throw fail('InvalidAccessError', 'the key does not allow ' + usage);
  }

  function signParams(n, k) {
    const { alg, name } = n;
    const req = { __proto__: null, op: '', alg: name, hash: k.algorithm.hash ? k.algorithm.hash.name : '', saltLength: 0 };
    if (name === 'ECDSA') req.hash = hashParam(alg.hash);
    if (name === 'RSA-PSS') {
      req.saltLength = +alg.saltLength;
      if (!(req.saltLength >= 0)) throw new TypeErrorCtor('RSA-PSS needs a saltLength');
    }
    return req;
  }
  function sign(algorithm, key, data) {
    const n = normalize(algorithm);
    const d = bytesParam(data, 'data');
    const req = signParams(n, useKey(key, n.name, 'sign'));
    req.op = 'sign';
    return call(req, [keyData(key), d]).b0;
  }
  function verify(algorithm, key, signature, data) {
    const n = normalize(algorithm);
    const s = bytesParam(signature, 'signature'), d = bytesParam(data, 'data');
    const req = signParams(n, useKey(key, n.name, 'verify'));
    req.op = 'verify';
    return call(req, [keyData(key), s, d]).r.ok === true;
  }

  function crypt(op, algorithm, key, data, usage = op) {
    const n = normalize(algorithm);
    const { alg, name } = n;
    const d = bytesParam(data, 'data');
    const k = useKey(key, name, usage);
    const req = { __proto__: null, op, alg: name, tagLength: 0, length: 0, hash: '' };
    let segs;
    if (name === 'AES-GCM') {
      req.tagLength = alg.tagLength === undefined ? 128 : +alg.tagLength;
      if (!(req.tagLength === 32 || req.tagLength === 64 || (req.tagLength >= 96 && req.tagLength <= 128 && req.tagLength % 8 === 0))) {
        throw fail('OperationError', 'bad tagLength');
      }
      segs = [keyData(key), bytesParam(alg.iv, 'iv'), alg.additionalData === undefined ? EMPTY : bytesParam(alg.additionalData, 'additionalData'), d];
    } else if (name === 'AES-CBC') {
      segs = [keyData(key), bytesParam(alg.iv, 'iv'), d];
    } else if (name === 'AES-CTR') {
      req.length = +alg.length;
      segs = [keyData(key), bytesParam(alg.counter, 'counter'), d];
    } else if (name === 'RSA-OAEP') {
      req.hash = k.algorithm.hash.name;
      segs = [keyData(key), alg.label === undefined ? EMPTY : bytesParam(alg.label, 'label'), d];
    } else throw fail('NotSupportedError', name + ' cannot ' + op);
    return call(req, segs).b0;
  }

  function deriveBits(algorithm, baseKey, length) {
    const n = normalize(algorithm);
    const { alg, name } = n;
    return derive(alg, name, useKey(baseKey, name, 'deriveBits'), length);
  }
  function derive(alg, name, base, length) {
    const req = { __proto__: null, op: 'derive', alg: name, hash: '', iterations: 0, length: length === undefined || length === null ? -1 : +length };
    let segs;
    if (name === 'PBKDF2' || name === 'HKDF') {
      req.hash = hashParam(alg.hash);
      if (req.length < 0) throw fail('OperationError', 'length is required');
      if (name === 'PBKDF2') {
        req.iterations = +alg.iterations;
        segs = [base.material, bytesParam(alg.salt, 'salt')];
      } else {
        segs = [base.material, bytesParam(alg.salt, 'salt'), bytesParam(alg.info, 'info')];
      }
    } else if (name === 'ECDH' || name === 'X25519') {
      if (!isKey(alg.public)) throw new TypeErrorCtor('the algorithm needs a public CryptoKey');
      const pub = stateOf(alg.public);
      if (pub.type !== 'public' || pub.algorithm.name !== name ||
        (name === 'ECDH' && pub.algorithm.namedCurve !== base.algorithm.namedCurve)) {
        throw fail('InvalidAccessError', 'the public key does not fit the base key');
      }
      segs = [base.material, pub.material];
    } else throw fail('NotSupportedError', name + ' cannot derive');
    return call(req, segs).b0;
  }
  function deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
    const n = normalize(algorithm);
    const base = useKey(baseKey, n.name, 'deriveKey');
    const t = normalize(derivedKeyType);
    let length;
    if (AES[t.name]) {
      length = +t.alg.length;
      if (length !== 128 && length !== 192 && length !== 256) throw fail('OperationError', 'AES length must be 128, 192 or 256');
    } else if (t.name === 'HMAC') {
      length = t.alg.length === undefined ? hashBlockBits(hashParam(t.alg.hash)) : +t.alg.length;
    } else if (t.name === 'HKDF' || t.name === 'PBKDF2') {
      throw fail('NotSupportedError', 'deriveKey to ' + t.name + ' is not supported');
    } else throw fail('NotSupportedError', 'cannot derive a ' + t.name + ' key');
    const bits = derive(n.alg, n.name, base, length);
    return importKey('raw', bits, derivedKeyType, extractable, keyUsages);
  }

  // wrapKey and unwrapKey are exportKey plus encrypt, decrypt plus importKey.
  function wrapKey(format, key, wrappingKey, wrapAlgorithm) {
    let data = exportKey(format, key);
    if (toStr(format) === 'jwk') data = internals.utf8Encode(jsonStringify(data));
    return crypt('encrypt', wrapAlgorithm, wrappingKey, data, 'wrapKey');
  }
  function unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
    let data = crypt('decrypt', unwrapAlgorithm, unwrappingKey, wrappedKey, 'unwrapKey');
    if (toStr(format) === 'jwk') {
      const b = new U8(data);
      try { data = jsonParse(internals.utf8Decode(b, 0, taLength(b))); } catch (_) { throw fail('DataError', 'the unwrapped key is not JSON'); }
    }
    return importKey(format, data, unwrappedKeyAlgorithm, extractable, keyUsages);
  }
  function digest(algorithm, data) {
    const name = normalize(algorithm).name;
    if (!HASHES[name]) throw fail('NotSupportedError', 'unsupported digest ' + name);
    const d = bytesParam(data, 'data');
    const n = taLength(d);
    scratch.reserve(n > 64 ? n : 64);
    scratch.put(d, 0);
    const out = scratch.take(0, nativeDigest(name, n));
    scratch.done();
    return out;
  }

  // promised runs fn at once and settles a Promise with its outcome.
  const promised = (fn) => function () {
    const args = arguments;
    return new PromiseCtor((resolve) => { resolve(apply(fn, undefined, args)); });
  };
  class SubtleCrypto {
    constructor(token) { if (token !== TOKEN) throw new TypeErrorCtor('Illegal constructor'); }
  }
  const methods = { digest, importKey, exportKey, generateKey, sign, verify, deriveBits, deriveKey, wrapKey, unwrapKey,
    encrypt: (a, k, d) => crypt('encrypt', a, k, d), decrypt: (a, k, d) => crypt('decrypt', a, k, d) };
  for (const m of ['digest', 'encrypt', 'decrypt', 'sign', 'verify', 'generateKey', 'deriveKey', 'deriveBits', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey']) {
    const fn = promised(methods[m]);
    defineProperty(fn, 'name', { value: m });
    defineProperty(SubtleCrypto.prototype, m, { value: fn, writable: true, configurable: true });
  }
  defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: 'SubtleCrypto', configurable: true });
  const subtle = new SubtleCrypto(TOKEN);

  // crypto keeps the prelude's getRandomValues and randomUUID and gains subtle.
  // The object is frozen (and has its methods as own properties), so
  // that user code cannot swap them under other code that uses crypto.
  class Crypto {
    constructor(token) { if (token !== TOKEN) throw new TypeErrorCtor('Illegal constructor'); }
  }
  defineProperty(Crypto.prototype, Symbol.toStringTag, { value: 'Crypto', configurable: true });
  const cryptoObj = new Crypto(TOKEN);
  for (const [k, v] of [['getRandomValues', oldCrypto.getRandomValues], ['randomUUID', oldCrypto.randomUUID], ['subtle', subtle]]) {
    defineProperty(cryptoObj, k, { value: v, enumerable: true });
  }
  define('crypto', freeze(cryptoObj));
  define('Crypto', Crypto);
  define('CryptoKey', CryptoKey);
  define('SubtleCrypto', SubtleCrypto);
})
