package executor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// gatedBackend runs functions in this process, but the Start of a function
// of namespace gate waits until released or its context ends, like a
// worker that keeps dying.
type gatedBackend struct {
	*Local
	gate    string
	waiting chan struct{} // a gated Start waits
	release chan struct{}
	once    sync.Once
}

func (b *gatedBackend) open() { b.once.Do(func() { close(b.release) }) }

func (b *gatedBackend) Start(ctx context.Context, info api.FunctionInfo, script []byte, cb Callbacks) (Runner, error) {
	if info.Spec.Namespace == b.gate {
		b.waiting <- struct{}{}
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return b.Local.Start(ctx, info, script, cb)
}

func newGated(t *testing.T) (*Executor, *gatedBackend, *nats.Conn) {
	t.Helper()
	b := &gatedBackend{Local: &Local{}, gate: "stuck", waiting: make(chan struct{}, 1), release: make(chan struct{})}
	e, nc := newExecutor(t, Config{}, nil)
	e.cfg.Backend = b
	t.Cleanup(b.open) // before e.Close: a failed test leaves no start waiting
	return e, b, nc
}

// loadAsync loads a function of namespace ns with trigger subject and
// returns Load's result once it comes.
func loadAsync(ctx context.Context, e *Executor, ns, subject string) <-chan error {
	src := `() => "` + ns + `"`
	info := api.FunctionInfo{Spec: api.FunctionSpec{Namespace: ns, Name: "f", Triggers: []string{subject}}, BundleDigest: api.Digest([]byte(src))}
	done := make(chan error, 1)
	go func() { done <- e.Load(ctx, info, []byte(src)) }()
	return done
}

// waitLoad fails the test if a Load does not return: only a broken
// executor takes this long.
func waitLoad(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Load did not return")
		return nil
	}
}

// A function whose start hangs holds up no other: B loads and serves while
// A's start waits, and A serves once its start completes.
func TestLoadOfOneFunctionDoesNotBlockOthers(t *testing.T) {
	e, b, nc := newGated(t)
	a := loadAsync(context.Background(), e, "stuck", "a")
	<-b.waiting
	if err := waitLoad(t, loadAsync(context.Background(), e, "fine", "b")); err != nil {
		t.Fatal(err)
	}
	if m := request(t, nc, "b", ""); string(m.Data) != "fine" {
		t.Fatalf("b: %q", m.Data)
	}
	b.open()
	if err := waitLoad(t, a); err != nil {
		t.Fatal(err)
	}
	if m := request(t, nc, "a", ""); string(m.Data) != "stuck" {
		t.Fatalf("a: %q", m.Data)
	}
}

// A Load gives up when its context ends, when the function is unloaded
// meanwhile, and when the executor closes; the function is not served.
func TestLoadGivesUp(t *testing.T) {
	e, b, nc := newGated(t)

	ctx, cancel := context.WithCancel(context.Background())
	done := loadAsync(ctx, e, "stuck", "a")
	<-b.waiting
	cancel()
	if err := waitLoad(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Load after its context ended: %v", err)
	}

	done = loadAsync(context.Background(), e, "stuck", "a")
	<-b.waiting
	e.Unload("stuck", "f")
	if err := waitLoad(t, done); !errors.Is(err, ErrUnloaded) {
		t.Fatalf("Load overtaken by Unload: %v", err)
	}

	done = loadAsync(context.Background(), e, "stuck", "a")
	<-b.waiting
	e.UnloadNamespace("stuck")
	if err := waitLoad(t, done); !errors.Is(err, ErrUnloaded) {
		t.Fatalf("Load overtaken by UnloadNamespace: %v", err)
	}
	if _, err := nc.Request("a", nil, time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("a function whose load gave up is served: %v", err)
	}

	done = loadAsync(context.Background(), e, "stuck", "a")
	<-b.waiting
	e.Close()
	if err := waitLoad(t, done); !errors.Is(err, ErrClosed) {
		t.Fatalf("Load overtaken by Close: %v", err)
	}
}

// Two loads of one function at once: whichever finishes last, the later
// one is served.
func TestLaterLoadWins(t *testing.T) {
	e, b, nc := newGated(t)
	b.gate = "default"
	first := make(chan error, 1)
	go func() {
		first <- e.Load(context.Background(), api.FunctionInfo{Spec: api.FunctionSpec{Namespace: "default", Name: "v", Triggers: []string{"ver"}}}, []byte(`() => "one"`))
	}()
	<-b.waiting // the first load waits; the second goes through
	b.gate = ""
	load(t, e, "v", `() => "two"`, "ver")
	b.open()
	if err := waitLoad(t, first); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("the earlier load: %v", err)
	}
	for i := 0; i < 10; i++ {
		if m := request(t, nc, "ver", ""); string(m.Data) != "two" {
			t.Fatalf("got %q", m.Data)
		}
	}
}
