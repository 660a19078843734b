// Package executor serves deployed functions on a NATS connection: it
// subscribes each function's triggers in a queue group, hands every message
// to the function's Runner, replies with the result (or an error reply) and
// publishes the function's log. Where the JavaScript runs is the Backend's
// business: in this process (Local) or in a sandboxed worker.
package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/microsvc"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/stats"
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

// SelfServing is a Runner that subscribes its function's subject triggers
// itself, on its own connection (a worker with a direct NATS connection):
// the executor then serves only the other kinds of trigger (consumers),
// through Submit.
type SelfServing interface {
	ServesTriggers() bool
}

// Callbacks are how a Runner reports back to the executor.
type Callbacks struct {
	// Done receives each job's result.
	Done pool.DoneFunc
	// Console receives the function's console lines.
	Console func(level, line string)
	// Stats counts the function's calls; a Runner that answers calls
	// itself (SelfServing) adds what it counted, the executor counts the
	// others. Nil counts nothing.
	Stats *stats.Function
}

// Backend runs JavaScript somewhere.
type Backend interface {
	// Check compiles a bundle and runs its top level, so a deploy that
	// cannot serve is refused with the reason.
	Check(ctx context.Context, spec api.FunctionSpec, script []byte) error
	// Start returns a Runner for one version of a function. It gives up
	// when ctx ends (a worker that keeps failing to start).
	Start(ctx context.Context, info api.FunctionInfo, script []byte, cb Callbacks) (Runner, error)
}

// Config configures an Executor.
type Config struct {
	// Conn serves every function, unless ConnFor is set: then each
	// function is served on its namespace's connection, in the namespace's
	// own account.
	Conn    *nats.Conn
	ConnFor func(namespace string) (*nats.Conn, error)
	// Refusals, when set, gives the permission errors of a connection, so
	// that a trigger the server refuses to subscribe fails the load.
	Refusals func(*nats.Conn) *natsperm.Violations
	Backend  Backend
	Logger   *slog.Logger
	// Node names this node in log entries.
	Node string
	// Stats, when set, gives the counters of each function's calls.
	Stats func(namespace, name string) *stats.Function
}

// Executor serves functions. Its methods are safe for concurrent use. No
// lock is held while a function starts, which can wait for a worker that
// keeps dying: loads of other functions go on meanwhile.
type Executor struct {
	cfg Config

	mu        sync.Mutex
	closed    bool
	functions map[string]*Function // by api.FunctionKey
	seq       uint64               // of the last Load begun
	loading   map[*loading]struct{}
	loads     sync.WaitGroup // Loads in progress
	stopping  sync.WaitGroup // versions replaced, stopping
	logs      *logSink
	services  announcer
}

// loading is a Load in progress.
type loading struct {
	key, namespace string
	seq            uint64
	cancel         context.CancelFunc
	abandoned      bool // unloaded, or the executor closed, meanwhile
}

var (
	// ErrUnloaded is returned by a Load that an Unload overtook.
	ErrUnloaded = errors.New("natsfn: function unloaded while loading")
	// ErrSuperseded is returned by a Load that finished after a later
	// Load of the same function: the later version is served.
	ErrSuperseded = errors.New("natsfn: a later version was loaded meanwhile")
)

// New returns an executor that serves nothing until Load.
func New(cfg Config) *Executor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{cfg: cfg, functions: map[string]*Function{}, loading: map[*loading]struct{}{},
		logs: newLogSink(cfg.Logger), services: announcer{node: cfg.Node, log: cfg.Logger, byConn: map[*nats.Conn]*microsvc.Responder{}}}
}

// LogLinesLost is how many function log lines the log stream did not store
// since the executor started (for metrics).
func (e *Executor) LogLinesLost() uint64 { return e.logs.lost.Load() }

// Load starts serving a version of a function, replacing any version
// already served: the new one subscribes before the old one unsubscribes,
// so no message is lost across a redeploy, and once Load returns every
// new message goes to the new version. It gives up when ctx ends, or
// when the function is unloaded or the executor closed meanwhile.
func (e *Executor) Load(ctx context.Context, info api.FunctionInfo, script []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &loading{key: info.Spec.Key(), namespace: info.Spec.Namespace, cancel: cancel}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.seq++
	l.seq = e.seq
	e.loading[l] = struct{}{}
	e.loads.Add(1)
	e.mu.Unlock()
	defer e.loads.Done()

	f, err := e.start(ctx, info, script)

	e.mu.Lock()
	delete(e.loading, l)
	old := e.functions[l.key]
	switch {
	case e.closed:
		err = ErrClosed
	case l.abandoned:
		err = ErrUnloaded
	case err != nil:
	case old != nil && old.seq > l.seq:
		err = ErrSuperseded
	default:
		f.seq = l.seq
		e.functions[l.key] = f
		e.services.set(f, old)
		if old != nil {
			e.stopping.Add(1)
		}
	}
	e.mu.Unlock()
	if err != nil {
		if f != nil {
			f.Stop()
		}
		return err
	}
	if old != nil {
		old.Retire()
		go func() {
			defer e.stopping.Done()
			old.Stop()
		}()
	}
	return nil
}

// abandon gives up the loads in progress that match; e.mu is held.
func (e *Executor) abandon(match func(*loading) bool) {
	for l := range e.loading {
		if match(l) {
			l.abandoned = true
			l.cancel()
		}
	}
}

// Unload stops serving a function once its queued messages are answered.
// A load of it in progress gives up.
func (e *Executor) Unload(namespace, name string) {
	key := api.FunctionKey(namespace, name)
	e.mu.Lock()
	e.abandon(func(l *loading) bool { return l.key == key })
	f := e.functions[key]
	delete(e.functions, key)
	if f != nil {
		e.services.remove(f)
	}
	e.mu.Unlock()
	if f != nil {
		f.Stop()
	}
}

// Functions is how many function versions are served now.
func (e *Executor) Functions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.functions)
}

// IsolateCounter is a Runner that knows how many isolates it has alive.
type IsolateCounter interface {
	Isolates() int
}

// Served is one function version served, as Usage reports it.
type Served struct {
	Namespace, Name string
	// Isolates alive for it (0 where its Runner does not say).
	Isolates int
}

// Usage lists the function versions served now.
func (e *Executor) Usage() []Served {
	e.mu.Lock()
	fs := make([]*Function, 0, len(e.functions))
	for _, f := range e.functions {
		fs = append(fs, f)
	}
	e.mu.Unlock()
	out := make([]Served, 0, len(fs))
	for _, f := range fs {
		s := Served{Namespace: f.cfg.Info.Spec.Namespace, Name: f.cfg.Info.Spec.Name}
		if c, ok := f.runner.(IsolateCounter); ok {
			s.Isolates = c.Isolates()
		}
		out = append(out, s)
	}
	return out
}

// LongestTimeout is the longest timeout of the function versions served:
// what bounds the calls in flight.
func (e *Executor) LongestTimeout() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	var longest time.Duration
	for _, f := range e.functions {
		longest = max(longest, f.cfg.Info.Spec.EffectiveTimeout())
	}
	return longest
}

// UnloadNamespace stops serving every function of a namespace.
func (e *Executor) UnloadNamespace(namespace string) {
	e.mu.Lock()
	e.abandon(func(l *loading) bool { return l.namespace == namespace })
	var fs []*Function
	for key, f := range e.functions {
		if f.cfg.Info.Spec.Namespace == namespace {
			fs = append(fs, f)
			delete(e.functions, key)
			e.services.remove(f)
		}
	}
	e.mu.Unlock()
	for _, f := range fs {
		f.Stop()
	}
}

// Close unloads every function, waiting for in-flight invocations; loads
// in progress give up. It is safe to call more than once.
func (e *Executor) Close() {
	e.mu.Lock()
	e.closed = true
	e.abandon(func(*loading) bool { return true })
	fs := e.functions
	e.functions = map[string]*Function{}
	e.services.close()
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Stop()
		}()
	}
	wg.Wait()
	e.loads.Wait()
	e.stopping.Wait()
	e.logs.close()
}

func (e *Executor) start(ctx context.Context, info api.FunctionInfo, script []byte) (*Function, error) {
	conn := e.cfg.Conn
	if e.cfg.ConnFor != nil {
		var err error
		if conn, err = e.cfg.ConnFor(info.Spec.Namespace); err != nil {
			return nil, err
		}
	}
	var counts *stats.Function
	if e.cfg.Stats != nil {
		counts = e.cfg.Stats(info.Spec.Namespace, info.Spec.Name)
	}
	fc := FunctionConfig{Conn: conn, Info: info, Logger: e.cfg.Logger, Node: e.cfg.Node, Stats: counts, logs: e.logs}
	if e.cfg.Refusals != nil {
		fc.Refusals = e.cfg.Refusals(conn)
	}
	f := NewFunction(fc)
	runner, err := e.cfg.Backend.Start(ctx, info, script, f.Callbacks())
	if err != nil {
		return nil, err
	}
	serve := f.Serve
	if s, ok := runner.(SelfServing); ok && s.ServesTriggers() {
		serve = f.ServeRelayed
	}
	if err := serve(runner); err != nil {
		return nil, err
	}
	return f, nil
}
