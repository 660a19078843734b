package hostsvc

import (
	"strconv"
	"unicode/utf8"
)

// Bucket names are "fn_<len(namespace)>_<namespace>_<name>", for example
// fn_7_default_hello. The length prefix makes the mapping injective although
// '_' may occur in both parts: reading the digits up to the first '_' says
// where the namespace ends, so ("a_b", "c") -> fn_3_a_b_c and ("a", "b_c") ->
// fn_1_a_b_c differ. Names and namespaces are at most 64 characters, so a
// bucket name is at most 135 characters and its stream (KV_... or OBJ_...)
// at most 139, well inside JetStream's 255; no hashing fallback is needed.
// The "fn_" prefix keeps them apart from natsfn's own natsfn_* buckets.
func bucketName(namespace, name string) string {
	return "fn_" + strconv.Itoa(len(namespace)) + "_" + namespace + "_" + name
}

// KVBucketName is the JetStream KV bucket of a function. namespace and name
// must pass api.ValidateName.
func KVBucketName(namespace, name string) string { return bucketName(namespace, name) }

// ObjectBucketName is the JetStream object store of a function. It shares the
// bucket name with the KV bucket; the streams differ (KV_ vs OBJ_). namespace
// and name must pass api.ValidateName.
func ObjectBucketName(namespace, name string) string { return bucketName(namespace, name) }

const (
	maxKeyLen        = 1024
	maxObjectNameLen = 1024
)

// validKey applies the NATS KV key rules: 1 or more of [-/_=.a-zA-Z0-9], no
// leading, trailing or doubled '.', and a length that keeps the subject
// "$KV.<bucket>.<key>" well inside a protocol line.
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen || k[0] == '.' || k[len(k)-1] == '.' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '/', c == '_', c == '=':
		case c == '.':
			if k[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validObjectName accepts any UTF-8 name of 1 to 1024 bytes without control
// characters (names are base64-encoded into subjects, so punctuation is
// harmless, but control characters would only confuse listings and logs).
func validObjectName(n string) bool {
	if n == "" || len(n) > maxObjectNameLen || !utf8.ValidString(n) {
		return false
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
