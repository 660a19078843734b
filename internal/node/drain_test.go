package node

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/testenv"
)

// steadyFn echoes after a few milliseconds of work, so that calls are
// always in flight on every node, and now and then logs, so that the log
// says which node served.
const steadyFn = `(s, p) => {
	const end = Date.now() + 3; while (Date.now() < end) {}
	if (Math.random() < 0.05) console.log("served");
	return p;
}`

// externalServer is a plain nats-server with JetStream that nodes join.
func externalServer(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return srv
}

// load is callers calling one function in a loop, each with one call in
// flight, until stop.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string // when each failed call was sent, and why
	sentAt     []time.Time
	quit       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(nc *nats.Conn, subject string, callers int) *load {
	l := &load{quit: make(chan struct{})}
	for c := range callers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.quit:
					return
				default:
				}
				payload := fmt.Sprintf("caller %d call %d", c, i)
				sent := time.Now()
				// Patient: a busy machine must not count as a failed call.
				m, err := nc.Request(subject, []byte(payload), 10*time.Second)
				switch {
				case err != nil:
					l.fail(sent, err.Error())
				case string(m.Data) != payload:
					l.fail(sent, fmt.Sprintf("reply %q %v", m.Data, m.Header))
				default:
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *load) fail(sent time.Time, why string) {
	l.failed.Add(1)
	l.mu.Lock()
	l.failures = append(l.failures, why)
	l.sentAt = append(l.sentAt, sent)
	l.mu.Unlock()
}

func (l *load) stop() (ok, failed int64) {
	close(l.quit)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load()
}

// servedBy counts the log lines of a function per node, which tell who
// served its calls.
type servedBy struct {
	mu     sync.Mutex
	counts map[string]int
}

func countServed(t *testing.T, nc *nats.Conn, namespace, name string) *servedBy {
	t.Helper()
	s := &servedBy{counts: map[string]int{}}
	sub, err := nc.Subscribe(api.LogSubject(namespace, name), func(m *nats.Msg) {
		var e api.LogEntry
		if json.Unmarshal(m.Data, &e) == nil {
			s.mu.Lock()
			s.counts[e.Node]++
			s.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *servedBy) of(node string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[node]
}

// drainCase is one way two nodes serve a function.
type drainCase struct {
	name    string
	sandbox string
	// joined: node-b joins node-a's embedded server, where workers take
	// their calls on connections of their own; else both join a plain
	// external server, where workers relay their calls through the node.
	joined bool
}

var drainCases = []drainCase{
	{"in process", "none", false},
	{"workers relayed", "auto", false},
	{"workers direct", "auto", true},
}

// twoNodes starts node-a and node-b serving steadyFn on "steady", and
// returns a caller's connection and an administrator's client.
func twoNodes(t *testing.T, tc drainCase) (a, b *Node, nc *nats.Conn, admin *client.Admin) {
	t.Helper()
	var adminConn *nats.Conn
	var c *client.Client
	if tc.joined {
		a = startNode(t, Config{Name: "node-a", Sandbox: tc.sandbox})
		b = startNode(t, Config{Name: "node-b", Sandbox: tc.sandbox, ServerURL: a.ClientURL(), Creds: a.AdminCreds()})
		c, nc = newClient(t, a)
		var err error
		if adminConn, err = nats.Connect(a.ClientURL(), nats.UserCredentials(a.AdminCreds())); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(adminConn.Close)
	} else {
		url := externalServer(t).ClientURL()
		a = startNode(t, Config{Name: "node-a", Sandbox: tc.sandbox, ServerURL: url})
		b = startNode(t, Config{Name: "node-b", Sandbox: tc.sandbox, ServerURL: url})
		c, nc = newClient(t, a)
		adminConn = nc
	}
	deploy(t, c, "steady", steadyFn, "steady")
	if tc.joined && tc.sandbox != "none" {
		testenv.Eventually(t, "a worker of each node on a connection of its own", func() bool {
			connz, err := a.server.Inner().Connz(&server.ConnzOptions{})
			if err != nil {
				t.Fatal(err)
			}
			workers := 0
			for _, c := range connz.Conns {
				if c.Name == "natsfn-worker "+api.DefaultNamespace {
					workers++
				}
			}
			return workers == 2
		})
	}
	admin, err := client.NewAdmin(adminConn)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, nc, admin
}

// A node drained under a steady load loses no call: those it had are
// answered, and the others go to the node that stays. The drained node
// leaves, and says when it has.
func TestDrainUnderLoadLosesNoCall(t *testing.T) {
	for _, tc := range drainCases {
		t.Run(tc.name, func(t *testing.T) {
			a, b, nc, admin := twoNodes(t, tc)
			served := countServed(t, nc, api.DefaultNamespace, "steady")
			calls := startLoad(nc, "steady", 8)
			testenv.Eventually(t, "both nodes to serve", func() bool { return served.of("node-a") > 2 && served.of("node-b") > 2 })

			drain, err := admin.DrainNode(t.Context(), "node-b")
			if err != nil {
				t.Fatal(err)
			}
			defer drain.Stop()
			if drain.Info.Name != "node-b" || drain.Info.Functions != 1 || drain.Info.Within.D() < 5*time.Second {
				t.Errorf("drain began: %+v", drain.Info)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			done, err := drain.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-b.Done():
			case <-ctx.Done():
				t.Fatal("node-b reported its drain done but did not close")
			}
			okAtDrain := calls.ok.Load()
			fromB := served.of("node-b")
			// The load goes on, on node-a alone.
			testenv.Eventually(t, "calls after the drain", func() bool { return calls.ok.Load() > okAtDrain+200 })
			ok, failed := calls.stop()
			t.Logf("%s: %d calls answered, %d failed; node-b drained in %s; log lines: node-a %d, node-b %d",
				tc.name, ok, failed, done.Took.D(), served.of("node-a"), fromB)
			if failed > 0 {
				t.Fatalf("%d calls failed across the drain: %q", failed, calls.failures)
			}
			if got := served.of("node-b"); got != fromB {
				t.Errorf("node-b served %d more calls after it drained", got-fromB)
			}
			if a.Draining() {
				t.Error("node-a drains too")
			}
		})
	}
}

// A node killed under load, its connections dropped without a drain,
// loses at most the calls it held then (to their timeout): each caller
// has one call in flight, and every call sent once the server has dropped
// the node goes to the other node.
func TestKilledNodeLosesOnlyItsCallsInFlight(t *testing.T) {
	for _, tc := range drainCases[:2] { // workers direct have connections of their own
		t.Run(tc.name, func(t *testing.T) {
			srv := externalServer(t)
			a := startNode(t, Config{Name: "node-a", Sandbox: tc.sandbox, ServerURL: srv.ClientURL()})
			b := startNode(t, Config{Name: "node-b", Sandbox: tc.sandbox, ServerURL: srv.ClientURL()})
			c, nc := newClient(t, a)
			deploy(t, c, "steady", steadyFn, "steady")
			served := countServed(t, nc, api.DefaultNamespace, "steady")
			const callers = 8
			calls := startLoad(nc, "steady", callers)
			testenv.Eventually(t, "both nodes to serve", func() bool { return served.of("node-a") > 2 && served.of("node-b") > 2 })

			b.nc.Close() // what the server sees of a node killed
			testenv.Eventually(t, "the server to drop node-b", func() bool {
				connz, err := srv.Connz(&server.ConnzOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range connz.Conns {
					if strings.HasPrefix(c.Name, "natsfn-node node-b") {
						return false
					}
				}
				return true
			})
			dropped := time.Now()
			okAtDrop := calls.ok.Load()
			testenv.Eventually(t, "calls after the kill", func() bool { return calls.ok.Load() > okAtDrop+200 })
			ok, failed := calls.stop()
			t.Logf("%s: %d calls answered, %d lost with node-b", tc.name, ok, failed)
			if failed > callers {
				t.Fatalf("%d calls failed, more than the %d in flight: %q", failed, callers, calls.failures)
			}
			for i, sent := range calls.sentAt {
				if sent.After(dropped) {
					t.Errorf("a call sent after the server dropped node-b failed: %s", calls.failures[i])
				}
			}
		})
	}
}

// A worker killed with calls in flight: each of them gets 503 at once,
// whether the worker took them from NATS itself or through the node.
func TestWorkerKilledCallsInFlightGet503(t *testing.T) {
	for _, tc := range drainCases[1:] {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "node-a", Sandbox: tc.sandbox}
			cfg.Services.Messaging.Timeout = time.Minute
			if !tc.joined {
				cfg.ServerURL = externalServer(t).ClientURL()
			}
			n := startNode(t, cfg)
			b := workerBackend(t, n)
			c, nc := newClient(t, n)
			// Each call waits in a host call until the test answers it,
			// which it never does: the calls are in flight, one per
			// isolate, until the worker dies.
			const inFlight = 4
			if _, err := c.Deploy(t.Context(), api.FunctionSpec{Name: "held", Triggers: []string{"held"}, Timeout: api.Duration(time.Minute), Concurrency: inFlight},
				[]byte(`() => hostServices.messaging.request("gate", "", { timeout_ms: 60000 })`)); err != nil {
				t.Fatal(err)
			}
			gate, err := nc.SubscribeSync("gate")
			if err != nil {
				t.Fatal(err)
			}
			nc.Flush()
			replies := make(chan *nats.Msg, inFlight)
			for range inFlight {
				go func() {
					m, err := nc.Request("held", nil, time.Minute)
					if err != nil {
						m = &nats.Msg{Header: nats.Header{api.HeaderErrorCode: []string{err.Error()}}}
					}
					replies <- m
				}()
			}
			for range inFlight {
				if _, err := gate.NextMsg(time.Minute); err != nil {
					t.Fatalf("calls reaching the gate: %v", err)
				}
			}
			pid := b.Pid(api.DefaultNamespace)
			if pid == 0 {
				t.Fatal("no worker")
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for range inFlight {
				if m := <-replies; m.Header.Get(api.HeaderErrorCode) != "503" {
					t.Fatalf("a call in flight when its worker was killed: %q %v, want 503", m.Data, m.Header)
				}
			}
		})
	}
}
