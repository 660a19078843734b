// Package executor runs deployed functions on a NATS connection: it
// subscribes each function's triggers in a queue group, hands messages to a
// pool of isolates that grows with load up to the function's concurrency,
// replies, and publishes the function's log. The node runs one executor in
// process; a sandboxed worker runs one for its namespace.
package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
)

// ErrClosed is returned by Load after Close.
var ErrClosed = errors.New("natsfn: executor closed")

// HostFactory makes the host services of one function. release is called
// when the function is unloaded.
type HostFactory func(info api.FunctionInfo) (host engine.Host, release func(), err error)

// Config configures an Executor.
type Config struct {
	Conn   *nats.Conn
	Logger *slog.Logger
	// Node names this node in log entries.
	Node string
	// Hosts makes each function's host services; nil gives none.
	Hosts HostFactory
	// IdleTimeout disposes an isolate unused this long; 0 means a minute.
	IdleTimeout time.Duration
	// QueueLength bounds the messages waiting for an isolate, per function;
	// beyond it a request is refused with 429. 0 means 1024.
	QueueLength int
}

// Executor runs functions. Its methods are safe for concurrent use.
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
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = time.Minute
	}
	if cfg.QueueLength == 0 {
		cfg.QueueLength = 1024
	}
	return &Executor{cfg: cfg, functions: map[string]*function{}}
}

// Load starts serving info with prog, replacing any version already served:
// the new version subscribes before the old one drains, so no message is
// lost across a redeploy.
func (e *Executor) Load(info api.FunctionInfo, prog *engine.Program) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	f, err := e.newFunction(info, prog)
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
	e.mu.Lock()
	f := e.functions[api.FunctionKey(namespace, name)]
	delete(e.functions, api.FunctionKey(namespace, name))
	e.mu.Unlock()
	if f != nil {
		f.stop()
	}
}

// Loaded returns the digest of the bundle served for a function, or "".
func (e *Executor) Loaded(namespace, name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.functions[api.FunctionKey(namespace, name)]; f != nil {
		return f.info.BundleDigest
	}
	return ""
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

func (e *Executor) newFunction(info api.FunctionInfo, prog *engine.Program) (*function, error) {
	spec := info.Spec
	f := &function{
		exec:       e,
		info:       info,
		prog:       prog,
		jobs:       make(chan *nats.Msg, e.cfg.QueueLength),
		maxWorkers: spec.Concurrency,
		timeout:    spec.EffectiveTimeout(),
		logSubject: api.LogSubject(spec.Namespace, spec.Name),
		logger:     e.cfg.Logger.With("namespace", spec.Namespace, "function", spec.Name),
		release:    func() {},
	}
	if f.maxWorkers == 0 {
		f.maxWorkers = runtime.NumCPU()
	}
	if e.cfg.Hosts != nil {
		host, release, err := e.cfg.Hosts(info)
		if err != nil {
			return nil, fmt.Errorf("host services for %s: %w", spec.Key(), err)
		}
		f.host, f.release = host, release
	}
	queue := "natsfn." + spec.Namespace + "." + spec.Name
	for _, t := range spec.Triggers {
		sub, err := e.cfg.Conn.QueueSubscribe(t, queue, f.handle)
		if err != nil {
			f.unsubscribe()
			f.release()
			return nil, fmt.Errorf("subscribe %q: %w", t, err)
		}
		f.subs = append(f.subs, sub)
	}
	// Once the server has the subscriptions, a deploy is servable: flush so
	// that Load returning means requests reach the function.
	if err := e.cfg.Conn.FlushTimeout(5 * time.Second); err != nil {
		f.unsubscribe()
		f.release()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return f, nil
}
