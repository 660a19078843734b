package node

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/stats"
	"github.com/natsfn/natsfn/internal/testenv"
)

// A worker with a connection of its own runs kv.get, kv.set and kv.delete
// on it, with the node's limits and error codes, and reports them: the
// calls show in the node's counts like those the node runs.
func TestWorkerRunsKVItself(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "kvself", `(s, p) => {
		const kv = hostServices.kv;
		kv.set("k", p);
		const v = kv.get("k");
		kv.delete("k");
		let big = null;
		try { kv.set("big", new Uint8Array(2 << 20)) } catch (e) { big = e.code }
		let bad = null;
		try { kv.get("bad key") } catch (e) { bad = [e.name, e.code] }
		return { v, gone: kv.get("k"), keys: kv.keys(), big, bad };
	}`, "kvself")
	m := invoke(t, nc, "kvself", []byte("hello"))
	if want := `{"v":"hello","gone":null,"keys":[],"big":"TOO_LARGE","bad":["TypeError","KV_INVALID_KEY"]}`; string(m.Data) != want {
		t.Fatalf("reply %s %v, want %s", m.Data, m.Header, want)
	}

	// The worker's connection carried the calls: it has an inbox of its
	// own, and sent more than its one reply.
	connz, err := n.server.Inner().Connz(&server.ConnzOptions{Subscriptions: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, conn := range connz.Conns {
		if conn.Name != "natsfn-worker "+api.DefaultNamespace {
			continue
		}
		found = true
		inbox := false
		for _, sub := range conn.Subs {
			inbox = inbox || strings.HasPrefix(sub, "_NATSFN_W.")
		}
		if !inbox || conn.OutMsgs < 5 {
			t.Fatalf("the worker's connection: subscriptions %v, %d messages out: its host calls went elsewhere", conn.Subs, conn.OutMsgs)
		}
	}
	if !found {
		t.Fatal("no worker connection")
	}

	// Counted: 3 sets, 3 gets (one refused), 1 delete by the worker, 1
	// keys by the node.
	testenv.Eventually(t, "the worker's kv calls counted", func() bool {
		for _, s := range n.Series() {
			if s.Function == "kvself" {
				return s.Counts.HostCalls[stats.ServiceKV] == 7 && s.Counts.HostErrors[stats.ServiceKV] == 2
			}
		}
		return false
	})
}

// A worker taken over reaches its own namespace's buckets only: another
// namespace's bucket is in another account, where its rights name nothing
// (the same subjects in its own account find no stream).
func TestWorkerKVStaysInNamespace(t *testing.T) {
	n := startNode(t, Config{Sandbox: "none"})
	cb, ncb := nsClient(t, n, "b")
	deploy(t, cb, "f", `(s, p) => { if (p.length) hostServices.kv.set("k", p); return hostServices.kv.get("k") }`, "f")
	invoke(t, ncb, "f", []byte("secret of b"))
	nsConn(t, n, "a") // namespace a exists

	inbox := workerInbox()
	f, forget, err := n.server.DialScoped(workerUser("a", inbox, n.tenants.get("a").account))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(forget)
	w, _ := testenv.ConnOver(t, f, nats.CustomInboxPrefix(inbox))
	bucket := hostsvc.KVBucketName("b", "f")
	for _, m := range []*nats.Msg{
		{Subject: "$JS.API.DIRECT.GET.KV_" + bucket + ".$KV." + bucket + ".k"},
		{Subject: "$KV." + bucket + ".k", Data: []byte("forged")},
		{Subject: "$JS.API.STREAM.INFO.KV_" + bucket},
	} {
		reply, err := w.RequestMsg(m, wuPatience)
		if err == nil && strings.Contains(string(reply.Data), `"stream not found"`) {
			continue // the JetStream API of account a answers for itself
		}
		if err == nil {
			t.Fatalf("%s answered in namespace a: %q %v", m.Subject, reply.Data, reply.Header)
		}
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("%s: %v, want no responders", m.Subject, err)
		}
	}
	if m := invoke(t, ncb, "f", nil); string(m.Data) != "secret of b" {
		t.Fatalf("b's key is %q", m.Data)
	}
}

// A bucket without direct gets, as natsfn makes them on a cluster (reads
// go to the stream's leader), cannot be read on the worker's connection:
// its kv.get goes through the node, and its kv.set stays in the worker.
func TestWorkerReadsWithoutDirectGetsThroughTheNode(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := nsClient(t, n, "a")
	js := testenv.JetStream(t, nc)
	// After the deploy, which clears what an earlier function of the name
	// left.
	deploy(t, c, "leader", `(s, p) => { hostServices.kv.set("k", p); return hostServices.kv.get("k") }`, "leader")
	bucket := hostsvc.KVBucketName("a", "leader")
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "KV_" + bucket, Subjects: []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1, Discard: jetstream.DiscardNew, AllowRollup: true, DenyDelete: true,
		AllowDirect: false,
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := js.Stream(ctx, "KV_"+bucket); err != nil || st.CachedInfo().Config.AllowDirect {
		t.Fatalf("created: %v %+v", err, st.CachedInfo().Config)
	}
	for _, want := range []string{"one", "two"} {
		if m := invoke(t, nc, "leader", []byte(want)); string(m.Data) != want {
			t.Fatalf("reply %q %v, want %q", m.Data, m.Header, want)
		}
	}
	st, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().Config.AllowDirect {
		t.Fatal("natsfn turned direct gets on")
	}
}
