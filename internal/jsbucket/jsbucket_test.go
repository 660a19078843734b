package jsbucket_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/jsbucket"
	"github.com/natsfn/natsfn/internal/testenv"
)

func replicasOf(t *testing.T, js jetstream.JetStream, stream string) int {
	t.Helper()
	r, ok, err := jsbucket.Replicas(t.Context(), js, stream)
	if err != nil || !ok {
		t.Fatalf("replicas of %s: %v (exists %v)", stream, err, ok)
	}
	return r
}

// On a cluster: made with the replicas asked, raised when asked for more,
// never lowered, and bound without an update when nothing changes.
func TestReplicasOnCluster(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js := testenv.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cfg := jetstream.KeyValueConfig{Bucket: "b", History: 1, MaxBytes: 1 << 20}
	cfg.Replicas = 1
	_, res, err := jsbucket.KeyValue(ctx, js, cfg)
	if err != nil || !res.Created || res.Replicas != 1 {
		t.Fatalf("create R1: %+v %v", res, err)
	}
	// An operator raises it by hand; opening it again at 1 keeps 3.
	if _, err := js.UpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", History: 1, MaxBytes: 1 << 20, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	before, _ := js.Stream(ctx, "KV_b")
	created := before.CachedInfo().Created
	if _, res, err = jsbucket.KeyValue(ctx, js, cfg); err != nil || res.Replicas != 3 {
		t.Fatalf("reopen at 1: %+v %v", res, err)
	}
	if got := replicasOf(t, js, "KV_b"); got != 3 {
		t.Fatalf("an open at 1 lowered the bucket to %d", got)
	}
	// A new limit is applied, at the replicas the bucket has.
	cfg.MaxBytes = 2 << 20
	if _, res, err = jsbucket.KeyValue(ctx, js, cfg); err != nil || res.Replicas != 3 {
		t.Fatalf("new limit: %+v %v", res, err)
	}
	after, _ := js.Stream(ctx, "KV_b")
	if after.CachedInfo().Config.MaxBytes != 2<<20 || after.CachedInfo().Config.Replicas != 3 || !after.CachedInfo().Created.Equal(created) {
		t.Fatalf("after a limit change: %+v", after.CachedInfo().Config)
	}

	// Asked for more: raised.
	obs := jetstream.ObjectStoreConfig{Bucket: "o", Replicas: 1}
	if _, res, err = jsbucket.ObjectStore(ctx, js, obs); err != nil || res.Replicas != 1 {
		t.Fatalf("object store R1: %+v %v", res, err)
	}
	obs.Replicas = 3
	if _, res, err = jsbucket.ObjectStore(ctx, js, obs); err != nil || res.Replicas != 3 || replicasOf(t, js, "OBJ_o") != 3 {
		t.Fatalf("object store raise: %+v %v", res, err)
	}

	// A replicated bucket made here reads from its leader, so no read is
	// stale; one an operator raised is left as it is.
	if _, _, err := jsbucket.KeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: "r3", Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	for stream, direct := range map[string]bool{"KV_r3": false, "KV_b": true} {
		s, err := js.Stream(ctx, stream)
		if err != nil || s.CachedInfo().Config.AllowDirect != direct {
			t.Errorf("%s: direct gets %v, want %v (%v)", stream, s.CachedInfo().Config.AllowDirect, direct, err)
		}
	}

	// More than the servers there are: what can be placed, and it says so.
	st := jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 5}
	if res, err = jsbucket.Stream(ctx, js, st); err != nil || res.Replicas != 3 || !res.Short {
		t.Fatalf("stream R5 on three servers: %+v %v", res, err)
	}
	// With a server down, a new bucket gets what can be placed now, and
	// is raised once the server is back.
	c.Kill(2)
	cfg = jetstream.KeyValueConfig{Bucket: "late", Replicas: 3}
	// Each attempt bounded: while the servers notice the loss, a request
	// may go unanswered.
	attempt := func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, res, err = jsbucket.KeyValue(ctx, js, cfg)
		return err
	}
	testenv.Eventually(t, "a bucket made with a server down", func() bool { return attempt() == nil })
	if res.Replicas == 3 && res.Short {
		t.Fatalf("short but 3: %+v", res)
	}
	c.Restart(2)
	testenv.Eventually(t, "the bucket raised to 3", func() bool { return attempt() == nil && res.Replicas == 3 })
}

// A single server keeps one copy, whatever is asked, and that is not
// short of what it can give.
func TestReplicasOnSingleServer(t *testing.T) {
	nc := testenv.Conn(t, testenv.NATS(t))
	js := testenv.JetStream(t, nc)
	_, res, err := jsbucket.KeyValue(t.Context(), js, jetstream.KeyValueConfig{Bucket: "b", Replicas: 3})
	if err != nil || res.Replicas != 1 || res.Short || !jsbucket.NotClustered(res.ShortErr) {
		t.Fatalf("R3 on one server: %+v %v", res, err)
	}
}
