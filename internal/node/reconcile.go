package node

import (
	"context"
	"errors"
	"sync"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

// reconcile makes the executor serve what the desired state says, for as
// long as ctx lives. It reports on ready once every function deployed
// before it started is served (or has failed to load).
func (n *Node) reconcile(ctx context.Context, ready chan<- error) {
	w, err := n.store.Watch(ctx)
	if err != nil {
		ready <- err
		return
	}
	defer w.Stop()
	for ev := range w.Events() {
		switch {
		case ev.Kind == store.EventReady:
			ready <- nil
		case ev.Err != nil:
			n.log.Error("unreadable desired state", "function", api.FunctionKey(ev.Namespace, ev.Name), "err", ev.Err)
		case ev.Kind == store.EventDelete:
			n.exec.Unload(ev.Namespace, ev.Name)
			n.loaded.set(api.FunctionKey(ev.Namespace, ev.Name), ev.Revision)
			n.log.Info("removed function", "function", api.FunctionKey(ev.Namespace, ev.Name))
		case ev.Kind == store.EventPut:
			n.apply(ctx, ev.Info)
		}
	}
}

// apply loads one function version. A failure is logged and leaves the
// previous version serving.
func (n *Node) apply(ctx context.Context, info *api.FunctionInfo) {
	key := info.Spec.Key()
	defer n.loaded.set(key, info.Revision)
	bundle, err := n.store.BundleOf(ctx, info)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			n.log.Error("cannot fetch bundle", "function", key, "err", err)
		}
		return
	}
	if err := n.exec.Load(ctx, *info, bundle); err != nil {
		n.log.Error("cannot load function", "function", key, "err", err)
		return
	}
	n.log.Info("serving function", "function", key, "triggers", info.Spec.Triggers, "revision", info.Revision)
}

// loadedSet records the newest revision the reconcile loop has applied per
// function, and lets a deploy wait for its own.
type loadedSet struct {
	mu      sync.Mutex
	rev     map[string]uint64
	changed chan struct{}
}

func (s *loadedSet) set(key string, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rev == nil {
		s.rev = map[string]uint64{}
	}
	if rev > s.rev[key] {
		s.rev[key] = rev
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

func (s *loadedSet) wait(ctx context.Context, key string, rev uint64) error {
	for {
		s.mu.Lock()
		if s.rev[key] >= rev {
			s.mu.Unlock()
			return nil
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
