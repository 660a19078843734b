package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/bundle"
	"github.com/natsfn/natsfn/internal/testenv"
)

func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.ServerURL == "" && cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:-1"
	}
	if cfg.ServerURL == "" && cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// newClient is a client of n's default namespace, connected as its owner.
func newClient(t testing.TB, n *Node) (*client.Client, *nats.Conn) {
	t.Helper()
	return nsClient(t, n, api.DefaultNamespace)
}

// nsClient is a client of a namespace of n, connected as its owner; the
// namespace is made if it is new.
func nsClient(t testing.TB, n *Node, namespace string) (*client.Client, *nats.Conn) {
	t.Helper()
	nc := nsConn(t, n, namespace)
	c, err := client.New(nc, client.WithNamespace(namespace))
	if err != nil {
		t.Fatal(err)
	}
	return c, nc
}

// nsConn connects to n as the owner of a namespace (made if it is new).
// On a NATS system whose accounts natsfn does not manage, every namespace
// shares one account and the connection is an ordinary one.
func nsConn(t testing.TB, n *Node, namespace string) *nats.Conn {
	t.Helper()
	if n.server == nil {
		return testenv.Conn(t, n.ClientURL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds, err := n.DevCreds(ctx, namespace)
	if err != nil {
		t.Fatalf("credentials of namespace %s: %v", namespace, err)
	}
	nc, err := nats.Connect(n.ClientURL(), nats.Name(t.Name()), nats.UserJWTAndSeed(creds.JWT, string(creds.Seed)))
	if err != nil {
		t.Fatalf("connect as namespace %s: %v", namespace, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// anonConn connects to n without credentials.
func anonConn(t testing.TB, n *Node) *nats.Conn { return testenv.Conn(t, n.ClientURL()) }

func deploy(t testing.TB, c *client.Client, name, src string, triggers ...string) *api.FunctionInfo {
	t.Helper()
	info, err := c.Deploy(context.Background(), api.FunctionSpec{Name: name, Triggers: triggers}, []byte(src))
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
	return info
}

func invoke(t testing.TB, nc *nats.Conn, subject string, payload []byte) *nats.Msg {
	t.Helper()
	m, err := nc.Request(subject, payload, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return m
}

func TestDeployInvoke(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)

	deploy(t, c, "echo", `(subject, payload) => ({ triggered_on: subject, payload })`, "echo.*")
	// No wait between deploy and request: a deploy answers once served.
	m := invoke(t, nc, "echo.hi", []byte("hello"))
	if string(m.Data) != `{"triggered_on":"echo.hi","payload":"hello"}` {
		t.Fatalf("reply %q", m.Data)
	}

	deploy(t, c, "bin", `(s, p) => p`, "bin")
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = byte(i)
	}
	if m := invoke(t, nc, "bin", payload); !bytes.Equal(m.Data, payload) {
		t.Fatalf("binary echo mangled: %v", m.Data)
	}

	deploy(t, c, "boom", `() => { throw new Error("internal detail") }`, "boom")
	m = invoke(t, nc, "boom", nil)
	if m.Header.Get(api.HeaderErrorCode) != "500" || bytes.Contains(m.Data, []byte("internal detail")) {
		t.Fatalf("error reply %v %q", m.Header, m.Data)
	}
}

func TestDeployRefusesBrokenScripts(t *testing.T) {
	n := startNode(t, Config{})
	c, _ := newClient(t, n)
	for src, want := range map[string]string{
		`(s) => {`:                "SyntaxError",
		`42`:                      "evaluated to number",
		`throw new Error("nope")`: "nope",
	} {
		_, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "bad", Triggers: []string{"bad"}}, []byte(src))
		var apiErr *api.Error
		if !errors.As(err, &apiErr) || apiErr.Code != api.CodeBadRequest || !bytes.Contains([]byte(apiErr.Message), []byte(want)) {
			t.Errorf("deploy %q: got %v, want 400 mentioning %q", src, err, want)
		}
	}
	if _, err := c.Info(context.Background(), "bad"); err == nil {
		t.Fatal("a refused deploy was stored")
	}
}

func TestESModuleBundle(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.ts"), []byte(`export const shout = (s: string): string => s.toUpperCase() + "!";`), 0o644)
	os.WriteFile(filepath.Join(dir, "fn.ts"), []byte(`import { shout } from "./lib";
export default async function (subject: string, payload: { text(): string }) { return shout(payload.text()); }`), 0o644)
	b, err := bundle.Build(filepath.Join(dir, "fn.ts"))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "shout", b.Script, "shout")
	if m := invoke(t, nc, "shout", []byte("hey")); string(m.Data) != "HEY!" {
		t.Fatalf("reply %q", m.Data)
	}
}

func TestRestartServesWithoutRedeploy(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, Config{DataDir: dir})
	c, _ := newClient(t, n)
	deploy(t, c, "persist", `() => "still here"`, "persist")
	// A namespace of its own, with data in its account, and its owner's
	// credentials from before the restart.
	ctx := context.Background()
	creds, err := n.NamespaceCreds(ctx, "acme")
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("credentials of a namespace not made yet: %v", err)
	}
	acme, ncAcme := nsClient(t, n, "acme")
	deploy(t, acme, "counter", `(s, p) => { if (p.length) hostServices.kv.set("n", p); return hostServices.kv.get("n") }`, "count")
	invoke(t, ncAcme, "count", []byte("41"))
	if creds, err = n.NamespaceCreds(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	credsFile := filepath.Join(t.TempDir(), "acme.creds")
	os.WriteFile(credsFile, creds, 0o600)
	url := n.ClientURL()
	n.Close()

	// Same data directory, same address: the desired state comes back.
	n2 := startNode(t, Config{DataDir: dir, Listen: url[len("nats://"):]})
	_, nc := newClient(t, n2)
	if m := invoke(t, nc, "persist", nil); string(m.Data) != "still here" {
		t.Fatalf("after restart: %q", m.Data)
	}
	// And so do the namespace, its data and its owner's credentials.
	owner, err := nats.Connect(url, nats.UserCredentials(credsFile))
	if err != nil {
		t.Fatalf("acme's credentials after restart: %v", err)
	}
	defer owner.Close()
	if m := invoke(t, owner, "count", nil); string(m.Data) != "41" {
		t.Fatalf("acme's data after restart: %q %v", m.Data, m.Header)
	}
}

func TestTwoNodesShareAFunction(t *testing.T) {
	a := startNode(t, Config{Name: "node-a"})
	c, nc := newClient(t, a)
	deploy(t, c, "who", `() => { console.log("served"); return "ok" }`, "who")
	// The second node joins afterwards and picks the function up from the
	// desired state.
	startNode(t, Config{ServerURL: a.ClientURL(), Creds: a.AdminCreds(), Name: "node-b"})

	logs, err := nc.SubscribeSync(api.LogSubject("default", "who"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	nodes := map[string]int{}
	for i := 0; i < 40; i++ {
		if m := invoke(t, nc, "who", nil); string(m.Data) != "ok" {
			t.Fatalf("reply %q", m.Data)
		}
		lm, err := logs.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var e api.LogEntry
		json.Unmarshal(lm.Data, &e)
		nodes[e.Node]++
	}
	if nodes["node-a"] == 0 || nodes["node-b"] == 0 {
		t.Fatalf("calls per node %v: want both nodes serving", nodes)
	}
}

func TestRemove(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "gone", `() => 1`, "gone")
	if _, err := c.Remove(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := nc.Request("gone", nil, time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still served after rm: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The isolate budget holds in a namespace's worker: a third function's
// isolate sends away the one idle the longest, whose module state starts
// over, while the one used more recently keeps its own.
func TestIsolateBudget(t *testing.T) {
	n := startNode(t, Config{MaxIsolates: 2})
	c, nc := newClient(t, n)
	for _, name := range []string{"a", "b", "c"} {
		deploy(t, c, name, `let n = 0; (() => String(++n))`, "budget."+name)
	}
	call := func(name string) string { return string(invoke(t, nc, "budget."+name, nil).Data) }
	call("a")
	call("b")
	call("a")
	call("c") // over the budget: b goes
	if got := call("a"); got != "3" {
		t.Fatalf("a, used recently, lost its isolate: %s", got)
	}
	if got := call("b"); got != "1" {
		t.Fatalf("b, idle the longest, kept its isolate: %s", got)
	}
}
