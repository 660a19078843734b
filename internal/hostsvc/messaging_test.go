package hostsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/testenv"
)

func TestPublish(t *testing.T) {
	nc := testConn(t)
	s := newServices(t, nc, "default", "pub", Config{})
	sub, err := nc.SubscribeSync("hello.world")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	if res, _ := mustCall(t, s, "msg.publish", allBytes(), "hello.world"); res != "null" {
		t.Fatalf("publish = %s", res)
	}
	mustCall(t, s, "msg.publish", []byte("h"), "hello.world",
		map[string]any{"headers": map[string]any{"X-One": "1", "X-Many": []string{"a", "b"}}})
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil || !bytes.Equal(m.Data, allBytes()) {
		t.Fatalf("got %v, %v", m, err)
	}
	m, err = sub.NextMsg(5 * time.Second)
	if err != nil || m.Header.Get("X-One") != "1" || strings.Join(m.Header.Values("X-Many"), ",") != "a,b" {
		t.Fatalf("got headers %v, %v", m.Header, err)
	}
}

func TestSubjectPolicy(t *testing.T) {
	nc, err := nats.Connect(testenv.NATS(t), nats.CustomInboxPrefix("_I_ns"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s := newServices(t, nc, "default", "subj", Config{})
	denied := []string{
		"$SYS.REQ.SERVER.PING", "$SYS", "$JS.API.STREAM.LIST", "$JS.API.STREAM.DELETE.KV_fn_1_x_y",
		"$KV.fn_7_default_other.k", "$O.fn_7_default_other.M.x", "$NATSFN.v1.default.deploy",
		"$NATSFN.logs.default.other", "_INBOX.abc", "_INBOX", "$SRV.PING", "$MQTT.sess", "$anything",
		"_R_.abc", "_R_", "_I_ns.xyz", "_I_ns",
	}
	invalid := []string{"", "a.*", "a.>", "*", ">", "a..b", ".a", "a.", "a b", "a\tb", "a\r\nPUB x 1", "a.b*", strings.Repeat("a", maxSubjectLen+1)}
	for _, op := range []string{"msg.publish", "msg.request", "msg.requestMany"} {
		for _, subj := range denied {
			_, _, e := call(t, s, op, nil, subj)
			wantError(t, e, CodeSubjectDenied, "Error")
		}
		for _, subj := range invalid {
			_, _, e := call(t, s, op, nil, subj)
			wantError(t, e, CodeInvalidArgument, "TypeError")
		}
		_, _, e := call(t, s, op, nil, 42)
		wantError(t, e, CodeInvalidArgument, "TypeError")
		_, _, e = call(t, s, op, nil, "ok", "not an object")
		wantError(t, e, CodeInvalidArgument, "TypeError")
		for _, h := range []map[string]any{{"a b": "x"}, {"a:b": "x"}, {"": "x"}, {"X": "a\r\nb"}, {"X": 1}, {"X": []any{"a", 2}}} {
			_, _, e = call(t, s, op, nil, "ok", map[string]any{"headers": h})
			wantError(t, e, CodeInvalidArgument, "TypeError")
		}
	}
	// A subject merely containing '$' or "_INBOX" later on is fine.
	mustCall(t, s, "msg.publish", nil, "a.$b._INBOX")
}

func TestAllowedSubjects(t *testing.T) {
	s := newServices(t, testConn(t), "acme", "fn", Config{Messaging: MessagingConfig{AllowedSubjects: []string{"acme.>", "shared.*.in"}}})
	for _, subj := range []string{"acme.x", "acme.x.y", "shared.q.in"} {
		mustCall(t, s, "msg.publish", nil, subj)
	}
	for _, subj := range []string{"acme", "other.x", "shared.q.out", "shared.q.in.more", "$JS.API.INFO"} {
		_, _, e := call(t, s, "msg.publish", nil, subj)
		wantError(t, e, CodeSubjectDenied, "Error")
	}
	if _, err := New(testConn(t), Identity{Namespace: "a", Name: "b"}, Config{Messaging: MessagingConfig{AllowedSubjects: []string{"a..b"}}}); err == nil {
		t.Fatal("New accepted an invalid subject pattern")
	}
}

func TestRequest(t *testing.T) {
	nc := testConn(t)
	s := newServices(t, nc, "default", "req", Config{})
	nc.Subscribe("echo", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Data = append([]byte("re:"), m.Data...)
		r.Header.Set("X-Got", m.Header.Get("X-Send"))
		m.RespondMsg(r)
	})
	nc.Subscribe("fails", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Nats-Service-Error", "bad input")
		r.Header.Set("Nats-Service-Error-Code", "400")
		m.RespondMsg(r)
	})
	nc.Subscribe("silent", func(*nats.Msg) {})
	nc.Flush()

	res, rb := mustCall(t, s, "msg.request", allBytes(), "echo", map[string]any{"headers": map[string]any{"X-Send": "v"}})
	var got requestResult
	json.Unmarshal([]byte(res), &got)
	if !bytes.Equal(rb, append([]byte("re:"), allBytes()...)) || got.Headers["X-Got"][0] != "v" {
		t.Fatalf("request = %s %q", res, rb)
	}

	// An error reply is a reply: the function decides what it means.
	res, rb = mustCall(t, s, "msg.request", nil, "fails")
	if !strings.Contains(res, `"Nats-Service-Error":["bad input"]`) || len(rb) != 0 || rb == nil {
		t.Fatalf("error reply = %s %q", res, rb)
	}

	_, _, e := call(t, s, "msg.request", nil, "nobody.listens")
	wantError(t, e, CodeNoResponders, "Error")

	start := time.Now()
	_, _, e = call(t, s, "msg.request", nil, "silent", map[string]any{"timeout_ms": 100})
	wantError(t, e, CodeTimeout, "Error")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout_ms 100 took %v", d)
	}

	// The invocation's deadline wins over a longer timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, _, e = callCtx(t, ctx, s, "msg.request", nil, "silent", map[string]any{"timeout_ms": 60000})
	wantError(t, e, CodeTimeout, "Error")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("invocation deadline 150ms took %v", d)
	}

	for _, opts := range []map[string]any{{"timeout_ms": "1"}, {"timeout_ms": -1}, {"headers": "x"}} {
		_, _, e = call(t, s, "msg.request", nil, "echo", opts)
		wantError(t, e, CodeInvalidArgument, "TypeError")
	}
	_, _, e = call(t, s, "msg.request", make([]byte, nc.MaxPayload()+1), "echo")
	wantError(t, e, CodeTooLarge, "Error")
	bigHeader := map[string]any{"headers": map[string]any{"X": strings.Repeat("v", int(nc.MaxPayload()))}}
	for _, op := range []string{"msg.publish", "msg.request", "msg.requestMany"} {
		_, _, e = call(t, s, op, []byte("small"), "echo", bigHeader)
		wantError(t, e, CodeTooLarge, "Error")
	}
}

func TestRequestMany(t *testing.T) {
	nc := testConn(t)
	s := newServices(t, nc, "default", "many", Config{})
	// Three responders answer at once; a fourth answers after 600ms.
	for i, delay := range []time.Duration{0, 0, 0, 600 * time.Millisecond} {
		nc.Subscribe("gather", func(m *nats.Msg) {
			// In its own goroutine so a slow reply does not hold up the
			// next request's.
			go func() {
				time.Sleep(delay)
				m.Respond(bytes.Repeat([]byte{byte('a' + i)}, i+1))
			}()
		})
	}
	nc.Subscribe("quiet", func(*nats.Msg) {})
	nc.Flush()

	sizesOf := func(res string) []int {
		var r requestManyResult
		if err := json.Unmarshal([]byte(res), &r); err != nil {
			t.Fatal(err)
		}
		return r.Sizes
	}
	check := func(res string, rb []byte, n int) {
		t.Helper()
		sizes := sizesOf(res)
		if len(sizes) != n {
			t.Fatalf("got %d replies (%s), want %d", len(sizes), res, n)
		}
		off := 0
		for _, n := range sizes {
			part := rb[off : off+n]
			if !bytes.Equal(part, bytes.Repeat(part[:1], n)) || int(part[0]-'a') != n-1 {
				t.Fatalf("reply %q does not match its size %d", part, n)
			}
			off += n
		}
		if off != len(rb) {
			t.Fatalf("sizes %v do not add up to %d bytes", sizes, len(rb))
		}
	}

	// By max.
	res, rb := mustCall(t, s, "msg.requestMany", nil, "gather", map[string]any{"max": 2})
	check(res, rb, 2)
	// By stall: the late one comes after a quiet gap of 200ms.
	res, rb = mustCall(t, s, "msg.requestMany", nil, "gather", map[string]any{"stall_ms": 200, "timeout_ms": 3000})
	check(res, rb, 3)
	// By timeout, no stall: the late one arrives within 1.5s.
	start := time.Now()
	res, rb = mustCall(t, s, "msg.requestMany", nil, "gather", map[string]any{"stall_ms": 0, "timeout_ms": 1500})
	check(res, rb, 4)
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Fatalf("gathering until the timeout ended after %v", d)
	}
	// The default: a 250ms quiet gap.
	res, rb = mustCall(t, s, "msg.requestMany", nil, "gather")
	check(res, rb, 3)

	// Listeners that never answer: an empty list, not an error.
	res, rb = mustCall(t, s, "msg.requestMany", nil, "quiet", map[string]any{"timeout_ms": 100})
	if res != `{"sizes":[]}` || rb == nil || len(rb) != 0 {
		t.Fatalf("quiet = %s %q", res, rb)
	}
	_, _, e := call(t, s, "msg.requestMany", nil, "nobody.listens")
	wantError(t, e, CodeNoResponders, "Error")

	for _, opts := range []map[string]any{{"max": 0}, {"max": 1.5}, {"max": "2"}, {"stall_ms": -5}, {"stall_ms": true}} {
		_, _, e = call(t, s, "msg.requestMany", nil, "gather", opts)
		wantError(t, e, CodeInvalidArgument, "TypeError")
	}

	few := newServices(t, nc, "default", "few", Config{Messaging: MessagingConfig{MaxReplies: 2}})
	res, rb = mustCall(t, few, "msg.requestMany", nil, "gather", map[string]any{"max": 100})
	check(res, rb, 2)
	small := newServices(t, nc, "default", "small", Config{Messaging: MessagingConfig{MaxReplyBytes: 4}})
	nc.Subscribe("big", func(m *nats.Msg) { m.Respond(make([]byte, 5)) })
	nc.Flush()
	_, _, e = call(t, small, "msg.requestMany", nil, "big")
	wantError(t, e, CodeTooLarge, "Error")
}

func TestMessagingDisabled(t *testing.T) {
	s := newServices(t, testConn(t), "default", "msgoff", Config{Messaging: MessagingConfig{Disabled: true}})
	for _, op := range []string{"msg.publish", "msg.request", "msg.requestMany"} {
		_, _, e := call(t, s, op, nil, "x")
		wantError(t, e, CodeDisabled, "Error")
	}
}

// A function sends at most its burst at once, then at the configured rate;
// other functions have budgets of their own.
func TestMessagingRateLimit(t *testing.T) {
	nc := testConn(t)
	// A rate this low refills nothing while the test runs: only the burst
	// counts, however slow the machine.
	cfg := Config{Messaging: MessagingConfig{MaxRate: 1e-9, MaxBurst: 3}}
	s := newServices(t, nc, "default", "flood", cfg)
	// A call refused for its arguments spends nothing.
	_, _, e := call(t, s, "msg.publish", nil, "bad..subject")
	wantError(t, e, CodeInvalidArgument, "TypeError")
	for range 3 {
		mustCall(t, s, "msg.publish", nil, "out")
	}
	for _, op := range []string{"msg.publish", "msg.request", "msg.requestMany"} {
		_, _, e := call(t, s, op, nil, "out")
		wantError(t, e, CodeRateLimited, "Error")
	}
	mustCall(t, newServices(t, nc, "default", "other", cfg), "msg.publish", nil, "out")
}

func TestTokenBucket(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newTokenBucket(2, 3, start)
	for i := range 3 {
		if !b.take(start) {
			t.Fatalf("take %d of the burst refused", i)
		}
	}
	if b.take(start) {
		t.Fatal("a take past the burst allowed")
	}
	// Half a second at 2 per second is one more.
	if !b.take(start.Add(500*time.Millisecond)) || b.take(start.Add(500*time.Millisecond)) {
		t.Fatal("refill after 500ms is not exactly one")
	}
	// A long pause refills up to the burst only.
	later := start.Add(time.Hour)
	for i := range 3 {
		if !b.take(later) {
			t.Fatalf("take %d after a pause refused", i)
		}
	}
	if b.take(later) {
		t.Fatal("a pause refilled past the burst")
	}
	// A clock that steps back refills nothing.
	if b.take(start) {
		t.Fatal("a clock stepping back refilled")
	}
}

// A function may not publish or request on its own triggers: that would
// run it again, and again.
func TestOwnTriggerDenied(t *testing.T) {
	nc := testConn(t)
	s, err := New(nc, Identity{Namespace: "default", Name: "loop", Triggers: []string{"loop.>", "exact", "a.*.c"}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, op := range []string{"msg.publish", "msg.request", "msg.requestMany"} {
		for _, subj := range []string{"loop.x", "loop.x.y", "exact", "a.b.c"} {
			_, _, e := call(t, s, op, nil, subj)
			wantError(t, e, CodeSubjectDenied, "Error")
			if !strings.Contains(e.Message, "own trigger") {
				t.Errorf("%s %s: message %q does not say why", op, subj, e.Message)
			}
		}
	}
	for _, subj := range []string{"loop", "exact.more", "a.b", "a.b.c.d", "other"} {
		mustCall(t, s, "msg.publish", nil, subj)
	}
}

func TestMessagingRateConfig(t *testing.T) {
	for _, m := range []MessagingConfig{{MaxRate: -1}, {MaxBurst: -1}, {MaxRate: math.Inf(1)}, {MaxRate: math.NaN()}} {
		cfg := Config{Messaging: m}
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v accepted", m)
		}
	}
	if c := (Config{}).withDefaults(); c.Messaging.MaxRate != DefaultMsgMaxRate || c.Messaging.MaxBurst != DefaultMsgMaxBurst {
		t.Errorf("defaults: %+v", c.Messaging)
	}
}
