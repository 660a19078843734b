package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// Put stores bundle as the function's code and then info as its desired
// state, so a watcher that sees the new state finds the new bundle. It fills
// in BundleDigest and BundleSize from bundle, DeployedAt when it is zero,
// Version (one more than the current's) and Revision, and returns the
// stored info.
//
// Bundles are named by content and the spec is written only if it did not
// change since this Put read it (a Put that loses the race starts over), so
// concurrent deploys of one function end with a spec whose bundle exists.
// The bucket keeps the last api.KeptVersions versions of each function;
// a bundle no kept version names any more is deleted.
func (s *Store) Put(ctx context.Context, info api.FunctionInfo, bundle []byte) (*api.FunctionInfo, error) {
	if err := validateNames(info.Spec.Namespace, info.Spec.Name); err != nil {
		return nil, err
	}
	info.BundleDigest = api.Digest(bundle)
	info.BundleSize = int64(len(bundle))
	info.Revision = 0
	if info.DeployedAt.IsZero() {
		info.DeployedAt = time.Now().UTC()
	}
	key := info.Spec.Key()
	object := bundleObject(&info)
	if err := s.putBundle(ctx, object, bundle); err != nil {
		return nil, err
	}
	for range putConflictRetries {
		kept, err := s.history(ctx, key)
		if err != nil {
			return nil, err
		}
		var prev *api.FunctionInfo
		if len(kept) > 0 {
			prev = &kept[0]
		}
		info.Version = 1
		if prev != nil {
			info.Version = prev.Version + 1
		}
		value, err := json.Marshal(info)
		if err != nil {
			return nil, fmt.Errorf("natsfn: encode function: %w", err)
		}
		var rev uint64
		if prev == nil {
			rev, err = s.functions.Create(ctx, key, value)
		} else {
			rev, err = s.functions.Update(ctx, key, value, prev.Revision)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("natsfn: store function %s: %w", key, err)
		}
		info.Revision = rev
		s.dropUnkeptBundles(ctx, key, kept)
		return &info, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrConflict, key)
}

// bundleObject names the object holding info's bundle.
func bundleObject(info *api.FunctionInfo) string {
	return info.Spec.Key() + "." + strings.TrimPrefix(info.BundleDigest, "sha256:")
}

// putBundle writes a bundle unless an object of that content is there.
func (s *Store) putBundle(ctx context.Context, object string, bundle []byte) error {
	if _, err := s.bundles.GetInfo(ctx, object); err == nil {
		return nil
	}
	if _, err := s.bundles.PutBytes(ctx, object, bundle); err != nil {
		return fmt.Errorf("natsfn: store bundle %s: %w", object, err)
	}
	return nil
}

// Get returns a function's desired state, or ErrNotFound.
func (s *Store) Get(ctx context.Context, namespace, name string) (*api.FunctionInfo, error) {
	if err := validateNames(namespace, name); err != nil {
		return nil, err
	}
	key := api.FunctionKey(namespace, name)
	e, err := s.functions.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read function %s: %w", key, err)
	}
	return decodeInfo(e)
}

// List returns a namespace's functions sorted by name.
func (s *Store) List(ctx context.Context, namespace string) ([]api.FunctionInfo, error) {
	if err := api.ValidateName("namespace", namespace); err != nil {
		return nil, fmt.Errorf("natsfn: %w", err)
	}
	var list []api.FunctionInfo
	err := s.readCurrent(ctx, namespace+".*", func() (uint64, error) {
		var seen uint64
		var err error
		list, seen, err = s.listOnce(ctx, namespace)
		return seen, err
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: list functions: %w", err)
	}
	slices.SortFunc(list, func(a, b api.FunctionInfo) int {
		return strings.Compare(a.Spec.Name, b.Spec.Name)
	})
	return list, nil
}

// listOnce reads a namespace's functions through one watcher, which reads
// every current value in one consumer instead of one request per key, and
// returns the highest revision it saw, removals included.
func (s *Store) listOnce(ctx context.Context, namespace string) ([]api.FunctionInfo, uint64, error) {
	w, err := s.functions.Watch(ctx, namespace+".*")
	if err != nil {
		return nil, 0, err
	}
	defer stopWatcher(w)
	list := []api.FunctionInfo{}
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, 0, ErrWatchStopped
			}
			if e == nil {
				return list, seen, nil
			}
			seen = max(seen, e.Revision())
			if e.Operation() != jetstream.KeyValuePut {
				continue
			}
			info, err := decodeInfo(e)
			if err != nil {
				return nil, 0, err
			}
			list = append(list, *info)
		}
	}
}

// Delete removes a function's desired state, every version of it, and
// then their bundles. It returns ErrNotFound when there is nothing to
// remove.
func (s *Store) Delete(ctx context.Context, namespace, name string) error {
	if err := validateNames(namespace, name); err != nil {
		return err
	}
	key := api.FunctionKey(namespace, name)
	kept, err := s.history(ctx, key)
	if err != nil {
		return err
	}
	if len(kept) == 0 {
		return fmt.Errorf("%w: %s/%s", ErrNotFound, namespace, name)
	}
	// Only the revision read above is removed: a deploy that came in
	// between stays. A purge drops the older versions too, whose bundles
	// go below: a function of this name deployed later starts at
	// version 1.
	err = s.functions.Purge(ctx, key, jetstream.LastRevision(kept[0].Revision))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: %s", ErrConflict, key)
	}
	if err != nil {
		return fmt.Errorf("natsfn: delete function %s: %w", key, err)
	}
	for _, digest := range bundleDigests(kept) {
		err = s.bundles.Delete(ctx, key+"."+strings.TrimPrefix(digest, "sha256:"))
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("natsfn: delete bundle of %s: %w", key, err)
		}
	}
	return nil
}

// Bundle returns the bundle of a function's current desired state.
func (s *Store) Bundle(ctx context.Context, namespace, name string) ([]byte, error) {
	info, err := s.Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return s.BundleOf(ctx, info)
}

// BundleOf returns the bundle that info describes, checked against its
// digest. ErrNotFound means a newer revision has replaced info and is on its
// way to every watcher; ErrDigestMismatch means the bundle was corrupted.
func (s *Store) BundleOf(ctx context.Context, info *api.FunctionInfo) ([]byte, error) {
	object := bundleObject(info)
	b, err := s.bundles.GetBytes(ctx, object)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: bundle %s", ErrNotFound, object)
	}
	if err != nil {
		return nil, fmt.Errorf("natsfn: read bundle %s: %w", object, err)
	}
	if got := api.Digest(b); got != info.BundleDigest {
		return nil, fmt.Errorf("%w: %s has %s", ErrDigestMismatch, object, got)
	}
	return b, nil
}

func decodeInfo(e jetstream.KeyValueEntry) (*api.FunctionInfo, error) {
	var info api.FunctionInfo
	dec := json.NewDecoder(bytes.NewReader(e.Value()))
	if err := dec.Decode(&info); err != nil {
		return nil, fmt.Errorf("natsfn: function %s holds invalid JSON: %w", e.Key(), err)
	}
	if info.Spec.Key() != e.Key() {
		return nil, fmt.Errorf("natsfn: function %s holds the spec of %s", e.Key(), info.Spec.Key())
	}
	info.Revision = e.Revision()
	info.Version = max(info.Version, 1) // stored before versions were counted
	return &info, nil
}
