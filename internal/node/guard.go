package node

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

// guardInterval is how often a node checks that the desired state it has
// seen is still in JetStream.
const guardInterval = 5 * time.Second

// servedSet is what this node serves, with the bundles: the copy a node
// puts back when the desired state is lost.
type servedSet struct {
	mu  sync.Mutex
	fns map[string]servedFunction
}

type servedFunction struct {
	info   api.FunctionInfo
	bundle []byte
}

func (s *servedSet) set(info api.FunctionInfo, bundle []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[string]servedFunction{}
	}
	s.fns[info.Spec.Key()] = servedFunction{info: info, bundle: bundle}
}

// same reports whether info is the version served, at another revision:
// a watch that starts over finds it again and need not load it anew.
func (s *servedSet) same(info *api.FunctionInfo) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fns[info.Spec.Key()]
	return ok && f.info.BundleDigest == info.BundleDigest && reflect.DeepEqual(f.info.Spec, info.Spec)
}

// setRevision records the revision a version served now has.
func (s *servedSet) setRevision(info *api.FunctionInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fns[info.Spec.Key()]; ok {
		f.info = *info
		s.fns[info.Spec.Key()] = f
	}
}

func (s *servedSet) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fns, key)
}

func (s *servedSet) removeNamespace(namespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, f := range s.fns {
		if f.info.Spec.Namespace == namespace {
			delete(s.fns, key)
		}
	}
}

func (s *servedSet) all() []servedFunction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]servedFunction, 0, len(s.fns))
	for _, f := range s.fns {
		out = append(out, f)
	}
	return out
}

func (s *servedSet) keys() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.fns))
	for key := range s.fns {
		out[key] = true
	}
	return out
}

// checkLost looks for desired state that JetStream lost. Lost bundles are
// put back at once; lost specs are reported (true), for the watch to start
// over once they are put back.
func (n *Node) checkLost(ctx context.Context, seen *store.Marks) bool {
	check, cancel := context.WithTimeout(ctx, openAttemptTimeout)
	defer cancel()
	functionsLost, bundlesLost, err := n.store.CheckLost(check, seen)
	if err != nil {
		return false // JetStream does not answer: an outage, not a loss
	}
	if functionsLost {
		n.log.Error("DESIRED STATE LOST: the bucket "+api.FunctionsBucket+" was deleted or reset (a server that held its only copy lost its disk?); putting back the functions this node serves",
			"seen_revision", seen.Functions, "functions", len(n.served.all()))
		return true
	}
	if bundlesLost {
		n.log.Error("BUNDLES LOST: the object store "+api.BundlesBucket+" was deleted or reset; putting back the bundles of the functions this node serves",
			"functions", len(n.served.all()))
		n.restore(ctx, false)
	}
	return false
}

// restore puts back the functions this node serves (their bundles alone
// when specs is false), retrying, and saying so, until JetStream takes
// them or ctx ends.
func (n *Node) restore(ctx context.Context, specs bool) {
	what := "put back the lost bundles"
	if specs {
		what = "put back the lost desired state"
	}
	_ = n.waitForJetStream(ctx, what, func(ctx context.Context) error {
		if err := n.store.Recreate(ctx); err != nil {
			return err
		}
		var errs []error
		for _, f := range n.served.all() {
			var err error
			if specs {
				err = n.store.Restore(ctx, f.info, f.bundle)
			} else {
				err = n.store.RestoreBundle(ctx, f.info, f.bundle)
			}
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if ctx.Err() == nil {
		n.log.Warn("put back what this node serves", "what", what, "functions", len(n.served.all()))
	}
}
