package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/internal/testenv"
)

// microReply is what every services protocol reply holds, whatever its
// verb: micro's Info and Stats, side by side.
type microReply struct {
	micro.ServiceIdentity
	Type      string                 `json:"type"`
	Endpoints []*micro.EndpointStats `json:"endpoints"`
}

// gatherMicro sends each request (a $SRV subject) with one reply inbox and
// reads the replies until done says it has what it waits for. A node
// answers its requests in order, so a reply a node owes for an earlier
// request always comes before its reply to a later one.
func gatherMicro(t *testing.T, nc *nats.Conn, done func([]microReply) bool, requests ...string) []microReply {
	t.Helper()
	replies, ok := tryGatherMicro(t, nc, done, requests...)
	if !ok {
		t.Fatalf("%v: only %d replies: %+v", requests, len(replies), replies)
	}
	return replies
}

// tryGatherMicro is gatherMicro that gives up when no reply comes for a
// while (a node still loading): the caller asks again.
func tryGatherMicro(t *testing.T, nc *nats.Conn, done func([]microReply) bool, requests ...string) ([]microReply, bool) {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for _, r := range requests {
		if err := nc.PublishRequest(r, inbox, nil); err != nil {
			t.Fatal(err)
		}
	}
	var replies []microReply
	for !done(replies) {
		m, err := sub.NextMsg(10 * time.Second)
		if errors.Is(err, nats.ErrTimeout) {
			return replies, false
		}
		if err != nil {
			t.Fatal(err)
		}
		var r microReply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("reply %q: %v", m.Data, err)
		}
		replies = append(replies, r)
	}
	return replies, true
}

// instancesOf counts the replies of each service: "name@node".
func instancesOf(replies []microReply) map[string]int {
	out := map[string]int{}
	for _, r := range replies {
		out[r.Name+"@"+r.Metadata["node"]]++
	}
	return out
}

// Every function is a NATS micro service in its namespace's account, each
// node serving it one instance: `nats micro ls|info|stats` see them.
// In process (--sandbox=none) the node counts the calls; in a worker with
// a NATS connection of its own, the worker does and reports to the node.
func TestFunctionsAreMicroServices(t *testing.T) {
	for _, sandbox := range []string{"auto", "none"} {
		t.Run(sandbox, func(t *testing.T) { testFunctionsAreMicroServices(t, sandbox) })
	}
}

func testFunctionsAreMicroServices(t *testing.T, sandbox string) {
	a := startNode(t, Config{Name: "node-a", Sandbox: sandbox})
	c, nc := nsClient(t, a, "a")
	deploy(t, c, "echo", `(s, p) => p`, "echo", "echo.two")
	deploy(t, c, "fail", `(s, p) => { if (p.text() === "fail") throw new Error("no"); return "ok" }`, "fail")
	startNode(t, Config{ServerURL: a.ClientURL(), Creds: a.AdminCreds(), Name: "node-b", Sandbox: sandbox})
	cb, ncB := nsClient(t, a, "b")
	deploy(t, cb, "b-only", `() => 1`, "b-only")

	everyInstance := map[string]int{"echo@node-a": 1, "echo@node-b": 1, "fail@node-a": 1, "fail@node-b": 1}
	var pings []microReply
	// node-b may still be loading: ask again until both answer.
	testenv.Eventually(t, "both nodes answering $SRV.PING for both functions", func() bool {
		pings, _ = tryGatherMicro(t, nc, func(r []microReply) bool { return len(r) >= 4 }, "$SRV.PING.echo", "$SRV.PING.fail")
		got := instancesOf(pings)
		return got["echo@node-a"] == 1 && got["echo@node-b"] == 1 && got["fail@node-a"] == 1 && got["fail@node-b"] == 1
	})
	all := gatherMicro(t, nc, func(r []microReply) bool { return len(r) >= 4 }, "$SRV.PING")
	if got := instancesOf(all); fmt.Sprint(got) != fmt.Sprint(everyInstance) {
		t.Errorf("$SRV.PING: %v, want %v", got, everyInstance)
	}
	for _, p := range all {
		if p.Type != micro.PingResponseType || p.ID == "" || p.Metadata["namespace"] != "a" || !strings.HasPrefix(p.Version, "0.0.") {
			t.Errorf("ping %+v", p)
		}
	}

	// INFO: the triggers are the endpoints, in the function's queue group.
	var infos []micro.Info
	for _, m := range gather(t, nc, "$SRV.INFO.echo", 2) {
		var i micro.Info
		if err := json.Unmarshal(m.Data, &i); err != nil {
			t.Fatal(err)
		}
		infos = append(infos, i)
	}
	for _, i := range infos {
		want := []micro.EndpointInfo{
			{Name: "echo-1", Subject: "echo", QueueGroup: "natsfn.a.echo", Metadata: map[string]string{"trigger": "subject"}},
			{Name: "echo-2", Subject: "echo.two", QueueGroup: "natsfn.a.echo", Metadata: map[string]string{"trigger": "subject"}},
		}
		if i.Type != micro.InfoResponseType || i.Name != "echo" || fmt.Sprint(i.Endpoints) != fmt.Sprint(want) {
			t.Errorf("info %+v", i)
		}
	}

	// One instance by its id: only that one answers.
	target, sentinel := all[0], "echo"
	if target.Name == "echo" {
		sentinel = "fail"
	}
	replies := gatherMicro(t, nc, func(r []microReply) bool {
		got := instancesOf(r)
		return got[sentinel+"@node-a"]+got[sentinel+"@node-b"] == 2
	}, "$SRV.PING."+target.Name+"."+target.ID, "$SRV.PING."+sentinel)
	if len(replies) != 3 || !slices.ContainsFunc(replies, func(r microReply) bool { return r.ID == target.ID }) {
		t.Errorf("$SRV.PING.%s.%s answered by %+v", target.Name, target.ID, replies)
	}

	// STATS: N calls and M errors, summed over the instances.
	const calls, failures = 20, 5
	for i := range calls {
		payload := "fine"
		if i < failures {
			payload = "fail"
		}
		m := invoke(t, nc, "fail", []byte(payload))
		if (m.Header.Get("Nats-Service-Error-Code") == "500") != (i < failures) {
			t.Fatalf("call %d: %q %v", i, m.Data, m.Header)
		}
	}
	var requests, errs int
	var lastErrors []string
	testenv.Eventually(t, "the calls counted in $SRV.STATS.fail", func() bool {
		stats := gatherMicro(t, nc, func(r []microReply) bool { return len(r) >= 2 }, "$SRV.STATS.fail")
		requests, errs, lastErrors = 0, 0, nil
		for _, s := range stats {
			if s.Type != micro.StatsResponseType || len(s.Endpoints) != 1 || s.Endpoints[0].Subject != "fail" {
				t.Fatalf("stats %+v", s)
			}
			e := s.Endpoints[0]
			requests += e.NumRequests
			errs += e.NumErrors
			if e.LastError != "" {
				lastErrors = append(lastErrors, e.LastError)
			}
			if e.NumRequests > 0 && (e.ProcessingTime <= 0 || e.AverageProcessingTime <= 0) {
				t.Errorf("processing time of %d requests: %v", e.NumRequests, e.ProcessingTime)
			}
		}
		return requests == calls && errs == failures
	})
	if len(lastErrors) == 0 || !slices.ContainsFunc(lastErrors, func(s string) bool { return s == "500:function failed: Error: no" }) {
		t.Errorf("last errors %q", lastErrors)
	}

	// Namespace b's owner sees b's function only; a namespace without
	// functions has no one answering at all.
	testenv.Eventually(t, "namespace b's function on both nodes", func() bool {
		bOnly, ok := tryGatherMicro(t, ncB, func(r []microReply) bool {
			got := instancesOf(r)
			return got["b-only@node-a"] > 0 && got["b-only@node-b"] > 0
		}, "$SRV.PING.echo", "$SRV.INFO.fail", "$SRV.STATS.fail", "$SRV.PING")
		for _, r := range bOnly {
			if r.Name != "b-only" || r.Metadata["namespace"] != "b" {
				t.Fatalf("namespace b sees %+v", r)
			}
		}
		return ok
	})
	if _, err := nsConn(t, a, "c").Request("$SRV.PING", nil, 10*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("namespace c pinged: %v", err)
	}

	// A function removed is no service any more: a node that still had it
	// would answer the first request before the second.
	if _, err := c.Remove(t.Context(), "fail"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "fail gone from both nodes", func() bool {
		after := gatherMicro(t, nc, func(r []microReply) bool { return instancesOf(r)["echo@node-a"]+instancesOf(r)["echo@node-b"] >= 2 },
			"$SRV.PING.fail", "$SRV.PING.echo")
		return len(after) == 2
	})
}

// Anonymous clients of the default namespace may not publish on $SRV: they
// call functions, they do not list them.
func TestAnonymousCannotPingFunctions(t *testing.T) {
	n := startNode(t, Config{})
	c, owner := newClient(t, n)
	deploy(t, c, "echo", `(s, p) => p`, "echo")
	if got := gatherMicro(t, owner, func(r []microReply) bool { return len(r) >= 1 }, "$SRV.PING.echo"); got[0].Name != "echo" {
		t.Fatalf("owner's ping: %+v", got)
	}
	refused := make(chan error, 1)
	anon, err := nats.Connect(n.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case refused <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.PublishRequest("$SRV.PING", anon.NewRespInbox(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-refused:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("anonymous ping: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("anonymous ping not refused")
	}
}
