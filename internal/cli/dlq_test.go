package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/node"
	"github.com/natsfn/natsfn/internal/testenv"
)

// A stream trigger's dead letters: `dlq ls` lists them with where they
// came from, `dlq replay` puts them back on their subject, where the fixed
// function handles them, and `info` shows the consumer's counts.
func TestDeadLettersCLI(t *testing.T) {
	n, err := node.Start(context.Background(), node.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir(), Sandbox: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	url, admin := n.ClientURL(), n.AdminCreds()
	creds := filepath.Join(t.TempDir(), "shop.creds")
	if code, _, stderr := run(t, "", "ns", "add", "shop", "--out", creds, "-s", url, "--creds", admin); code != 0 {
		t.Fatalf("ns add: %q", stderr)
	}
	nc, err := nats.Connect(url, nats.UserCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js := testenv.JetStream(t, nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}

	broken := writeFile(t, "orders.js", `(s, p) => { throw new Error("no stock for " + p.text()) }`)
	if code, _, stderr := run(t, "", "deploy", broken, "--consume", "ORDERS", "--max-deliver", "2", "-s", url, "--creds", creds); code != 0 {
		t.Fatalf("deploy: %q", stderr)
	}
	if code, stdout, _ := run(t, "", "dlq", "ls", "orders", "-s", url, "--creds", creds); code != 0 || !strings.Contains(stdout, "no dead letters") {
		t.Errorf("dlq ls before: %d %q", code, stdout)
	}
	if _, err := js.Publish(ctx, "orders.1", []byte("socks")); err != nil {
		t.Fatal(err)
	}
	var letters []map[string]any
	testenv.Eventually(t, "the dead letter", func() bool {
		code, stdout, _ := run(t, "", "dlq", "ls", "orders", "--json", "-s", url, "--creds", creds)
		return code == 0 && json.Unmarshal([]byte(stdout), &letters) == nil && len(letters) == 1
	})
	if l := letters[0]; l["subject"] != "orders.1" || l["stream"] != "ORDERS" || l["deliveries"] != "2" || l["error"] == "" {
		t.Errorf("dead letter %v", l)
	}
	code, stdout, _ := run(t, "", "dlq", "ls", "orders", "-s", url, "--creds", creds)
	if code != 0 || !strings.Contains(stdout, "ORDERS #1 (orders.1)") {
		t.Errorf("dlq ls: %d %q", code, stdout)
	}
	code, stdout, _ = run(t, "", "info", "orders", "-s", url, "--creds", creds)
	if code != 0 || !strings.Contains(stdout, "stream consumer:") || !strings.Contains(stdout, "pending 0") {
		t.Errorf("info: %d %q", code, stdout)
	}

	// Fixed, and replayed: the message runs again, and the letter is gone.
	fixed := writeFile(t, "orders.js", `(s, p) => { hostServices.messaging.publish("shipped", p) }`)
	if code, _, stderr := run(t, "", "deploy", fixed, "--consume", "ORDERS", "-s", url, "--creds", creds); code != 0 {
		t.Fatalf("redeploy: %q", stderr)
	}
	shipped, err := nc.SubscribeSync("shipped")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := run(t, "", "dlq", "replay", "orders", "-s", url, "--creds", creds); code != 0 || !strings.Contains(stdout, "replayed 1") {
		t.Fatalf("dlq replay: %d %q %q", code, stdout, stderr)
	}
	if m, err := shipped.NextMsg(testenv.EventuallyWithin); err != nil || string(m.Data) != "socks" {
		t.Fatalf("the replayed order: %v %v", m, err)
	}
	if code, stdout, _ := run(t, "", "dlq", "ls", "orders", "-s", url, "--creds", creds); code != 0 || !strings.Contains(stdout, "no dead letters") {
		t.Errorf("dlq ls after the replay: %d %q", code, stdout)
	}
	if code, _, stderr := run(t, "", "dlq", "replay", "orders", "--seq", "99", "-s", url, "--creds", creds); code == 0 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("replay of a letter that is not there: %d %q", code, stderr)
	}
	if code, _, stderr := run(t, "", "dlq", "purge", "orders", "-s", url, "--creds", creds); code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("dlq purge: %d %q", code, stderr)
	}
}
