package pool

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// Host services derive contexts from an invocation's (a timeout per call):
// deriving starts no goroutine per context, and ending the invocation
// cancels them all.
func TestCallContextDerivesWithoutGoroutines(t *testing.T) {
	c := &callContext{deadline: time.Now().Add(time.Hour)}
	before := runtime.NumGoroutine()
	var derived []context.Context
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithTimeout(c, time.Hour)
		defer cancel()
		derived = append(derived, ctx)
	}
	// A goroutine started by a go statement counts at once: no settling.
	if n := runtime.NumGoroutine() - before; n >= 10 {
		t.Fatalf("%d goroutines for 100 derived contexts", n)
	}
	c.end()
	for i, ctx := range derived {
		<-ctx.Done() // a hang here: the end of the invocation did not reach it
		if ctx.Err() != context.Canceled {
			t.Fatalf("derived context %d: %v", i, ctx.Err())
		}
	}
	// After the end, what is derived is done at once.
	ctx, cancel := context.WithCancel(c)
	defer cancel()
	if ctx.Err() != context.Canceled {
		t.Fatalf("derived after the end: %v", ctx.Err())
	}
}
