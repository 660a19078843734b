package worker

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

func TestMain(m *testing.M) {
	if IsWorker() {
		os.Exit(Main(nil))
	}
	os.Exit(m.Run())
}

type harness struct {
	exec    *executor.Executor
	backend *Backend
	nc      *nats.Conn
}

// modes runs a test with both worker paths: calls through the node, and
// workers with their own NATS connection.
func modes(t *testing.T, test func(t *testing.T, h *harness)) {
	for _, direct := range []bool{false, true} {
		name := "via-node"
		if direct {
			name = "direct"
		}
		t.Run(name, func(t *testing.T) { test(t, newHarness(t, direct)) })
	}
}

func newHarness(t *testing.T, direct bool) *harness {
	t.Helper()
	url := testenv.NATS(t)
	nodeConn := testenv.Conn(t, url)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var d *Direct
	if direct {
		d = &Direct{
			Dial: func(string) (*Conn, error) {
				c, err := net.Dial("tcp", strings.TrimPrefix(url, "nats://"))
				if err != nil {
					return nil, err
				}
				defer c.Close()
				f, err := c.(*net.TCPConn).File()
				return &Conn{File: f}, err
			},
			Orphaned: func(_ string, replies []string) {
				for _, r := range replies {
					nodeConn.PublishMsg(executor.ErrorReply(r, api.Errorf(api.CodeUnavailable, "function unavailable")))
				}
			},
		}
	}
	b := NewBackend(Config{
		Direct: d,
		Spawn:  PlainSpawn(self, ServeOptions{}, nil),
		Hosts: func(info api.FunctionInfo) (engine.Host, func(), error) {
			svc, err := hostsvc.New(nodeConn, hostsvc.Identity{Namespace: info.Spec.Namespace, Name: info.Spec.Name}, hostsvc.Config{})
			if err != nil {
				return nil, nil, err
			}
			return hostAdapter{svc}, func() { svc.Close() }, nil
		},
	})
	e := executor.New(executor.Config{Conn: nodeConn, Backend: b})
	t.Cleanup(func() { e.Close(); b.Close() })
	return &harness{exec: e, backend: b, nc: testenv.Conn(t, url)}
}

type hostAdapter struct{ svc *hostsvc.Services }

func (h hostAdapter) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	r, b, err := h.svc.Call(ctx, op, args, body)
	if he, ok := err.(*hostsvc.Error); ok {
		return nil, nil, &engine.HostError{Type: he.Type, Code: he.Code, Message: he.Message}
	}
	return r, b, err
}

func (h *harness) load(t *testing.T, ns, name, src string, triggers ...string) {
	t.Helper()
	h.loadSpec(t, api.FunctionSpec{Namespace: ns, Name: name, Triggers: triggers, Timeout: api.Duration(time.Second)}, src)
}

func (h *harness) loadSpec(t *testing.T, spec api.FunctionSpec, src string) {
	t.Helper()
	if err := h.backend.Check(context.Background(), spec, []byte(src)); err != nil {
		t.Fatalf("check: %v", err)
	}
	if err := h.exec.Load(context.Background(), api.FunctionInfo{Spec: spec, BundleDigest: api.Digest([]byte(src))}, []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func code(m *nats.Msg) string {
	if m.Header == nil {
		return ""
	}
	return m.Header.Get(api.HeaderErrorCode)
}

func TestWorkerServes(t *testing.T) { modes(t, testWorkerServes) }

func testWorkerServes(t *testing.T, h *harness) {
	h.load(t, "a", "echo", `(s, p, m) => ({ s, p, h: m.headers.X })`, "w.echo")
	h.load(t, "a", "kv", `(s, p) => { hostServices.kv.set("k", p); return hostServices.kv.get("k") }`, "w.kv")
	h.load(t, "a", "loop", `() => { for(;;){} }`, "w.loop")
	msg := nats.NewMsg("w.echo")
	msg.Data = []byte("hi")
	msg.Header.Set("X", "y")
	m, err := h.nc.RequestMsg(msg, 5*time.Second)
	if err != nil || string(m.Data) != `{"s":"w.echo","p":"hi","h":["y"]}` {
		t.Fatalf("echo: %v %q", err, m.Data)
	}
	if m, err := h.nc.Request("w.kv", []byte{0, 1, 2}, 5*time.Second); err != nil || string(m.Data) != "\x00\x01\x02" {
		t.Fatalf("kv through the node: %v %q %v", err, m.Data, m.Header)
	}
	if m, err := h.nc.Request("w.loop", nil, 5*time.Second); err != nil || code(m) != "408" {
		t.Fatalf("loop: %v %v", err, m.Header)
	}
}

func TestCheckInWorker(t *testing.T) {
	h := newHarness(t, false)
	err := h.backend.Check(context.Background(), api.FunctionSpec{Namespace: "a", Name: "bad"}, []byte(`42`))
	if err == nil || api.CodeOf(err) != 400 {
		t.Fatalf("got %v", err)
	}
}

// Killing a worker answers its in-flight calls with 503, the worker comes
// back within a second, and another namespace never notices.
func TestKilledWorkerIsReplaced(t *testing.T) { modes(t, testKilledWorkerIsReplaced) }

func testKilledWorkerIsReplaced(t *testing.T, h *harness) {
	// The slow call says when it runs, and runs until its worker is
	// killed: its timeout is far beyond the test's.
	h.loadSpec(t, api.FunctionSpec{Namespace: "victim", Name: "slow", Triggers: []string{"v.slow"}, Timeout: api.Duration(2 * time.Minute)},
		`() => { console.log("started"); for (;;) {} }`)
	h.load(t, "victim", "fast", `() => "fast"`, "v.fast")
	h.load(t, "bystander", "echo", `(s, p) => p`, "b.echo")
	started, err := h.nc.SubscribeSync(api.LogSubject("victim", "slow"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	var inFlight *nats.Msg
	go func() {
		defer wg.Done()
		inFlight, _ = h.nc.Request("v.slow", nil, 3*time.Minute)
	}()
	if _, err := started.NextMsg(time.Minute); err != nil {
		t.Fatalf("the slow call did not start: %v", err)
	}
	h.backend.mu.Lock()
	w := h.backend.workers["victim"]
	h.backend.mu.Unlock()
	w.mu.Lock()
	proc := w.proc.(*plainProcess)
	w.mu.Unlock()
	proc.cmd.Process.Signal(os.Kill)
	wg.Wait()
	if inFlight == nil || code(inFlight) != "503" {
		t.Fatalf("in-flight call: %v", inFlight)
	}
	if m, err := h.nc.Request("b.echo", []byte("ok"), time.Second); err != nil || string(m.Data) != "ok" {
		t.Fatalf("bystander: %v", err)
	}
	testenv.Eventually(t, "a new worker to serve", func() bool {
		m, err := h.nc.Request("v.fast", nil, 10*time.Second)
		return err == nil && string(m.Data) == "fast"
	})
}

func TestWorkerHammer(t *testing.T) { modes(t, testWorkerHammer) }

func testWorkerHammer(t *testing.T, h *harness) {
	h.load(t, "a", "echo", `(s, p) => p`, "w.hammer")
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				want := strconv.Itoa(g*1000 + i)
				m, err := h.nc.Request("w.hammer", []byte(want), 5*time.Second)
				if err != nil || string(m.Data) != want {
					t.Errorf("got %v %v, want %s", m, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A worker that keeps dying is restarted with growing pauses, not in a
// tight loop, and requests meanwhile fail fast.
func TestCrashLoopBacksOff(t *testing.T) {
	var spawns atomic.Int32
	falseSpawn := PlainSpawn("/bin/false", ServeOptions{}, nil)
	b := NewBackend(Config{Spawn: func(ns string, files []*os.File) (Process, error) {
		spawns.Add(1)
		return falseSpawn(ns, files)
	}})
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	w, err := b.acquire("crashy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.request(ctx, frameUnload, nil, u64Field(1)); err == nil {
		t.Fatal("a worker that never starts answered")
	}
	// 100 ms, 200, 400, 800 ...: a handful of starts in 1.5 s, not hundreds.
	if n := spawns.Load(); n < 2 || n > 6 {
		t.Fatalf("%d spawns in 1.5 s", n)
	}
}
