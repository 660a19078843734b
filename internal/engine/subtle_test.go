package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

// TestSubtle runs testdata/subtle.js: the standard vectors (SHA, RFC 4231
// HMAC, NIST AES-GCM/CBC/CTR, RFC 8032 Ed25519, RFC 6070 PBKDF2, RFC 5869
// HKDF, RFC 7748 X25519), sign/verify and import/export round trips, a
// signature, a derived key and two ciphertexts Node's WebCrypto made
// (testdata/subtle_node.json), and the standard's errors.
func TestSubtle(t *testing.T) {
	src, err := os.ReadFile("testdata/subtle.js")
	if err != nil {
		t.Fatal(err)
	}
	vectors, err := os.ReadFile("testdata/subtle_node.json")
	if err != nil {
		t.Fatal(err)
	}
	iso := newIsolate(t, string(src), Options{})
	res := invoke(iso, string(vectors))
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	want := map[string]string{
		"sha1":               `"a9993e364706816aba3e25717850c26c9cd0d89d"`,
		"sha256":             `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`,
		"sha384":             `"cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"`,
		"sha512":             `"ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"`,
		"sha256Empty":        `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`,
		"digestIsPromise":    `true`,
		"digestString":       `"TypeError"`,
		"digestUnknown":      `"NotSupportedError"`,
		"sha256Big":          `"` + sha256Hex(200000) + `"`,
		"hmac1":              `"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"`,
		"hmac2":              `"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"`,
		"hmacVerify":         `true`,
		"hmacVerifyBad":      `false`,
		"hmacKey":            `["secret",true,"{\"name\":\"HMAC\",\"hash\":{\"name\":\"SHA-256\"},\"length\":160}","sign,verify"]`,
		"hmacJwk":            `{"alg":"HS256","ext":true,"k":"CwsLCwsLCwsLCwsLCwsLCwsLCws","key_ops":["sign","verify"],"kty":"oct"}`,
		"hmacNoUsage":        `"InvalidAccessError"`,
		"hmacNotExtractable": `"InvalidAccessError"`,
		"hmacGenerated":      `[1024,128]`,
		"hmacBadUsage":       `"SyntaxError"`,
		"gcm2":               `"0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"`,
		"gcm4":               `"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47"`,
		"gcm4Back":           `true`,
		"gcmTampered":        `"OperationError"`,
		"gcmTag96":           `72`,
		"gcmBadKey":          `"DataError"`,
		"gcmResultIsBuffer":  `true`,
		"cbc":                `["7649abac8119b246cee98e9b12e9197d",32,"6bc1bee22e409f96e93d7e117393172a"]`,
		"ctr":                `"874d6191b620e3261bef6864990db6ce"`,
		"ctrWrap":            `true`,
		"ed25519":            `"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"`,
		"ed25519Verify":      `[true,false]`,
		"ed25519Pkcs8":       `true`,
		"ed25519Jwk":         `{"alg":"Ed25519","crv":"Ed25519","ext":true,"key_ops":["verify"],"kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		"ed25519Gen":         `["sign","verify",true,true]`,
		"ecdsa":              `[["P-256",64,true,true,false,true,"P-256"],["P-384",96,true,true,false,true,"P-384"],["P-521",132,true,true,false,true,"P-521"]]`,
		"ecdsaNode":          `true`,
		"ecdsaWrongCurve":    `"DataError"`,
		"rsaAlg":             `[2048,"1,0,1","SHA-256"]`,
		"rsaPkcs1":           `[256,true,false]`,
		"rsaPss":             `[true,false]`,
		"rsaPssNode":         `true`,
		"rsaJwkFields":       `"alg,d,dp,dq,e,ext,key_ops,kty,n,p,q,qi"`,
		"rsaOaep":            `[256,"secret","OperationError"]`,
		"rsaWrongJwkAlg":     `"DataError"`,
		"rsaUsageForPublic":  `"SyntaxError"`,
		"pbkdf2":             `["0c60c80f961f0e71f3a9b524af6012062fe037a6","4b007901b765489abead49d926f721d065a429c1"]`,
		"pbkdf2Extractable":  `"SyntaxError"`,
		"hkdf":               `"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"`,
		"deriveKeyHmac":      `true`,
		"ecdh":               `true`,
		"x25519":             `true`,
		"wrap":               `true`,
		"wrapNeedsUsage":     `"InvalidAccessError"`,
		"classes":            `["TypeError","[object CryptoKey]","function","function",true,true,true]`,
		"keyStateKept":       `true`,
		"unsupported":        `["NotSupportedError","InvalidAccessError","OperationError"]`,
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		if string(g) != w {
			t.Errorf("%s: got %s, want %s", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unchecked result", k)
		}
	}
}

func sha256Hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestScratchShrinks: a large digest grows the extensions' scratch, which
// is given back at once.
func TestScratchShrinks(t *testing.T) {
	iso := newIsolate(t, `async () => new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(16 << 20)))[0]`, Options{})
	res := invoke(iso, "")
	if res.Err != nil || string(res.Body) != "8" {
		t.Fatalf("%v %s %q", res.Err, res.Detail, res.Body)
	}
	if n := len(iso.web.buf); n > 1<<20 {
		t.Fatalf("scratch still %d bytes", n)
	}
}

// Go's crypto cannot be interrupted: work that could outlive any
// invocation is refused, and a long PBKDF2 returns at the deadline
// instead of when Go is done, leaving the isolate usable.
func TestSubtleBoundsItsWork(t *testing.T) {
	iso := newIsolate(t, `async (s) => {
		const algo = { name: 'RSA-PSS', modulusLength: 8192, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
		if (s === 'rsa') return crypto.subtle.generateKey(algo, false, ['sign']).then(() => 'made', (e) => e.name + ': ' + e.message);
		const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('pw'), 'PBKDF2', false, ['deriveBits']);
		const params = (n) => ({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(8), iterations: n });
		if (s === 'many') return crypto.subtle.deriveBits(params(20_000_000), key, 256).then(() => 'derived', (e) => e.name + ': ' + e.message);
		if (s === 'big') return crypto.subtle.deriveBits(params(1), key, 1 << 30).then(() => 'derived', (e) => e.name + ': ' + e.message);
		if (s === 'long') return crypto.subtle.deriveBits(params(10_000_000), key, 256).then(() => 'derived', (e) => e.name);
		return new Uint8Array(await crypto.subtle.deriveBits(params(1000), key, 256)).length;
	}`, Options{})
	call := func(subject string, timeout time.Duration) Result {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return iso.Invoke(ctx, &Invocation{Subject: subject})
	}
	if res := call("rsa", time.Minute); res.Err != nil || string(res.Body) != "OperationError: modulusLength must be a multiple of 8 from 1024 to 4096" {
		t.Errorf("an 8192-bit key: %s %v", res.Body, res.Err)
	}
	if res := call("many", time.Minute); res.Err != nil || string(res.Body) != "OperationError: iterations must be from 1 to 10000000" {
		t.Errorf("20 million iterations: %s %v", res.Body, res.Err)
	}
	if res := call("big", time.Minute); res.Err != nil || string(res.Body) != "OperationError: length must be a multiple of 8 up to 524288" {
		t.Errorf("a 128 MiB key: %s %v", res.Body, res.Err)
	}
	// About 2 s of work against a 50 ms timeout.
	if res := call("long", 50*time.Millisecond); res.Err == nil || res.Err.Code != api.CodeTimeout {
		t.Errorf("a PBKDF2 past the deadline: %s %v", res.Body, res.Err)
	}
	if res := call("short", time.Minute); res.Err != nil || string(res.Body) != "32" {
		t.Errorf("after the deadline: %s %v %s", res.Body, res.Err, res.Detail)
	}
}
