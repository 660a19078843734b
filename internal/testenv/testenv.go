// Package testenv gives tests real parts to run against: an embedded
// nats-server with JetStream and clients connected to it, each cleaned up
// when the test ends.
package testenv

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/natsserver"
)

// NATS starts a nats-server with JetStream on a free 127.0.0.1 port, stores
// its data in a temp dir, and returns its client URL. The server stops when
// the test ends.
func NATS(t testing.TB) string {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{
		Listen:  "127.0.0.1:-1",
		DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// Conn connects to url and closes the connection when the test ends.
func Conn(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func JetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return js
}
