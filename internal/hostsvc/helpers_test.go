package hostsvc

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/testenv"
)

// testConn starts a JetStream server and connects to it.
func testConn(t testing.TB) *nats.Conn {
	t.Helper()
	return testenv.Conn(t, testenv.NATS(t))
}

func newServices(t testing.TB, nc *nats.Conn, ns, name string, cfg Config) *Services {
	t.Helper()
	s, err := New(nc, Identity{Namespace: ns, Name: name}, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call runs op with args marshalled as the JSON array the JavaScript side
// sends, and returns the result as the JSON JavaScript would see.
func call(t testing.TB, s *Services, op string, body []byte, args ...any) (string, []byte, *Error) {
	t.Helper()
	return callCtx(t, testCtx(t), s, op, body, args...)
}

func callCtx(t testing.TB, ctx context.Context, s *Services, op string, body []byte, args ...any) (string, []byte, *Error) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	res, rb, err := s.Call(ctx, op, raw, body)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: error %T is not *Error: %v", op, err, err)
		}
		if res != nil || rb != nil {
			t.Fatalf("%s: error %v came with a result", op, err)
		}
		return "", nil, e
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("%s: result does not marshal: %v", op, err)
	}
	return string(out), rb, nil
}

// mustCall is call for operations that must succeed.
func mustCall(t testing.TB, s *Services, op string, body []byte, args ...any) (string, []byte) {
	t.Helper()
	res, rb, e := call(t, s, op, body, args...)
	if e != nil {
		t.Fatalf("%s %v: %v", op, args, e)
	}
	return res, rb
}

// wantError checks the code and the JavaScript error class of e.
func wantError(t testing.TB, e *Error, code, typ string) {
	t.Helper()
	if e == nil {
		t.Fatalf("got success, want %s", code)
	}
	if e.Code != code || e.Type != typ {
		t.Fatalf("got %s/%s (%v), want %s/%s", e.Code, e.Type, e, code, typ)
	}
	if e.Message == "" {
		t.Fatalf("%s has no message", code)
	}
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
