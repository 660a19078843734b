package tenancy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func TestMintAndReadIdentity(t *testing.T) {
	dir := t.TempDir()
	account, seed, err := NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner(seed, account)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role      Role
		namespace string
		want      Identity
	}{
		{Admin, "", Identity{Name: "u", Admin: true}},
		{Tenant, "team-a", Identity{Name: "u", Namespace: "team-a"}},
		{Node, "team-a", Identity{Name: "u", Namespace: "team-a"}},
		{Worker, "team-a", Identity{Name: "u", Namespace: "team-a"}},
	} {
		c, err := signer.Mint("u", tc.role, tc.namespace, nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "u.creds")
		if err := WriteFile(path, c.File()); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("credentials file mode %v", fi.Mode().Perm())
		}
		got, err := ReadIdentity(path)
		if err != nil || got != tc.want {
			t.Errorf("role %d: %+v %v, want %+v", tc.role, got, err, tc.want)
		}
		uc, _ := jwt.DecodeUserClaims(c.JWT)
		if uc.IssuerAccount != account || uc.Issuer != signer.PublicKey() || uc.Expires == 0 {
			t.Errorf("claims: issuer %s for account %s, expires %d", uc.Issuer, uc.IssuerAccount, uc.Expires)
		}
	}
}

func TestReadIdentityRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	os.WriteFile(path, []byte("not credentials"), 0o600)
	if _, err := ReadIdentity(path); err == nil || !strings.Contains(err.Error(), "not a NATS credentials file") {
		t.Errorf("%v", err)
	}
	if _, err := ReadIdentity(path + ".missing"); err == nil {
		t.Error("a missing file read")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "k.nk")
	first, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || string(again) != string(first) {
		t.Fatalf("second load: %q %v", again, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	os.WriteFile(path, []byte("garbage"), 0o600)
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Error("a garbage key loaded")
	}
	// A user seed is no signing key.
	user, _ := nkeys.CreateUser()
	userSeed, _ := user.Seed()
	if _, err := NewSigner(userSeed, ""); err == nil || !strings.Contains(err.Error(), "account key") {
		t.Errorf("a user seed signs: %v", err)
	}
}

func TestIssuedBy(t *testing.T) {
	_, seed, _ := NewAccount()
	signer, _ := NewSigner(seed, "")
	_, otherSeed, _ := NewAccount()
	other, _ := NewSigner(otherSeed, "")
	c, _ := signer.Mint("u", Admin, "", nil, 0)
	path := filepath.Join(t.TempDir(), "admin.creds")
	WriteFile(path, c.File())
	if !IssuedBy(path, signer.PublicKey()) || IssuedBy(path, other.PublicKey()) || IssuedBy(path+".missing", signer.PublicKey()) {
		t.Error("IssuedBy is wrong")
	}
}
