package node

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

func deploySpec(t testing.TB, c *client.Client, spec api.FunctionSpec, src string) *api.FunctionInfo {
	t.Helper()
	info, err := c.Deploy(context.Background(), spec, []byte(src))
	if err != nil {
		t.Fatalf("deploy %s: %v", spec.Name, err)
	}
	return info
}

func makeStream(t testing.TB, nc *nats.Conn, name string, subjects ...string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects}); err != nil {
		t.Fatal(err)
	}
	return js
}

// fnBucket opens a function's own KV bucket, as its kv.* calls see it,
// once the function has made it (a deploy deletes what a function of the
// same name left, so the test cannot make it first).
func fnBucket(t testing.TB, js jetstream.JetStream, name string) jetstream.KeyValue {
	t.Helper()
	var kv jetstream.KeyValue
	testenv.Eventually(t, "the function's bucket", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		kv, err = js.KeyValue(ctx, hostsvc.KVBucketName(api.DefaultNamespace, name))
		return err == nil
	})
	return kv
}

func kvKeys(t testing.TB, kv jetstream.KeyValue) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := kv.Keys(ctx)
	if err != nil && err != jetstream.ErrNoKeysFound {
		t.Fatal(err)
	}
	return keys
}

// TestStreamTriggerBacklogTwoNodes: messages published while no node runs
// are each processed exactly once when two nodes start. Each message
// writes its own key, with the delivery count: a second run would show as
// a count above 1 or a second write in the bucket's stream.
func TestStreamTriggerBacklogTwoNodes(t *testing.T) {
	s := startOpenServer(t)
	nc := testenv.Conn(t, s.ClientURL())
	js := makeStream(t, nc, "ORDERS", "orders.>")
	const total = 1000
	ctx := context.Background()
	for i := range total {
		if _, err := js.PublishAsync("orders.new", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publish not acknowledged")
	}
	a := startNode(t, Config{ServerURL: s.ClientURL(), Name: "node-a"})
	startNode(t, Config{ServerURL: s.ClientURL(), Name: "node-b"})
	c, _ := newClient(t, a)
	deploySpec(t, c, api.FunctionSpec{Name: "count", Stream: &api.StreamTrigger{Stream: "ORDERS"}, Concurrency: 4},
		`(subject, payload, msg) => { hostServices.kv.set("m" + payload.text(), String(msg.deliveries)) }`)
	kv := fnBucket(t, js, "count")
	testenv.Eventually(t, "every message processed", func() bool { return len(kvKeys(t, kv)) == total })
	for i := range total {
		e, err := kv.Get(ctx, "m"+strconv.Itoa(i))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(e.Value()) != "1" {
			t.Fatalf("message %d was delivered %s times", i, e.Value())
		}
	}
	bucket, err := js.Stream(ctx, "KV_"+hostsvc.KVBucketName(api.DefaultNamespace, "count"))
	if err != nil {
		t.Fatal(err)
	}
	if si, _ := bucket.Info(ctx); si.State.Msgs != total {
		t.Fatalf("bucket has %d writes, want %d (a message ran twice)", si.State.Msgs, total)
	}
	cons, err := js.Consumer(ctx, "ORDERS", api.ConsumerName(api.DefaultNamespace, "count", "stream"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "every message acked", func() bool {
		ci, err := cons.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && ci.AckFloor.Stream == total
	})
}

// TestStreamTriggerRetriesThenAcks: a function that throws on its first
// two deliveries succeeds on the third, and the message is acked.
func TestStreamTriggerRetriesThenAcks(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	js := makeStream(t, nc, "JOBS", "jobs.>")
	deploySpec(t, c, api.FunctionSpec{Name: "flaky", Stream: &api.StreamTrigger{Stream: "JOBS", MaxDeliver: 5,
		Backoff: []api.Duration{api.Duration(10 * time.Millisecond)}}},
		`(s, p, msg) => {
			hostServices.kv.set("try" + msg.deliveries, "x");
			if (msg.deliveries < 3) throw new Error("not yet");
			hostServices.kv.set("done", String(msg.deliveries));
		}`)
	ctx := context.Background()
	if _, err := js.Publish(ctx, "jobs.1", []byte("job")); err != nil {
		t.Fatal(err)
	}
	kv := fnBucket(t, js, "flaky")
	logs, _ := nc.SubscribeSync(api.LogSubject(api.DefaultNamespace, "flaky"))
	t.Cleanup(func() {
		for {
			m, err := logs.NextMsg(10 * time.Millisecond)
			if err != nil {
				break
			}
			t.Logf("log: %s", m.Data)
		}
		t.Logf("keys: %v", kvKeys(t, kv))
	})
	testenv.Eventually(t, "the third delivery", func() bool {
		e, err := kv.Get(ctx, "done")
		return err == nil && string(e.Value()) == "3"
	})
	cons, _ := js.Consumer(ctx, "JOBS", api.ConsumerName(api.DefaultNamespace, "flaky", "stream"))
	testenv.Eventually(t, "the message acked", func() bool {
		ci, err := cons.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.AckFloor.Stream == 1
	})
	if _, err := kv.Get(ctx, "try4"); err == nil {
		t.Fatal("a fourth delivery after success")
	}
}

// TestStreamTriggerDeadLetter: a message that always fails lands in the
// dead-letter stream after max-deliver, with where it came from; one the
// function terms does not, and one it acks before throwing is acked.
func TestStreamTriggerDeadLetter(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	js := makeStream(t, nc, "PAY", "pay.>")
	deploySpec(t, c, api.FunctionSpec{Name: "broken", Stream: &api.StreamTrigger{Stream: "PAY", MaxDeliver: 3}},
		`(s, p, msg) => {
			if (p.text() === "ack") { msg.ack(); throw new Error("acked anyway") }
			if (p.text() === "term") { msg.term("bad input"); return }
			throw new Error("always")
		}`)
	ctx := context.Background()
	for _, body := range []string{"ack", "term", "fail"} {
		if _, err := js.Publish(ctx, "pay."+body, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	// The stream may exist before the dead letter is in it: wait for the
	// message itself.
	var dlq jetstream.Stream
	var m *jetstream.RawStreamMsg
	testenv.Eventually(t, "the dead letter", func() bool {
		var err error
		if dlq, err = js.Stream(ctx, api.DeadLetterStream); err != nil {
			return false
		}
		m, err = dlq.GetLastMsgForSubject(ctx, api.DeadLetterSubject(api.DefaultNamespace, "broken"))
		return err == nil
	})
	if string(m.Data) != "fail" || m.Header.Get(api.HeaderDLQSubject) != "pay.fail" || m.Header.Get(api.HeaderDLQDeliveries) != "3" || m.Header.Get(api.HeaderDLQStream) != "PAY" {
		t.Fatalf("dead letter %q %v", m.Data, m.Header)
	}
	cons, _ := js.Consumer(ctx, "PAY", api.ConsumerName(api.DefaultNamespace, "broken", "stream"))
	testenv.Eventually(t, "every message finished", func() bool {
		ci, err := cons.Info(ctx)
		return err == nil && ci.NumAckPending == 0 && ci.NumPending == 0 && ci.NumRedelivered == 0
	})
	if si, _ := dlq.Info(ctx); si.State.Msgs != 1 {
		t.Fatalf("%d dead letters, want 1", si.State.Msgs)
	}
	// rm removes the consumer.
	if _, err := c.Remove(ctx, "broken"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Consumer(ctx, "PAY", api.ConsumerName(api.DefaultNamespace, "broken", "stream")); err == nil {
		t.Fatal("the consumer outlived rm")
	}
}

// TestScheduleTwoNodes: @every 1s on two nodes runs once per tick, never
// twice, and never two runs at once.
func TestScheduleTwoNodes(t *testing.T) {
	a := startNode(t, Config{Name: "node-a"})
	startNode(t, Config{ServerURL: a.ClientURL(), Creds: a.AdminCreds(), Name: "node-b"})
	c, nc := newClient(t, a)
	js, _ := jetstream.New(nc)
	// kv.create fails on a key that exists: a tick run twice, or two runs
	// overlapping (both holding "running"), throws and is seen below.
	deploySpec(t, c, api.FunctionSpec{Name: "tick", Schedule: &api.ScheduleTrigger{Cron: "@every 1s"}},
		`(s, p, msg) => {
			const kv = hostServices.kv;
			if (kv.get("running") !== null) { kv.set("overlap", String(msg.seq)); }
			kv.set("running", "1");
			if (kv.get("tick" + msg.seq) !== null) { kv.set("twice", String(msg.seq)); }
			kv.set("tick" + msg.seq, msg.time);
			kv.delete("running");
		}`)
	ctx := context.Background()
	kv := fnBucket(t, js, "tick")
	testenv.Eventually(t, "5 ticks", func() bool {
		n := 0
		for _, k := range kvKeys(t, kv) {
			if len(k) > 4 && k[:4] == "tick" {
				n++
			}
		}
		return n >= 5
	})
	for _, bad := range []string{"overlap", "twice"} {
		if e, err := kv.Get(ctx, bad); err == nil {
			t.Fatalf("%s at tick %s", bad, e.Value())
		}
	}
	if _, err := c.Remove(ctx, "tick"); err != nil {
		t.Fatal(err)
	}
}

// TestWatchTrigger: a KV change runs the watching function once, with the
// key, the operation and the revision.
func TestWatchTrigger(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	watched, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "settings"})
	if err != nil {
		t.Fatal(err)
	}
	deploySpec(t, c, api.FunctionSpec{Name: "watcher", Watch: &api.WatchTrigger{Bucket: "settings", Keys: "app.>"}},
		`(s, p, msg) => { hostServices.kv.set("seen." + msg.revision, msg.operation + " " + msg.key + " " + p.text()) }`)
	rev, err := watched.Put(ctx, "app.color", []byte("blue"))
	if err != nil {
		t.Fatal(err)
	}
	watched.Put(ctx, "other", []byte("ignored"))
	if err := watched.Delete(ctx, "app.color"); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("seen.%d", rev)
	own := fnBucket(t, js, "watcher")
	testenv.Eventually(t, "the change seen", func() bool {
		e, err := own.Get(ctx, key)
		return err == nil && string(e.Value()) == "PUT app.color blue"
	})
	testenv.Eventually(t, "the delete seen", func() bool { return len(kvKeys(t, own)) == 2 })
	bucket, err := js.Stream(ctx, "KV_"+hostsvc.KVBucketName(api.DefaultNamespace, "watcher"))
	if err != nil {
		t.Fatal(err)
	}
	if si, _ := bucket.Info(ctx); si.State.Msgs != 2 {
		t.Fatalf("%d writes for 2 changes: a change ran more than once", si.State.Msgs)
	}
}
