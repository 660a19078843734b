package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// History returns the versions of a function the bucket keeps, newest (the
// current one) first, or ErrNotFound. Each has its own Revision.
func (s *Store) History(ctx context.Context, namespace, name string) ([]api.FunctionInfo, error) {
	if err := validateNames(namespace, name); err != nil {
		return nil, err
	}
	kept, err := s.history(ctx, api.FunctionKey(namespace, name))
	if err != nil {
		return nil, err
	}
	// A value that does not decode is no version anyone can go back to.
	kept = slices.DeleteFunc(kept, func(info api.FunctionInfo) bool { return info.Spec.Name == "" })
	if len(kept) == 0 {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, namespace, name)
	}
	return kept, nil
}

// history returns the versions of key since it was last removed, newest
// first; none when it does not exist. A value that does not decode is
// returned empty but for its Revision and Version, so it can be replaced.
func (s *Store) history(ctx context.Context, key string) ([]api.FunctionInfo, error) {
	var entries []jetstream.KeyValueEntry
	err := s.readCurrent(ctx, key, func() (uint64, error) {
		var err error
		entries, err = s.functions.History(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			entries = nil
			return 0, nil
		case err != nil:
			return 0, err
		case len(entries) == 0:
			return 0, nil
		}
		return entries[len(entries)-1].Revision(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: read the versions of %s: %w", key, err)
	}
	// A delete or purge marker ends what came before: that function was
	// removed.
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Operation() != jetstream.KeyValuePut {
			entries = entries[i+1:]
			break
		}
	}
	kept := make([]api.FunctionInfo, 0, len(entries))
	var last uint64
	for _, e := range entries {
		info, err := decodeInfo(e)
		if err != nil {
			info = &api.FunctionInfo{Revision: e.Revision()}
		}
		// Versions only grow: one stored without a number (before
		// versions were counted, or by an older node) follows the last.
		if info.Version <= last {
			info.Version = last + 1
		}
		last = info.Version
		kept = append(kept, *info)
	}
	slices.Reverse(kept)
	return kept, nil
}

// dropUnkeptBundles deletes the bundles of before, the versions of key a
// Put read, that no version kept now names: the bucket keeps
// api.KeptVersions, so the oldest drops out as a new one comes in. Best
// effort: a leftover bundle costs space, not correctness.
func (s *Store) dropUnkeptBundles(ctx context.Context, key string, before []api.FunctionInfo) {
	if len(before) == 0 {
		return
	}
	after, err := s.history(ctx, key)
	if err != nil {
		return
	}
	named := map[string]bool{}
	for _, d := range bundleDigests(after) {
		named[d] = true
	}
	for _, d := range bundleDigests(before) {
		if !named[d] {
			_ = s.bundles.Delete(ctx, key+"."+strings.TrimPrefix(d, "sha256:"))
		}
	}
}

// bundleDigests returns the distinct bundle digests of versions.
func bundleDigests(versions []api.FunctionInfo) []string {
	var out []string
	for _, v := range versions {
		if v.BundleDigest != "" && !slices.Contains(out, v.BundleDigest) {
			out = append(out, v.BundleDigest)
		}
	}
	return out
}
