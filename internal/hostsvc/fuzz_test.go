package hostsvc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"
)

var knownCodes = map[string]bool{
	CodeInvalidArgument: true, CodeKVInvalidKey: true, CodeObjInvalidName: true, CodeSubjectDenied: true,
	CodeNoResponders: true, CodeTimeout: true, CodeCancelled: true, CodeEgressDenied: true, CodeDisabled: true,
	CodeTooLarge: true, CodeQuotaExceeded: true, CodeHTTPError: true, CodeUnavailable: true,
}

// FuzzCall drives every operation with arbitrary arguments against a real
// server. Nothing may panic, every error must be a well-formed *Error with a
// known code, and every result must marshal to JSON. HTTP never leaves the
// process: names resolve from /etc/hosts only and the final dial is
// replaced.
func FuzzCall(f *testing.F) {
	ops := []string{"kv.get", "kv.set", "kv.delete", "kv.keys", "obj.put", "obj.get", "obj.delete", "obj.list",
		"msg.publish", "msg.request", "msg.requestMany", "http.request", "nope"}
	seeds := []struct {
		op   uint8
		args string
	}{
		{0, `["k"]`}, {1, `["a.b"]`}, {1, `[".bad"]`}, {2, `["k"]`}, {3, `[]`}, {3, ``},
		{4, `["o"]`}, {5, `["o"]`}, {6, `["missing"]`}, {7, `null`},
		{8, `["fuzz.x", {"headers": {"A": ["1", "2"]}}]`}, {8, `["$SYS.x"]`}, {9, `["fuzz.y", {"timeout_ms": 1}]`},
		{10, `["fuzz.z", {"max": 2, "stall_ms": 1, "timeout_ms": 20}]`}, {10, `["fuzz.z", {"max": 1e309}]`},
		{11, `["GET", "http://8.8.8.8/", {"timeout_ms": 50}]`}, {11, `["POST", "http://localhost/", {"headers": {"X": "y"}}]`},
		{11, `["GET", "http://[::ffff:169.254.169.254]/"]`}, {11, `["get", "HTTP://EXAMPLE.com:99999/"]`},
		{0, `[`}, {0, `[1,2`}, {0, `{"a":1}`}, {0, `["\ud800"]`}, {12, `[]`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.args), []byte("body"))
	}

	nc := testConn(f)
	s := newServices(f, nc, "fuzz", "fn", Config{
		Messaging: MessagingConfig{Timeout: 50 * time.Millisecond, Stall: 10 * time.Millisecond},
		HTTP: HTTPConfig{
			Timeout:  100 * time.Millisecond,
			Resolver: offline,
			connect: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("no network in fuzzing")
			},
		},
	})
	f.Fuzz(func(t *testing.T, op uint8, args, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		name := ops[int(op)%len(ops)]
		res, rb, err := s.Call(ctx, name, args, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%s %q: %T %v", name, args, err, err)
			}
			if errors.Is(err, errPanic) || !knownCodes[e.Code] || e.Message == "" || (e.Type != "Error" && e.Type != "TypeError") {
				t.Fatalf("%s %q: %#v", name, args, e)
			}
			if res != nil || rb != nil {
				t.Fatalf("%s %q: a result with an error", name, args)
			}
			return
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("%s %q: result %#v does not marshal: %v", name, args, res, err)
		}
	})
}

// FuzzArgs decodes arbitrary argument arrays the way every op does.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{`[]`, `["a", {"timeout_ms": 5, "max": 3, "headers": {"a": "b"}}]`, `[null, null]`,
		`["a", {"headers": {"a": ["b", 1]}}]`, `["a", {"timeout_ms": -0}]`, `[1e400]`, `["a", {"max": 1e20}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, e := parseArgs(raw)
		if e != nil {
			return
		}
		a.str(0, "first")
		o, e := a.options(1, "opts")
		if e != nil {
			return
		}
		if d, ok, e := o.millis("timeout_ms"); e == nil && ok && d < 0 {
			t.Fatalf("negative duration %v", d)
		}
		if n, ok, e := o.count("max"); e == nil && ok && n < 1 {
			t.Fatalf("count %d", n)
		}
		if h, e := o.headers("headers"); e == nil {
			checkHeaders(h, "opts.headers")
		}
	})
}
