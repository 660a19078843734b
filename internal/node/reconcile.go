package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/executor"
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
//
// The watch starts over when it stops, and when the desired state it has
// seen is lost: what this node serves is put back first, so nodes that
// still serve a function bring it back.
func (n *Node) reconcile(ctx context.Context, ready chan<- error) {
	a := newAppliers(ctx, func(ev store.Event, attempt int) bool {
		if ev.Kind == store.EventDelete {
			key := api.FunctionKey(ev.Namespace, ev.Name)
			n.exec.Unload(ev.Namespace, ev.Name)
			n.served.remove(key)
			n.loaded.set(key, ev.Revision, nil)
			n.log.Info("removed function", "function", key)
			return false
		}
		return n.apply(ctx, ev.Info, attempt)
	})
	defer a.wg.Wait()
	readied := false
	for {
		var w *store.Watcher
		err := n.waitForJetStream(ctx, "watch the desired state", func(attempt context.Context) error {
			var err error
			w, err = n.store.Watch(attempt, ctx)
			return err
		})
		if err != nil {
			return // ctx ended
		}
		lost := n.follow(ctx, w, a, &readied, ready)
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		if lost {
			n.restore(ctx, true)
			// The restored state starts its revisions over.
			a.wg.Wait()
			n.loaded.reset()
		} else {
			n.log.Warn("the watch of the desired state stopped; starting it again")
		}
	}
}

// follow applies the events of one watch until it stops, ctx ends, or the
// desired state it has seen is lost (true). The first watch to deliver
// the desired state reports on ready; one that starts over leaves alone
// the versions already served and unloads what is no longer in the
// desired state once it has delivered what is.
func (n *Node) follow(ctx context.Context, w *store.Watcher, a *appliers, readied *bool, ready chan<- error) bool {
	guard := time.NewTicker(guardInterval)
	defer guard.Stop()
	var seen store.Marks
	initial := map[string]bool{}
	inInitial := true
	for {
		select {
		case <-ctx.Done():
			return false
		case <-guard.C:
			if n.checkLost(ctx, &seen) {
				return true
			}
		case ev, ok := <-w.Events():
			if !ok {
				return false
			}
			seen.Functions = max(seen.Functions, ev.Revision)
			switch {
			case ev.Kind == store.EventReady:
				a.wg.Wait() // what was deployed before the start is applied
				inInitial = false
				if !*readied {
					*readied = true
					ready <- nil
					continue
				}
				for key := range n.served.keys() {
					if !initial[key] {
						ns, name, _ := strings.Cut(key, ".")
						a.enqueue(store.Event{Kind: store.EventDelete, Namespace: ns, Name: name})
					}
				}
			case ev.Err != nil:
				n.log.Error("unreadable desired state", "function", api.FunctionKey(ev.Namespace, ev.Name), "err", ev.Err)
			default:
				if inInitial {
					initial[api.FunctionKey(ev.Namespace, ev.Name)] = true
				}
				if *readied && inInitial && ev.Kind == store.EventPut && n.served.same(ev.Info) {
					n.served.setRevision(ev.Info)
					n.loaded.set(ev.Info.Spec.Key(), ev.Revision, nil)
					continue
				}
				a.enqueue(ev)
			}
		}
	}
}

// appliers apply each function's desired state on a goroutine of its own.
// A load that may succeed later (JetStream slow to hand out the bundle, a
// worker that could not start) is tried again, with a growing pause,
// until it succeeds or a newer change replaces it: desired state is never
// left unserved because of one bad moment.
type appliers struct {
	ctx context.Context
	// apply applies one change, attempt counting the tries before it,
	// and says whether it should be tried again.
	apply func(ev store.Event, attempt int) (retry bool)
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

// Pauses between the tries of a load that failed.
const (
	retryPauseMin = 250 * time.Millisecond
	retryPauseMax = 10 * time.Second
)

func newAppliers(ctx context.Context, apply func(ev store.Event, attempt int) bool) *appliers {
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
	attempt := 0
	pause := retryPauseMin
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
		retry := a.apply(*ev, attempt)
		<-slot
		if !retry {
			attempt, pause = 0, retryPauseMin
			continue
		}
		a.mu.Lock()
		if q.next == nil {
			q.next = ev // unless a newer change came meanwhile
			attempt++
		} else {
			attempt, pause = 0, retryPauseMin
		}
		a.mu.Unlock()
		select {
		case <-time.After(pause):
		case <-a.ctx.Done():
			return
		}
		pause = min(2*pause, retryPauseMax)
	}
}

// reportAfter is how many tries of a load a deploy waits for before it
// hears of the failure; the node goes on trying.
const reportAfter = 3

// apply loads one function version, the attempt-th try of it. A failure
// is logged and leaves the previous version serving; it says whether to
// try again. A deploy waiting for this version hears of it once it is
// served, fails for good, or has failed reportAfter times.
func (n *Node) apply(ctx context.Context, info *api.FunctionInfo, attempt int) (retry bool) {
	key := info.Spec.Key()
	var loadErr error
	defer func() {
		if !retry || attempt+1 >= reportAfter {
			n.loaded.set(key, info.Revision, loadErr)
		}
	}()
	bundle, err := n.store.BundleOf(ctx, info)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		loadErr = err
		// A bundle that is missing or not the spec's stays so; anything
		// else is JetStream answering late or not at all.
		retry = !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrDigestMismatch)
		n.log.Error("cannot fetch bundle", "function", key, "err", err, "try", attempt+1, "again", retry)
		return retry
	}
	if err := n.exec.Load(ctx, *info, bundle); err != nil {
		if ctx.Err() != nil {
			return false
		}
		loadErr = err
		// A refused trigger needs the operator; anything else (a worker
		// that could not start, the machine short of memory) may pass.
		retry = !errors.Is(err, executor.ErrSubscribeRefused)
		n.log.Error("cannot load function", "function", key, "err", err, "try", attempt+1, "again", retry)
		return retry
	}
	n.served.set(*info, bundle)
	n.log.Info("serving function", "function", key, "triggers", info.Spec.Triggers, "revision", info.Revision)
	return false
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

// reset forgets the revisions applied: the desired state was put back
// and its revisions start over.
func (s *loadedSet) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev = nil
	s.failed = nil
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
