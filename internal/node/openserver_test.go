package node

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

// startOpenServer starts a nats-server with JetStream that asks no one to
// authenticate: every client may do anything, natsfn's state included.
func startOpenServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s
}

// openWorkerConn says whether the namespace's worker has a connection of
// its own to s.
func openWorkerConn(t testing.TB, s *server.Server, namespace string) bool {
	connz, err := s.Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range connz.Conns {
		if c.Name == "natsfn-worker "+namespace {
			return true
		}
	}
	return false
}

// On a server without authentication a worker's own connection has no
// more rights than any client's, so the worker takes its calls and runs
// its kv calls itself there too, as on natsfn's own server.
func TestOpenServerWorkerDirect(t *testing.T) {
	s := startOpenServer(t)
	n := startNode(t, Config{ServerURL: s.ClientURL()})
	c, nc := newClient(t, n)
	deploy(t, c, "open", `(s, p) => { hostServices.kv.set("k", p); return hostServices.kv.get("k") }`, "open")
	if m := invoke(t, nc, "open", []byte("hi")); string(m.Data) != "hi" {
		t.Fatalf("reply %q %v", m.Data, m.Header)
	}
	testenv.Eventually(t, "the worker's own connection", func() bool { return openWorkerConn(t, s, api.DefaultNamespace) })
}

// BenchmarkWarmEchoOpenServer is BenchmarkWarmEcho on an external
// nats-server without authentication, where the worker takes its calls
// directly (it used to be relayed by the node). The Go responder and the
// requester are clients of the same server; the responder runs in a
// process of its own, as the worker does.
//
//	go test -run - -bench WarmEchoOpenServer -benchtime 20000x -count 3 ./internal/node/
func BenchmarkWarmEchoOpenServer(b *testing.B) {
	s := startOpenServer(b)
	n := startNode(b, Config{ServerURL: s.ClientURL()})
	c, _ := newClient(b, n)
	deploy(b, c, "echo", `(s, p) => p`, "bench.js")
	connect := func(name string) *nats.Conn {
		conn, err := nats.Connect(s.ClientURL(), nats.Name(b.Name()+"-"+name))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(conn.Close)
		return conn
	}
	cmd, err := responderCommand(s.ClientURL(), "", "")
	if err != nil {
		b.Fatal(err)
	}
	startResponderCmd(b, cmd, "bench.go")
	requester := connect("requester")
	payload := []byte(strings.Repeat("x", 65))
	if m := invoke(b, requester, "bench.js", payload); string(m.Data) != string(payload) {
		b.Fatalf("echo replied %q %v", m.Data, m.Header)
	}
	b.Logf("worker on a connection of its own: %v", openWorkerConn(b, s, api.DefaultNamespace))
	benchEchoPair(b, requester, payload)
}
