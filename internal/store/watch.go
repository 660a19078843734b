package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventPut: a function was deployed or redeployed; Info is set unless
	// Err is.
	EventPut EventKind = iota + 1
	// EventDelete: a function was removed.
	EventDelete
	// EventReady: every function that existed when the watch began has been
	// delivered. It comes exactly once, first if there are none.
	EventReady
)

func (k EventKind) String() string {
	switch k {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	case EventReady:
		return "ready"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change of desired state.
type Event struct {
	Kind      EventKind
	Namespace string
	Name      string
	// Info is the new desired state of an EventPut without Err.
	Info *api.FunctionInfo
	// Revision orders the events of one function.
	Revision uint64
	// Err reports a stored value that does not decode, for the caller's log;
	// Info is nil then.
	Err error
}

// Watcher delivers the changes of every namespace's desired state.
type Watcher struct {
	events chan Event
	quit   chan struct{}
	done   chan struct{}
	stop   sync.Once
}

// Watch starts delivering events: first every current function, then
// EventReady, then changes as they happen. Deletions that happened before the
// watch began are not reported. Starting fails when it takes longer than ctx
// allows; the events stop, and the channel closes, when life ends or Stop is
// called.
func (s *Store) Watch(ctx, life context.Context) (*Watcher, error) {
	kw, cancel, err := watchAll(ctx, life, s.functions)
	if err != nil {
		return nil, fmt.Errorf("natsfn: watch functions: %w", err)
	}
	w := &Watcher{
		events: make(chan Event),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer cancel()
		w.run(life, kw)
	}()
	return w, nil
}

// watchAll starts a watcher of every key of kv that lives until life ends
// or cancel is called, giving up when starting takes longer than ctx
// allows: nats.go ties a watcher to the context it starts with, and its
// start waits on JetStream, which may not answer while it elects a leader.
func watchAll(ctx, life context.Context, kv jetstream.KeyValue) (jetstream.KeyWatcher, context.CancelFunc, error) {
	wctx, cancel := context.WithCancel(life)
	type started struct {
		w   jetstream.KeyWatcher
		err error
	}
	done := make(chan started, 1)
	go func() {
		w, err := kv.WatchAll(wctx)
		done <- started{w, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			cancel()
			return nil, nil, r.err
		}
		return r.w, cancel, nil
	case <-ctx.Done():
		cancel() // ends the start's request, and the watcher if it came
		if r := <-done; r.w != nil {
			stopWatcher(r.w)
		}
		return nil, nil, ctx.Err()
	}
}

// Events is closed once the watcher has stopped.
func (w *Watcher) Events() <-chan Event { return w.events }

// Stop stops the watcher and waits until it has. It is safe to call more
// than once and from several goroutines.
func (w *Watcher) Stop() {
	w.stop.Do(func() { close(w.quit) })
	<-w.done
}

func (w *Watcher) run(ctx context.Context, kw jetstream.KeyWatcher) {
	defer close(w.done)
	defer close(w.events)
	defer stopWatcher(kw)
	ready := false
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return
		case <-w.quit:
			return
		case entry, ok := <-kw.Updates():
			if !ok {
				return
			}
			e = entry
		}
		var ev Event
		switch {
		case e == nil:
			ready = true
			ev = Event{Kind: EventReady}
		case e.Operation() != jetstream.KeyValuePut:
			if !ready {
				continue // gone before we looked: nothing to undo
			}
			ns, name, _ := strings.Cut(e.Key(), ".")
			ev = Event{Kind: EventDelete, Namespace: ns, Name: name, Revision: e.Revision()}
		default:
			ns, name, _ := strings.Cut(e.Key(), ".")
			info, err := decodeInfo(e)
			ev = Event{Kind: EventPut, Namespace: ns, Name: name, Info: info, Revision: e.Revision(), Err: err}
		}
		select {
		case w.events <- ev:
		case <-ctx.Done():
			return
		case <-w.quit:
			return
		}
	}
}

// stopWatcher unsubscribes a KV watcher. The watcher's delivery callback
// blocks on a full channel while holding its lock, so the channel is drained
// until it closes, within a bound in case it never does.
func stopWatcher(kw jetstream.KeyWatcher) {
	_ = kw.Stop()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-kw.Updates():
			if !ok {
				return
			}
		case <-timeout.C:
			return
		}
	}
}
