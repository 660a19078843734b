package node

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsfn/natsfn/api"
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
