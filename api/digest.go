package api

import (
	"crypto/sha256"
	"encoding/hex"
)

// Digest returns the digest of a bundle as FunctionInfo.BundleDigest holds
// it: "sha256:" and the hex SHA-256 of the bytes.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
