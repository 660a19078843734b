package hostsvc

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func TestNewValidates(t *testing.T) {
	nc := testConn(t)
	bad := []struct {
		fn  Identity
		cfg Config
	}{
		{Identity{Namespace: "", Name: "x"}, Config{}},
		{Identity{Namespace: "ns", Name: "X"}, Config{}},
		{Identity{Namespace: "ns", Name: "a.b"}, Config{}},
		{Identity{Namespace: "ns", Name: strings.Repeat("x", 65)}, Config{}},
		{Identity{Namespace: "ns", Name: "x"}, Config{KV: KVConfig{MaxValueSize: -1}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{Objects: ObjectsConfig{MaxBytes: -1}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{Messaging: MessagingConfig{Timeout: -time.Second}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{Messaging: MessagingConfig{AllowedSubjects: []string{""}}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{HTTP: HTTPConfig{MaxResponseBytes: -1}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{HTTP: HTTPConfig{Allow: []string{"10.0.0.0/99"}}}},
		{Identity{Namespace: "ns", Name: "x"}, Config{Replicas: 7}},
	}
	for _, c := range bad {
		if _, err := New(nc, c.fn, c.cfg); err == nil {
			t.Errorf("New(%v, %+v) accepted it", c.fn, c.cfg)
		}
	}
	if _, err := New(nil, Identity{Namespace: "ns", Name: "x"}, Config{}); err == nil {
		t.Error("New accepted a nil connection")
	}
	cfg := Config{}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the zero Config is invalid: %v", err)
	}
	d := cfg.withDefaults()
	if d.KV.MaxValueSize != DefaultKVMaxValueSize || d.HTTP.MaxRedirects != DefaultHTTPMaxRedirects ||
		d.Messaging.Timeout != DefaultMsgTimeout || d.Replicas != 1 || d.HTTP.MaxResponseBytes != DefaultHTTPMaxResponse {
		t.Fatalf("defaults: %+v", d)
	}
}

// TestUnavailable runs the storage services where JetStream is missing and
// over a closed connection.
func TestUnavailable(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := newServices(t, nc, "default", "nojs", Config{})
	for _, op := range []string{"kv.get", "obj.get"} {
		_, _, e := call(t, s, op, nil, "k")
		wantError(t, e, CodeUnavailable, "Error")
	}

	nc.Close()
	for _, op := range []string{"kv.get", "msg.publish", "msg.request"} {
		_, _, e := call(t, s, op, nil, "k")
		wantError(t, e, CodeUnavailable, "Error")
	}
}
