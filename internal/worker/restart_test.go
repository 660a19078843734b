package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/testenv"
)

// settled says whether the namespace's worker is a process other than
// before, alive, and has answered every load and unload sent to it.
func settled(b *Backend, namespace string, before Process) bool {
	b.mu.Lock()
	w := b.workers[namespace]
	b.mu.Unlock()
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.alive && w.proc != before && len(w.waiting) == 0
}

// A worker killed while the node holds two versions of a function (a
// deploy just loaded the new one, the old one is not unloaded yet) is
// given both again on restart. The old one takes longer to load, so it
// finishes last, and still the newest revision serves. An unload sent
// right after a restart does not overtake the load it undoes either.
func TestRestartServesNewestVersion(t *testing.T) {
	h := newHarness(t, true)
	b := h.backend
	start := func(rev uint64, src string) executor.Runner {
		t.Helper()
		info := api.FunctionInfo{Revision: rev,
			Spec: api.FunctionSpec{Namespace: "deploys", Name: "f", Triggers: []string{"deploys.f"}}}
		r, err := b.Start(context.Background(), info, []byte(src), executor.Callbacks{Done: func(*pool.Job, engine.Result) {}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kill := func() Process {
		b.mu.Lock()
		w := b.workers["deploys"]
		b.mu.Unlock()
		w.mu.Lock()
		proc := w.proc
		w.mu.Unlock()
		proc.Kill()
		return proc
	}
	expect := func(want string) {
		t.Helper()
		for range 10 {
			m, err := h.nc.Request("deploys.f", nil, 5*time.Second)
			if err != nil {
				t.Fatalf("want %s: %v", want, err)
			}
			if string(m.Data) != want {
				t.Fatalf("%q answers, want %s", m.Data, want)
			}
		}
	}
	// A long array literal: the old version compiles for a while.
	old := start(1, "const data = ["+strings.Repeat("1,", 2_000_000)+"]; () => \"v1\"")
	current := start(2, `() => "v2"`)
	expect("v2")
	for range 3 {
		proc := kill()
		testenv.Eventually(t, "the restarted worker", func() bool { return settled(b, "deploys", proc) })
		expect("v2")
	}
	proc := kill()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		old.Close()
	}()
	testenv.Eventually(t, "the restarted worker", func() bool { return settled(b, "deploys", proc) })
	<-closed
	expect("v2")
	current.Close()
}
