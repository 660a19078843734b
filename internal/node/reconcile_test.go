package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/store"
)

// A load that does not end (a namespace whose worker cannot start) holds
// up its own function's later changes and, past loadsPerNamespace, its
// namespace's other loads; never another namespace's.
func TestAppliersIsolateSlowLoads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	var mu sync.Mutex
	applied := map[string][]uint64{}
	done := make(chan string, 100)
	entered := make(chan string, 100)
	a := newAppliers(ctx, func(ev store.Event, _ int) bool {
		if ev.Namespace == "stuck" {
			entered <- ev.Name
			<-release
		}
		mu.Lock()
		applied[ev.Name] = append(applied[ev.Name], ev.Revision)
		mu.Unlock()
		done <- ev.Namespace + "/" + ev.Name
		return false
	})
	put := func(ns, name string, rev uint64) {
		a.enqueue(store.Event{Kind: store.EventPut, Namespace: ns, Name: name, Revision: rev})
	}
	// Every slot of namespace stuck is taken, and one more waits. Function
	// a's first load is under way before anything else is queued, so that
	// its later changes queue behind it rather than replace it.
	put("stuck", "a", 1)
	if name := <-entered; name != "a" {
		t.Fatalf("entered %s", name)
	}
	for i := 1; i <= loadsPerNamespace; i++ {
		put("stuck", string(rune('a'+i)), 1)
	}
	// Another namespace goes ahead.
	put("other", "f", 1)
	select {
	case got := <-done:
		if got != "other/f" {
			t.Fatalf("first applied: %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stuck namespace held up another")
	}
	// Changes to one function while its load runs: only the newest follows.
	put("stuck", "a", 2)
	put("stuck", "a", 3)
	close(release)
	for range loadsPerNamespace + 1 + 1 {
		<-done
	}
	a.wg.Wait()
	if got := applied["a"]; len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("function a applied revisions %v, want [1 3]", got)
	}
}

// A load that may pass later is tried again until it succeeds, unless a
// newer change replaces it.
func TestAppliersRetryFailedLoads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type try struct {
		name    string
		rev     uint64
		attempt int
	}
	tries := make(chan try, 100)
	proceed := make(chan bool)
	a := newAppliers(ctx, func(ev store.Event, attempt int) bool {
		tries <- try{ev.Name, ev.Revision, attempt}
		return <-proceed // true: failed, try again
	})
	a.enqueue(store.Event{Kind: store.EventPut, Namespace: "ns", Name: "f", Revision: 1})
	for attempt := range 3 {
		if got := <-tries; got != (try{"f", 1, attempt}) {
			t.Fatalf("try %d: %+v", attempt, got)
		}
		proceed <- attempt < 2 // the third try succeeds
	}

	// A change that keeps failing gives way to a newer one.
	a.enqueue(store.Event{Kind: store.EventPut, Namespace: "ns", Name: "g", Revision: 1})
	if got := <-tries; got != (try{"g", 1, 0}) {
		t.Fatalf("first try: %+v", got)
	}
	a.enqueue(store.Event{Kind: store.EventPut, Namespace: "ns", Name: "g", Revision: 2})
	proceed <- true
	if got := <-tries; got != (try{"g", 2, 0}) {
		t.Fatalf("after the newer change: %+v", got)
	}
	proceed <- false
	a.wg.Wait()
	select {
	case got := <-tries:
		t.Fatalf("tried again after success: %+v", got)
	default:
	}
}
