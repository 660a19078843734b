// Package controltest runs the control API for tests of its clients: a
// real embedded NATS server with JetStream, the store and the control
// server, all stopped when the test ends.
package controltest

import (
	"testing"

	"github.com/natsfn/natsfn/internal/control"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

// Start starts a NATS server with the control API on it and returns its URL.
func Start(t testing.TB, opts ...control.Option) string {
	t.Helper()
	url := testenv.NATS(t)
	nc := testenv.Conn(t, url)
	st, err := store.Open(t.Context(), testenv.JetStream(t, nc))
	if err != nil {
		t.Fatalf("controltest: %v", err)
	}
	srv, err := control.Start(t.Context(), nc, st, opts...)
	if err != nil {
		t.Fatalf("controltest: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return url
}
