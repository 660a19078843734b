package node

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsfn/natsfn/internal/testenv"
)

// lockedBuffer lets the node's goroutines and the test share a log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A node started before JetStream is available waits for it, saying so,
// and serves once it comes, instead of exiting.
func TestNodeWaitsForJetStream(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}

	var log lockedBuffer
	started := make(chan error, 1)
	var n *Node
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		n, err = Start(ctx, Config{ServerURL: srv.ClientURL(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
		started <- err
	}()
	testenv.Eventually(t, "the node to say it waits for JetStream", func() bool {
		return strings.Contains(log.String(), "waiting for JetStream")
	})
	select {
	case err := <-started:
		t.Fatalf("the node did not wait: %v", err)
	default:
	}

	if err := srv.EnableJetStream(&server.JetStreamConfig{StoreDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("after JetStream came: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	c, nc := newClient(t, n)
	deploy(t, c, "late", `() => "served"`, "late")
	if m := invoke(t, nc, "late", nil); string(m.Data) != "served" {
		t.Fatalf("reply %q", m.Data)
	}
}
