package natsserver_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsfn/natsfn/internal/natsserver"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// startAccounts starts a server with accounts and one account, "team",
// whose users signer signs.
func startAccounts(t *testing.T) (*natsserver.Server, *tenancy.Signer, *server.Account) {
	s, signer, acc, _ := startAccountsWithKey(t)
	return s, signer, acc
}

// startAccountsWithKey is startAccounts, and the signing key's seed.
func startAccountsWithKey(t *testing.T) (*natsserver.Server, *tenancy.Signer, *server.Account, []byte) {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir(), Accounts: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	acc, err := s.EnsureAccount("team", natsserver.Limits{MaxStore: -1, MaxMemory: -1})
	if err != nil {
		t.Fatal(err)
	}
	account, seed, err := tenancy.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tenancy.NewSigner(seed, account)
	if err != nil {
		t.Fatal(err)
	}
	s.Trust(signer.PublicKey(), acc)
	return s, signer, acc, seed
}

func mint(t *testing.T, signer *tenancy.Signer, perms *jwt.Permissions, ttl time.Duration) tenancy.Creds {
	t.Helper()
	c, err := signer.Mint("someone", tenancy.Tenant, "team", perms, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAccountsAdmitMintedUsers(t *testing.T) {
	s, signer, _ := startAccounts(t)
	c := mint(t, signer, nil, 0)
	nc, err := nats.Connect(s.ClientURL(), nats.UserJWTAndSeed(c.JWT, string(c.Seed)))
	if err != nil {
		t.Fatalf("a minted user: %v", err)
	}
	defer nc.Close()
	// In its account, with JetStream.
	js, _ := nc.JetStream()
	if _, err := js.AccountInfo(); err != nil {
		t.Errorf("JetStream in the account: %v", err)
	}
}

func TestAccountsRefuseOthers(t *testing.T) {
	s, signer, _, seed := startAccountsWithKey(t)
	good := mint(t, signer, nil, 0)
	stranger, _ := nkeys.CreateAccount()
	strangerSeed, _ := stranger.Seed()
	foreign, _ := tenancy.NewSigner(strangerSeed, "")
	untrusted := mint(t, foreign, nil, 0)
	otherUser, _ := nkeys.CreateUser()
	otherSeed, _ := otherUser.Seed()
	// A JWT that expired a minute ago.
	key, _ := nkeys.FromSeed(seed)
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userSeed, _ := user.Seed()
	uc := jwt.NewUserClaims(userPub)
	uc.Expires = time.Now().Add(-time.Minute).Unix()
	expiredJWT, err := uc.Encode(key)
	if err != nil {
		t.Fatal(err)
	}

	refused := map[string]nats.Option{
		"no credentials, no anonymous user": nil,
		"a key the server does not trust":   nats.UserJWTAndSeed(untrusted.JWT, string(untrusted.Seed)),
		"a JWT without its seed":            nats.UserJWTAndSeed(good.JWT, string(otherSeed)),
		"a password":                        nats.UserInfo("admin", "admin"),
		"an expired JWT":                    nats.UserJWTAndSeed(expiredJWT, string(userSeed)),
		"a token":                           nats.Token("secret"),
	}
	for name, opt := range refused {
		opts := []nats.Option{nats.NoReconnect()}
		if opt != nil {
			opts = append(opts, opt)
		}
		if nc, err := nats.Connect(s.ClientURL(), opts...); err == nil {
			nc.Close()
			t.Errorf("%s: let in", name)
		}
	}
}

func TestAccountsPermissionsAndAnonymous(t *testing.T) {
	s, signer, acc := startAccounts(t)
	// A user limited by its JWT's permissions.
	perms := &jwt.Permissions{Pub: jwt.Permission{Allow: []string{"ok.>"}}}
	c := mint(t, signer, perms, 0)
	errs := make(chan error, 4)
	limited, err := nats.Connect(s.ClientURL(), nats.UserJWTAndSeed(c.JWT, string(c.Seed)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	limited.Publish("not.ok", nil)
	limited.Flush()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("publish outside the JWT's permissions: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("publish outside the JWT's permissions: no violation")
	}

	// Anonymous clients land in the account given, with its permissions.
	s.AllowAnonymous(acc, &server.Permissions{Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}}})
	anon, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("anonymous: %v", err)
	}
	defer anon.Close()
	full := mint(t, signer, nil, 0)
	closed := make(chan struct{})
	owner, err := nats.Connect(s.ClientURL(), nats.UserJWTAndSeed(full.JWT, string(full.Seed)), nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	sub, _ := owner.SubscribeSync("hello")
	owner.Flush()
	anon.Publish("hello", []byte("from anonymous"))
	anon.Flush()
	if m, err := sub.NextMsg(5 * time.Second); err != nil || string(m.Data) != "from anonymous" {
		t.Errorf("anonymous in the account: %v", err)
	}

	// Distrust turns the account's users away and disconnects them.
	s.Distrust("team")
	if nc, err := nats.Connect(s.ClientURL(), nats.UserJWTAndSeed(full.JWT, string(full.Seed)), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("a distrusted account's user let in")
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Error("a distrusted account's user stays connected")
	}
}
