// Package pool runs one function's invocations on a set of isolates that
// grows with load, up to the function's concurrency, and shrinks to none
// when the function is idle. It knows nothing of NATS: jobs come in through
// Submit and results leave through a callback, so the same pool serves in
// the node's process and inside a sandboxed worker.
package pool

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
)

// Job is one message for the function.
type Job struct {
	Subject string
	Reply   string
	Headers map[string][]string
	// HeadersJSON, when set, is Headers encoded as JSON (engine.Invocation).
	HeadersJSON []byte
	Payload     []byte
	// Meta is a consumer delivery's description (engine.Invocation).
	Meta []byte
	// Ref is the caller's own reference (the NATS message, a request id).
	Ref any
	// Finish, when set, is the trigger that finishes the job once it has
	// run (a reply, an ack); the executor calls it.
	Finish Finisher
	// Received is when the message arrived, for the call's latency.
	Received time.Time
}

// Finisher finishes a job the way its trigger does (executor.Source).
type Finisher interface {
	Finish(job *Job, res engine.Result)
}

// DoneFunc receives the result of a job on the goroutine that ran it.
// res.Body aliases the isolate's memory: use or copy it before returning.
type DoneFunc func(job *Job, res engine.Result)

// Config configures a Pool.
type Config struct {
	Program *engine.Program
	// Isolate configures each isolate; StartTimeout defaults to Timeout.
	Isolate engine.Options
	// Timeout is the wall time of one invocation.
	Timeout time.Duration
	// Concurrency caps the isolates; QueueLength the jobs waiting for one.
	Concurrency int
	QueueLength int
	// IdleTimeout disposes an isolate unused this long.
	IdleTimeout time.Duration
	// Budget, shared by the pools of a process, bounds their isolates;
	// nil means no bound beyond Concurrency.
	Budget *Budget
	Done   DoneFunc
}

// SpecConfig is the configuration a function spec asks for: its heap,
// env, timeout and concurrency (the number of CPUs when the spec says 0).
// The caller adds Done, and QueueLength and IdleTimeout if it has its own.
func SpecConfig(spec api.FunctionSpec, prog *engine.Program, host engine.Host, console func(level, line string)) Config {
	concurrency := spec.Concurrency
	if concurrency == 0 {
		concurrency = runtime.NumCPU()
	}
	return Config{
		Program:     prog,
		Isolate:     engine.Options{HeapBytes: spec.EffectiveHeapBytes(), Env: spec.Env, Host: host, Console: console},
		Timeout:     spec.EffectiveTimeout(),
		Concurrency: concurrency,
	}
}

// Pool is the isolates of one function. Workers are goroutines that each
// own at most one isolate: they start as load needs them, up to
// Concurrency, and stay until Close; an idle worker disposes its isolate,
// so an idle function holds goroutines but no V8 memory.
type Pool struct {
	cfg  Config
	jobs chan *Job

	// mu guards closed and the send side of jobs: Submit holds it shared,
	// Close exclusively while closing.
	mu        sync.RWMutex
	closed    bool
	closeOnce sync.Once

	workers atomic.Int32
	// isolates counts the isolates alive.
	isolates atomic.Int32
	// idle counts the workers waiting for a job that no queued job has
	// claimed yet: each job Submit queues claims one, or starts a worker
	// for itself, so a burst gets as many isolates as it has jobs (up to
	// Concurrency) rather than the one worker that happened to be idle.
	idle atomic.Int32
	wg   sync.WaitGroup
}

// New returns a pool with no isolates yet.
func New(cfg Config) *Pool {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = 1024
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = api.DefaultTimeout
	}
	if cfg.Isolate.StartTimeout == 0 {
		cfg.Isolate.StartTimeout = cfg.Timeout
	}
	return &Pool{cfg: cfg, jobs: make(chan *Job, cfg.QueueLength)}
}

// Submit queues a job. It never blocks: false means the queue is full or
// the pool is closed, and the caller answers for the job.
func (p *Pool) Submit(job *Job) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return false
	}
	select {
	case p.jobs <- job:
	default:
		return false
	}
	for {
		n := p.idle.Load()
		if n <= 0 {
			p.spawn()
			return true
		}
		if p.idle.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// spawn starts a worker, claimed by the job that asked for it, unless
// Concurrency are running. (Once they are, workers never end before
// Close, so the claims of jobs that found none idle no longer matter.)
func (p *Pool) spawn() {
	for {
		n := p.workers.Load()
		if int(n) >= p.cfg.Concurrency {
			return
		}
		if p.workers.CompareAndSwap(n, n+1) {
			p.wg.Add(1)
			go p.work()
			return
		}
	}
}

func (p *Pool) work() {
	defer p.wg.Done()
	var iso *engine.Isolate
	held := p.cfg.Budget.holder()
	drop := func() {
		if iso != nil {
			p.dispose(iso)
			iso = nil
		}
		held.release()
	}
	defer drop()
	// The idle timer is not reset per job: when it fires, it checks when
	// the isolate was last used and sleeps again for the rest.
	idle := time.NewTimer(p.cfg.IdleTimeout)
	defer idle.Stop()
	armed := true
	var lastUsed time.Time
	ran := false // a job, since the worker last counted itself idle
	for {
		// An eviction comes first: a job waiting as well would otherwise
		// run on the isolate the budget already counted as gone.
		select {
		case <-held.evicted():
			drop()
		default:
		}
		held.idle(lastUsed.UnixNano())
		if ran {
			p.idle.Add(1)
			ran = false
		}
		select {
		case job, ok := <-p.jobs:
			held.working()
			if !ok {
				return
			}
			ran = true
			if iso == nil {
				held.acquire()
			}
			iso, lastUsed = p.run(iso, job)
			if iso == nil {
				held.release()
			}
			if !armed && iso != nil {
				idle.Reset(p.cfg.IdleTimeout)
				armed = true
			}
		case <-held.evicted():
			drop()
		case <-idle.C:
			armed = false
			if iso == nil {
				continue
			}
			if rest := p.cfg.IdleTimeout - time.Since(lastUsed); rest > 0 {
				idle.Reset(rest)
				armed = true
				continue
			}
			drop()
		}
	}
}

// testHookInvoke, when set, runs before each invocation (tests only).
var testHookInvoke func(job *Job)

// run runs one job on iso, starting an isolate if needed, and returns the
// isolate to keep (nil when it had to be dropped) and when it started.
// A panic ends the isolate, not the process: the job is answered with 500
// (unless it already was) and the worker goes on with a fresh isolate.
func (p *Pool) run(iso *engine.Isolate, job *Job) (kept *engine.Isolate, started time.Time) {
	now := time.Now()
	answered := false
	var ctx *callContext
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if ctx != nil {
			ctx.end()
		}
		if !answered {
			p.cfg.Done(job, engine.Result{Err: api.Errorf(api.CodeInternal, "function failed"),
				Detail: fmt.Sprintf("natsfn panicked running it: %v\n%s", r, debug.Stack())})
		}
		if iso != nil {
			p.isolates.Add(-1)
			disposeAfterPanic(iso)
		}
		kept, started = nil, now
	}()
	if iso == nil {
		var err error
		if iso, err = engine.NewIsolate(p.cfg.Program, p.cfg.Isolate); err != nil {
			answered = true
			p.cfg.Done(job, engine.Result{Err: api.Errorf(api.CodeInternal, "function failed to start"), Detail: err.Error()})
			return nil, now
		}
		p.isolates.Add(1)
	}
	ctx = &callContext{deadline: now.Add(p.cfg.Timeout)}
	if testHookInvoke != nil {
		testHookInvoke(job)
	}
	res := iso.Invoke(ctx, &engine.Invocation{Subject: job.Subject, Reply: job.Reply, Headers: job.Headers, HeadersJSON: job.HeadersJSON, Payload: job.Payload, Meta: job.Meta})
	ctx.end()
	// A panic in Done must not answer the job twice.
	answered = true
	p.cfg.Done(job, res)
	// Done has sent or copied the reply: a large call's buffer can go.
	iso.Trim()
	if iso.Broken() {
		broken := iso
		iso = nil // counted as gone even if disposing panics
		p.dispose(broken)
		return nil, now
	}
	return iso, now
}

func (p *Pool) dispose(iso *engine.Isolate) {
	p.isolates.Add(-1)
	iso.Dispose()
}

// Isolates is the number of isolates alive in the pool.
func (p *Pool) Isolates() int { return int(p.isolates.Load()) }

// disposeAfterPanic disposes of an isolate whose invocation panicked; a
// second panic leaves it to the garbage collector rather than ending the
// worker.
func disposeAfterPanic(iso *engine.Isolate) {
	defer func() { recover() }()
	iso.Dispose()
}

// Close stops taking jobs, lets the workers finish what is queued, and
// waits for them. It is safe to call more than once.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.jobs)
		p.mu.Unlock()
		p.wg.Wait()
	})
}
