package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

// Right after a server comes back, its replicas replay what they had until
// they catch up, and a consumer JetStream places there reads the past.
// Listings, histories and removals read through consumers: each round
// changes the state while one server is down and reads it the moment that
// server is back, and no read may see the state from before.
func TestReadsAfterAServerReturns(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	st, err := store.Open(t.Context(), testenv.JetStream(t, nc))
	if err != nil {
		t.Fatal(err)
	}
	// JetStream may refuse or time out while it elects: an operation is
	// tried until it answers, and what it answers must be right.
	until := func(what string, op func(ctx context.Context) error) {
		t.Helper()
		testenv.Eventually(t, what, func() bool {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			return op(ctx) == nil
		})
	}
	// A try that timed out may have been applied: a retry checks first.
	put := func(name, bundle string) {
		until("put "+name, func(ctx context.Context) error {
			if f, err := st.Get(ctx, "default", name); err == nil && f.BundleDigest == api.Digest([]byte(bundle)) {
				return nil
			}
			_, err := st.Put(ctx, info("default", name), []byte(bundle))
			return err
		})
	}
	remove := func(name string, mustExist bool) {
		tried := false
		until("delete "+name, func(ctx context.Context) error {
			err := st.Delete(ctx, "default", name)
			if errors.Is(err, store.ErrNotFound) {
				if mustExist && !tried {
					t.Fatalf("delete %s: %v", name, err)
				}
				return nil
			}
			tried = true
			return err
		})
	}
	for round := range 6 {
		down := round % c.Size()
		gone, kept, added := fmt.Sprint("gone", round), fmt.Sprint("kept", round), fmt.Sprint("added", round)
		put(gone, "gone")
		put(kept, "v1")

		c.Kill(down)
		remove(gone, false)
		put(kept, "v2")
		put(added, "added")
		c.Restart(down)

		until("list", func(ctx context.Context) error {
			list, err := st.List(ctx, "default")
			if err != nil {
				return err
			}
			var names []string
			for _, f := range list {
				names = append(names, f.Spec.Name)
			}
			if want := []string{added, kept}; !slices.Equal(names, want) {
				t.Fatalf("round %d (%s back): ls = %v, want %v", round, c.Name(down), names, want)
			}
			return nil
		})
		until("history", func(ctx context.Context) error {
			versions, err := st.History(ctx, "default", kept)
			if err != nil {
				return err
			}
			if len(versions) != 2 || versions[0].BundleDigest != api.Digest([]byte("v2")) {
				t.Fatalf("round %d (%s back): %d versions of %s, the newest %s; want 2, the newest v2",
					round, c.Name(down), len(versions), kept, versions[0].BundleDigest)
			}
			return nil
		})
		remove(added, true)
		remove(kept, false)
	}
}
