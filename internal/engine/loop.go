package engine

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	v8 "github.com/tommie/v8go"
)

// The event loop. While a function's returned promise is pending (and
// after the script's top-level code), the isolate's goroutine waits for the
// next event: an asynchronous host call finishing or a timer falling due.
// It hands JavaScript one event at a time (the prelude's complete(id) and
// fire(id)), lets the microtasks run, and checks the promise again.
// Nothing outlives the invocation: when its reply is decided, endLoop
// cancels the calls still running (their answers are dropped) and forgets
// every timer and compression stream. docs/host-services.md states these
// rules for users.

const (
	// maxOpsInFlight bounds the host calls one isolate runs at once. That
	// many overlap the round trips of a fan-out well; more would let one
	// function take the host-service capacity of its worker (its gate)
	// from the other functions of the namespace.
	maxOpsInFlight = 32
	// maxOpsQueued bounds the calls waiting for one of those places: Go
	// holds them outside V8's heap limit. A function starting more (a
	// million calls in one Promise.all) gets RATE_LIMITED for the rest.
	maxOpsQueued = 10_000
	// maxOpsBytes bounds the arguments and bodies of the calls queued or
	// running, for the same reason; a single call larger than that still
	// runs when it is alone (the host service applies its own size limits).
	maxOpsBytes = 64 << 20
	// maxTimers bounds the timers armed at once, again for Go's memory.
	maxTimers = 10_000
	// clockGrain is the resolution of performance.now(): fine enough to
	// time a host call, coarse enough not to help a timing side channel
	// (cross-origin-isolated browsers use the same 5 µs). A function
	// cannot build a finer clock: it has no threads sharing memory.
	clockGrain = 5 * time.Microsecond
)

// eventLoop is an isolate's pending work. Only the isolate's goroutine
// touches it, except done, which the host calls' goroutines send on.
type eventLoop struct {
	// open: an invocation (or the top-level code) runs and may start
	// calls and timers; once its reply is decided nothing new starts.
	open bool
	// gen counts the invocations whose calls were forgotten: a call of an
	// earlier generation is dropped when it finishes.
	gen    uint64
	lastOp int32
	ops    map[int32]*hostOp // this generation's calls, queued or running
	queue  []*hostOp         // waiting for a place, oldest first
	// running counts the calls started whose answer has not been received
	// from done, of any generation: done's capacity is maxOpsInFlight, so
	// no goroutine ever blocks sending on it.
	running int
	bytes   int // of this generation's calls
	done    chan *hostOp
	wg      sync.WaitGroup
	// ctx is the calls' context during an invocation, cancelled when the
	// invocation ends; nil until its first call.
	ctx    context.Context
	cancel context.CancelFunc

	timers    timerQueue
	timerByID map[int32]*timer
	seq       uint64
	wake      *time.Timer

	// origin is performance.timeOrigin.
	origin time.Time
	// returned is the last value a native returned to JavaScript, released
	// at the next (V8 takes it only once the callback has returned).
	returned *v8.Value
}

// hostOp is an asynchronous host call.
type hostOp struct {
	id         int32
	gen        uint64
	op         string
	args, body []byte
	size       int
	// Set by the goroutine that ran the call.
	result     any
	resultBody []byte
	err        error
}

type timer struct {
	id    int32
	due   time.Time
	seq   uint64 // arming order: timers due at the same time run in it
	index int    // in the heap
}

// timerQueue is a heap of timers, earliest due first.
type timerQueue []*timer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(a, b int) bool {
	if !q[a].due.Equal(q[b].due) {
		return q[a].due.Before(q[b].due)
	}
	return q[a].seq < q[b].seq
}
func (q timerQueue) Swap(a, b int) {
	q[a], q[b] = q[b], q[a]
	q[a].index, q[b].index = a, b
}
func (q *timerQueue) Push(x any) {
	t := x.(*timer)
	t.index = len(*q)
	*q = append(*q, t)
}
func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return t
}

func init() {
	registerNative("now", (*Isolate).nativeNow)
	registerNative("timeOrigin", (*Isolate).nativeTimeOrigin)
}

// beginLoop opens the loop for an invocation (or the top-level code).
func (i *Isolate) beginLoop() {
	i.loop.open = true
}

// endLoop ends what an invocation left pending: its calls' context is
// cancelled and their answers will be dropped, its timers never run.
func (i *Isolate) endLoop() {
	l := &i.loop
	l.open = false
	if l.cancel != nil {
		l.cancel()
		l.ctx, l.cancel = nil, nil
	}
	if len(l.ops) > 0 {
		l.gen++
		clear(l.ops)
		clear(l.queue)
		l.queue = l.queue[:0]
		l.bytes = 0
	}
	if len(l.timers) > 0 {
		clear(l.timers)
		l.timers = l.timers[:0]
		clear(l.timerByID)
	}
	i.zs.free()
}

// stopLoop ends the loop for good: it waits for the calls still running,
// whose context endLoop cancelled.
func (i *Isolate) stopLoop() {
	i.endLoop()
	i.loop.wg.Wait()
	if i.loop.wake != nil {
		i.loop.wake.Stop()
	}
	if i.loop.returned != nil {
		i.loop.returned.Release()
		i.loop.returned = nil
	}
}

// pending reports whether anything could still deliver an event.
func (l *eventLoop) pending() bool { return len(l.ops) > 0 || len(l.timers) > 0 }

// callError is an error from calling into JavaScript while delivering an
// event, as opposed to the wait's context ending.
type callError struct{ err error }

func (e *callError) Error() string { return e.err.Error() }

// step waits for the next event and delivers it. It returns false when
// nothing is pending that could deliver one, and ctx's error when ctx ends
// first.
func (i *Isolate) step(ctx context.Context) (bool, error) {
	l := &i.loop
	for {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if len(l.timers) > 0 && !l.timers[0].due.After(time.Now()) {
			return true, i.fireTimer(heap.Pop(&l.timers).(*timer))
		}
		select {
		case op := <-l.done:
			if i.opDone(op) {
				return true, i.deliver(op)
			}
			continue
		default:
		}
		if !l.pending() {
			return false, nil
		}
		var wake <-chan time.Time
		if len(l.timers) > 0 {
			d := time.Until(l.timers[0].due)
			if l.wake == nil {
				l.wake = time.NewTimer(d)
			} else {
				l.wake.Reset(d)
			}
			wake = l.wake.C
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case op := <-l.done:
			if i.opDone(op) {
				return true, i.deliver(op)
			}
		case <-wake:
		}
	}
}

// runUntilIdle delivers events until none is pending.
func (i *Isolate) runUntilIdle(ctx context.Context) error {
	for {
		more, err := i.step(ctx)
		if err != nil || !more {
			return err
		}
	}
}

// callWithID calls a prelude export (complete, fire) with an id.
func (i *Isolate) callWithID(fn *v8.Function, id int32) error {
	arg, err := v8.NewValue(i.iso, id)
	if err != nil {
		return &callError{err}
	}
	defer arg.Release()
	v, err := fn.Call(v8.Undefined(i.iso), arg)
	if v != nil {
		v.Release()
	}
	if err != nil {
		return &callError{err}
	}
	return nil
}

func (i *Isolate) fireTimer(t *timer) error {
	delete(i.loop.timerByID, t.id)
	return i.callWithID(i.fire, t.id)
}

// ---- host calls

// opDone takes a finished call back from its goroutine, starts the next
// queued one, and reports whether the call's answer is still wanted.
func (i *Isolate) opDone(op *hostOp) bool {
	l := &i.loop
	l.running--
	for l.running < maxOpsInFlight && len(l.queue) > 0 {
		next := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		i.startOp(next)
	}
	if op.gen != l.gen {
		return false
	}
	delete(l.ops, op.id)
	l.bytes -= op.size
	return true
}

// deliver writes a call's answer into the exchange and has the prelude
// settle its promise.
func (i *Isolate) deliver(op *hostOp) error {
	if err := i.writeAnswer(op.result, op.resultBody, op.err); err != nil {
		tooLarge := &HostError{Type: "Error", Code: "TOO_LARGE", Message: op.op + ": the answer is too large"}
		if err := i.writeAnswer(nil, nil, tooLarge); err != nil {
			return &callError{err}
		}
	}
	return i.callWithID(i.complete, op.id)
}

func (i *Isolate) startOp(op *hostOp) {
	l := &i.loop
	if l.ctx == nil {
		parent := i.callCtx
		if parent == nil {
			parent = context.Background()
		}
		l.ctx, l.cancel = context.WithCancel(parent)
	}
	if l.done == nil {
		l.done = make(chan *hostOp, maxOpsInFlight)
	}
	ctx := l.ctx
	l.running++
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		op.result, op.resultBody, op.err = i.callHost(ctx, op.op, op.args, op.body)
		l.done <- op
	}()
}

// nativeHostStart starts an asynchronous host call. The prelude wrote it
// into the exchange as for nativeHost; the answer is slot 0 = 0 and slot 1
// the call's id, or a failed answer as nativeHost writes one.
func (i *Isolate) nativeHostStart(*v8.FunctionCallbackInfo) (*v8.Value, error) {
	op, args, body, err := i.readCall()
	if err != nil {
		return nil, err
	}
	l := &i.loop
	size := len(op) + len(args) + len(body)
	var refuse *HostError
	switch {
	case !l.open:
		refuse = &HostError{Type: "Error", Code: "CANCELLED", Message: op + ": the invocation has ended"}
	case len(l.queue) >= maxOpsQueued:
		refuse = &HostError{Type: "Error", Code: "RATE_LIMITED",
			Message: fmt.Sprintf("%s: more than %d host calls are waiting to run", op, maxOpsQueued)}
	case l.bytes > 0 && l.bytes+size > maxOpsBytes:
		refuse = &HostError{Type: "Error", Code: "RATE_LIMITED",
			Message: fmt.Sprintf("%s: the host calls pending hold more than %d MiB", op, maxOpsBytes>>20)}
	}
	if refuse != nil {
		return nil, i.writeAnswer(nil, nil, refuse)
	}
	l.lastOp++
	if l.lastOp <= 0 {
		l.lastOp = 1
	}
	h := &hostOp{id: l.lastOp, gen: l.gen, op: op, args: args, body: body, size: size}
	if l.ops == nil {
		l.ops = make(map[int32]*hostOp)
	}
	l.ops[h.id] = h
	l.bytes += size
	if l.running < maxOpsInFlight {
		i.startOp(h)
	} else {
		l.queue = append(l.queue, h)
	}
	i.setSlot(0, 0)
	i.setSlot(1, int(h.id))
	return nil, nil
}

// ---- timers

// Answers of nativeTimerSet.
const (
	timerArmed   = 1
	timerRefused = 0  // the invocation's reply is decided: it would never run
	timerTooMany = -1 // maxTimers are armed
)

// nativeTimerSet(id, delayMs) arms timer id, or arms it again.
func (i *Isolate) nativeTimerSet(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
	args := info.Args()
	if len(args) != 2 {
		return nil, errors.New("timerSet: want two arguments")
	}
	id := args[0].Int32()
	delay := args[1].Number()
	if !(delay >= 0) { // NaN too
		delay = 0
	}
	delay = math.Min(delay, math.MaxInt32)
	l := &i.loop
	if !l.open {
		return i.ret(int32(timerRefused))
	}
	t, ok := l.timerByID[id]
	if !ok {
		if len(l.timerByID) >= maxTimers {
			return i.ret(int32(timerTooMany))
		}
		if l.timerByID == nil {
			l.timerByID = make(map[int32]*timer)
		}
		t = &timer{id: id, index: -1}
		l.timerByID[id] = t
	}
	l.seq++
	t.due = time.Now().Add(time.Duration(delay * float64(time.Millisecond)))
	t.seq = l.seq
	if t.index >= 0 {
		heap.Fix(&l.timers, t.index)
	} else {
		heap.Push(&l.timers, t)
	}
	return i.ret(int32(timerArmed))
}

// nativeTimerClear(id) forgets timer id.
func (i *Isolate) nativeTimerClear(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
	args := info.Args()
	if len(args) != 1 {
		return nil, errors.New("timerClear: want one argument")
	}
	l := &i.loop
	if t, ok := l.timerByID[args[0].Int32()]; ok {
		delete(l.timerByID, t.id)
		if t.index >= 0 {
			heap.Remove(&l.timers, t.index)
		}
	}
	return nil, nil
}

// ---- clock

// nativeNow is performance.now(): ms since timeOrigin, monotonic.
func (i *Isolate) nativeNow(*v8.FunctionCallbackInfo) (*v8.Value, error) {
	d := time.Since(i.loop.origin).Truncate(clockGrain)
	return i.ret(float64(d) / float64(time.Millisecond))
}

// nativeTimeOrigin is performance.timeOrigin: when the isolate started,
// in ms since the Unix epoch.
func (i *Isolate) nativeTimeOrigin(*v8.FunctionCallbackInfo) (*v8.Value, error) {
	us := i.loop.origin.Truncate(clockGrain).UnixMicro()
	return i.ret(float64(us) / 1000)
}

// ret hands v to JavaScript as a native's result.
func (i *Isolate) ret(v any) (*v8.Value, error) {
	if i.loop.returned != nil {
		i.loop.returned.Release()
		i.loop.returned = nil
	}
	val, err := v8.NewValue(i.iso, v)
	if err != nil {
		return nil, err
	}
	i.loop.returned = val
	return val, nil
}
