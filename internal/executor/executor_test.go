package executor

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

func load(t *testing.T, e *Executor, name, src string, triggers ...string) {
	t.Helper()
	loadSpec(t, e, api.FunctionSpec{Namespace: "default", Name: name, Triggers: triggers}, src)
}

func loadSpec(t *testing.T, e *Executor, spec api.FunctionSpec, src string) {
	t.Helper()
	info := api.FunctionInfo{Spec: spec, BundleDigest: api.Digest([]byte(src))}
	if err := e.Load(context.Background(), info, []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func newExecutor(t *testing.T, cfg Config, local *Local) (*Executor, *nats.Conn) {
	url := testenv.NATS(t)
	cfg.Conn = testenv.Conn(t, url)
	if local == nil {
		local = &Local{}
	}
	cfg.Backend = local
	e := New(cfg)
	t.Cleanup(e.Close)
	return e, testenv.Conn(t, url)
}

func request(t *testing.T, nc *nats.Conn, subject, payload string) *nats.Msg {
	t.Helper()
	msg, err := nc.Request(subject, []byte(payload), 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return msg
}

func errorCode(m *nats.Msg) int {
	if m.Header == nil {
		return 0
	}
	c, _ := strconv.Atoi(m.Header.Get(api.HeaderErrorCode))
	return c
}

func TestServeAndErrors(t *testing.T) {
	e, nc := newExecutor(t, Config{}, nil)
	load(t, e, "echo", `(s, p) => ({ on: s, p })`, "echo.>")
	load(t, e, "boom", `() => { throw new Error("secret detail") }`, "boom")
	loadSpec(t, e, api.FunctionSpec{Namespace: "default", Name: "slow", Triggers: []string{"slow"}, Timeout: api.Duration(100 * time.Millisecond)}, `() => { for(;;){} }`)

	if m := request(t, nc, "echo.a.b", "hi"); string(m.Data) != `{"on":"echo.a.b","p":"hi"}` || errorCode(m) != 0 {
		t.Fatalf("echo: %q %v", m.Data, m.Header)
	}
	m := request(t, nc, "boom", "")
	if errorCode(m) != 500 || m.Header.Get(api.HeaderError) != "function failed: Error: secret detail" {
		t.Fatalf("boom: %v", m.Header)
	}
	if m := request(t, nc, "slow", ""); errorCode(m) != 408 {
		t.Fatalf("slow: %v", m.Header)
	}
}

func TestLogsPublished(t *testing.T) {
	e, nc := newExecutor(t, Config{Node: "n1"}, nil)
	sub, err := nc.SubscribeSync(api.LogSubject("default", "chatty"))
	if err != nil {
		t.Fatal(err)
	}
	load(t, e, "chatty", `(s, p) => { console.warn("got", p.text()); throw new Error("bad") }`, "chatty")
	request(t, nc, "chatty", "x")
	for _, want := range []string{"warn:got x", "error:"} {
		m, err := sub.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var entry struct{ Level, Message, Node string }
		if err := jsonUnmarshal(m.Data, &entry); err != nil {
			t.Fatal(err)
		}
		got := entry.Level + ":" + entry.Message
		if len(got) < len(want) || got[:len(want)] != want || entry.Node != "n1" {
			t.Fatalf("log entry %+v, want prefix %q", entry, want)
		}
	}
}

func TestQueueFullIs429(t *testing.T) {
	e, nc := newExecutor(t, Config{}, &Local{QueueLength: 1})
	loadSpec(t, e, api.FunctionSpec{Namespace: "default", Name: "busy", Triggers: []string{"busy"}, Concurrency: 1},
		`(s, p) => { const end = Date.now() + 300; while (Date.now() < end) {} return "done" }`)
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := nc.Request("busy", nil, 5*time.Second)
			if err != nil {
				codes[i] = -1
				return
			}
			codes[i] = errorCode(m)
		}()
	}
	wg.Wait()
	var ok, tooMany int
	for _, c := range codes {
		switch c {
		case 0:
			ok++
		case 429:
			tooMany++
		default:
			t.Fatalf("unexpected code %d in %v", c, codes)
		}
	}
	if ok == 0 || tooMany == 0 {
		t.Fatalf("codes %v: want some served and some 429", codes)
	}
}

func TestRedeployAndUnload(t *testing.T) {
	e, nc := newExecutor(t, Config{}, nil)
	load(t, e, "v", `() => "one"`, "ver")
	if m := request(t, nc, "ver", ""); string(m.Data) != "one" {
		t.Fatalf("got %q", m.Data)
	}
	load(t, e, "v", `() => "two"`, "ver")
	deadline := time.Now().Add(2 * time.Second)
	for {
		if m := request(t, nc, "ver", ""); string(m.Data) == "two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redeploy not served")
		}
	}
	e.Unload("default", "v")
	if _, err := nc.Request("ver", nil, 200*time.Millisecond); err != nats.ErrNoResponders {
		t.Fatalf("after unload: %v", err)
	}
}

func TestIdleIsolateDisposed(t *testing.T) {
	e, nc := newExecutor(t, Config{}, &Local{IdleTimeout: 500 * time.Millisecond})
	// One isolate, so that both warm calls see the same module state.
	loadSpec(t, e, api.FunctionSpec{Namespace: "default", Name: "counter", Triggers: []string{"count"}, Concurrency: 1},
		`let n = 0; (() => ++n)`)
	if m := request(t, nc, "count", ""); string(m.Data) != "1" {
		t.Fatalf("got %q", m.Data)
	}
	if m := request(t, nc, "count", ""); string(m.Data) != "2" {
		t.Fatalf("got %q", m.Data)
	}
	time.Sleep(1500 * time.Millisecond)
	// A fresh isolate starts the module state over.
	if m := request(t, nc, "count", ""); string(m.Data) != "1" {
		t.Fatalf("after idle: got %q", m.Data)
	}
}

func TestHammer(t *testing.T) {
	e, nc := newExecutor(t, Config{}, nil)
	load(t, e, "echo", `(s, p) => p`, "hammer")
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				want := strconv.Itoa(g*1000 + i)
				m, err := nc.Request("hammer", []byte(want), 5*time.Second)
				if err != nil || string(m.Data) != want {
					t.Errorf("got %v %v, want %s", m, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
