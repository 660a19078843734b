package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

func open(t *testing.T) (*store.Store, jetstream.JetStream) {
	t.Helper()
	js := testenv.JetStream(t, testenv.Conn(t, testenv.NATS(t)))
	st, err := store.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	return st, js
}

func info(ns, name string, triggers ...string) api.FunctionInfo {
	return api.FunctionInfo{Spec: api.FunctionSpec{Namespace: ns, Name: name, Triggers: triggers}}
}

func TestOpenTwiceBinds(t *testing.T) {
	js := testenv.JetStream(t, testenv.Conn(t, testenv.NATS(t)))
	a, err := store.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(t.Context(), info("default", "f", "f"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(t.Context(), js)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if _, err := b.Get(t.Context(), "default", "f"); err != nil {
		t.Fatalf("second store does not see the first's function: %v", err)
	}
	stream, err := js.Stream(t.Context(), api.LogStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	if cfg.MaxAge != store.LogMaxAge || cfg.MaxMsgsPerSubject != store.LogMaxMsgsPerFunc || cfg.Subjects[0] != api.LogPrefix+".>" {
		t.Errorf("log stream config = %+v", cfg)
	}
}

func TestPutGetBundle(t *testing.T) {
	st, _ := open(t)
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	got, err := st.Put(ctx, info("default", "hello", "hello.>"), []byte("(s, p) => p"))
	if err != nil {
		t.Fatal(err)
	}
	if got.BundleDigest != api.Digest([]byte("(s, p) => p")) || got.BundleSize != 11 || got.Revision == 0 || got.DeployedAt.Before(before) {
		t.Errorf("Put returned %+v", got)
	}
	read, err := st.Get(ctx, "default", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if read.Revision != got.Revision || read.BundleDigest != got.BundleDigest || read.Spec.Triggers[0] != "hello.>" {
		t.Errorf("Get = %+v, want %+v", read, got)
	}
	b, err := st.Bundle(ctx, "default", "hello")
	if err != nil || string(b) != "(s, p) => p" {
		t.Errorf("Bundle = %q, %v", b, err)
	}

	again, err := st.Put(ctx, info("default", "hello", "hi"), []byte("() => 2"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision <= got.Revision {
		t.Errorf("redeploy revision %d, not after %d", again.Revision, got.Revision)
	}
	if b, _ := st.Bundle(ctx, "default", "hello"); string(b) != "() => 2" {
		t.Errorf("bundle after redeploy = %q", b)
	}
}

func TestGetNotFound(t *testing.T) {
	st, _ := open(t)
	for _, name := range []string{"nope", "deleted"} {
		if name == "deleted" {
			if _, err := st.Put(t.Context(), info("default", name, "x"), []byte("1")); err != nil {
				t.Fatal(err)
			}
			if err := st.Delete(t.Context(), "default", name); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Get(t.Context(), "default", name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get %s: %v, want ErrNotFound", name, err)
		}
		if _, err := st.Bundle(t.Context(), "default", name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Bundle %s: %v, want ErrNotFound", name, err)
		}
		if err := st.Delete(t.Context(), "default", name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete %s: %v, want ErrNotFound", name, err)
		}
	}
}

func TestRejectsBadNames(t *testing.T) {
	st, _ := open(t)
	for _, tc := range [][2]string{{"default", "a.b"}, {"*", "x"}, {"default", ">"}, {"", "x"}, {"Default", "x"}} {
		if _, err := st.Put(t.Context(), info(tc[0], tc[1], "x"), []byte("1")); err == nil {
			t.Errorf("Put %q/%q succeeded", tc[0], tc[1])
		}
		if _, err := st.Get(t.Context(), tc[0], tc[1]); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get %q/%q: %v, want a name error", tc[0], tc[1], err)
		}
	}
	if _, err := st.List(t.Context(), "a.*"); err == nil {
		t.Error("List with a wildcard namespace succeeded")
	}
}

func TestListSortedPerNamespace(t *testing.T) {
	st, _ := open(t)
	ctx := t.Context()
	if l, err := st.List(ctx, "default"); err != nil || len(l) != 0 || l == nil {
		t.Fatalf("empty List = %#v, %v; want an empty, non-nil slice", l, err)
	}
	for _, f := range [][2]string{{"default", "zeta"}, {"default", "alpha"}, {"other", "beta"}, {"default", "mid"}, {"default-2", "x"}} {
		if _, err := st.Put(ctx, info(f[0], f[1], "t"), []byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "default", "mid"); err != nil {
		t.Fatal(err)
	}
	l, err := st.List(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range l {
		names = append(names, f.Spec.Namespace+"/"+f.Spec.Name)
	}
	if fmt.Sprint(names) != "[default/alpha default/zeta]" {
		t.Errorf("List(default) = %v", names)
	}
	if l, _ := st.List(ctx, "other"); len(l) != 1 || l[0].Spec.Name != "beta" {
		t.Errorf("List(other) = %+v", l)
	}
}

func TestDigestMismatch(t *testing.T) {
	st, js := open(t)
	ctx := t.Context()
	put, err := st.Put(ctx, info("default", "f", "f"), []byte("original"))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, api.BundlesBucket)
	if err != nil {
		t.Fatal(err)
	}
	object := "default.f." + strings.TrimPrefix(put.BundleDigest, "sha256:")
	if _, err := obs.PutBytes(ctx, object, []byte("tampered")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Bundle(ctx, "default", "f"); !errors.Is(err, store.ErrDigestMismatch) {
		t.Errorf("Bundle after tampering: %v, want ErrDigestMismatch", err)
	}
}

// objects lists the bundle objects in the store.
func objects(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	obs, err := js.ObjectStore(t.Context(), api.BundlesBucket)
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range list {
		names = append(names, o.Name)
	}
	return names
}

func TestConcurrentPutsConverge(t *testing.T) {
	st, _ := open(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := st.Put(ctx, info("default", "race", "t"), fmt.Appendf(nil, "bundle %d", i)); err != nil && !errors.Is(err, store.ErrConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := st.Bundle(ctx, "default", "race"); err != nil {
		t.Errorf("spec and bundle disagree after concurrent puts: %v", err)
	}
	if err := st.Delete(ctx, "default", "race"); err != nil {
		t.Fatal(err)
	}
}

func TestUploads(t *testing.T) {
	st, js := open(t)
	ctx := t.Context()
	obs, err := js.ObjectStore(ctx, api.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	status, err := obs.Status(ctx)
	if err != nil || status.TTL() != store.UploadMaxAge {
		t.Errorf("uploads TTL = %v, %v; want %v", status.TTL(), err, store.UploadMaxAge)
	}
	if _, err := obs.PutBytes(ctx, "default.f.1", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadUpload(ctx, "default.f.1", 4); !errors.Is(err, store.ErrUploadTooLarge) {
		t.Errorf("ReadUpload over the limit: %v", err)
	}
	if b, err := st.ReadUpload(ctx, "default.f.1", 5); err != nil || string(b) != "12345" {
		t.Errorf("ReadUpload = %q, %v", b, err)
	}
	if err := st.DeleteUpload(ctx, "default.f.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadUpload(ctx, "default.f.1", 5); !errors.Is(err, store.ErrUploadNotFound) {
		t.Errorf("ReadUpload after delete: %v", err)
	}
	if err := st.DeleteUpload(ctx, "default.f.1"); err != nil {
		t.Errorf("second DeleteUpload: %v", err)
	}
}

// stageLyingUpload stages an upload whose metadata says it holds "small"
// and then appends size bytes of chunks to it on the underlying stream, as
// a client writing the object store's subjects itself can.
func stageLyingUpload(t *testing.T, js jetstream.JetStream, name string, size int) {
	t.Helper()
	ctx := t.Context()
	obs, err := js.ObjectStore(ctx, api.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	oi, err := obs.PutBytes(ctx, name, []byte("small"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 128<<10)
	subject := "$O." + api.UploadsBucket + ".C." + oi.NUID
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := js.Publish(ctx, subject, chunk); err != nil {
			t.Fatalf("append a chunk after %d bytes: %v", sent, err)
		}
	}
}

// An upload whose metadata claims fewer bytes than its chunks hold is
// refused once the limit is read past, not read whole.
func TestReadUploadRefusesLyingUpload(t *testing.T) {
	st, js := open(t)
	stageLyingUpload(t, js, "default.f.lie", 30<<20)
	_, err := st.ReadUpload(t.Context(), "default.f.lie", api.MaxBundleBytes)
	if !errors.Is(err, store.ErrUploadTooLarge) {
		t.Fatalf("ReadUpload of a lying upload: %v, want ErrUploadTooLarge", err)
	}
}

// A node upgrading from a version whose staging area had no size limit and
// kept uploads for an hour gives the existing store this version's limits,
// and what was staged stays readable.
func TestUploadsLimitsApplyToExistingStore(t *testing.T) {
	js := testenv.JetStream(t, testenv.Conn(t, testenv.NATS(t)))
	ctx := t.Context()
	old, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: api.UploadsBucket, Storage: jetstream.FileStorage, TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.PutBytes(ctx, "default.f.1", []byte("staged before")); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, js)
	if err != nil {
		t.Fatalf("Open over an existing staging area: %v", err)
	}
	status, err := old.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := status.(*jetstream.ObjectBucketStatus).StreamInfo().Config
	if cfg.MaxBytes != store.UploadMaxBytes || cfg.MaxAge != store.UploadMaxAge {
		t.Errorf("staging area after the upgrade: max bytes %d, max age %v; want %d, %v", cfg.MaxBytes, cfg.MaxAge, store.UploadMaxBytes, store.UploadMaxAge)
	}
	if b, err := st.ReadUpload(ctx, "default.f.1", 100); err != nil || string(b) != "staged before" {
		t.Errorf("an upload staged before the upgrade: %q, %v", b, err)
	}
	// Past the limit, staging is refused.
	if _, err := old.PutBytes(ctx, "default.f.2", make([]byte, store.UploadMaxBytes)); err == nil {
		t.Error("staging more than the staging area holds succeeded")
	}
}
