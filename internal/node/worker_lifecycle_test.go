package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
	"github.com/natsfn/natsfn/internal/worker"
)

func workerBackend(t *testing.T, n *Node) *worker.Backend {
	t.Helper()
	b, ok := n.backend.(*worker.Backend)
	if !ok {
		t.Skip("functions run in the node's process here")
	}
	return b
}

// Failed deploys into twenty new namespaces leave no process behind: each
// check runs in a process of its own that ends with it, and a namespace
// gets a worker only for what is deployed in it. A worker whose
// namespace has nothing deployed any more stops.
func TestWorkersReaped(t *testing.T) {
	n := startNode(t, Config{WorkerIdle: time.Millisecond})
	b := workerBackend(t, n)
	for i := range 20 {
		c, _ := nsClient(t, n, fmt.Sprintf("ns-%d", i))
		_, err := c.Deploy(t.Context(), api.FunctionSpec{Name: "f", Triggers: []string{"f"}}, []byte(`throw new Error("no")`))
		if api.CodeOf(err) != api.CodeBadRequest {
			t.Fatalf("deploy %d: %v, want 400", i, err)
		}
	}
	testenv.Eventually(t, "no worker", func() bool { return b.Processes() == 0 && b.Workers() == 0 })
	t.Logf("after 20 failed deploys in 20 namespaces: %d processes, %d workers", b.Processes(), b.Workers())

	c, nc := nsClient(t, n, "ns-0")
	deploy(t, c, "f", `() => "here"`, "f")
	if m := invoke(t, nc, "f", nil); string(m.Data) != "here" {
		t.Fatalf("reply %q", m.Data)
	}
	if p, w := b.Processes(), b.Workers(); p != 1 || w != 1 {
		t.Fatalf("%d processes, %d workers serve one namespace", p, w)
	}
	if _, err := c.Remove(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the worker to stop after rm", func() bool { return b.Processes() == 0 && b.Workers() == 0 })
}

// The node starts no more workers than it may: a deploy into one more
// namespace is refused with 503 before anything is stored, and goes
// through once a namespace's worker has stopped.
func TestMaxWorkers(t *testing.T) {
	n := startNode(t, Config{MaxWorkers: 1, WorkerIdle: time.Millisecond})
	b := workerBackend(t, n)
	a, _ := nsClient(t, n, "first")
	deploy(t, a, "f", `() => 1`, "f")
	other, _ := nsClient(t, n, "second")
	_, err := other.Deploy(t.Context(), api.FunctionSpec{Name: "f", Triggers: []string{"f"}}, []byte(`() => 2`))
	if api.CodeOf(err) != api.CodeUnavailable || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("deploy past MaxWorkers: %v, want 503", err)
	}
	if _, err := other.Info(t.Context(), "f"); err == nil {
		t.Fatal("a refused deploy was stored")
	}
	if _, err := a.Remove(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the first namespace's worker to stop", func() bool { return b.Workers() == 0 })
	deploy(t, other, "f", `() => 2`, "f")
}

// A top level that allocates far more than a check may is refused with
// 413, and the namespace's running function answers throughout: the
// check ran in a process of its own, whose cgroup killed it.
func TestCheckOutOfMemorySparesFunctions(t *testing.T) {
	requireSandbox(t)
	n := startNode(t, Config{Sandbox: "process", WorkerMemory: 512 << 20, CheckMemory: 128 << 20})
	c, nc := nsClient(t, n, "heavy")
	deploy(t, c, "ok", `(s, p) => p`, "heavy.ok")

	calls := keepCalling(nc, "heavy.ok", "hi")
	testenv.Eventually(t, "the function to answer", func() bool { return calls.ok.Load() > 0 })
	_, err := c.Deploy(t.Context(), api.FunctionSpec{Name: "bomb", Triggers: []string{"heavy.bomb"}},
		[]byte(`const keep = []; for (let i = 0; i < 80; i++) keep.push(new Uint8Array(32 << 20).fill(1)); (() => 1)`))
	answered, failed := calls.stop()
	if api.CodeOf(err) != api.CodeTooLarge || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("deploy of a 2.5 GiB top level: %v, want 413 about memory", err)
	}
	if failed > 0 {
		t.Fatalf("the running function failed %d times (answered %d) during the check", failed, answered)
	}
	if m := invoke(t, nc, "heavy.ok", []byte("after")); string(m.Data) != "after" {
		t.Fatalf("after the check: %q %v", m.Data, m.Header)
	}
}

// A top level that never returns ends with its request: the check's
// process is killed, and none is left. Meanwhile another namespace's
// deploys go through, while this namespace's further checks wait their
// turn.
func TestCheckEndsWithItsRequest(t *testing.T) {
	n := startNode(t, Config{WorkerIdle: time.Millisecond})
	b := workerBackend(t, n)
	nsClient(t, n, "stuck") // the namespace exists
	spec := api.FunctionSpec{Namespace: "stuck", Name: "f", Triggers: []string{"f"}, Timeout: api.Duration(api.MaxTimeout)}
	for _, src := range []string{`while (true) {}`, `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)`} {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 3)
		for range 3 {
			go func() { done <- n.check(ctx, spec, []byte(src)) }()
		}
		// Two run, one waits: per namespace, checks take turns.
		testenv.Eventually(t, "the checks to start", func() bool { return b.Processes() == 2 })

		other, _ := nsClient(t, n, "bystander")
		deploy(t, other, "g", `() => "fine"`, "g")
		if _, err := other.Remove(t.Context(), "g"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			t.Fatalf("%s: a check ended on its own: %v", src, err)
		default:
		}

		cancel()
		for range 3 {
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: check ended with %v, want its request's end", src, err)
			}
		}
		testenv.Eventually(t, "the check processes to go", func() bool { return b.Processes() == 0 })
	}
}
