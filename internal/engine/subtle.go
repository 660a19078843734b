package engine

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers crypto.SHA1
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	v8 "github.com/tommie/v8go"
)

// crypto.subtle's work (web/16_crypto.js), done by Go's crypto. JS checks
// the arguments, usages and extractability and keeps each key's material:
// the raw bytes of a secret key, PKCS #8 DER of a private key, SPKI DER of
// a public one. Each call sends that material and the data through the
// scratch (scratch.go), one segment after another from data offset 0, and
// gets its results back the same way.

// subtleReq is one operation; Segs are the lengths of its input segments.
type subtleReq struct {
	Op         string `json:"op"`
	Alg        string `json:"alg"`
	Hash       string `json:"hash"`
	Curve      string `json:"curve"`
	Format     string `json:"format"`
	Type       string `json:"type"`
	Length     int    `json:"length"` // bits; -1 when not given
	JWK        string `json:"jwk"`
	SaltLength int    `json:"saltLength"`
	TagLength  int    `json:"tagLength"`
	Iterations int    `json:"iterations"`
	Segs       []int  `json:"-"` // the native's further arguments
}

// subtleResp is the answer: Out are the lengths of the result segments.
type subtleResp struct {
	// Every field is always there: JS reads the answer's own properties
	// only, never ones user code may have put on Object.prototype.
	Out     []int             `json:"out"`
	Grow    int               `json:"grow"`
	OK      bool              `json:"ok"`
	JWK     map[string]string `json:"jwk"`
	Type    string            `json:"type"`
	Curve   string            `json:"curve"`
	Bits    int               `json:"bits"` // AES/HMAC key length, RSA modulus length
	PubExp  int               `json:"publicExponent"`
	Error   string            `json:"error"` // a DOMException name
	Message string            `json:"message"`
}

// domError is an error JS throws as a DOMException of that name.
type domError struct{ name, msg string }

func (e *domError) Error() string { return e.msg }

func dataErr(format string, a ...any) error { return &domError{"DataError", fmt.Sprintf(format, a...)} }
func opErr(format string, a ...any) error {
	return &domError{"OperationError", fmt.Sprintf(format, a...)}
}
func notSupported(format string, a ...any) error {
	return &domError{"NotSupportedError", fmt.Sprintf(format, a...)}
}

func hashOf(name string) (crypto.Hash, error) {
	switch name {
	case "SHA-1":
		return crypto.SHA1, nil
	case "SHA-256":
		return crypto.SHA256, nil
	case "SHA-384":
		return crypto.SHA384, nil
	case "SHA-512":
		return crypto.SHA512, nil
	}
	return 0, notSupported("unsupported hash %q", name)
}

func init() {
	// subtleDigest(hash, n) hashes n scratch bytes and writes the digest
	// in their place; it returns the digest's length.
	registerNative("subtleDigest", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		h, err := hashOf(strArg(args, 0))
		if err != nil {
			return nil, err
		}
		in, err := i.web.in(0, intArg(args, 1))
		if err != nil {
			return nil, err
		}
		hh := h.New()
		hh.Write(in)
		sum := hh.Sum(i.web.data()[:0])
		return v8.NewValue(i.iso, int32(len(sum)))
	})
	// subtle(request JSON, segment lengths...) -> response JSON; see
	// subtleReq and subtleResp.
	registerNative("subtle", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		var req subtleReq
		if err := json.Unmarshal([]byte(strArg(args, 0)), &req); err != nil {
			return nil, err
		}
		for k := 1; k < len(args); k++ {
			req.Segs = append(req.Segs, intArg(args, k))
		}
		resp := i.subtle(&req)
		b, err := json.Marshal(resp)
		if err != nil {
			return nil, err
		}
		return v8.NewValue(i.iso, string(b))
	})
}

func (i *Isolate) subtle(req *subtleReq) *subtleResp {
	var segs [][]byte
	off := 0
	for _, n := range req.Segs {
		b, err := i.web.in(off, n)
		if err != nil {
			return &subtleResp{Error: "OperationError", Message: "bad input"}
		}
		// Copied: results are written over the inputs.
		segs = append(segs, append([]byte(nil), b...))
		off += n
	}
	resp, outs, err := i.runSubtleInTime(req, segs)
	if err != nil {
		var de *domError
		if errors.As(err, &de) {
			return &subtleResp{Error: de.name, Message: de.msg}
		}
		return &subtleResp{Error: "OperationError", Message: err.Error()}
	}
	total := 0
	for _, o := range outs {
		total += len(o)
	}
	if total > len(i.web.data()) {
		return &subtleResp{Grow: total}
	}
	off = 0
	resp.Out = make([]int, 0, len(outs))
	for _, o := range outs {
		copy(i.web.data()[off:], o)
		resp.Out = append(resp.Out, len(o))
		off += len(o)
	}
	return resp
}

func seg(segs [][]byte, k int) []byte {
	if k < len(segs) {
		return segs[k]
	}
	return nil
}

// Bounds on the work one crypto.subtle call may ask for. Go's crypto cannot
// be interrupted, and V8's watchdog stops JavaScript, not Go: these keep a
// call that outlives its invocation short.
const (
	maxRSAGenerateBits  = 4096
	maxPBKDF2Iterations = 10_000_000 // about 2 s of SHA-256 here
	// maxDeriveBits bounds what PBKDF2 and HKDF make: Go allocates the
	// whole output outside V8's heap limit. Keys need a few hundred bits.
	maxDeriveBits = 64 << 13 // 64 KiB
)

// heavy says whether an operation may take long: RSA key generation and
// PBKDF2. The others take milliseconds at most.
func heavy(req *subtleReq) bool {
	return (req.Op == "generate" && isRSA(req.Alg)) || (req.Op == "derive" && req.Alg == "PBKDF2")
}

// runSubtleInTime runs a heavy operation on a goroutine of its own, so that
// the call returns at the invocation's deadline instead of when Go is done
// (the watchdog then ends the JavaScript). Such an operation left running
// is waited for before the isolate starts another, so each isolate has at
// most one running past its invocation.
func (i *Isolate) runSubtleInTime(req *subtleReq, segs [][]byte) (*subtleResp, [][]byte, error) {
	if !heavy(req) {
		return runSubtle(req, segs)
	}
	ctx := i.callCtx
	if ctx == nil {
		ctx = context.Background()
	}
	timedOut := &domError{"OperationError", "the invocation ran out of time"}
	if i.cryptoLeft != nil {
		select {
		case <-i.cryptoLeft:
			i.cryptoLeft = nil
		case <-ctx.Done():
			return nil, nil, timedOut
		}
	}
	type answer struct {
		resp *subtleResp
		outs [][]byte
		err  error
	}
	done := make(chan answer, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// No V8 frame is below this goroutine to turn a panic into an
		// exception: a bug here must not take the process down.
		defer func() {
			if r := recover(); r != nil {
				done <- answer{err: fmt.Errorf("crypto.subtle failed: %v", r)}
			}
		}()
		resp, outs, err := runSubtle(req, segs)
		done <- answer{resp, outs, err}
	}()
	select {
	case a := <-done:
		return a.resp, a.outs, a.err
	case <-ctx.Done():
		i.cryptoLeft = finished
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The invocation is over: its JavaScript must not go on
			// and answer after the deadline, whichever timer fires first.
			i.watchdog.expire()
		}
		return nil, nil, timedOut
	}
}

func runSubtle(req *subtleReq, segs [][]byte) (*subtleResp, [][]byte, error) {
	switch req.Op {
	case "generate":
		return generateKey(req)
	case "import":
		return importKey(req, seg(segs, 0))
	case "export":
		return exportKey(req, seg(segs, 0))
	case "sign":
		sig, err := sign(req, seg(segs, 0), seg(segs, 1))
		return &subtleResp{}, [][]byte{sig}, err
	case "verify":
		ok, err := verify(req, seg(segs, 0), seg(segs, 1), seg(segs, 2))
		return &subtleResp{OK: ok}, nil, err
	case "encrypt", "decrypt":
		out, err := cipherOp(req, segs)
		return &subtleResp{}, [][]byte{out}, err
	case "derive":
		out, err := deriveBits(req, segs)
		return &subtleResp{}, [][]byte{out}, err
	}
	return nil, nil, notSupported("unknown operation %q", req.Op)
}

// ---- keys

func ecCurve(name string) (ecdh.Curve, int, error) {
	switch name {
	case "P-256":
		return ecdh.P256(), 32, nil
	case "P-384":
		return ecdh.P384(), 48, nil
	case "P-521":
		return ecdh.P521(), 66, nil
	}
	return nil, 0, notSupported("unsupported curve %q", name)
}

func curveName(c ecdh.Curve) string {
	switch c {
	case ecdh.P256():
		return "P-256"
	case ecdh.P384():
		return "P-384"
	case ecdh.P521():
		return "P-521"
	}
	return ""
}

func isEC(alg string) bool { return alg == "ECDSA" || alg == "ECDH" }
func isRSA(alg string) bool {
	return alg == "RSASSA-PKCS1-v1_5" || alg == "RSA-PSS" || alg == "RSA-OAEP"
}

func generateKey(req *subtleReq) (*subtleResp, [][]byte, error) {
	switch {
	case req.Alg == "HMAC" || req.Alg == "AES-GCM" || req.Alg == "AES-CBC" || req.Alg == "AES-CTR" || req.Alg == "AES-KW":
		if req.Length <= 0 || req.Length%8 != 0 {
			return nil, nil, opErr("key length must be a positive multiple of 8")
		}
		k := make([]byte, req.Length/8)
		rand.Read(k)
		return &subtleResp{Bits: req.Length}, [][]byte{k}, nil
	case isEC(req.Alg):
		c, _, err := ecCurve(req.Curve)
		if err != nil {
			return nil, nil, err
		}
		k, err := c.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return pair(k, k.PublicKey(), &subtleResp{Curve: req.Curve})
	case req.Alg == "Ed25519":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return pair(priv, pub, &subtleResp{})
	case req.Alg == "X25519":
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return pair(k, k.PublicKey(), &subtleResp{})
	case isRSA(req.Alg):
		// Go takes about 0.5 s for a 4096-bit key here but some 30 s
		// for an 8192-bit one, longer than any invocation may run; keys
		// that large can still be imported.
		if req.Length < 1024 || req.Length > maxRSAGenerateBits || req.Length%8 != 0 {
			return nil, nil, opErr("modulusLength must be a multiple of 8 from 1024 to %d", maxRSAGenerateBits)
		}
		k, err := rsa.GenerateKey(rand.Reader, req.Length)
		if err != nil {
			return nil, nil, opErr("%v", err)
		}
		return pair(k, &k.PublicKey, rsaMeta(&k.PublicKey))
	}
	return nil, nil, notSupported("cannot generate %s keys", req.Alg)
}

func rsaMeta(k *rsa.PublicKey) *subtleResp {
	return &subtleResp{Bits: k.N.BitLen(), PubExp: k.E}
}

// pair answers a generated key pair as PKCS #8 and SPKI.
func pair(priv, pub any, resp *subtleResp) (*subtleResp, [][]byte, error) {
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return resp, [][]byte{p8, spki}, nil
}

// parseKey reads stored or imported DER material of the given type.
func parseKey(typ string, der []byte) (any, error) {
	if typ == "private" {
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, dataErr("not a PKCS #8 private key: %v", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, dataErr("not an SPKI public key: %v", err)
	}
	return k, nil
}

// checkKind makes sure the parsed key k fits the algorithm (and curve) and
// answers the key's metadata.
func checkKind(req *subtleReq, k any) (*subtleResp, error) {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return checkKind(req, &k.PublicKey)
	case *ecdsa.PublicKey:
		if !isEC(req.Alg) || k.Curve.Params().Name != req.Curve {
			return nil, dataErr("the key is not a %s %s key", req.Curve, req.Alg)
		}
		return &subtleResp{Curve: req.Curve}, nil
	case *ecdh.PrivateKey:
		return checkKind(req, k.PublicKey())
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() && req.Alg == "X25519" {
			return &subtleResp{}, nil
		}
		if isEC(req.Alg) && curveName(k.Curve()) == req.Curve {
			return &subtleResp{Curve: req.Curve}, nil
		}
	case ed25519.PrivateKey, ed25519.PublicKey:
		if req.Alg == "Ed25519" {
			return &subtleResp{}, nil
		}
	case *rsa.PrivateKey:
		return checkKind(req, &k.PublicKey)
	case *rsa.PublicKey:
		if isRSA(req.Alg) {
			return rsaMeta(k), nil
		}
	}
	return nil, dataErr("the key is not a %s key", req.Alg)
}

func importKey(req *subtleReq, data []byte) (*subtleResp, [][]byte, error) {
	secret := req.Alg == "HMAC" || req.Alg == "PBKDF2" || req.Alg == "HKDF" || req.Alg[:min(4, len(req.Alg))] == "AES-"
	switch req.Format {
	case "raw":
		if secret {
			return importSecret(req, data)
		}
		return importRawPublic(req, data)
	case "jwk":
		return importJWK(req, secret)
	case "spki", "pkcs8":
		if secret {
			return nil, nil, notSupported("%s keys cannot be imported as %s", req.Alg, req.Format)
		}
		typ := "public"
		if req.Format == "pkcs8" {
			typ = "private"
		}
		k, err := parseKey(typ, data)
		if err != nil {
			return nil, nil, err
		}
		return keyOut(req, typ, k)
	}
	return nil, nil, notSupported("unsupported key format %q", req.Format)
}

// keyOut answers a parsed key in the stored form: PKCS #8 or SPKI.
func keyOut(req *subtleReq, typ string, k any) (*subtleResp, [][]byte, error) {
	resp, err := checkKind(req, k)
	if err != nil {
		return nil, nil, err
	}
	resp.Type = typ
	var der []byte
	if typ == "private" {
		der, err = x509.MarshalPKCS8PrivateKey(k)
	} else {
		der, err = x509.MarshalPKIXPublicKey(k)
	}
	if err != nil {
		return nil, nil, dataErr("%v", err)
	}
	return resp, [][]byte{der}, nil
}

func importSecret(req *subtleReq, k []byte) (*subtleResp, [][]byte, error) {
	bits := 8 * len(k)
	switch req.Alg {
	case "HMAC":
		if bits == 0 {
			return nil, nil, dataErr("an HMAC key must not be empty")
		}
		if req.Length >= 0 {
			if req.Length > bits || req.Length <= bits-8 {
				return nil, nil, dataErr("length does not match the key data")
			}
			bits = req.Length
		}
	case "PBKDF2", "HKDF":
	default:
		if bits != 128 && bits != 192 && bits != 256 {
			return nil, nil, dataErr("an AES key has 128, 192 or 256 bits, not %d", bits)
		}
	}
	return &subtleResp{Type: "secret", Bits: bits}, [][]byte{k}, nil
}

func importRawPublic(req *subtleReq, data []byte) (*subtleResp, [][]byte, error) {
	var k any
	var err error
	switch {
	case isEC(req.Alg):
		c, _, cerr := ecCurve(req.Curve)
		if cerr != nil {
			return nil, nil, cerr
		}
		k, err = c.NewPublicKey(data)
	case req.Alg == "X25519":
		k, err = ecdh.X25519().NewPublicKey(data)
	case req.Alg == "Ed25519":
		if len(data) != ed25519.PublicKeySize {
			err = errors.New("an Ed25519 public key has 32 bytes")
		}
		k = ed25519.PublicKey(data)
	default:
		return nil, nil, notSupported("%s keys cannot be imported as raw", req.Alg)
	}
	if err != nil {
		return nil, nil, dataErr("%v", err)
	}
	return keyOut(req, "public", k)
}

// ---- JWK

type jwk struct {
	Kty, Crv, K, X, Y, D, N, E, P, Q, DP, DQ, QI string
}

func b64(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, dataErr("bad base64url in JWK")
	}
	return b, nil
}

func enc64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func importJWK(req *subtleReq, secret bool) (*subtleResp, [][]byte, error) {
	var j jwk
	if err := json.Unmarshal([]byte(req.JWK), &j); err != nil {
		return nil, nil, dataErr("bad JWK")
	}
	if secret {
		if j.Kty != "oct" {
			return nil, nil, dataErr("kty must be oct")
		}
		k, err := b64(j.K)
		if err != nil {
			return nil, nil, err
		}
		return importSecret(req, k)
	}
	switch {
	case isEC(req.Alg):
		if j.Kty != "EC" || j.Crv != req.Curve {
			return nil, nil, dataErr("kty must be EC and crv %s", req.Curve)
		}
		c, size, err := ecCurve(j.Crv)
		if err != nil {
			return nil, nil, err
		}
		x, err := b64(j.X)
		if err != nil {
			return nil, nil, err
		}
		y, err := b64(j.Y)
		if err != nil {
			return nil, nil, err
		}
		if len(x) != size || len(y) != size {
			return nil, nil, dataErr("bad x or y")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := c.NewPublicKey(point)
		if err != nil {
			return nil, nil, dataErr("%v", err)
		}
		if j.D == "" {
			return keyOut(req, "public", pub)
		}
		d, err := b64(j.D)
		if err != nil {
			return nil, nil, err
		}
		priv, err := c.NewPrivateKey(d)
		if err != nil || !priv.PublicKey().Equal(pub) {
			return nil, nil, dataErr("d does not match x and y")
		}
		return keyOut(req, "private", priv)
	case req.Alg == "Ed25519" || req.Alg == "X25519":
		if j.Kty != "OKP" || j.Crv != req.Alg {
			return nil, nil, dataErr("kty must be OKP and crv %s", req.Alg)
		}
		x, err := b64(j.X)
		if err != nil {
			return nil, nil, err
		}
		if j.D == "" {
			return importRawPublic(req, x)
		}
		d, err := b64(j.D)
		if err != nil {
			return nil, nil, err
		}
		var priv any
		var pubOK bool
		if req.Alg == "Ed25519" {
			if len(d) != ed25519.SeedSize {
				return nil, nil, dataErr("bad d")
			}
			k := ed25519.NewKeyFromSeed(d)
			priv, pubOK = k, subtle.ConstantTimeCompare(k.Public().(ed25519.PublicKey), x) == 1
		} else {
			k, err := ecdh.X25519().NewPrivateKey(d)
			if err != nil {
				return nil, nil, dataErr("bad d")
			}
			priv, pubOK = k, subtle.ConstantTimeCompare(k.PublicKey().Bytes(), x) == 1
		}
		if !pubOK {
			return nil, nil, dataErr("d does not match x")
		}
		return keyOut(req, "private", priv)
	case isRSA(req.Alg):
		if j.Kty != "RSA" {
			return nil, nil, dataErr("kty must be RSA")
		}
		n, err := b64(j.N)
		if err != nil {
			return nil, nil, err
		}
		e, err := b64(j.E)
		if err != nil {
			return nil, nil, err
		}
		eb := new(big.Int).SetBytes(e)
		if !eb.IsInt64() || eb.Int64() > 1<<31-1 || eb.Int64() < 3 {
			return nil, nil, dataErr("bad e")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(eb.Int64())}
		if j.D == "" {
			return keyOut(req, "public", pub)
		}
		var nums [6]*big.Int
		for k, s := range []string{j.D, j.P, j.Q, j.DP, j.DQ, j.QI} {
			if s == "" {
				return nil, nil, notSupported("an RSA private JWK needs d, p, q, dp, dq and qi")
			}
			b, err := b64(s)
			if err != nil {
				return nil, nil, err
			}
			nums[k] = new(big.Int).SetBytes(b)
		}
		priv := &rsa.PrivateKey{PublicKey: *pub, D: nums[0], Primes: []*big.Int{nums[1], nums[2]}}
		if err := priv.Validate(); err != nil {
			return nil, nil, dataErr("%v", err)
		}
		priv.Precompute()
		return keyOut(req, "private", priv)
	}
	return nil, nil, notSupported("%s keys cannot be imported as jwk", req.Alg)
}

func exportKey(req *subtleReq, material []byte) (*subtleResp, [][]byte, error) {
	if req.Type == "secret" {
		switch req.Format {
		case "raw":
			return &subtleResp{}, [][]byte{material}, nil
		case "jwk":
			return &subtleResp{JWK: map[string]string{"kty": "oct", "k": enc64(material)}}, nil, nil
		}
		return nil, nil, notSupported("%s keys cannot be exported as %s", req.Alg, req.Format)
	}
	switch {
	case req.Format == "pkcs8" && req.Type == "private", req.Format == "spki" && req.Type == "public":
		return &subtleResp{}, [][]byte{material}, nil
	case req.Format == "raw" && req.Type == "public":
		k, err := parseKey("public", material)
		if err != nil {
			return nil, nil, err
		}
		switch k := k.(type) {
		case *ecdsa.PublicKey:
			ek, err := k.ECDH()
			if err != nil {
				return nil, nil, err
			}
			return &subtleResp{}, [][]byte{ek.Bytes()}, nil
		case *ecdh.PublicKey:
			return &subtleResp{}, [][]byte{k.Bytes()}, nil
		case ed25519.PublicKey:
			return &subtleResp{}, [][]byte{k}, nil
		}
	case req.Format == "jwk":
		k, err := parseKey(req.Type, material)
		if err != nil {
			return nil, nil, err
		}
		j, err := toJWK(k)
		if err != nil {
			return nil, nil, err
		}
		return &subtleResp{JWK: j}, nil, nil
	}
	return nil, nil, &domError{"InvalidAccessError", fmt.Sprintf("a %s %s key cannot be exported as %s", req.Type, req.Alg, req.Format)}
}

func toJWK(k any) (map[string]string, error) {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		ek, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		return toJWK(ek)
	case *ecdsa.PublicKey:
		ek, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		return toJWK(ek)
	case *ecdh.PrivateKey:
		j, err := toJWK(k.PublicKey())
		if err == nil {
			j["d"] = enc64(k.Bytes())
		}
		return j, err
	case *ecdh.PublicKey:
		if k.Curve() == ecdh.X25519() {
			return map[string]string{"kty": "OKP", "crv": "X25519", "x": enc64(k.Bytes())}, nil
		}
		b := k.Bytes()[1:]
		return map[string]string{"kty": "EC", "crv": curveName(k.Curve()), "x": enc64(b[:len(b)/2]), "y": enc64(b[len(b)/2:])}, nil
	case ed25519.PrivateKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc64(k.Public().(ed25519.PublicKey)), "d": enc64(k.Seed())}, nil
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc64(k)}, nil
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return nil, notSupported("multi-prime RSA keys cannot be exported as jwk")
		}
		j, _ := toJWK(&k.PublicKey)
		k.Precompute()
		j["d"], j["p"], j["q"] = enc64(k.D.Bytes()), enc64(k.Primes[0].Bytes()), enc64(k.Primes[1].Bytes())
		j["dp"], j["dq"], j["qi"] = enc64(k.Precomputed.Dp.Bytes()), enc64(k.Precomputed.Dq.Bytes()), enc64(k.Precomputed.Qinv.Bytes())
		return j, nil
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": enc64(k.N.Bytes()), "e": enc64(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return nil, notSupported("cannot export this key as jwk")
}

// ---- sign and verify

func digest(hashName string, data []byte) (crypto.Hash, []byte, error) {
	h, err := hashOf(hashName)
	if err != nil {
		return 0, nil, err
	}
	hh := h.New()
	hh.Write(data)
	return h, hh.Sum(nil), nil
}

func sign(req *subtleReq, material, data []byte) ([]byte, error) {
	switch req.Alg {
	case "HMAC":
		h, err := hashOf(req.Hash)
		if err != nil {
			return nil, err
		}
		m := hmac.New(h.New, material)
		m.Write(data)
		return m.Sum(nil), nil
	case "Ed25519":
		k, err := privateKey[ed25519.PrivateKey](material)
		if err != nil {
			return nil, err
		}
		return ed25519.Sign(k, data), nil
	case "ECDSA":
		k, err := privateKey[*ecdsa.PrivateKey](material)
		if err != nil {
			return nil, err
		}
		_, d, err := digest(req.Hash, data)
		if err != nil {
			return nil, err
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, d)
		if err != nil {
			return nil, opErr("%v", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig, nil
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		k, err := privateKey[*rsa.PrivateKey](material)
		if err != nil {
			return nil, err
		}
		h, d, err := digest(req.Hash, data)
		if err != nil {
			return nil, err
		}
		var sig []byte
		if req.Alg == "RSA-PSS" {
			sig, err = rsa.SignPSS(rand.Reader, k, h, d, &rsa.PSSOptions{SaltLength: req.SaltLength})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, k, h, d)
		}
		if err != nil {
			return nil, opErr("%v", err)
		}
		return sig, nil
	}
	return nil, &domError{"InvalidAccessError", req.Alg + " cannot sign"}
}

func verify(req *subtleReq, material, sig, data []byte) (bool, error) {
	switch req.Alg {
	case "HMAC":
		mac, err := sign(req, material, data)
		if err != nil {
			return false, err
		}
		return hmac.Equal(mac, sig), nil
	case "Ed25519":
		k, err := publicKey[ed25519.PublicKey](material)
		if err != nil {
			return false, err
		}
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k, data, sig), nil
	case "ECDSA":
		k, err := publicKey[*ecdsa.PublicKey](material)
		if err != nil {
			return false, err
		}
		_, d, err := digest(req.Hash, data)
		if err != nil {
			return false, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false, nil
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(k, d, r, s), nil
	case "RSASSA-PKCS1-v1_5", "RSA-PSS":
		k, err := publicKey[*rsa.PublicKey](material)
		if err != nil {
			return false, err
		}
		h, d, err := digest(req.Hash, data)
		if err != nil {
			return false, err
		}
		if req.Alg == "RSA-PSS" {
			return rsa.VerifyPSS(k, h, d, sig, &rsa.PSSOptions{SaltLength: req.SaltLength}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(k, h, d, sig) == nil, nil
	}
	return false, &domError{"InvalidAccessError", req.Alg + " cannot verify"}
}

// privateKey and publicKey parse a key's DER and check that it is a K.
func privateKey[K any](der []byte) (K, error) { return typedKey[K]("private", der) }
func publicKey[K any](der []byte) (K, error)  { return typedKey[K]("public", der) }

func typedKey[K any](typ string, der []byte) (K, error) {
	var zero K
	k, err := parseKey(typ, der)
	if err != nil {
		return zero, err
	}
	kk, ok := k.(K)
	if !ok {
		return zero, &domError{"InvalidAccessError", "the key does not fit the algorithm"}
	}
	return kk, nil
}

// ---- encrypt and decrypt

func cipherOp(req *subtleReq, segs [][]byte) ([]byte, error) {
	encrypt := req.Op == "encrypt"
	key, iv, data := seg(segs, 0), seg(segs, 1), seg(segs, len(segs)-1)
	switch req.Alg {
	case "AES-GCM":
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, opErr("%v", err)
		}
		tag := req.TagLength / 8
		var aead cipher.AEAD
		switch {
		case len(iv) == 0:
			return nil, opErr("the iv must not be empty")
		case len(iv) == 12 && tag >= 12 && tag <= 16:
			aead, err = cipher.NewGCMWithTagSize(block, tag)
		case tag == 16:
			aead, err = cipher.NewGCMWithNonceSize(block, len(iv))
		default:
			return nil, notSupported("tagLength %d with a %d-byte iv is not supported", req.TagLength, len(iv))
		}
		if err != nil {
			return nil, opErr("%v", err)
		}
		aad := seg(segs, 2)
		if encrypt {
			return aead.Seal(nil, iv, data, aad), nil
		}
		if len(data) < tag {
			return nil, opErr("the data is shorter than the tag")
		}
		out, err := aead.Open(nil, iv, data, aad)
		if err != nil {
			return nil, opErr("decryption failed")
		}
		return out, nil
	case "AES-CBC":
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, opErr("%v", err)
		}
		if len(iv) != 16 {
			return nil, opErr("the iv must have 16 bytes")
		}
		if encrypt {
			pad := 16 - len(data)%16
			out := make([]byte, len(data)+pad)
			copy(out, data)
			for k := len(data); k < len(out); k++ {
				out[k] = byte(pad)
			}
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
			return out, nil
		}
		if len(data) == 0 || len(data)%16 != 0 {
			return nil, opErr("the data is not a whole number of blocks")
		}
		out := make([]byte, len(data))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
		pad := int(out[len(out)-1])
		if pad == 0 || pad > 16 {
			return nil, opErr("bad padding")
		}
		for _, b := range out[len(out)-pad:] {
			if int(b) != pad {
				return nil, opErr("bad padding")
			}
		}
		return out[:len(out)-pad], nil
	case "AES-CTR":
		return aesCTR(key, iv, req.Length, data)
	case "RSA-OAEP":
		h, err := hashOf(req.Hash)
		if err != nil {
			return nil, err
		}
		label := seg(segs, 1)
		if len(label) == 0 {
			label = nil
		}
		if encrypt {
			k, err := publicKey[*rsa.PublicKey](key)
			if err != nil {
				return nil, err
			}
			out, err := rsa.EncryptOAEP(h.New(), rand.Reader, k, data, label)
			if err != nil {
				return nil, opErr("%v", err)
			}
			return out, nil
		}
		k, err := privateKey[*rsa.PrivateKey](key)
		if err != nil {
			return nil, err
		}
		out, err := rsa.DecryptOAEP(h.New(), nil, k, data, label)
		if err != nil {
			return nil, opErr("decryption failed")
		}
		return out, nil
	}
	return nil, &domError{"InvalidAccessError", req.Alg + " cannot " + req.Op}
}

// aesCTR is CTR mode as WebCrypto defines it: only the counter block's
// rightmost bits (length of them) count up, wrapping around; the rest
// stays. The counter must not repeat within one message.
func aesCTR(key, counter []byte, bits int, data []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, opErr("%v", err)
	}
	if len(counter) != 16 || bits < 1 || bits > 128 {
		return nil, opErr("the counter must have 16 bytes and length 1 to 128")
	}
	blocks := (len(data) + 15) / 16
	if bits < 63 && blocks > 1<<bits {
		return nil, opErr("the counter would repeat")
	}
	ctr := new(big.Int).SetBytes(counter)
	mod := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	fixed := new(big.Int).AndNot(ctr, new(big.Int).Sub(mod, big.NewInt(1)))
	low := new(big.Int).Mod(ctr, mod)
	out := make([]byte, len(data))
	cb, ks := make([]byte, 16), make([]byte, 16)
	one := big.NewInt(1)
	for k := 0; k < len(data); k += 16 {
		new(big.Int).Or(fixed, low).FillBytes(cb)
		block.Encrypt(ks, cb)
		end := min(k+16, len(data))
		for j := k; j < end; j++ {
			out[j] = data[j] ^ ks[j-k]
		}
		low.Add(low, one)
		if low.Cmp(mod) == 0 {
			low.SetInt64(0)
		}
	}
	return out, nil
}

// ---- derive

func deriveBits(req *subtleReq, segs [][]byte) ([]byte, error) {
	key := seg(segs, 0)
	switch req.Alg {
	case "PBKDF2", "HKDF":
		if req.Length < 0 || req.Length%8 != 0 || req.Length > maxDeriveBits {
			return nil, opErr("length must be a multiple of 8 up to %d", maxDeriveBits)
		}
		if req.Length == 0 {
			return []byte{}, nil
		}
		h, err := hashOf(req.Hash)
		if err != nil {
			return nil, err
		}
		var out []byte
		if req.Alg == "PBKDF2" {
			if req.Iterations <= 0 || req.Iterations > maxPBKDF2Iterations {
				return nil, opErr("iterations must be from 1 to %d", maxPBKDF2Iterations)
			}
			out, err = pbkdf2.Key(h.New, string(key), seg(segs, 1), req.Iterations, req.Length/8)
		} else {
			out, err = hkdf.Key(h.New, key, seg(segs, 1), string(seg(segs, 2)), req.Length/8)
		}
		if err != nil {
			return nil, opErr("%v", err)
		}
		return out, nil
	case "ECDH", "X25519":
		k, err := parseKey("private", key)
		if err != nil {
			return nil, err
		}
		priv, err := ecdhPrivate(k)
		if err != nil {
			return nil, err
		}
		if priv == nil {
			return nil, &domError{"InvalidAccessError", "not an " + req.Alg + " key"}
		}
		pk, err := parseKey("public", seg(segs, 1))
		if err != nil {
			return nil, err
		}
		pub, err := ecdhPublic(pk)
		if err != nil {
			return nil, err
		}
		if pub == nil {
			return nil, &domError{"InvalidAccessError", "the public key is not an " + req.Alg + " key"}
		}
		if pub.Curve() != priv.Curve() {
			return nil, &domError{"InvalidAccessError", "the keys are on different curves"}
		}
		secret, err := priv.ECDH(pub)
		if err != nil {
			return nil, opErr("%v", err)
		}
		if req.Length < 0 {
			return secret, nil
		}
		if req.Length > 8*len(secret) {
			return nil, opErr("length is longer than the shared secret")
		}
		out := secret[:(req.Length+7)/8]
		if r := req.Length % 8; r != 0 {
			out[len(out)-1] &= byte(0xff << (8 - r))
		}
		return out, nil
	}
	return nil, &domError{"InvalidAccessError", req.Alg + " cannot derive bits"}
}

// ecdhPrivate is k as an ECDH private key (an ECDSA key's curve serves
// both); nil when k is neither.
func ecdhPrivate(k any) (*ecdh.PrivateKey, error) {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return k.ECDH()
	case *ecdh.PrivateKey:
		return k, nil
	}
	return nil, nil
}

// ecdhPublic is ecdhPrivate for public keys.
func ecdhPublic(k any) (*ecdh.PublicKey, error) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return k.ECDH()
	case *ecdh.PublicKey:
		return k, nil
	}
	return nil, nil
}
