package pool

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/engine"
)

func program(t *testing.T, src string) *engine.Program {
	t.Helper()
	p, err := engine.Compile("pool.js", src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The pool never runs more isolates than its concurrency, refuses jobs
// beyond its queue, and answers every job it accepted, also across Close.
func TestConcurrencyQueueAndClose(t *testing.T) {
	var mu sync.Mutex
	answered := 0
	p := New(Config{
		Program: program(t, `(s) => { const end = Date.now() + 50; while (Date.now() < end) {} return s }`),
		Isolate: engine.Options{Console: func(string, string) {}},
		Timeout: 5 * time.Second, Concurrency: 2, QueueLength: 4,
		Done: func(job *Job, res engine.Result) {
			if res.Err != nil || string(res.Body) != job.Subject {
				t.Errorf("job %s: %v %q", job.Subject, res.Err, res.Body)
			}
			mu.Lock()
			answered++
			mu.Unlock()
		},
	})
	accepted := 0
	for i := 0; i < 20; i++ {
		if p.Submit(&Job{Subject: "job"}) {
			accepted++
		}
	}
	if accepted < 4 || accepted == 20 {
		t.Fatalf("accepted %d of 20 with a queue of 4 and 2 isolates", accepted)
	}
	p.Close()
	mu.Lock()
	defer mu.Unlock()
	if answered != accepted {
		t.Fatalf("answered %d of %d accepted jobs", answered, accepted)
	}
	if p.Submit(&Job{Subject: "late"}) {
		t.Fatal("a closed pool took a job")
	}
	if w := p.workers.Load(); w > 2 {
		t.Fatalf("%d workers for a concurrency of 2", w)
	}
}

// An idle worker drops its isolate: module state starts over.
func TestIdleDisposesIsolate(t *testing.T) {
	results := make(chan string, 4)
	p := New(Config{
		Program:     program(t, `let n = 0; (() => String(++n))`),
		Timeout:     time.Second,
		Concurrency: 1,
		IdleTimeout: 500 * time.Millisecond,
		Done:        func(job *Job, res engine.Result) { results <- string(res.Body) },
	})
	defer p.Close()
	p.Submit(&Job{})
	p.Submit(&Job{})
	if a, b := <-results, <-results; a != "1" || b != "2" {
		t.Fatalf("warm isolate: %s %s", a, b)
	}
	time.Sleep(1500 * time.Millisecond)
	p.Submit(&Job{})
	if c := <-results; c != "1" {
		t.Fatalf("after idle: %s", c)
	}
}

// A script that cannot start answers each job with an error.
func TestStartFailureAnswers(t *testing.T) {
	results := make(chan engine.Result, 1)
	p := New(Config{Program: program(t, `throw new Error("no")`), Concurrency: 1,
		Done: func(job *Job, res engine.Result) { results <- res }})
	defer p.Close()
	p.Submit(&Job{})
	if res := <-results; res.Err == nil || res.Err.Code != 500 {
		t.Fatalf("got %+v", res)
	}
}

// A panic while running a job ends that job's isolate, not the process:
// the job is answered with 500 and the pool goes on with a fresh isolate.
func TestPanicEndsOnlyTheIsolate(t *testing.T) {
	testHookInvoke = func(job *Job) {
		if job.Subject == "panic" {
			panic("test panic")
		}
	}
	t.Cleanup(func() { testHookInvoke = nil })
	results := make(chan engine.Result, 1)
	p := New(Config{
		Program:     program(t, `let n = 0; (() => String(++n))`),
		Concurrency: 1,
		Done:        func(job *Job, res engine.Result) { results <- res },
	})
	defer p.Close()
	call := func(subject string) engine.Result {
		t.Helper()
		if !p.Submit(&Job{Subject: subject}) {
			t.Fatal("refused")
		}
		return <-results
	}
	if res := call("ok"); string(res.Body) != "1" {
		t.Fatalf("first call: %+v", res)
	}
	if res := call("ok"); string(res.Body) != "2" {
		t.Fatalf("warm call: %+v", res)
	}
	res := call("panic")
	if res.Err == nil || res.Err.Code != 500 || !strings.Contains(res.Detail, "test panic") {
		t.Fatalf("panicking call: %+v", res)
	}
	// The module state starts over: the isolate was replaced.
	if res := call("ok"); string(res.Body) != "1" {
		t.Fatalf("after the panic: %+v", res)
	}
}
