package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

func bundleName(name, code string) string {
	return "default." + name + "." + strings.TrimPrefix(api.Digest([]byte(code)), "sha256:")
}

// The bucket keeps api.KeptVersions versions of a function, and exactly
// the bundles they name; rm forgets them all.
func TestBundlesFollowKeptVersions(t *testing.T) {
	st, js := open(t)
	ctx := t.Context()
	deploys := api.KeptVersions + 2
	for i := 1; i <= deploys; i++ {
		got, err := st.Put(ctx, info("default", "f", "f"), fmt.Appendf(nil, "v%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != uint64(i) {
			t.Fatalf("deploy %d stored version %d", i, got.Version)
		}
	}
	kept, err := st.History(ctx, "default", "f")
	if err != nil || len(kept) != api.KeptVersions {
		t.Fatalf("history: %d versions, %v", len(kept), err)
	}
	var want []string
	for i, v := range kept {
		if wantV := uint64(deploys - i); v.Version != wantV {
			t.Errorf("history[%d] is version %d, want %d", i, v.Version, wantV)
		}
		b, err := st.BundleOf(ctx, &v)
		if err != nil || string(b) != fmt.Sprintf("v%d", v.Version) {
			t.Errorf("bundle of version %d: %q %v", v.Version, b, err)
		}
		want = append(want, bundleName("f", fmt.Sprintf("v%d", v.Version)))
	}
	got := objects(t, js)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bundles = %v, want those of the kept versions %v", got, want)
	}

	// The same code again is one bundle, named by two versions.
	if _, err := st.Put(ctx, info("default", "f", "f"), []byte("v12")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "default", "f"); err != nil {
		t.Fatal(err)
	}
	if got := objects(t, js); len(got) != api.KeptVersions-1 {
		t.Errorf("after a redeploy of the same code: %d bundles, want %d", len(got), api.KeptVersions-1)
	}

	if err := st.Delete(ctx, "default", "f"); err != nil {
		t.Fatal(err)
	}
	if got := objects(t, js); len(got) != 0 {
		t.Errorf("bundles after delete = %v, want none", got)
	}
	if _, err := st.History(ctx, "default", "f"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("history after delete: %v", err)
	}
	again, err := st.Put(ctx, info("default", "f", "f"), []byte("new"))
	if err != nil || again.Version != 1 {
		t.Fatalf("a new function of the name: %+v %v", again, err)
	}
	if kept, err := st.History(ctx, "default", "f"); err != nil || len(kept) != 1 {
		t.Errorf("history of the new function: %d versions, %v", len(kept), err)
	}
}

// A functions bucket made by an older natsfn, keeping one version, is
// raised to api.KeptVersions; one an operator raised further stays so.
func TestHistoryRaisedNeverLowered(t *testing.T) {
	for _, tc := range []struct{ have, want int64 }{{1, api.KeptVersions}, {20, 20}} {
		js := testenv.JetStream(t, testenv.Conn(t, testenv.NATS(t)))
		if _, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: api.FunctionsBucket, History: uint8(tc.have)}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Open(t.Context(), js); err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(t.Context(), "KV_"+api.FunctionsBucket)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxMsgsPerSubject; got != tc.want {
			t.Errorf("history %d after Open: %d, want %d", tc.have, got, tc.want)
		}
	}
}
