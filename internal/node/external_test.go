package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

// operatorSystem is a NATS server in operator mode, as an operator sets one
// up with nsc: natsfn's account, and one account per namespace, each with
// a signing key it hands to natsfn.
type operatorSystem struct {
	url       string
	srv       *server.Server
	nodeCreds string            // a user of natsfn's account
	accounts  map[string]string // namespace → account public key
	signing   map[string][]byte // namespace → signing key seed
	creds     map[string]string // namespace → its owner's credentials file, once adopted
}

func startOperatorSystem(t testing.TB, namespaces ...string) *operatorSystem {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	op, err := nkeys.CreateOperator()
	must(err)
	opPub, _ := op.PublicKey()
	opc := jwt.NewOperatorClaims(opPub)
	opc.Name = "test-operator"
	opJWT, err := opc.Encode(op)
	must(err)
	opClaims, err := jwt.DecodeOperatorClaims(opJWT)
	must(err)

	resolver := &server.MemAccResolver{}
	account := func(name string, js bool, signing nkeys.KeyPair) (nkeys.KeyPair, string) {
		kp, err := nkeys.CreateAccount()
		must(err)
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
		}
		if signing != nil {
			spub, _ := signing.PublicKey()
			ac.SigningKeys.Add(spub)
		}
		token, err := ac.Encode(op)
		must(err)
		must(resolver.Store(pub, token))
		return kp, pub
	}
	_, sysPub := account("SYS", false, nil)
	natsfnKey, _ := account("NATSFN", true, nil)

	sys := &operatorSystem{accounts: map[string]string{}, signing: map[string][]byte{}, creds: map[string]string{}}
	for _, ns := range namespaces {
		sk, err := nkeys.CreateAccount()
		must(err)
		_, pub := account("tenant-"+ns, true, sk)
		seed, _ := sk.Seed()
		sys.accounts[ns], sys.signing[ns] = pub, seed
	}

	// natsfn's node: a user of its account.
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.Name = "natsfn-node"
	userJWT, err := uc.Encode(natsfnKey)
	must(err)
	userSeed, _ := user.Seed()
	credsFile, err := jwt.FormatUserConfig(userJWT, userSeed)
	must(err)
	sys.nodeCreds = filepath.Join(t.TempDir(), "node.creds")
	must(os.WriteFile(sys.nodeCreds, credsFile, 0o600))

	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(),
		TrustedOperators: []*jwt.OperatorClaims{opClaims},
		SystemAccount:    sysPub,
		AccountResolver:  resolver,
	})
	must(err)
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("operator-mode server not ready")
	}
	sys.url, sys.srv = srv.ClientURL(), srv
	return sys
}

// adopt makes natsfn namespaces of the operator's accounts and returns a
// client of each, connected with the credentials natsfn minted.
func (sys *operatorSystem) adopt(t testing.TB, n *Node, namespace string) (*client.Client, *nats.Conn) {
	t.Helper()
	admin := nats.UserCredentials(sys.nodeCreds)
	anc, err := nats.Connect(sys.url, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer anc.Close()
	a, _ := client.NewAdmin(anc)
	creds, err := a.AddNamespace(context.Background(), api.NamespaceRequest{Name: namespace, Account: sys.accounts[namespace], SigningKey: string(sys.signing[namespace])})
	if err != nil {
		t.Fatalf("ns add %s: %v", namespace, err)
	}
	path := filepath.Join(t.TempDir(), namespace+".creds")
	os.WriteFile(path, []byte(creds.Creds), 0o600)
	sys.creds[namespace] = path
	nc, err := nats.Connect(sys.url, nats.UserCredentials(path), nats.Name(t.Name()+"-"+namespace))
	if err != nil {
		t.Fatalf("connect as %s: %v", namespace, err)
	}
	t.Cleanup(nc.Close)
	c, err := client.New(nc, client.WithNamespace(namespace))
	if err != nil {
		t.Fatal(err)
	}
	return c, nc
}

// On a NATS system in operator mode, natsfn runs each namespace in the
// account its operator made for it: the same isolation as on natsfn's own
// server, and workers that take their calls directly.
func TestExternalOperatorMode(t *testing.T) {
	sys := startOperatorSystem(t, "a", "b")
	n := startNode(t, Config{ServerURL: sys.url, Creds: sys.nodeCreds})
	a, ncA := sys.adopt(t, n, "a")
	b, ncB := sys.adopt(t, n, "b")

	deploy(t, a, "orders", `(s, p) => "A saw " + p.text()`, "orders.create")
	deploy(t, b, "orders", `(s, p) => { hostServices.kv.set("k", "b-secret"); return "B saw " + p.text() }`, "orders.create")
	for i := 0; i < 10; i++ {
		if m := invoke(t, ncB, "orders.create", []byte("b")); string(m.Data) != "B saw b" {
			t.Fatalf("B's caller got %q %v", m.Data, m.Header)
		}
		if m := invoke(t, ncA, "orders.create", []byte("a")); string(m.Data) != "A saw a" {
			t.Fatalf("A's caller got %q %v", m.Data, m.Header)
		}
	}

	// A reaches nothing of B's.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	asB, _ := client.New(ncA, client.WithNamespace("b"))
	if _, err := asB.List(ctx); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("A lists B: %v", err)
	}
	if _, err := testenv.JetStream(t, ncA).KeyValue(ctx, hostsvc.KVBucketName("b", "orders")); err == nil {
		t.Error("A opened B's bucket")
	}
	// Nor natsfn's own state.
	if _, err := testenv.JetStream(t, ncA).KeyValue(ctx, api.FunctionsBucket); err == nil {
		t.Error("A opened the desired state")
	}

	// Each namespace's worker took its own connection, in its account, as
	// the worker user natsfn minted for it.
	for ns, acc := range sys.accounts {
		connz, err := sys.srv.Connz(&server.ConnzOptions{Account: acc, Username: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range connz.Conns {
			found = found || c.Name == "natsfn-worker "+ns
		}
		if !found && n.cfg.Sandbox != "none" {
			t.Errorf("no worker connection in namespace %s's account", ns)
		}
	}

	// A reply subject aimed at B's data or the control API acts on
	// nothing.
	for _, reply := range []string{"$JS.API.STREAM.DELETE.KV_" + hostsvc.KVBucketName("a", "orders"), api.ControlSubject("a", api.OpRemove)} {
		ncA.PublishMsg(&nats.Msg{Subject: "orders.create", Reply: reply, Data: []byte(`{"name":"orders"}`)})
	}
	if m := invoke(t, ncA, "orders.create", []byte("a")); string(m.Data) != "A saw a" {
		t.Fatalf("after the replies: %q", m.Data)
	}
	if _, err := a.Info(ctx, "orders"); err != nil {
		t.Errorf("A's function: %v", err)
	}

	// Quotas are the operator's, in the account JWTs.
	anc, err := nats.Connect(sys.url, nats.UserCredentials(sys.nodeCreds))
	if err != nil {
		t.Fatal(err)
	}
	defer anc.Close()
	admin, _ := client.NewAdmin(anc)
	limit := int64(1 << 30)
	if _, err := admin.AddNamespace(ctx, api.NamespaceRequest{Name: "c", MaxStorage: &limit}); err == nil || !strings.Contains(err.Error(), "operator") {
		t.Errorf("a quota on an operator's account: %v", err)
	}
	// A key that is not the account's is refused before anything is stored.
	other, _ := nkeys.CreateAccount()
	seed, _ := other.Seed()
	if _, err := admin.AddNamespace(ctx, api.NamespaceRequest{Name: "c", Account: sys.accounts["a"], SigningKey: string(seed)}); api.CodeOf(err) != api.CodeBadRequest {
		t.Errorf("a foreign signing key: %v", err)
	}
}
