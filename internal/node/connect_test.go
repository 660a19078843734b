package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/testenv"
)

// startServer starts a JetStream server with opts' security settings.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	srv, err := server.NewServer(opts)
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

// deployAndCall deploys an echo over nc and calls it.
func deployAndCall(t *testing.T, nc *nats.Conn) {
	t.Helper()
	c, err := client.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deploy(t, c, "echo", `(s, p) => "echo " + p.text()`, "echo")
	if m := invoke(t, nc, "echo", []byte("hi")); string(m.Data) != "echo hi" {
		t.Fatalf("call: %q %v", m.Data, m.Header)
	}
}

// A node joins a server that requires TLS with client certificates, and
// serves calls.
func TestJoinOverTLS(t *testing.T) {
	certs := testenv.TLS(t)
	srv := startServer(t, &server.Options{TLS: true, TLSVerify: true, TLSConfig: certs.ServerConfig(t), TLSTimeout: 5})
	url := fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Start(ctx, Config{ServerURL: url, Sandbox: "none"}); err == nil {
		t.Fatal("a node without a client certificate joined")
	}
	startNode(t, Config{ServerURL: url, TLSCert: certs.ClientCert, TLSKey: certs.ClientKey, TLSCA: certs.CA})
	nc, err := nats.Connect(url, nats.ClientCert(certs.ClientCert, certs.ClientKey), nats.RootCAs(certs.CA))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deployAndCall(t, nc)
}

// A node logs in with an nkey seed file, and takes the first server of a
// list that answers.
func TestJoinWithNKeyAndServerList(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	seedFile := filepath.Join(t.TempDir(), "node.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})

	// A port nobody listens on: taken, then given back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "nats://" + l.Addr().String()
	l.Close()

	startNode(t, Config{ServerURL: down + "," + srv.ClientURL(), NKey: seedFile, Sandbox: "none"})
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	deployAndCall(t, nc)
}

// A password in the server URL appears in no log line and no error.
func TestPasswordNeverShown(t *testing.T) {
	srv := startServer(t, &server.Options{Username: "node", Password: "pa55-w0rd"})
	port := srv.Addr().(*net.TCPAddr).Port
	var log lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Start(ctx, Config{ServerURL: fmt.Sprintf("nats://node:wr0ng-pa55@127.0.0.1:%d", port), Sandbox: "none",
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err == nil || strings.Contains(err.Error(), "wr0ng-pa55") {
		t.Errorf("a wrong password: %v", err)
	}
	startNode(t, Config{ServerURL: fmt.Sprintf("nats://node:pa55-w0rd@127.0.0.1:%d", port), Sandbox: "none",
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	nc := testenv.Conn(t, fmt.Sprintf("nats://node:pa55-w0rd@127.0.0.1:%d", port))
	c, _ := client.New(nc)
	nodes, err := client.NewAdmin(nc)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := nodes.Nodes(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("nodes: %v %v", infos, err)
	}
	deploy(t, c, "echo", `(s, p) => { console.log("hello"); return p }`, "echo")
	invoke(t, nc, "echo", nil)
	for _, s := range []string{log.String(), fmt.Sprint(infos)} {
		if strings.Contains(s, "pa55-w0rd") || strings.Contains(s, "wr0ng-pa55") {
			t.Errorf("a password is shown: %s", s)
		}
	}
}

// Log lines the log stream cannot store are counted and reported in the
// node's log.
func TestLostLogLinesCounted(t *testing.T) {
	var log lockedBuffer
	n := startNode(t, Config{Sandbox: "none", Metrics: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&log, nil))})
	c, nc := newClient(t, n)
	deploy(t, c, "chatty", `(s, p) => { console.log("one"); console.log("two"); return "ok" }`, "chatty")
	invoke(t, nc, "chatty", nil)
	if lost := n.LogLinesLost(); lost != 0 {
		t.Fatalf("%d lines lost with the stream in place", lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := testenv.JetStream(t, nc).DeleteStream(ctx, "NATSFN_LOGS"); err != nil {
		t.Fatal(err)
	}
	invoke(t, nc, "chatty", nil)
	testenv.Eventually(t, "both lines counted as lost", func() bool { return n.LogLinesLost() >= 2 })
	// Nothing logs after the two lines, so the count stands still.
	if got, want := sample(scrape(t, n), "natsfn_log_lines_lost_total"), float64(n.LogLinesLost()); got != want || got < 2 {
		t.Errorf("natsfn_log_lines_lost_total = %v, want %v", got, want)
	}
	testenv.Eventually(t, "the loss reported", func() bool {
		return strings.Contains(log.String(), "function log lines lost") && strings.Contains(log.String(), "NATSFN_LOGS")
	})
}
