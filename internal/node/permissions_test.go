package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

// nodePermissions are the least a natsfn node needs on a NATS system
// without accounts (docs/operations.md), for functions whose triggers are
// under triggers and that send messages under sends.
func nodePermissions(triggers, sends string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: []string{
			"$JS.API.>", // JetStream: natsfn's streams and buckets, and each function's
			"$KV.>",     // KV writes: desired state, namespaces, functions' buckets
			"$O.>",      // object store writes: bundles, uploads, functions' stores
			"$NATSFN.>", // function logs
			"_INBOX.>",  // replies: to calls, to the control API, to natsfn nodes
			sends,       // what functions send with hostServices.messaging
		}},
		Subscribe: &server.SubjectPermission{Allow: []string{
			"$NATSFN.>", // the control API and natsfn nodes
			"$SRV.>",    // the natsfn-node micro service (nats micro ls)
			"_INBOX.>",  // replies to the node's requests, KV watches
			triggers,    // the functions' triggers
		}},
	}
}

// plainSystem is a NATS server with JetStream and plain users: a node user
// with least privileges, and an application user with all of them.
func startPlainSystem(t *testing.T, node *server.Permissions) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(),
		Users: []*server.User{
			{Username: "node", Password: "n0de-s3cret", Permissions: node},
			{Username: "app", Password: "app-s3cret"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func withUser(clientURL, user, password string) string {
	return strings.Replace(clientURL, "nats://", "nats://"+user+":"+password+"@", 1)
}

// A node whose NATS user has exactly the documented permissions deploys,
// serves, keeps KV, logs and removes; a trigger outside its permissions
// fails the deploy with the refusal, and a host call NATS refuses fails
// with PERMISSION_DENIED.
func TestLeastPrivilegeNode(t *testing.T) {
	perms := nodePermissions("fn.>", "out.>")
	// One function's bucket is off limits, to see a KV refusal.
	noKV := "KV_" + hostsvc.KVBucketName(api.DefaultNamespace, "nokv")
	perms.Publish.Deny = []string{"$JS.API.STREAM.CREATE." + noKV, "$JS.API.STREAM.UPDATE." + noKV, "$JS.API.STREAM.INFO." + noKV}
	srv := startPlainSystem(t, perms)
	var log lockedBuffer
	startNode(t, Config{
		ServerURL: withUser(srv.ClientURL(), "node", "n0de-s3cret"),
		Sandbox:   "none",
		Logger:    slog.New(slog.NewTextHandler(&log, nil)),
	})
	app := testenv.Conn(t, withUser(srv.ClientURL(), "app", "app-s3cret"))
	c, err := client.New(app)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	deploy(t, c, "counter", `(s, p) => {
		console.log("counting " + p.text());
		const n = Number(new TextDecoder().decode(hostServices.kv.get("n") || new Uint8Array())) + 1;
		hostServices.kv.set("n", String(n));
		hostServices.messaging.publish("out.count", String(n));
		hostServices.objectStore.put("last", String(n));
		if (new TextDecoder().decode(hostServices.objectStore.get("last")) !== String(n)) throw new Error("object store");
		return String(n);
	}`, "fn.count")
	for i := 1; i <= 3; i++ {
		if m := invoke(t, app, "fn.count", []byte("x")); string(m.Data) != string(rune('0'+i)) {
			t.Fatalf("call %d: %q %v", i, m.Data, m.Header)
		}
	}
	var lines []string
	if err := c.Logs(ctx, "counter", false, 10, func(e api.LogEntry) { lines = append(lines, e.Message) }); err != nil {
		t.Fatalf("logs: %v", err)
	}
	if len(lines) != 3 || lines[0] != "counting x" {
		t.Errorf("logs: %q", lines)
	}
	if _, err := c.List(ctx); err != nil {
		t.Errorf("ls: %v", err)
	}
	if strings.Contains(log.String(), "Permissions Violation") {
		t.Errorf("the documented permissions miss something:\n%s", log.String())
	}

	// A trigger the node may not subscribe to: the deploy fails with the
	// refusal, and nothing is stored.
	_, err = c.Deploy(ctx, api.FunctionSpec{Name: "elsewhere", Triggers: []string{"other.subject"}}, []byte(`() => "x"`))
	if api.CodeOf(err) != api.CodeForbidden || !strings.Contains(err.Error(), "other.subject") || !strings.Contains(err.Error(), "permissions") {
		t.Errorf("deploy with a trigger outside the permissions: %v", err)
	}
	if _, err := c.Info(ctx, "elsewhere"); api.CodeOf(err) != api.CodeNotFound {
		t.Errorf("the refused function is stored: %v", err)
	}

	// Host calls that NATS refuses fail with their code.
	deploy(t, c, "nokv", `(s, p) => { try { hostServices.kv.set("k", "v"); return "stored" } catch (e) { return e.code } }`, "fn.nokv")
	if m := invoke(t, app, "fn.nokv", nil); string(m.Data) != hostsvc.CodePermission {
		t.Errorf("kv.set refused by NATS: %q %v", m.Data, m.Header)
	}
	deploy(t, c, "forbidden", `(s, p) => { try { hostServices.messaging.request("secret.x", "x"); return "answered" } catch (e) { return e.code } }`, "fn.forbidden")
	if m := invoke(t, app, "fn.forbidden", nil); string(m.Data) != hostsvc.CodePermission {
		t.Errorf("messaging.request refused by NATS: %q %v", m.Data, m.Header)
	}

	if _, err := c.Remove(ctx, "counter"); err != nil {
		t.Fatalf("rm: %v", err)
	}
	testenv.Eventually(t, "the removed function stops answering", func() bool {
		_, err := app.Request("fn.count", nil, time.Second)
		return err == nats.ErrNoResponders
	})
	if strings.Contains(log.String(), "n0de-s3cret") {
		t.Errorf("the node's log shows its password:\n%s", log.String())
	}
}

// A control request whose JetStream operation the node's NATS user may not
// do fails with 403 naming the refusal, not with a timeout: the client
// waits longer than the node's own request timeout, so any reply but the
// refusal would be a 408.
func TestLeastPrivilegeControlRefused(t *testing.T) {
	start := func(t *testing.T, deny ...string) *client.Client {
		perms := nodePermissions("fn.>", "out.>")
		perms.Publish.Deny = deny
		srv := startPlainSystem(t, perms)
		startNode(t, Config{ServerURL: withUser(srv.ClientURL(), "node", "n0de-s3cret"), Sandbox: "none"})
		c, err := client.New(testenv.Conn(t, withUser(srv.ClientURL(), "app", "app-s3cret")), client.WithTimeout(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	refusal := func(t *testing.T, what string, err error, subject string) {
		t.Helper()
		if api.CodeOf(err) != api.CodeForbidden || !strings.Contains(err.Error(), "NATS permissions refuse") || !strings.Contains(err.Error(), subject) {
			t.Errorf("%s: want 403 naming %s, got %v", what, subject, err)
		}
	}
	ctx := context.Background()
	script := []byte(`() => "x"`)

	t.Run("stream delete", func(t *testing.T) {
		c := start(t, "$JS.API.STREAM.DELETE.>")
		// A new function's deploy deletes what a removed one of its name left.
		_, err := c.Deploy(ctx, api.FunctionSpec{Name: "fresh", Triggers: []string{"fn.fresh"}}, script)
		refusal(t, "deploy", err, "$JS.API.STREAM.DELETE.")
		if _, err := c.Info(ctx, "fresh"); api.CodeOf(err) != api.CodeNotFound {
			t.Errorf("the refused deploy is stored: %v", err)
		}
		if _, err := c.Deploy(ctx, api.FunctionSpec{Name: "kept", Triggers: []string{"fn.kept"}}, script, client.KeepData()); err != nil {
			t.Fatalf("deploy keeping the data: %v", err)
		}
		_, err = c.Remove(ctx, "kept", client.Purge())
		refusal(t, "rm --purge", err, "$JS.API.STREAM.DELETE.")
	})

	t.Run("uploads", func(t *testing.T) {
		uploads := "OBJ_" + api.UploadsBucket
		c := start(t, "$JS.API.DIRECT.GET."+uploads+".>", "$JS.API.STREAM.MSG.GET."+uploads)
		_, err := c.Deploy(ctx, api.FunctionSpec{Name: "staged", Triggers: []string{"fn.staged"}}, script)
		refusal(t, "deploy", err, uploads)
		if _, err := c.List(ctx); err != nil {
			t.Errorf("ls, which needs no upload: %v", err)
		}
	})
}
