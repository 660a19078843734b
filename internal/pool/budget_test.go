package pool

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/engine"
)

// With a budget of two isolates across three pools, a third function's
// isolate sends the one idle the longest away: its module state starts
// over, while the one used more recently keeps its own.
func TestBudgetEvictsLongestIdle(t *testing.T) {
	budget := NewBudget(2)
	results := make(chan string, 1)
	newPool := func() *Pool {
		p := New(Config{
			Program: program(t, `let n = 0; (() => String(++n))`),
			Timeout: time.Second, Concurrency: 1, IdleTimeout: time.Minute, Budget: budget,
			Done: func(job *Job, res engine.Result) { results <- string(res.Body) },
		})
		t.Cleanup(p.Close)
		return p
	}
	// call returns once the pool's worker is idle again: only then does
	// its isolate count as idle for the budget.
	call := func(p *Pool) string {
		t.Helper()
		if !p.Submit(&Job{}) {
			t.Fatal("refused")
		}
		got := <-results
		for deadline := time.Now().Add(5 * time.Second); p.idle.Load() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the worker did not go idle")
			}
		}
		return got
	}
	a, b, c := newPool(), newPool(), newPool()
	call(a)
	call(b)
	if got := call(a); got != "2" {
		t.Fatalf("a kept its isolate: %s", got)
	}
	call(c) // over budget: b is the longest idle
	waitLive(t, budget, 2)
	if got := call(a); got != "3" {
		t.Fatalf("a, used recently, lost its isolate: %s", got)
	}
	if got := call(b); got != "1" {
		t.Fatalf("b, idle the longest, kept its isolate: %s", got)
	}
	waitLive(t, budget, 2) // and c went for b
	if got := call(c); got != "1" {
		t.Fatalf("c kept its isolate: %s", got)
	}
}

// When every isolate is busy none is taken away: the budget is exceeded
// for a while, and recovers as they go idle and new ones start.
func TestBudgetIsSoft(t *testing.T) {
	budget := NewBudget(1)
	done := make(chan string, 4)
	var pools []*Pool
	for range 2 {
		p := New(Config{
			Program: program(t, `(() => { const end = Date.now() + 300; while (Date.now() < end) {} return "ok" })`),
			Timeout: time.Second, Concurrency: 1, IdleTimeout: time.Minute, Budget: budget,
			Done: func(job *Job, res engine.Result) { done <- string(res.Body) },
		})
		t.Cleanup(p.Close)
		pools = append(pools, p)
	}
	for _, p := range pools {
		p.Submit(&Job{})
	}
	for range pools {
		if got := <-done; got != "ok" {
			t.Fatalf("got %q", got)
		}
	}
	// The second isolate started while the first was busy: both stay.
	if live := budget.Live(); live != 2 {
		t.Fatalf("%d live, want 2 over a budget of 1", live)
	}
	for _, p := range pools {
		p.Close()
	}
	waitLive(t, budget, 0)
}

func waitLive(t *testing.T, b *Budget, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.Live() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d isolates live, want %d", b.Live(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
