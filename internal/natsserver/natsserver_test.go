package natsserver

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// syncBuffer lets the server's goroutines and the test share a log buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:-1"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestJetStreamWorks(t *testing.T) {
	s := start(t, Config{ServerName: "natsfn-test"})
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != "natsfn-test" {
		t.Errorf("server name = %q", got)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil || string(e.Value()) != "v" {
		t.Fatalf("get = %v, %v", e, err)
	}
}

func TestPortTaken(t *testing.T) {
	s := start(t, Config{})
	addr := strings.TrimPrefix(s.ClientURL(), "nats://")
	_, err := Start(Config{Listen: addr, DataDir: t.TempDir()})
	if err == nil {
		t.Fatal("second server on the same port started")
	}
	msg := err.Error()
	if !strings.Contains(msg, addr) || !strings.Contains(msg, "address already in use") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q, want one line naming %s and the cause", msg, addr)
	}
}

func TestShutdownTwice(t *testing.T) {
	s := start(t, Config{})
	url := s.ClientURL()
	s.Shutdown()
	s.Shutdown()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		c.Close()
		t.Error("server still accepts connections after Shutdown")
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: "127.0.0.1:-1"},
		{Listen: "no-port", DataDir: t.TempDir()},
		{Listen: "127.0.0.1:http", DataDir: t.TempDir()},
	} {
		if _, err := Start(cfg); err == nil {
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}

func TestLogReachesSlog(t *testing.T) {
	var buf syncBuffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	start(t, Config{Logger: slog.New(h)})
	out := buf.String()
	if !strings.Contains(out, "subsystem=nats") || !strings.Contains(out, "Starting nats-server") {
		t.Errorf("log lacks the server's notices:\n%s", out)
	}
	if strings.Contains(out, "level=DEBUG") {
		t.Errorf("debug lines logged at Info level:\n%s", out)
	}
}

func TestDebugLogOnlyWhenEnabled(t *testing.T) {
	var buf syncBuffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	s := start(t, Config{Logger: slog.New(h)})
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()
	if out := buf.String(); !strings.Contains(out, "level=DEBUG") {
		t.Errorf("no debug lines with Debug enabled:\n%s", out)
	}
}
