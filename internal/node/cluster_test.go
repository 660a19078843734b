package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

// counterJS keeps a value in the function's KV bucket: a payload sets it,
// and every call returns it.
const counterJS = `(s, p) => { if (p.length) hostServices.kv.set("k", p); const v = hostServices.kv.get("k"); return v === null ? "none" : v.text() }`

// clusterNode starts a node of a 3-server cluster, connected to url (all
// three servers' URLs, or one: the node learns of the others from it and
// fails over to them), and logs into log when it is given.
func clusterNode(t *testing.T, url, name string, replicas int, log *lockedBuffer) *Node {
	t.Helper()
	cfg := Config{ServerURL: url, Name: name, Replicas: replicas}
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	// Patient: a node waits for JetStream as long as it must.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// clusterClient is a client of the default namespace that may fail over
// to any server of c.
func clusterClient(t *testing.T, c *testenv.Cluster) (*client.Client, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.Name(t.Name()), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cl, err := client.New(nc, client.WithTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return cl, nc, testenv.JetStream(t, nc)
}

// natsfnStreams are the replicas of every stream on the system, by name.
func natsfnStreams(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int{}
	l := js.ListStreams(ctx)
	for si := range l.Info() {
		out[si.Config.Name] = si.Config.Replicas
	}
	if err := l.Err(); err != nil {
		t.Fatalf("list streams: %v", err)
	}
	return out
}

// waitStreamsLed waits until every stream has a leader and the replicas
// on every running server are current: JetStream has got over a server's
// loss or return. A server that is back but not yet current answers
// consumers (a watch, ls) from what it had before it went down.
func waitStreamsLed(t *testing.T, c *testenv.Cluster, js jetstream.JetStream) {
	t.Helper()
	running := map[string]bool{}
	for i := range c.Size() {
		running[c.Name(i)] = c.Server(i) != nil
	}
	testenv.Eventually(t, "every stream led, with its replicas current", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l := js.ListStreams(ctx)
		n := 0
		for si := range l.Info() {
			n++
			if si.Cluster == nil || si.Cluster.Leader == "" {
				return false
			}
			for _, r := range si.Cluster.Replicas {
				if running[r.Name] && (!r.Current || r.Offline) {
					return false
				}
			}
		}
		return l.Err() == nil && n > 0
	})
}

// callUntil calls subject until the reply is want, and fails the test if it
// never is: right after a fault a call may fail while JetStream elects.
func callUntil(t *testing.T, nc *nats.Conn, subject, payload, want string) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%s to answer %q", subject, want), func() bool {
		m, err := nc.Request(subject, []byte(payload), 10*time.Second)
		return err == nil && string(m.Data) == want
	})
}

// wantReplicas checks that every stream natsfn made has r replicas.
func wantReplicas(t *testing.T, js jetstream.JetStream, r int, names ...string) {
	t.Helper()
	streams := natsfnStreams(t, js)
	for _, name := range names {
		got, ok := streams[name]
		if !ok {
			t.Errorf("stream %s does not exist (streams: %v)", name, streams)
			continue
		}
		if got != r {
			t.Errorf("stream %s has %d replicas, want %d", name, got, r)
		}
	}
}

// statePlusFunction are the streams natsfn makes, with those of fn.
func statePlusFunction(fn string) []string {
	return []string{
		"KV_" + api.FunctionsBucket, "OBJ_" + api.BundlesBucket, "KV_" + api.NamespacesBucket,
		"OBJ_" + api.UploadsBucket, api.LogStream,
		"KV_" + hostsvc.KVBucketName(api.DefaultNamespace, fn), "OBJ_" + hostsvc.ObjectBucketName(api.DefaultNamespace, fn),
	}
}

// On a 3-server cluster every stream natsfn makes, its own and each
// function's, has three replicas by default.
func TestClusterReplicasByDefault(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	clusterNode(t, c.URLs(), "a", 0, nil)
	cl, nc, js := clusterClient(t, c)
	deploy(t, cl, "both", `(s, p) => { hostServices.kv.set("k", p); hostServices.objectStore.put("o", p); console.log("hi"); return "ok" }`, "both")
	if m := invoke(t, nc, "both", []byte("v")); string(m.Data) != "ok" {
		t.Fatalf("reply %q %v", m.Data, m.Header)
	}
	names := statePlusFunction("both")
	wantReplicas(t, js, 3, names...)
	if streams := natsfnStreams(t, js); len(streams) != len(names) {
		t.Errorf("streams %v, want %v", streams, names)
	}
}

// With any one server killed, deploy, ls, info, logs, rm and a function
// using kv work, and nothing stored before is lost.
func TestClusterLosesAServer(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	for kill := range c.Size() {
		t.Run(c.Name(kill), func(t *testing.T) {
			clusterLosesServer(t, c, kill)
		})
	}
}

func clusterLosesServer(t *testing.T, c *testenv.Cluster, kill int) {
	// Each node on a server of its own, so one of them loses its server
	// and fails over to those the cluster told it of.
	var log lockedBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' log:\n%s", log.String())
		}
	})
	// Steps go into the log too, to read it against them.
	step := func(what string) { fmt.Fprintf(&log, "time=%s TEST %s\n", time.Now().Format(time.RFC3339Nano), what) }
	clusterNode(t, c.URL(0), "a", 0, &log)
	clusterNode(t, c.URL(1), "b", 0, &log)
	cl, nc, js := clusterClient(t, c)
	ctx := context.Background()
	deploy(t, cl, "counter", counterJS, "counter")
	callUntil(t, nc, "counter", "kept", "kept")
	deploy(t, cl, "doomed", `() => { console.log("doomed ran"); return "doomed" }`, "doomed")
	callUntil(t, nc, "doomed", "", "doomed")
	waitLog(t, cl, "doomed", "doomed ran", 1)

	step("kill " + c.Name(kill))
	c.Kill(kill)
	c.WaitForMetaLeader()
	waitStreamsLed(t, c, js)
	step("streams led")

	// Nothing is lost.
	callUntil(t, nc, "counter", "", "kept")
	info, err := cl.Info(ctx, "counter")
	if err != nil || info.Spec.Name != "counter" {
		t.Fatalf("info with a server down: %+v %v", info, err)
	}
	list, err := cl.List(ctx)
	if err != nil {
		t.Fatalf("ls with a server down: %v", err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Spec.Name)
	}
	if !slices.Equal(names, []string{"counter", "doomed"}) {
		t.Fatalf("ls with a server down: %v", names)
	}
	waitLog(t, cl, "doomed", "doomed ran", 1)
	// Everything works.
	deploy(t, cl, "fresh", `() => { console.log("fresh ran"); return "fresh" }`, "fresh")
	callUntil(t, nc, "fresh", "", "fresh")
	waitLog(t, cl, "fresh", "fresh ran", 1)
	callUntil(t, nc, "counter", "changed", "changed")
	if _, err := cl.Remove(ctx, "doomed"); err != nil {
		t.Fatalf("rm with a server down: %v", err)
	}
	testenv.Eventually(t, "doomed gone", func() bool {
		_, err := nc.Request("doomed", nil, time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	})

	// And once the server is back, still nothing is lost.
	step("restart " + c.Name(kill))
	c.Restart(kill)
	waitStreamsLed(t, c, js)
	step("streams led")
	callUntil(t, nc, "counter", "", "changed")
	step("info fresh")
	if _, err := cl.Info(ctx, "fresh"); err != nil {
		logStreamViews(t, c, nc)
		t.Fatalf("info after the restart: %v", err)
	}
	// Leave the cluster as it was for the next server's turn.
	for _, name := range []string{"counter", "fresh"} {
		if _, err := cl.Remove(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
}

// A node started while a server is down, or right after the meta leader
// is killed (an election under way), comes up and serves.
func TestClusterNodeStartsDuringAFault(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	clusterNode(t, c.URLs(), "first", 0, nil)
	cl, nc, _ := clusterClient(t, c)
	deploy(t, cl, "counter", counterJS, "counter")
	callUntil(t, nc, "counter", "v1", "v1")

	t.Run("server down", func(t *testing.T) {
		c.Kill(2)
		defer c.Restart(2)
		n := clusterNode(t, c.URLs(), "late", 0, nil)
		defer n.Close()
		if got := n.exec.Functions(); got != 1 {
			t.Fatalf("the late node serves %d functions, want 1", got)
		}
	})
	t.Run("election", func(t *testing.T) {
		leader := c.MetaLeader()
		c.Kill(leader)
		// No wait: the node starts while the servers elect.
		var log lockedBuffer
		n := clusterNode(t, c.URLs(), "elected", 0, &log)
		defer n.Close()
		if got := n.exec.Functions(); got != 1 {
			t.Fatalf("the node serves %d functions, want 1; log:\n%s", got, log.String())
		}
		c.Restart(leader)
	})
	callUntil(t, nc, "counter", "", "v1")
}

// An operator's raise of a bucket's replicas stays: a node's start and a
// function's first kv call keep it. `--replicas 1` where things are kept
// at 3 lowers nothing and says so.
func TestClusterNeverLowersReplicas(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	clusterNode(t, c.URLs(), "one", 1, nil)
	cl, nc, js := clusterClient(t, c)
	deploy(t, cl, "counter", counterJS, "counter")
	callUntil(t, nc, "counter", "v", "v")
	wantReplicas(t, js, 1, "KV_"+api.FunctionsBucket, "KV_"+hostsvc.KVBucketName(api.DefaultNamespace, "counter"))

	// The operator raises the function's bucket and natsfn's setting.
	ctx := context.Background()
	for _, bucket := range []string{hostsvc.KVBucketName(api.DefaultNamespace, "counter"), api.FunctionsBucket} {
		s, err := js.Stream(ctx, "KV_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.Replicas = 3
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	// A node that starts and serves the function (its first kv call
	// included) keeps them, and raises the rest to the setting.
	var log lockedBuffer
	two := clusterNode(t, c.URLs(), "two", 1, &log)
	if !strings.Contains(log.String(), "never lowers replicas") {
		t.Errorf("--replicas 1 under a setting of 3 did not warn; log:\n%s", log.String())
	}
	clusterNode(t, c.URLs(), "three", 0, nil)
	// The new node's first kv call for the function binds to its bucket.
	info, err := cl.Info(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	host, done, err := two.hosts(*info)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if _, v, err := host.Call(ctx, "kv.get", []byte(`["k"]`), nil); err != nil || string(v) != "v" {
		t.Fatalf("the node's first kv call: %q %v", v, err)
	}
	for range 10 {
		if m := invoke(t, nc, "counter", nil); string(m.Data) != "v" {
			t.Fatalf("counter answers %q %v", m.Data, m.Header)
		}
	}
	wantReplicas(t, js, 3, "KV_"+api.FunctionsBucket, "KV_"+hostsvc.KVBucketName(api.DefaultNamespace, "counter"),
		"OBJ_"+api.BundlesBucket, "KV_"+api.NamespacesBucket, "OBJ_"+api.UploadsBucket, api.LogStream)
}

// serves reports whether n serves the function of the default namespace.
func serves(n *Node, name string) bool {
	return n.served.keys()[api.FunctionKey(api.DefaultNamespace, name)]
}

// During an outage (two of three servers down, no JetStream quorum) a
// deploy and a listing fail within the client's timeout, saying JetStream
// did not answer; functions deployed before keep answering; once the
// servers are back, every node sees new deploys again.
func TestClusterOutage(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	var log lockedBuffer
	a := clusterNode(t, c.URL(0), "a", 0, &log)
	b := clusterNode(t, c.URL(0), "b", 0, &log)
	cl, nc, js := clusterClient(t, c)
	deploy(t, cl, "before", `() => "before"`, "before")
	testenv.Eventually(t, "both nodes serving", func() bool { return serves(a, "before") && serves(b, "before") })

	c.Kill(1)
	c.Kill(2)
	short, err := client.New(nc, client.WithTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Deploy(context.Background(), api.FunctionSpec{Name: "during", Triggers: []string{"during"}}, []byte(`() => 1`))
	if err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("a deploy during the outage: %v, want an error naming JetStream", err)
	}
	if _, err := short.List(context.Background()); err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("a listing during the outage: %v, want an error naming JetStream; log:\n%s", err, log.String())
	}
	callUntil(t, nc, "before", "", "before")

	c.Restart(1)
	c.Restart(2)
	waitStreamsLed(t, c, js)
	// JetStream may still say it is "temporarily unavailable" for a moment
	// after its servers are back (the meta layer catching up): a deploy
	// fails then, naming JetStream, and the next one goes through.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cl.Deploy(context.Background(), api.FunctionSpec{Name: "after", Triggers: []string{"after"}}, []byte(`() => "after"`))
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "JetStream") || time.Now().After(deadline) {
			t.Fatalf("a deploy once the servers are back: %v", err)
		}
		t.Logf("a deploy right after the outage: %v; again", err)
		<-time.After(250 * time.Millisecond)
	}
	testenv.Eventually(t, "both nodes serving the new deploy", func() bool { return serves(a, "after") && serves(b, "after") })
	callUntil(t, nc, "after", "", "after")
}

// Desired state that JetStream loses is noticed, said loudly, and put back
// by the nodes that still serve it: the functions bucket deleted, and on
// a system that keeps one copy, the disk of the server that held it.
func TestClusterRestoresLostState(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	var log lockedBuffer
	a := clusterNode(t, c.URLs(), "a", 1, &log)
	cl, nc, js := clusterClient(t, c)
	ctx := context.Background()
	deploy(t, cl, "keep", `() => "kept"`, "keep")
	callUntil(t, nc, "keep", "", "kept")

	restored := func(what string) {
		t.Helper()
		testenv.Eventually(t, what+": the function back in the desired state", func() bool {
			info, err := cl.Info(ctx, "keep")
			return err == nil && info.Spec.Name == "keep"
		})
		bundle, err := a.store.Bundle(ctx, api.DefaultNamespace, "keep")
		if err != nil || string(bundle) != `() => "kept"` {
			t.Fatalf("%s: the bundle %q %v", what, bundle, err)
		}
		callUntil(t, nc, "keep", "", "kept")
		// The node follows the restored state: a deploy is served.
		name := strings.ReplaceAll(what, " ", "-")
		deploy(t, cl, name, `() => "new"`, name)
		callUntil(t, nc, name, "", "new")
	}

	if err := js.DeleteKeyValue(ctx, api.FunctionsBucket); err != nil {
		t.Fatal(err)
	}
	restored("bucket deleted")
	if !strings.Contains(log.String(), "DESIRED STATE LOST") {
		t.Errorf("the loss was not logged; log:\n%s", log.String())
	}

	// The server that holds the functions bucket's only copy loses its
	// disk.
	s, err := js.Stream(ctx, "KV_"+api.FunctionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	holder := -1
	for i := range c.Size() {
		if c.Name(i) == s.CachedInfo().Cluster.Leader {
			holder = i
		}
	}
	if holder < 0 {
		t.Fatalf("no server holds the bucket: %+v", s.CachedInfo().Cluster)
	}
	c.WipeAndRestart(holder)
	restored("disk lost")
}

// A node drained under a steady load on a 3-server cluster loses no call:
// its calls go, once it has left the queue group, to the node on another
// server. The callers share node-b's server, which hands calls to its own
// queue member first, so node-b takes the load until it drains.
func TestClusterDrainHandsOverToAnotherServer(t *testing.T) {
	c := testenv.NewCluster(t, 3)
	clusterNode(t, c.URL(0), "node-a", 0, nil)
	b := clusterNode(t, c.URL(1), "node-b", 0, nil)
	cl, _, _ := clusterClient(t, c)
	deploy(t, cl, "steady", steadyFn, "steady")

	nc, err := nats.Connect(c.URL(1), nats.Name(t.Name()+" callers"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	served := countServed(t, nc, api.DefaultNamespace, "steady")
	calls := startLoad(nc, "steady", 8)
	testenv.Eventually(t, "node-b to serve the load", func() bool { return served.of("node-b") > 20 })

	admin, err := client.NewAdmin(nc)
	if err != nil {
		t.Fatal(err)
	}
	drain, err := admin.DrainNode(t.Context(), "node-b")
	if err != nil {
		t.Fatal(err)
	}
	defer drain.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := drain.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("node-b reported its drain done but did not close")
	}
	okAtDrain := calls.ok.Load()
	testenv.Eventually(t, "node-a, on another server, to take the load", func() bool {
		return calls.ok.Load() > okAtDrain+200 && served.of("node-a") > 0
	})
	ok, failed := calls.stop()
	t.Logf("%d calls answered, %d failed; log lines: node-a %d, node-b %d", ok, failed, served.of("node-a"), served.of("node-b"))
	if failed > 0 {
		t.Fatalf("%d calls failed across the drain: %q", failed, calls.failures)
	}
}

// logStreamViews logs how each running server sees the functions bucket,
// and every answer to a read of fresh's key: what a failed read after a
// server's return needs to be understood.
func logStreamViews(t *testing.T, c *testenv.Cluster, nc *nats.Conn) {
	t.Helper()
	for i := range c.Size() {
		srv := c.Server(i)
		if srv == nil {
			continue
		}
		jsz, err := srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Config: true})
		if err != nil {
			t.Logf("%s: %v", c.Name(i), err)
			continue
		}
		for _, a := range jsz.AccountDetails {
			for _, sd := range a.Streams {
				if sd.Name == "KV_"+api.FunctionsBucket && sd.Cluster != nil {
					t.Logf("%s sees %s: last sequence %d, leader %s, replicas %+v", c.Name(i), sd.Name, sd.State.LastSeq, sd.Cluster.Leader, sd.Cluster.Replicas)
				}
			}
		}
	}
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	get := fmt.Sprintf(`{"last_by_subj":"$KV.%s.%s"}`, api.FunctionsBucket, api.FunctionKey(api.DefaultNamespace, "fresh"))
	if err := nc.PublishRequest("$JS.API.STREAM.MSG.GET.KV_"+api.FunctionsBucket, inbox, []byte(get)); err != nil {
		return
	}
	for {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return
		}
		t.Logf("an answer to a read of fresh: %.300s", m.Data)
	}
}
