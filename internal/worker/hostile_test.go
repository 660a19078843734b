package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
)

// fakeWorker is a worker taken over by its tenant: it speaks the frame
// protocol over the socketpair the node gave it and sends what it likes.
type fakeWorker struct {
	conn *os.File
	r    *bufio.Reader
	out  *writer
	done chan struct{}
	once sync.Once
}

func (f *fakeWorker) Wait() Exit { <-f.done; return Exit{How: "killed"} }
func (f *fakeWorker) Pid() int   { return 0 }
func (f *fakeWorker) Kill() {
	f.once.Do(func() {
		f.conn.Close()
		close(f.done)
	})
}

// fakeSpawn starts a fakeWorker; each one is sent on workers once it has
// said it is ready.
func fakeSpawn(t *testing.T, workers chan<- *fakeWorker) SpawnFunc {
	return func(_ string, files []*os.File) (Process, error) {
		fd, err := syscall.Dup(int(files[0].Fd())) // the node closes files on return
		if err != nil {
			return nil, err
		}
		// Non-blocking, so that reads can have a deadline: a node that
		// never answers fails the test instead of hanging it.
		syscall.SetNonblock(fd, true)
		conn := os.NewFile(uintptr(fd), "fake-worker")
		f := &fakeWorker{conn: conn, r: newFrameReader(conn), out: newWriter(conn), done: make(chan struct{})}
		t.Cleanup(f.Kill)
		if err := f.out.send(frameReady, 0); err != nil {
			return nil, err
		}
		workers <- f
		return f, nil
	}
}

// next reads frames until one of type typ.
func (f *fakeWorker) next(t *testing.T, typ byte) *frame {
	t.Helper()
	for {
		f.conn.SetReadDeadline(time.Now().Add(time.Minute))
		fr, err := readFrame(f.r)
		if err != nil {
			t.Fatalf("fake worker: %v", err)
		}
		if fr.typ == typ {
			return fr
		}
	}
}

// blockingHost holds every call until released, and records how many run
// at once and the deadline each one got.
type blockingHost struct {
	mu        sync.Mutex
	running   int
	most      int
	deadlines []time.Time // zero: none
	latest    []time.Time // the latest deadline allowed: arrival plus the timeout
	timeout   time.Duration
	limit     int    // more running at once calls over
	over      func() // fails the test
	release   chan struct{}
	started   chan struct{} // one value per call started
}

func newBlockingHost(limit int, timeout time.Duration) *blockingHost {
	return &blockingHost{limit: limit, timeout: timeout, release: make(chan struct{}), started: make(chan struct{}, 256)}
}

func (h *blockingHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	d, _ := ctx.Deadline()
	h.mu.Lock()
	h.running++
	h.most = max(h.most, h.running)
	h.deadlines = append(h.deadlines, d)
	h.latest = append(h.latest, time.Now().Add(h.timeout))
	over := h.running > h.limit
	h.mu.Unlock()
	if over && h.over != nil {
		h.over()
	}
	h.started <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done(): // the worker is gone
	}
	h.mu.Lock()
	h.running--
	h.mu.Unlock()
	return map[string]bool{"ok": true}, nil, nil
}

// loadFake starts a Backend whose worker is a fakeWorker and loads one
// function into it; the function's host calls go to host.
func loadFake(t *testing.T, cfg Config, host engine.Host, timeout time.Duration) (*fakeWorker, uint64) {
	t.Helper()
	workers := make(chan *fakeWorker, 1)
	cfg.Spawn = fakeSpawn(t, workers)
	cfg.Hosts = func(api.FunctionInfo) (engine.Host, func(), error) { return host, func() {}, nil }
	b := NewBackend(cfg)
	t.Cleanup(b.Close)
	started := make(chan error, 1)
	go func() {
		_, err := b.Start(context.Background(), api.FunctionInfo{Spec: api.FunctionSpec{Namespace: "evil", Name: "f", Timeout: api.Duration(timeout)}},
			[]byte(`() => 1`), executor.Callbacks{})
		started <- err
	}()
	w := <-workers
	limits := w.next(t, frameLimits)
	if int(limits.u64(0)) != cfg.MaxHostCalls || int64(limits.u64(1)) != cfg.HostBytes {
		t.Fatalf("limits sent: %d calls, %d bytes", limits.u64(0), limits.u64(1))
	}
	load := w.next(t, frameLoad)
	w.out.send(frameLoadResult, load.id, nil)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	return w, load.u64(0)
}

// hostFrame sends a host call for fn with a body of n bytes and a deadline.
func (f *fakeWorker) hostFrame(id, fn uint64, n int, deadline uint64) {
	f.out.send(frameHost, id, u64Field(fn), []byte("kv.get"), []byte(`["k"]`), make([]byte, n), []byte("1"), u64Field(deadline))
}

// hostErrorCode reads the error code of a host result, "" when it is fine.
func hostErrorCode(t *testing.T, fr *frame) string {
	t.Helper()
	if fr.str(0) == "0" {
		return ""
	}
	var he engine.HostError
	if err := json.Unmarshal(fr.field(1), &he); err != nil {
		t.Fatal(err)
	}
	return he.Code
}

// A hostile worker sends far more host calls than it may have in flight:
// the node runs as many as the limit allows and refuses the rest at once,
// with an error reply each, rather than a goroutine each. Every call gets
// a deadline within its function's timeout, whatever the worker asked:
// none at all, or one far away.
func TestHostileWorkerHostCallsBounded(t *testing.T) {
	const limit, excess, timeout = 8, 40, time.Minute
	host := newBlockingHost(limit, timeout)
	w, fn := loadFake(t, Config{MaxHostCalls: limit, HostBytes: 64 << 20}, host, timeout)
	host.over = func() {
		t.Errorf("more than %d host calls run at once", limit)
		w.Kill()
	}

	far := uint64(time.Now().Add(24 * time.Hour).UnixNano())
	for i := range limit + excess {
		deadline := uint64(0)
		if i%2 == 1 {
			deadline = far
		}
		w.hostFrame(uint64(i+1), fn, 16, deadline)
	}
	// The excess is refused while the admitted calls are still running.
	for range excess {
		fr := w.next(t, frameHostResult)
		if code := hostErrorCode(t, fr); code != "UNAVAILABLE" {
			t.Fatalf("call %d: got %q while %d calls block, want UNAVAILABLE", fr.id, code, limit)
		}
	}
	close(host.release)
	for range limit {
		if code := hostErrorCode(t, w.next(t, frameHostResult)); code != "" {
			t.Fatalf("an admitted call failed: %s", code)
		}
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	if host.most > limit || len(host.deadlines) != limit {
		t.Fatalf("%d calls ran, at most %d at once; want %d", len(host.deadlines), host.most, limit)
	}
	for i, d := range host.deadlines {
		if d.IsZero() || d.After(host.latest[i]) {
			t.Errorf("call %d ran with deadline %v, want one by %v", i, d, host.latest[i])
		}
	}
}

// The bytes a worker's host calls hold in the node are bounded too: calls
// past the budget are refused while the ones admitted run; a call larger
// than the whole budget runs alone.
func TestHostileWorkerHostBytesBounded(t *testing.T) {
	const budget, body = 1 << 20, 400 << 10
	host := newBlockingHost(2, time.Minute)
	w, fn := loadFake(t, Config{MaxHostCalls: 100, HostBytes: budget}, host, time.Minute)
	host.over = func() {
		t.Errorf("host calls over the budget run")
		w.Kill()
	}

	for i := range 5 {
		w.hostFrame(uint64(i+1), fn, body, 0)
	}
	for range 3 {
		if code := hostErrorCode(t, w.next(t, frameHostResult)); code != "UNAVAILABLE" {
			t.Fatalf("a call past the budget got %q, want UNAVAILABLE", code)
		}
	}
	<-host.started
	<-host.started
	host.release <- struct{}{}
	host.release <- struct{}{}
	for range 2 {
		if code := hostErrorCode(t, w.next(t, frameHostResult)); code != "" {
			t.Fatalf("an admitted call failed: %s", code)
		}
	}
	// Nothing in flight: one call over the whole budget runs, alone.
	w.hostFrame(10, fn, 2*budget, 0)
	<-host.started
	w.hostFrame(11, fn, 16, 0)
	if fr := w.next(t, frameHostResult); fr.id != 11 || hostErrorCode(t, fr) != "UNAVAILABLE" {
		t.Fatalf("a call beside one over the budget: %d %q", fr.id, hostErrorCode(t, fr))
	}
	close(host.release)
	if fr := w.next(t, frameHostResult); fr.id != 10 || hostErrorCode(t, fr) != "" {
		t.Fatalf("the call over the budget: %d %q", fr.id, hostErrorCode(t, fr))
	}
}

// bigHost answers every call with a body over the frame limit.
type bigHost struct{}

func (bigHost) Call(context.Context, string, []byte, []byte) (any, []byte, error) {
	return nil, make([]byte, maxFrame), nil
}

// A host-call result too large for a frame reaches JavaScript as
// TOO_LARGE, rather than never arriving.
func TestHostResultTooLarge(t *testing.T) {
	w, fn := loadFake(t, Config{MaxHostCalls: 4, HostBytes: 1 << 20}, bigHost{}, time.Minute)
	w.hostFrame(1, fn, 0, 0)
	fr := w.next(t, frameHostResult)
	var he engine.HostError
	json.Unmarshal(fr.field(1), &he)
	if fr.str(0) != "1" || he.Code != "TOO_LARGE" || !strings.Contains(he.Message, "MiB") {
		t.Fatalf("got status %q, %+v", fr.str(0), he)
	}
}
