package pool

import (
	"context"
	"sync"
	"time"
)

// callContext is one invocation's context. Its deadline is known at once,
// but the timer that closes Done is only made when something waits on it
// (a host call), so an invocation that uses no host service costs no
// timer.
type callContext struct {
	deadline time.Time

	mu     sync.Mutex
	ended  bool
	ctx    context.Context
	cancel context.CancelFunc
}

// endedContext stands in once the invocation is over.
var endedContext = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (c *callContext) get() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		if c.ended {
			return endedContext
		}
		c.ctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.ctx
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *callContext) Done() <-chan struct{}       { return c.get().Done() }
func (c *callContext) Err() error                  { return c.get().Err() }
func (c *callContext) Value(key any) any           { return nil }

// AfterFunc makes contexts derived from this one (context.WithTimeout in a
// host service) register with it, rather than each starting a goroutine
// that waits on Done, as the context package does for a parent of a type
// it does not know.
func (c *callContext) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(c.get(), f)
}

// end cancels the context: the invocation is over.
func (c *callContext) end() {
	c.mu.Lock()
	c.ended = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}
