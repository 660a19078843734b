package worker

import (
	"context"
	"sync"
)

// hostGate bounds the host calls of one worker in flight: how many, and
// how many bytes their frames hold. The node enforces it, refusing what
// does not fit, because the worker may be hostile; an honest worker keeps
// the same account and waits for room instead, so that it is never
// refused. The node releases a call before it sends the answer, and the
// worker when the answer arrives, so the worker's account never shows
// less in flight than the node's.
type hostGate struct {
	maxCalls int   // 0: no bound
	maxBytes int64 // 0: no bound

	mu      sync.Mutex
	calls   int
	bytes   int64
	peak    int64         // the most bytes in flight at once
	changed chan struct{} // closed when something is released
}

func newHostGate(maxCalls int, maxBytes int64) *hostGate {
	return &hostGate{maxCalls: maxCalls, maxBytes: maxBytes, changed: make(chan struct{})}
}

// cost is what a frame of size bytes takes from the budget: a frame larger
// than the whole budget takes all of it, so it runs alone.
func (g *hostGate) cost(size int) int64 {
	if g.maxBytes > 0 {
		return min(int64(size), g.maxBytes)
	}
	return int64(size)
}

// fits says whether a frame of size bytes may start now; g.mu is held.
func (g *hostGate) fits(size int) bool {
	return (g.maxCalls == 0 || g.calls < g.maxCalls) &&
		(g.maxBytes == 0 || g.bytes+g.cost(size) <= g.maxBytes)
}

func (g *hostGate) take(size int) {
	g.calls++
	g.bytes += g.cost(size)
	g.peak = max(g.peak, g.bytes)
}

// tryAcquire takes room for a frame of size bytes if there is some now.
func (g *hostGate) tryAcquire(size int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.fits(size) {
		return false
	}
	g.take(size)
	return true
}

// acquire waits for room for a frame of size bytes, until ctx ends.
func (g *hostGate) acquire(ctx context.Context, size int) error {
	for {
		g.mu.Lock()
		if g.fits(size) {
			g.take(size)
			g.mu.Unlock()
			return nil
		}
		changed := g.changed
		g.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release gives back what a frame of size bytes took.
func (g *hostGate) release(size int) {
	g.mu.Lock()
	g.calls--
	g.bytes -= g.cost(size)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// setLimits changes the bounds (the worker learns them from the node).
func (g *hostGate) setLimits(maxCalls int, maxBytes int64) {
	g.mu.Lock()
	g.maxCalls, g.maxBytes = maxCalls, maxBytes
	g.mu.Unlock()
}

// usage reports the calls and bytes in flight and the peak of bytes.
func (g *hostGate) usage() (calls int, bytes, peak int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls, g.bytes, g.peak
}
