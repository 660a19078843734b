// crypto.subtle cases for subtle_test.go: the handler gets
// testdata/subtle_node.json (values Node's WebCrypto produced) as payload
// and answers { name: result } for every case; a failure is recorded as
// "FAIL: why".
async (subject, payload) => {
  const s = crypto.subtle;
  const node = payload.json();
  const enc = (t) => new TextEncoder().encode(t);
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const h2b = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
  const b64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const out = {};
  const rejects = async (p) => { try { await p; return 'resolved'; } catch (e) { return e.name; } };

  // digest
  out.sha1 = hex(await s.digest('SHA-1', enc('abc')));
  out.sha256 = hex(await s.digest('SHA-256', enc('abc')));
  out.sha384 = hex(await s.digest({ name: 'sha-384' }, enc('abc').buffer));
  out.sha512 = hex(await s.digest('SHA-512', new DataView(enc('abc').buffer)));
  out.sha256Empty = hex(await s.digest('SHA-256', new Uint8Array(0)));
  out.digestIsPromise = s.digest('SHA-256', new Uint8Array(1)) instanceof Promise;
  out.digestString = await rejects(s.digest('SHA-256', 'abc'));
  out.digestUnknown = await rejects(s.digest('MD5', enc('abc')));
  const big = new Uint8Array(200000).fill(97);
  out.sha256Big = hex(await s.digest('SHA-256', big));

  // HMAC (RFC 4231 test cases 1 and 2)
  const hk1 = await s.importKey('raw', new Uint8Array(20).fill(0x0b), { name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);
  out.hmac1 = hex(await s.sign('HMAC', hk1, enc('Hi There')));
  const hk2 = await s.importKey('raw', enc('Jefe'), { name: 'HMAC', hash: { name: 'SHA-512' } }, false, ['sign']);
  out.hmac2 = hex(await s.sign({ name: 'HMAC' }, hk2, enc('what do ya want for nothing?')));
  out.hmacVerify = await s.verify('HMAC', hk1, h2b(out.hmac1), enc('Hi There'));
  out.hmacVerifyBad = await s.verify('HMAC', hk1, h2b(out.hmac1), enc('Hi there'));
  out.hmacKey = [hk1.type, hk1.extractable, JSON.stringify(hk1.algorithm), hk1.usages.join()];
  out.hmacJwk = await s.exportKey('jwk', hk1);
  out.hmacNoUsage = await rejects(s.verify('HMAC', hk2, new Uint8Array(64), enc('x')));
  out.hmacNotExtractable = await rejects(s.exportKey('raw', hk2));
  const hg = await s.generateKey({ name: 'HMAC', hash: 'SHA-384' }, true, ['sign']);
  out.hmacGenerated = [hg.algorithm.length, (await s.exportKey('raw', hg)).byteLength];
  out.hmacBadUsage = await rejects(s.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['encrypt']));

  // AES-GCM (NIST GCM spec test cases 2 and 4)
  const gk0 = await s.importKey('raw', new Uint8Array(16), 'AES-GCM', true, ['encrypt', 'decrypt']);
  out.gcm2 = hex(await s.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, gk0, new Uint8Array(16)));
  const gk = await s.importKey('raw', h2b('feffe9928665731c6d6a8f9467308308'), 'aes-gcm', false, ['encrypt', 'decrypt']);
  const p4 = h2b('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
  const gcm4 = { name: 'AES-GCM', iv: h2b('cafebabefacedbaddecaf888'), additionalData: h2b('feedfacedeadbeeffeedfacedeadbeefabaddad2') };
  const c4 = await s.encrypt(gcm4, gk, p4);
  out.gcm4 = hex(c4);
  out.gcm4Back = hex(await s.decrypt(gcm4, gk, c4)) === hex(p4);
  const tampered = new Uint8Array(c4); tampered[0] ^= 1;
  out.gcmTampered = await rejects(s.decrypt(gcm4, gk, tampered));
  out.gcmTag96 = (await s.encrypt({ ...gcm4, tagLength: 96 }, gk, p4)).byteLength;
  out.gcmBadKey = await rejects(s.importKey('raw', new Uint8Array(10), 'AES-GCM', false, ['encrypt']));
  out.gcmResultIsBuffer = c4 instanceof ArrayBuffer;

  // AES-CBC and AES-CTR (NIST SP 800-38A F.2.1 and F.5.1, first block)
  const k38 = h2b('2b7e151628aed2a6abf7158809cf4f3c'), p38 = h2b('6bc1bee22e409f96e93d7e117393172a');
  const cbk = await s.importKey('raw', k38, 'AES-CBC', false, ['encrypt', 'decrypt']);
  const cbc = await s.encrypt({ name: 'AES-CBC', iv: h2b('000102030405060708090a0b0c0d0e0f') }, cbk, p38);
  out.cbc = [hex(cbc).slice(0, 32), cbc.byteLength, hex(await s.decrypt({ name: 'AES-CBC', iv: h2b('000102030405060708090a0b0c0d0e0f') }, cbk, cbc))];
  const ctk = await s.importKey('raw', k38, 'AES-CTR', false, ['encrypt', 'decrypt']);
  out.ctr = hex(await s.encrypt({ name: 'AES-CTR', counter: h2b('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'), length: 64 }, ctk, p38));
  out.ctrWrap = hex(await s.encrypt({ name: 'AES-CTR', counter: h2b('000000000000000000000000000000fe'), length: 8 }, ctk, new Uint8Array(64))) === node.ctrWrap;

  // Ed25519 (RFC 8032 test 1)
  const edPriv = await s.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', d: b64u(h2b('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')), x: b64u(h2b('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')) }, 'Ed25519', true, ['sign']);
  const edSig = await s.sign('Ed25519', edPriv, new Uint8Array(0));
  out.ed25519 = hex(edSig);
  const edPub = await s.importKey('raw', h2b('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'), 'Ed25519', true, ['verify']);
  out.ed25519Verify = [await s.verify('Ed25519', edPub, edSig, new Uint8Array(0)), await s.verify('Ed25519', edPub, edSig, new Uint8Array(1))];
  const edRound = await s.importKey('pkcs8', await s.exportKey('pkcs8', edPriv), 'Ed25519', true, ['sign']);
  out.ed25519Pkcs8 = hex(await s.sign('Ed25519', edRound, new Uint8Array(0))) === out.ed25519;
  out.ed25519Jwk = await s.exportKey('jwk', edPub);
  const edGen = await s.generateKey('Ed25519', false, ['sign', 'verify']);
  out.ed25519Gen = [edGen.privateKey.usages.join(), edGen.publicKey.usages.join(), edGen.publicKey.extractable,
    await s.verify('Ed25519', edGen.publicKey, await s.sign('Ed25519', edGen.privateKey, enc('m')), enc('m'))];

  // ECDSA on the three curves, raw r||s signatures
  out.ecdsa = [];
  for (const [crv, hash] of [['P-256', 'SHA-256'], ['P-384', 'SHA-384'], ['P-521', 'SHA-512']]) {
    const kp = await s.generateKey({ name: 'ECDSA', namedCurve: crv }, true, ['sign', 'verify']);
    const sig = await s.sign({ name: 'ECDSA', hash }, kp.privateKey, enc('data'));
    const pub2 = await s.importKey('spki', await s.exportKey('spki', kp.publicKey), { name: 'ECDSA', namedCurve: crv }, true, ['verify']);
    const pub3 = await s.importKey('raw', await s.exportKey('raw', kp.publicKey), { name: 'ECDSA', namedCurve: crv }, true, ['verify']);
    const priv2 = await s.importKey('jwk', await s.exportKey('jwk', kp.privateKey), { name: 'ECDSA', namedCurve: crv }, true, ['sign']);
    const sig2 = await s.sign({ name: 'ECDSA', hash }, priv2, enc('data'));
    out.ecdsa.push([crv, sig.byteLength, await s.verify({ name: 'ECDSA', hash }, pub2, sig, enc('data')),
      await s.verify({ name: 'ECDSA', hash }, pub3, sig2, enc('data')), await s.verify({ name: 'ECDSA', hash }, pub3, sig, enc('date')),
      hex(await s.exportKey('pkcs8', priv2)) === hex(await s.exportKey('pkcs8', kp.privateKey)), kp.privateKey.algorithm.namedCurve]);
  }
  const nodeEc = await s.importKey('jwk', node.ecJwk, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  out.ecdsaNode = await s.verify({ name: 'ECDSA', hash: 'SHA-256' }, nodeEc, h2b(node.ecSig), enc('hello'));
  out.ecdsaWrongCurve = await rejects(s.importKey('jwk', node.ecJwk, { name: 'ECDSA', namedCurve: 'P-384' }, true, ['verify']));

  // RSA: one generated key used for PKCS #1 v1.5, PSS and OAEP
  const rk = await s.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  out.rsaAlg = [rk.publicKey.algorithm.modulusLength, Array.from(rk.publicKey.algorithm.publicExponent).join(), rk.publicKey.algorithm.hash.name];
  const rsig = await s.sign('RSASSA-PKCS1-v1_5', rk.privateKey, enc('m'));
  out.rsaPkcs1 = [rsig.byteLength, await s.verify('RSASSA-PKCS1-v1_5', rk.publicKey, rsig, enc('m')), await s.verify('RSASSA-PKCS1-v1_5', rk.publicKey, rsig, enc('n'))];
  const pkcs8 = await s.exportKey('pkcs8', rk.privateKey), spki = await s.exportKey('spki', rk.publicKey);
  const pssPriv = await s.importKey('pkcs8', pkcs8, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
  const pssPub = await s.importKey('spki', spki, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
  const psig = await s.sign({ name: 'RSA-PSS', saltLength: 32 }, pssPriv, enc('m'));
  out.rsaPss = [await s.verify({ name: 'RSA-PSS', saltLength: 32 }, pssPub, psig, enc('m')), await s.verify({ name: 'RSA-PSS', saltLength: 32 }, pssPub, psig, enc('x'))];
  const nodePss = await s.importKey('spki', h2b(node.rsaSpki), { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
  out.rsaPssNode = await s.verify({ name: 'RSA-PSS', saltLength: 32 }, nodePss, h2b(node.pssSig), enc('hello'));
  const oaepPub = await s.importKey('jwk', { ...(await s.exportKey('jwk', rk.publicKey)), key_ops: undefined, alg: undefined }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  const privJwk = await s.exportKey('jwk', rk.privateKey);
  out.rsaJwkFields = Object.keys(privJwk).sort().join();
  const oaepPriv = await s.importKey('jwk', { ...privJwk, alg: 'RSA-OAEP-256', key_ops: ['decrypt'] }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']);
  const oc = await s.encrypt({ name: 'RSA-OAEP', label: enc('L') }, oaepPub, enc('secret'));
  out.rsaOaep = [oc.byteLength, new TextDecoder().decode(await s.decrypt({ name: 'RSA-OAEP', label: enc('L') }, oaepPriv, oc)),
    await rejects(s.decrypt({ name: 'RSA-OAEP' }, oaepPriv, oc))];
  out.rsaWrongJwkAlg = await rejects(s.importKey('jwk', { ...privJwk }, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['decrypt']));
  out.rsaUsageForPublic = await rejects(s.importKey('spki', spki, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']));

  // PBKDF2 (RFC 6070), HKDF (RFC 5869 test 1), ECDH and X25519 (RFC 7748)
  const pw = await s.importKey('raw', enc('password'), 'PBKDF2', false, ['deriveBits']);
  out.pbkdf2 = [hex(await s.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: enc('salt'), iterations: 1 }, pw, 160)),
    hex(await s.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt: enc('salt'), iterations: 4096 }, pw, 160))];
  out.pbkdf2Extractable = await rejects(s.importKey('raw', enc('password'), 'PBKDF2', true, ['deriveBits']));
  const ikm = await s.importKey('raw', new Uint8Array(22).fill(0x0b), 'HKDF', false, ['deriveBits', 'deriveKey']);
  out.hkdf = hex(await s.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: h2b('000102030405060708090a0b0c'), info: h2b('f0f1f2f3f4f5f6f7f8f9') }, ikm, 336));
  const hk = await s.importKey('raw', enc('secret'), 'HKDF', false, ['deriveKey']);
  const dk = await s.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(4), info: new Uint8Array(2) }, hk, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  out.deriveKeyHmac = hex(await s.exportKey('raw', dk)) === node.derivedHmac;
  const a = await s.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits']);
  const b = await s.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits']);
  out.ecdh = hex(await s.deriveBits({ name: 'ECDH', public: b.publicKey }, a.privateKey, 384)) === hex(await s.deriveBits({ name: 'ECDH', public: a.publicKey }, b.privateKey, 384));
  const xa = await s.importKey('jwk', { kty: 'OKP', crv: 'X25519', d: b64u(h2b('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')), x: b64u(h2b('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')) }, 'X25519', false, ['deriveBits']);
  const xb = await s.importKey('raw', h2b('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'), 'X25519', false, []);
  out.x25519 = hex(await s.deriveBits({ name: 'X25519', public: xb }, xa, 256)) === node.x25519;

  // wrapKey and unwrapKey
  const wk = await s.generateKey({ name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey']);
  const iv = new Uint8Array(12);
  const wrapped = await s.wrapKey('jwk', hk1, wk, { name: 'AES-GCM', iv });
  const unwrapped = await s.unwrapKey('jwk', wrapped, wk, { name: 'AES-GCM', iv }, { name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
  out.wrap = hex(await s.sign('HMAC', unwrapped, enc('Hi There'))) === out.hmac1;
  out.wrapNeedsUsage = await rejects(s.encrypt({ name: 'AES-GCM', iv }, wk, enc('x')));

  // CryptoKey and SubtleCrypto
  out.classes = [await rejects((async () => new CryptoKey())()), Object.prototype.toString.call(hk1), typeof crypto.getRandomValues,
    typeof crypto.randomUUID, Object.isFrozen(crypto), crypto.subtle instanceof SubtleCrypto, hk1 instanceof CryptoKey];
  hk1.algorithm.name = 'AES-GCM'; hk1.usages.length = 0;
  out.keyStateKept = await s.verify('HMAC', hk1, h2b(out.hmac1), enc('Hi There'));
  out.unsupported = [await rejects(s.generateKey({ name: 'AES-KW', length: 128 }, true, ['wrapKey'])), await rejects(s.sign('RSA-OAEP', hk1, enc('x'))),
    await rejects(s.generateKey({ name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([3]), hash: 'SHA-256' }, true, ['sign']))];
  return out;
}
