package node

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// watchBystander calls a function in another namespace every few
// milliseconds until stop, and counts the calls that did not answer.
func watchBystander(t *testing.T, n *Node) (stop func() (ok, failed int64)) {
	t.Helper()
	c, nc := nsClient(t, n, "bystander")
	if _, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "echo", Triggers: []string{"bystander.echo"}}, []byte(`(s, p) => p`)); err != nil {
		t.Fatal(err)
	}
	calls := keepCalling(nc, "bystander.echo", "still here")
	return calls.stop
}

// caller calls a function over and over until stop, counting the calls
// answered with the payload and those that were not.
type caller struct {
	ok, failed atomic.Int64
	quit       chan struct{}
	wg         sync.WaitGroup
}

func keepCalling(nc *nats.Conn, subject, payload string) *caller {
	c := &caller{quit: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-c.quit:
				return
			default:
			}
			// Patient: a busy machine must not count as a failed call.
			m, err := nc.Request(subject, []byte(payload), 10*time.Second)
			if err != nil || string(m.Data) != payload {
				c.failed.Add(1)
			} else {
				c.ok.Add(1)
			}
			time.Sleep(5 * time.Millisecond) // pace, not wait
		}
	}()
	return c
}

// stop ends the calls and says how many were answered and how many not.
func (c *caller) stop() (ok, failed int64) {
	close(c.quit)
	c.wg.Wait()
	return c.ok.Load(), c.failed.Load()
}

func deployIn(t *testing.T, n *Node, namespace string, spec api.FunctionSpec, src string) {
	t.Helper()
	c, _ := nsClient(t, n, namespace)
	if _, err := c.Deploy(context.Background(), spec, []byte(src)); err != nil {
		t.Fatalf("deploy %s: %v", spec.Name, err)
	}
}

// Each attack ends in an error reply for its own call only; a function in
// another namespace answers throughout and the node survives.
func TestAttacksAreContained(t *testing.T) {
	n := startNode(t, Config{})
	stop := watchBystander(t, n)
	_, nc := nsClient(t, n, "attacker")

	// Only the endless loop meets its timeout: the others get one far
	// beyond what they need, so that a slow machine never turns a heap
	// limit into a timeout.
	const short, long = 500 * time.Millisecond, 60 * time.Second
	attacks := []struct {
		name, src string
		timeout   time.Duration
		codes     []string // acceptable error codes
	}{
		{"heap bomb", `() => { const a = []; for (;;) a.push({ x: a.length, s: "y".repeat(100) }) }`, long, []string{"500"}},
		{"endless loop", `() => { for (;;) {} }`, short, []string{"408"}},
		{"huge string", `() => "x".repeat(2 ** 30)`, long, []string{"500"}},
		{"deep recursion", `function f() { return f() + 1 } (() => f())`, long, []string{"500"}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			deployIn(t, n, "attacker", api.FunctionSpec{Name: "attack", Triggers: []string{"attack"},
				Timeout: api.Duration(a.timeout), HeapBytes: 32 << 20}, a.src)
			m, err := nc.Request("attack", nil, a.timeout+10*time.Second)
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			got := m.Header.Get(api.HeaderErrorCode)
			found := false
			for _, c := range a.codes {
				found = found || got == c
			}
			if !found {
				t.Fatalf("error code %q (%s), want one of %v", got, m.Header.Get(api.HeaderError), a.codes)
			}
		})
	}
	// The attacker's namespace still serves after all of it.
	deployIn(t, n, "attacker", api.FunctionSpec{Name: "attack", Triggers: []string{"attack"}}, `() => "recovered"`)
	if m := invoke(t, nc, "attack", nil); string(m.Data) != "recovered" {
		t.Fatalf("after the attacks: %q %v", m.Data, m.Header)
	}
	ok, failed := stop()
	if failed > 0 || ok == 0 {
		t.Fatalf("bystander: %d answered, %d failed", ok, failed)
	}
}

// Functions see no Node or browser escape hatches. (fetch exists, but it is
// hostServices.http's call under the same egress policy: internal/engine's
// TestFetchEgressRefused; so do timers, which never outlive a call.)
func TestNoAmbientAuthority(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "probe", `() => [typeof require, typeof process, typeof XMLHttpRequest,
		typeof WebSocket, typeof Deno, typeof Bun, typeof Worker, typeof importScripts, typeof module]`, "probe")
	want := `["undefined","undefined","undefined","undefined","undefined","undefined","undefined","undefined","undefined"]`
	if m := invoke(t, nc, "probe", nil); string(m.Data) != want {
		t.Fatalf("globals %s", m.Data)
	}
}
