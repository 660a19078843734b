package pool

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/engine"
)

// barrier is a host whose one call returns once n calls are inside it at
// the same time: only calls running on n isolates at once get past it.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	abort   chan struct{}
}

func (b *barrier) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	b.mu.Lock()
	if b.arrived++; b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil, []byte("together"), nil
	case <-b.abort:
		return nil, nil, errors.New("test over")
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// Four calls sent together to a warm pool of concurrency four run on four
// isolates at once, though one worker was idle when they came.
func TestBurstStartsIsolatesForQueuedJobs(t *testing.T) {
	const n = 4
	b := &barrier{n: n + 1, all: make(chan struct{}), abort: make(chan struct{})}
	results := make(chan engine.Result, n+1)
	p := New(Config{
		// The first call only warms the pool.
		Program: program(t, `(s) => s === "warm" ? "warm" : hostServices.messaging.request("barrier", "")`),
		Isolate: engine.Options{Host: b},
		// Only the failure of this test can take this long.
		Timeout:     time.Minute,
		Concurrency: n,
		Done:        func(job *Job, res engine.Result) { results <- res },
	})
	t.Cleanup(p.Close)
	t.Cleanup(func() { close(b.abort) }) // runs first: nothing waits for a minute

	p.Submit(&Job{Subject: "warm"})
	if res := <-results; string(res.Body) != "warm" {
		t.Fatalf("warm-up: %+v", res)
	}
	// The burst comes once the warm worker waits for work.
	for p.idle.Load() != 1 {
		runtime.Gosched()
	}
	for i := 0; i < n; i++ {
		if !p.Submit(&Job{Subject: "burst"}) {
			t.Fatal("refused")
		}
	}
	if w := p.workers.Load(); w != n {
		t.Fatalf("%d workers for %d jobs at once", w, n)
	}
	// The test is the fifth at the barrier: it passes once all four
	// calls are running together.
	if _, _, err := b.Call(context.Background(), "barrier", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if res := <-results; res.Err != nil || string(res.Body) != "together" {
			t.Fatalf("call %d: %v %s", i, res.Err, res.Detail)
		}
	}
}
