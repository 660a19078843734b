package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The cluster elects a meta leader, keeps an R3 bucket's values when a
// server is killed, and takes the server back after a restart.
func TestCluster(t *testing.T) {
	c := NewCluster(t, 3)
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js := JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "testenv", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	leader := c.MetaLeader()
	c.Kill(leader)
	Eventually(t, "a new meta leader", func() bool { l := c.MetaLeader(); return l >= 0 && l != leader })
	Eventually(t, "the value read with a server down", func() bool {
		e, err := kv.Get(ctx, "k")
		return err == nil && string(e.Value()) == "v"
	})
	c.Restart(leader)
	if got := c.MetaLeader(); got < 0 {
		t.Fatal("no meta leader after the restart")
	}
}
