package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

// Two tenants, A and B, each with its own credentials, on the embedded
// server: neither reaches the other by any name.

// tenantsAB starts a node and gives namespaces a and b an owner each.
func tenantsAB(t *testing.T, cfg Config) (n *Node, a, b *client.Client, ncA, ncB *nats.Conn) {
	t.Helper()
	n = startNode(t, cfg)
	a, ncA = nsClient(t, n, "a")
	b, ncB = nsClient(t, n, "b")
	return n, a, b, ncA, ncB
}

func TestTenantsControlOnlyTheirNamespace(t *testing.T) {
	_, a, b, ncA, _ := tenantsAB(t, Config{})
	deploy(t, b, "pay", `() => "b pays"`, "pay")
	ctx := context.Background()

	// A names B's namespace: every operation is refused with 403.
	asB, err := client.New(ncA, client.WithNamespace("b"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asB.List(ctx); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("A lists B: %v", err)
	}
	if _, err := asB.Info(ctx, "pay"); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("A reads B's function: %v", err)
	}
	if _, err := asB.Remove(ctx, "pay"); api.CodeOf(err) != api.CodeForbidden {
		t.Errorf("A removes B's function: %v", err)
	}
	// A deploy for B fails before a node is asked: A cannot stage in B.
	if _, err := asB.Deploy(ctx, api.FunctionSpec{Name: "pay", Triggers: []string{"pay"}}, []byte(`() => "A was here"`)); err == nil {
		t.Error("A deployed into B")
	}
	// A spec that names B, sent in A's account, is refused too.
	if _, err := a.Deploy(ctx, api.FunctionSpec{Namespace: "b", Name: "pay", Triggers: []string{"pay"}}, []byte(`() => "A was here"`)); err == nil {
		t.Error("A deployed into B through the spec")
	}
	// B's function is as it was, and A sees only its own namespace.
	if info, err := b.Info(ctx, "pay"); err != nil || info.Revision == 0 {
		t.Fatalf("B's function: %v %v", info, err)
	}
	if fns, err := a.List(ctx); err != nil || len(fns) != 0 {
		t.Errorf("A's list: %v %v", fns, err)
	}
	// A's administrator-side API is out of reach.
	admin, _ := client.NewAdmin(ncA)
	if _, err := admin.Namespaces(ctx); err == nil {
		t.Error("A lists namespaces")
	}
}

// The same trigger subject in two namespaces is two subjects: each
// function hears its own namespace's callers only.
func TestTenantsTriggersAreSeparate(t *testing.T) {
	_, a, b, ncA, ncB := tenantsAB(t, Config{})
	deploy(t, a, "orders", `(s, p, m) => "A saw " + p.text()`, "orders.create")
	deploy(t, b, "orders", `(s, p, m) => "B saw " + p.text()`, "orders.create")
	for i := 0; i < 20; i++ {
		if m := invoke(t, ncB, "orders.create", []byte("b-secret")); string(m.Data) != "B saw b-secret" {
			t.Fatalf("B's caller got %q", m.Data)
		}
		if m := invoke(t, ncA, "orders.create", []byte("a")); string(m.Data) != "A saw a" {
			t.Fatalf("A's caller got %q", m.Data)
		}
	}
	// A listening on everything it may hears none of B's traffic.
	sub, err := ncA.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	ncA.Flush()
	invoke(t, ncB, "orders.create", []byte("b-secret"))
	for {
		m, err := sub.NextMsg(200 * time.Millisecond)
		if err != nil {
			break
		}
		if strings.Contains(string(m.Data), "b-secret") {
			t.Fatalf("A heard B's message on %s", m.Subject)
		}
	}
}

// A's function and A's own credentials find none of B's buckets, stores
// or logs, whatever name they use.
func TestTenantsDataIsSeparate(t *testing.T) {
	_, a, b, ncA, ncB := tenantsAB(t, Config{})
	deploy(t, b, "vault", `(s, p) => {
		hostServices.kv.set("secret", "b-kv-secret");
		hostServices.objectStore.put("doc", "b-obj-secret");
		console.log("b-log-secret");
		return "ok" }`, "vault")
	if m := invoke(t, ncB, "vault", nil); string(m.Data) != "ok" {
		t.Fatalf("B's vault: %q %v", m.Data, m.Header)
	}
	// A function of A with the same name has its own, empty bucket.
	deploy(t, a, "vault", `(s, p) => JSON.stringify([hostServices.kv.get("secret"), hostServices.objectStore.get("doc"), hostServices.kv.keys()])`, "vault")
	if m := invoke(t, ncA, "vault", nil); string(m.Data) != `[null,null,[]]` {
		t.Fatalf("A's function sees %s", m.Data)
	}
	// A's credentials, straight to JetStream, by B's bucket names.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := testenv.JetStream(t, ncA)
	if _, err := js.KeyValue(ctx, hostsvc.KVBucketName("b", "vault")); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("A opens B's bucket: %v", err)
	}
	if _, err := js.ObjectStore(ctx, hostsvc.ObjectBucketName("b", "vault")); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("A opens B's object store: %v", err)
	}
	// A's log stream holds nothing of B's.
	logs, err := js.Stream(ctx, api.LogStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logs.GetLastMsgForSubject(ctx, api.LogSubject("b", "vault")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("B's log line in A's stream: %v", err)
	}
	// While B sees its own.
	var lines []string
	if err := b.Logs(ctx, "vault", false, -1, func(e api.LogEntry) { lines = append(lines, e.Message) }); err != nil || len(lines) == 0 || lines[0] != "b-log-secret" {
		t.Errorf("B's logs: %q %v", lines, err)
	}
}

// Anonymous clients are applications of the default namespace: they call
// its functions, and nothing more.
func TestAnonymousCallsDefaultOnly(t *testing.T) {
	n := startNode(t, Config{})
	c, _ := newClient(t, n)
	deploy(t, c, "echo", `(s, p) => p`, "echo")

	anon := anonConn(t, n)
	errs := make(chan error, 16)
	anon.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err })
	if m := invoke(t, anon, "echo", []byte("hi")); string(m.Data) != "hi" {
		t.Fatalf("anonymous call: %q", m.Data)
	}
	refused := func(what string, do func() error) {
		t.Helper()
		err := do()
		if err == nil {
			anon.Flush()
			select {
			case err = <-errs:
			case <-time.After(5 * time.Second):
			}
		}
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("%s: %v, want a permissions violation", what, err)
		}
	}
	refused("control API", func() error { return anon.Publish(api.ControlSubject("default", api.OpList), nil) })
	refused("JetStream", func() error { return anon.Publish("$JS.API.STREAM.LIST", nil) })
	refused("KV", func() error { return anon.Publish("$KV."+hostsvc.KVBucketName("default", "echo")+".k", nil) })
	refused("administrator", func() error { return anon.Publish(api.AdminSubject(api.OpNamespaceList), nil) })
	refused("listening", func() error { _, err := anon.SubscribeSync("echo"); return err })

	// Credentials the server did not issue are refused outright.
	if _, err := nats.Connect(n.ClientURL(), nats.UserInfo("admin", "admin")); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a password got in: %v", err)
	}
}

// Whatever reply subject a caller chooses, a function's reply never acts
// on JetStream, KV, object stores or natsfn's control plane.
func TestReplySubjectsCannotAct(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) Config
	}{
		{"embedded server", func(t *testing.T) Config { return Config{} }},
		{"external server", func(t *testing.T) Config { return Config{ServerURL: testenv.NATS(t)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, tc.cfg(t))
			c, nc := newClient(t, n)
			deploy(t, c, "victim", `(s, p) => { hostServices.kv.set("k", "kept"); hostServices.objectStore.put("o", "kept"); return "v" }`, "victim")
			invoke(t, nc, "victim", nil)
			// One isolate: calls run, and are answered, in order.
			if _, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "echo", Triggers: []string{"echo"}, Concurrency: 1}, []byte(`(s, p) => p`)); err != nil {
				t.Fatal(err)
			}

			kvStream := "KV_" + hostsvc.KVBucketName("default", "victim")
			objStream := "OBJ_" + hostsvc.ObjectBucketName("default", "victim")
			caller := nc
			if n.server != nil {
				caller = anonConn(t, n) // on natsfn's own server: anyone
			}
			for _, reply := range []string{
				"$JS.API.STREAM.DELETE." + kvStream,
				"$JS.API.STREAM.PURGE." + objStream,
				"$JS.API.STREAM.DELETE." + api.LogStream,
				"$KV." + hostsvc.KVBucketName("default", "victim") + ".k",
				"$O." + hostsvc.ObjectBucketName("default", "victim") + ".M.bw",
				api.ControlSubject("default", api.OpRemove),
				"$NATSFN.admin.v1.ns.rm",
			} {
				// An empty delete or a "{"name":"victim"}" rm would act.
				if err := caller.PublishMsg(&nats.Msg{Subject: "echo", Reply: reply, Data: []byte(`{"name":"victim"}`)}); err != nil {
					t.Fatal(err)
				}
			}
			// A call with an ordinary reply, answered after all of them.
			if m := invoke(t, caller, "echo", []byte("last")); string(m.Data) != "last" {
				t.Fatalf("echo: %q", m.Data)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			waitLog(t, c, "echo", "refused", 7)

			js := testenv.JetStream(t, nc)
			kv, err := js.KeyValue(ctx, hostsvc.KVBucketName("default", "victim"))
			if err != nil {
				t.Fatalf("the KV bucket: %v", err)
			}
			if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value()) != "kept" {
				t.Fatalf("the KV value: %v", err)
			}
			obj, err := js.ObjectStore(ctx, hostsvc.ObjectBucketName("default", "victim"))
			if err != nil {
				t.Fatalf("the object store: %v", err)
			}
			if b, err := obj.GetBytes(ctx, "o"); err != nil || string(b) != "kept" {
				t.Fatalf("the object: %q %v", b, err)
			}
			if _, err := c.Info(ctx, "victim"); err != nil {
				t.Fatalf("the function: %v", err)
			}
			if m := invoke(t, nc, "victim", nil); string(m.Data) != "v" {
				t.Fatalf("the function answers %q", m.Data)
			}
		})
	}
}

// waitLog waits until a function has logged want at least count times.
func waitLog(t *testing.T, c *client.Client, name, want string, count int) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%s to log %q %d times", name, want, count), func() bool {
		seen := 0
		err := c.Logs(context.Background(), name, false, -1, func(e api.LogEntry) {
			if strings.Contains(e.Message, want) {
				seen++
			}
		})
		return err == nil && seen >= count
	})
}

// A namespace over its storage quota gets QUOTA_EXCEEDED; another is
// unaffected.
func TestNamespaceQuota(t *testing.T) {
	n := startNode(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limit := int64(api.MinNamespaceStorage)
	if _, err := (*namespaceAdmin)(n).Add(ctx, api.NamespaceRequest{Name: "small", MaxStorage: &limit}); err != nil {
		t.Fatal(err)
	}
	src := `(s, p) => { try { hostServices.objectStore.put("big", new Uint8Array(1 << 20)); return "stored" } catch (e) { return e.code } }`
	small, ncSmall := nsClient(t, n, "small")
	other, ncOther := nsClient(t, n, "other")
	deploy(t, small, "put", src, "put")
	deploy(t, other, "put", src, "put")
	if m := invoke(t, ncSmall, "put", nil); string(m.Data) != "QUOTA_EXCEEDED" {
		t.Errorf("over quota: %q %v", m.Data, m.Header)
	}
	if m := invoke(t, ncOther, "put", nil); string(m.Data) != "stored" {
		t.Errorf("the other namespace: %q %v", m.Data, m.Header)
	}
	// Raising the quota lifts it.
	unlimited := int64(api.NoLimit)
	if _, err := (*namespaceAdmin)(n).Set(ctx, api.NamespaceRequest{Name: "small", MaxStorage: &unlimited}); err != nil {
		t.Fatal(err)
	}
	if m := invoke(t, ncSmall, "put", nil); string(m.Data) != "stored" {
		t.Errorf("after the quota was lifted: %q %v", m.Data, m.Header)
	}
}

// The administrator's credentials always log in: a file signed by a key
// that is gone is written anew at start.
func TestAdminCredsFollowTheKey(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, Config{DataDir: dir})
	url := n.ClientURL()
	n.Close()
	if err := os.Remove(filepath.Join(dir, systemKeyFile)); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, Config{DataDir: dir, Listen: url[len("nats://"):]})
	nc, err := nats.Connect(n2.ClientURL(), nats.UserCredentials(n2.AdminCreds()))
	if err != nil {
		t.Fatalf("admin.creds after a new key: %v", err)
	}
	nc.Close()
}
