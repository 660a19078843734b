// Package executor serves deployed functions on a NATS connection: it
// subscribes each function's triggers in a queue group, hands every message
// to the function's Runner, replies with the result (or an error reply) and
// publishes the function's log. Where the JavaScript runs is the Backend's
// business: in this process (Local) or in a sandboxed worker.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/pool"
)

// ErrClosed is returned by Load after Close.
var ErrClosed = errors.New("natsfn: executor closed")

// Runner runs the jobs of one loaded function.
type Runner interface {
	// Submit queues a job without blocking; false means it is refused
	// (queue full) and the caller answers for it.
	Submit(job *pool.Job) bool
	// Flush is called after a burst of Submits: a runner that batches
	// sends what it gathered.
	Flush()
	// Close answers what is queued, then releases everything.
	Close()
}

// Callbacks are how a Runner reports back to the executor.
type Callbacks struct {
	// Done receives each job's result.
	Done pool.DoneFunc
	// Console receives the function's console lines.
	Console func(level, line string)
}

// Backend runs JavaScript somewhere.
type Backend interface {
	// Check compiles a bundle and runs its top level, so a deploy that
	// cannot serve is refused with the reason.
	Check(ctx context.Context, spec api.FunctionSpec, script []byte) error
	// Start returns a Runner for one version of a function.
	Start(info api.FunctionInfo, script []byte, cb Callbacks) (Runner, error)
}

// Config configures an Executor.
type Config struct {
	Conn    *nats.Conn
	Backend Backend
	Logger  *slog.Logger
	// Node names this node in log entries.
	Node string
}

// Executor serves functions. Its methods are safe for concurrent use.
type Executor struct {
	cfg Config

	mu        sync.Mutex
	closed    bool
	functions map[string]*function // by api.FunctionKey
}

// New returns an executor that serves nothing until Load.
func New(cfg Config) *Executor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{cfg: cfg, functions: map[string]*function{}}
}

// Load starts serving a version of a function, replacing any version
// already served: the new one subscribes before the old one drains, so no
// message is lost across a redeploy.
func (e *Executor) Load(info api.FunctionInfo, script []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	f, err := e.start(info, script)
	if err != nil {
		return err
	}
	key := info.Spec.Key()
	old := e.functions[key]
	e.functions[key] = f
	if old != nil {
		go old.stop()
	}
	return nil
}

// Unload stops serving a function once its queued messages are answered.
func (e *Executor) Unload(namespace, name string) {
	key := api.FunctionKey(namespace, name)
	e.mu.Lock()
	f := e.functions[key]
	delete(e.functions, key)
	e.mu.Unlock()
	if f != nil {
		f.stop()
	}
}

// Close unloads every function, waiting for in-flight invocations. It is
// safe to call more than once.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	fs := e.functions
	e.functions = map[string]*function{}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.stop()
		}()
	}
	wg.Wait()
}

func (e *Executor) start(info api.FunctionInfo, script []byte) (*function, error) {
	spec := info.Spec
	f := &function{
		exec:       e,
		info:       info,
		logSubject: api.LogSubject(spec.Namespace, spec.Name),
		logger:     e.cfg.Logger.With("namespace", spec.Namespace, "function", spec.Name),
	}
	runner, err := e.cfg.Backend.Start(info, script, Callbacks{Done: f.done, Console: f.log})
	if err != nil {
		return nil, err
	}
	f.runner = runner
	f.msgs = make(chan *nats.Msg, messageBuffer)
	f.quit = make(chan struct{})
	f.delivering.Add(1)
	go f.deliver()
	queue := "natsfn." + spec.Namespace + "." + spec.Name
	for _, t := range spec.Triggers {
		sub, err := e.cfg.Conn.ChanQueueSubscribe(t, queue, f.msgs)
		if err != nil {
			f.stop()
			return nil, fmt.Errorf("subscribe %q: %w", t, err)
		}
		f.subs = append(f.subs, sub)
	}
	// Once the server has the subscriptions the function is servable:
	// Load returning means requests reach it.
	if err := e.cfg.Conn.FlushTimeout(5 * time.Second); err != nil {
		f.stop()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return f, nil
}
