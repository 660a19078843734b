package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/jsbucket"
)

// ErrStateLost says that desired state a node has seen is gone from
// JetStream: its bucket was deleted, or reset empty (a server that held
// its only copy lost its disk).
var ErrStateLost = errors.New("natsfn: desired state lost")

// Marks are how far a node has seen natsfn's streams go: a stream whose
// last sequence is lower than what was seen has been reset.
type Marks struct {
	Functions uint64 // the newest revision of the functions bucket seen
	Bundles   uint64 // the bundles stream's last sequence when last checked
}

// CheckLost reports ErrStateLost, with what was lost, when the functions
// bucket or the bundles store is gone or reset since seen; it updates
// seen.Bundles. Any other error means JetStream did not answer, which says
// nothing about loss.
func (s *Store) CheckLost(ctx context.Context, seen *Marks) (functionsLost, bundlesLost bool, err error) {
	functionsLost, _, err = s.lost(ctx, "KV_"+api.FunctionsBucket, seen.Functions)
	if err != nil {
		return false, false, err
	}
	bundlesLost, last, err := s.lost(ctx, "OBJ_"+api.BundlesBucket, seen.Bundles)
	if err != nil {
		return false, false, err
	}
	seen.Bundles = last
	return functionsLost, bundlesLost, nil
}

// lost reports whether a stream is gone or behind seen, and its last
// sequence.
func (s *Store) lost(ctx context.Context, name string, seen uint64) (bool, uint64, error) {
	st, err := s.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return true, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	last := st.CachedInfo().State.LastSeq
	return last < seen, last, nil
}

// Recreate makes the functions bucket and the bundles store again where
// they are gone, with the system's replicas.
func (s *Store) Recreate(ctx context.Context) error {
	if _, _, err := jsbucket.KeyValue(ctx, s.js, functionsConfig(s.replicas)); err != nil {
		return fmt.Errorf("natsfn: recreate bucket %s: %w", api.FunctionsBucket, err)
	}
	if _, _, err := jsbucket.ObjectStore(ctx, s.js, bundlesConfig(s.replicas)); err != nil {
		return fmt.Errorf("natsfn: recreate object store %s: %w", api.BundlesBucket, err)
	}
	return nil
}

// Restore puts back a function's desired state and bundle that a node
// still serves after they were lost. A function that is there again (put
// back by another node, or deployed anew) is left as it is.
func (s *Store) Restore(ctx context.Context, info api.FunctionInfo, bundle []byte) error {
	if api.Digest(bundle) != info.BundleDigest {
		return fmt.Errorf("%w: %s", ErrDigestMismatch, info.Spec.Key())
	}
	if err := s.putBundle(ctx, bundleObject(&info), bundle); err != nil {
		return err
	}
	info.Revision = 0
	value, err := json.Marshal(info)
	if err != nil {
		return err
	}
	_, err = s.functions.Create(ctx, info.Spec.Key(), value)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("natsfn: restore function %s: %w", info.Spec.Key(), err)
	}
	return nil
}

// RestoreBundle puts back the bundle of a function whose bundle is lost.
func (s *Store) RestoreBundle(ctx context.Context, info api.FunctionInfo, bundle []byte) error {
	if api.Digest(bundle) != info.BundleDigest {
		return fmt.Errorf("%w: %s", ErrDigestMismatch, info.Spec.Key())
	}
	return s.putBundle(ctx, bundleObject(&info), bundle)
}
