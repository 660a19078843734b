// Package tenancy makes namespaces NATS accounts: the keys natsfn signs
// with, the users it mints (credentials files any NATS client reads), and
// what a credentials file says about who holds it.
//
// Every user natsfn mints is a JWT signed by a signing key of its account
// and tagged with its role, so the CLI can tell an administrator's
// credentials from a tenant's without asking a server.
package tenancy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// SystemAccount names the account that holds natsfn's own state and control
// plane on a server natsfn runs. No namespace can be called that: names are
// lower case.
const SystemAccount = "NATSFN"

// Tags mark natsfn's users by role.
const (
	tagAdmin     = "natsfn:admin"
	tagNode      = "natsfn:node"
	tagWorker    = "natsfn:worker"
	tagNamespace = "natsfn:namespace:"
)

// Role is what a user is for.
type Role int

const (
	// Admin may do everything: it lives in the system account.
	Admin Role = iota
	// Node is a natsfn node's own connection, in the system account or in
	// a namespace's account.
	Node
	// Tenant is a namespace's owner: all of its account, nothing else.
	Tenant
	// Worker is a namespace's worker process: its triggers' queue groups
	// and its replies, nothing else.
	Worker
)

// Signer mints users of one account.
type Signer struct {
	key     nkeys.KeyPair
	account string // the account's public key, when key is one of its signing keys
}

// NewSigner signs with the account key or signing key seed. account is the
// account's public key when seed is a signing key rather than the account's
// own; empty otherwise.
func NewSigner(seed []byte, account string) (*Signer, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("natsfn: signing key: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, errors.New("natsfn: a signing key must be an account key (seed starting with SA)")
	}
	if account == pub {
		account = ""
	}
	return &Signer{key: kp, account: account}, nil
}

// PublicKey is the key the server must trust to accept this signer's users.
func (s *Signer) PublicKey() string {
	pub, _ := s.key.PublicKey()
	return pub
}

// Creds are a minted user: its JWT and its own seed.
type Creds struct {
	JWT  string
	Seed []byte
}

// File is the credentials file nats.go, the nats CLI and natsfn read.
func (c Creds) File() []byte {
	b, err := jwt.FormatUserConfig(c.JWT, c.Seed)
	if err != nil {
		// Only a seed that is not a user seed fails, and Mint makes none.
		panic(err)
	}
	return b
}

// Mint issues a user of the signer's account. namespace is the namespace
// the account stands for (empty for natsfn's system account); perms nil
// means every right within the account; ttl 0 means no expiry.
func (s *Signer) Mint(name string, role Role, namespace string, perms *jwt.Permissions, ttl time.Duration) (Creds, error) {
	user, err := nkeys.CreateUser()
	if err != nil {
		return Creds{}, err
	}
	pub, err := user.PublicKey()
	if err != nil {
		return Creds{}, err
	}
	seed, err := user.Seed()
	if err != nil {
		return Creds{}, err
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.IssuerAccount = s.account
	switch role {
	case Admin:
		uc.Tags.Add(tagAdmin)
	case Node:
		uc.Tags.Add(tagNode)
	case Worker:
		uc.Tags.Add(tagWorker)
	}
	if namespace != "" {
		uc.Tags.Add(tagNamespace + namespace)
	}
	if perms != nil {
		uc.Permissions = *perms
	}
	if ttl > 0 {
		uc.Expires = time.Now().Add(ttl).Unix()
	}
	token, err := uc.Encode(s.key)
	if err != nil {
		return Creds{}, fmt.Errorf("natsfn: sign user: %w", err)
	}
	return Creds{JWT: token, Seed: seed}, nil
}

// NewAccount makes the keys of a new namespace account: its public key and
// the seed of the signing key natsfn mints its users with. The account's
// own seed is not kept: nothing needs it once the account exists.
func NewAccount() (account string, signingSeed []byte, err error) {
	acc, err := nkeys.CreateAccount()
	if err != nil {
		return "", nil, err
	}
	if account, err = acc.PublicKey(); err != nil {
		return "", nil, err
	}
	signing, err := nkeys.CreateAccount()
	if err != nil {
		return "", nil, err
	}
	if signingSeed, err = signing.Seed(); err != nil {
		return "", nil, err
	}
	return account, signingSeed, nil
}

// PublicKeyOf returns the public key of a seed.
func PublicKeyOf(seed []byte) (string, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return "", err
	}
	return kp.PublicKey()
}

// Identity is who a credentials file is for, as far as natsfn minted it.
type Identity struct {
	Name string
	// Admin is natsfn's administrator: any namespace.
	Admin bool
	// Namespace is the one namespace a tenant's (or a node's namespace
	// user's) credentials reach; empty for the administrator and for
	// credentials natsfn did not mint.
	Namespace string
}

// ReadIdentity reads a credentials file and says whom it is for. It checks
// the file's form, not its signature: the server does that.
func ReadIdentity(path string) (Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Identity{}, err
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return Identity{}, fmt.Errorf("%s is not a NATS credentials file: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return Identity{}, fmt.Errorf("%s is not a NATS credentials file: %w", path, err)
	}
	id := Identity{Name: uc.Name}
	for _, tag := range uc.Tags {
		switch {
		case tag == tagAdmin:
			id.Admin = true
		case strings.HasPrefix(tag, tagNamespace):
			id.Namespace = strings.TrimPrefix(tag, tagNamespace)
		}
	}
	return id, nil
}

// IssuedBy says whether the credentials file at path holds a user JWT that
// the key issuer signed.
func IssuedBy(path, issuer string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	token, err := jwt.ParseDecoratedJWT(data)
	if err != nil {
		return false
	}
	uc, err := jwt.DecodeUserClaims(token)
	return err == nil && uc.Issuer == issuer
}

// WriteFile writes a secret (a seed, a credentials file) readable by its
// owner only, replacing what was there.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadOrCreateKey reads an account key seed from path, creating one (0600)
// when there is none.
func LoadOrCreateKey(path string) ([]byte, error) {
	seed, err := os.ReadFile(path)
	if err == nil {
		seed = []byte(strings.TrimSpace(string(seed)))
		if _, err := nkeys.FromSeed(seed); err != nil {
			return nil, fmt.Errorf("%s: not a key: %w", path, err)
		}
		return seed, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, err
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, err
	}
	if err := WriteFile(path, append(seed, '\n')); err != nil {
		return nil, err
	}
	return seed, nil
}
