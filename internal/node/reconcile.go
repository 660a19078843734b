package node

import (
	"context"
	"errors"
	"sync"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

// loadsPerNamespace bounds the loads running at once in one namespace: a
// namespace whose worker cannot start holds up its own loads, never
// another namespace's.
const loadsPerNamespace = 4

// reconcile makes the executor serve what the desired state says, for as
// long as ctx lives. It reports on ready once every function deployed
// before it started is served (or has failed to load).
//
// Each function's changes are applied in order, the newest replacing any
// not yet begun; different functions are applied at once, so one slow load
// (a worker that keeps crashing) delays nobody else's deploy.
func (n *Node) reconcile(ctx context.Context, ready chan<- error) {
	w, err := n.store.Watch(ctx)
	if err != nil {
		ready <- err
		return
	}
	defer w.Stop()
	a := newAppliers(ctx, func(ev store.Event) {
		if ev.Kind == store.EventDelete {
			key := api.FunctionKey(ev.Namespace, ev.Name)
			n.exec.Unload(ev.Namespace, ev.Name)
			n.loaded.set(key, ev.Revision, nil)
			n.log.Info("removed function", "function", key)
			return
		}
		n.apply(ctx, ev.Info)
	})
	defer a.wg.Wait()
	for ev := range w.Events() {
		switch {
		case ev.Kind == store.EventReady:
			a.wg.Wait() // what was deployed before the start is applied
			ready <- nil
		case ev.Err != nil:
			n.log.Error("unreadable desired state", "function", api.FunctionKey(ev.Namespace, ev.Name), "err", ev.Err)
		default:
			a.enqueue(ev)
		}
	}
}

// appliers apply each function's desired state on a goroutine of its own.
type appliers struct {
	ctx   context.Context
	apply func(store.Event)
	wg    sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*applyQueue   // by function key
	slots   map[string]chan struct{} // by namespace
}

// applyQueue is one function's change not yet applied; running says a
// goroutine is applying its changes.
type applyQueue struct {
	next    *store.Event
	running bool
}

func newAppliers(ctx context.Context, apply func(store.Event)) *appliers {
	return &appliers{ctx: ctx, apply: apply, pending: map[string]*applyQueue{}, slots: map[string]chan struct{}{}}
}

func (a *appliers) enqueue(ev store.Event) {
	key := api.FunctionKey(ev.Namespace, ev.Name)
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.pending[key]
	if q == nil {
		q = &applyQueue{}
		a.pending[key] = q
	}
	q.next = &ev // only the newest desired state matters
	if !q.running {
		q.running = true
		a.wg.Add(1)
		go a.drain(key, q)
	}
}

func (a *appliers) drain(key string, q *applyQueue) {
	defer a.wg.Done()
	for {
		a.mu.Lock()
		ev := q.next
		q.next = nil
		if ev == nil {
			q.running = false
			delete(a.pending, key)
			a.mu.Unlock()
			return
		}
		slot := a.slots[ev.Namespace]
		if slot == nil {
			slot = make(chan struct{}, loadsPerNamespace)
			a.slots[ev.Namespace] = slot
		}
		a.mu.Unlock()

		select {
		case slot <- struct{}{}:
		case <-a.ctx.Done():
			return
		}
		a.apply(*ev)
		<-slot
	}
}

// apply loads one function version. A failure is logged and leaves the
// previous version serving.
func (n *Node) apply(ctx context.Context, info *api.FunctionInfo) {
	key := info.Spec.Key()
	var loadErr error
	defer func() { n.loaded.set(key, info.Revision, loadErr) }()
	bundle, err := n.store.BundleOf(ctx, info)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			n.log.Error("cannot fetch bundle", "function", key, "err", err)
		}
		return
	}
	if err := n.exec.Load(ctx, *info, bundle); err != nil {
		loadErr = err
		n.log.Error("cannot load function", "function", key, "err", err)
		return
	}
	n.log.Info("serving function", "function", key, "triggers", info.Spec.Triggers, "revision", info.Revision)
}

// loadedSet records the newest revision the reconcile loop has applied per
// function, and why its load failed, and lets a deploy wait for its own.
type loadedSet struct {
	mu      sync.Mutex
	rev     map[string]uint64
	failed  map[string]error // the load of rev[key] failed so
	changed chan struct{}
}

func (s *loadedSet) set(key string, rev uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rev == nil {
		s.rev = map[string]uint64{}
		s.failed = map[string]error{}
	}
	if rev > s.rev[key] {
		s.rev[key] = rev
		if err != nil {
			s.failed[key] = err
		} else {
			delete(s.failed, key)
		}
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// wait returns once revision rev of a function is applied, with the error
// its load failed with when it is still the newest.
func (s *loadedSet) wait(ctx context.Context, key string, rev uint64) error {
	for {
		s.mu.Lock()
		if s.rev[key] >= rev {
			var err error
			if s.rev[key] == rev {
				err = s.failed[key]
			}
			s.mu.Unlock()
			return err
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
