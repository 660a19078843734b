package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/pool"
)

// ServeOptions configure the worker side.
type ServeOptions struct {
	// IdleTimeout disposes isolates unused this long; 0 means a minute.
	IdleTimeout time.Duration
	// QueueLength bounds each function's waiting jobs; 0 means 1024.
	QueueLength int
	// MaxIsolates bounds the isolates of all functions together; 0: no
	// bound.
	MaxIsolates int
	// NATSFd and InFlightFd are the inherited NATS socket and in-flight
	// table, taken up when the node sends attach; 0 when there are none.
	NATSFd, InFlightFd int
	// Logger receives the worker's own warnings; nil discards them.
	Logger *slog.Logger
}

// Serve runs the worker side of the protocol on conn until the node closes
// it: it loads functions into pools, runs invocations and sends host calls
// to the node. It returns nil when the node hung up.
func Serve(conn io.ReadWriter, opts ServeOptions) error {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{
		out:       newWriter(conn),
		opts:      opts,
		budget:    pool.NewBudget(opts.MaxIsolates),
		functions: map[uint64]*workerFunction{},
		current:   map[string]uint64{},
		calls:     map[uint64]chan *frame{},
	}
	defer s.out.close()
	defer s.detach()
	if err := s.out.send(frameReady, 0); err != nil {
		return err
	}
	r := newFrameReader(conn)
	for {
		f, err := readFrame(r)
		if err != nil {
			s.closeAll()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.handle(f)
	}
}

type server struct {
	out  *writer
	opts ServeOptions

	programs engine.ProgramCache
	budget   *pool.Budget

	mu        sync.Mutex
	functions map[uint64]*workerFunction
	current   map[string]uint64 // the latest version loaded, by api.FunctionKey
	calls     map[uint64]chan *frame
	nextCall  atomic.Uint64

	// Set by attach: the worker's own NATS connection, on which functions
	// subscribe their triggers, and the in-flight table the node reads if
	// this process dies.
	nc       *nats.Conn
	inFlight *inFlight
	closing  atomic.Bool
}

// workerFunction is a loaded function version: a pool the node sends
// invocations to, or, attached, a pool serving its own subscriptions.
type workerFunction struct {
	id     uint64
	key    string
	pool   *pool.Pool
	direct *executor.Function
}

func (wf *workerFunction) close() {
	if wf.direct != nil {
		wf.direct.Stop() // drains the subscriptions, then closes the pool
		return
	}
	wf.pool.Close()
}

func (s *server) handle(f *frame) {
	switch f.typ {
	case frameInvoke:
		s.invoke(f)
	case frameHostResult:
		s.mu.Lock()
		ch := s.calls[f.id]
		delete(s.calls, f.id)
		s.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	case frameAttach:
		// Before any load: handled in the read loop, so loads wait for it.
		s.attach(f)
	case frameCheck:
		// Checking runs untrusted top-level code: off the read loop, so
		// invocations keep flowing meanwhile.
		go s.check(f)
	case frameLoad:
		go s.load(f)
	case frameUnload:
		go s.unload(f.id)
	}
}

func (s *server) check(f *frame) {
	var spec api.FunctionSpec
	msg := ""
	if err := json.Unmarshal(f.field(0), &spec); err != nil {
		msg = "bad spec: " + err.Error()
	} else if prog, err := engine.CheckSpec(spec, f.str(1)); err != nil {
		msg = err.Error()
	} else {
		s.programs.Put(api.Digest(f.field(1)), prog)
	}
	s.out.send(frameCheckResult, f.id, []byte(msg))
}

func (s *server) load(f *frame) {
	var info api.FunctionInfo
	if err := json.Unmarshal(f.field(0), &info); err != nil {
		s.out.send(frameLoadResult, f.id, []byte("bad info: "+err.Error()))
		return
	}
	prog := s.programs.Take(info.BundleDigest)
	if prog == nil {
		var err error
		if prog, err = engine.Compile(info.Spec.Name+".js", f.str(1)); err != nil {
			s.out.send(frameLoadResult, f.id, []byte(err.Error()))
			return
		}
	}
	id := f.id
	wf := &workerFunction{id: id}
	console := func(level, line string) { s.out.send(frameLog, id, []byte(level), []byte(line)) }
	cfg := pool.SpecConfig(info.Spec, prog, &remoteHost{s: s, fn: id}, console)
	cfg.QueueLength, cfg.IdleTimeout, cfg.Done, cfg.Budget = s.opts.QueueLength, s.opts.IdleTimeout, s.done, s.budget
	if s.nc != nil {
		wf.direct = executor.NewFunction(executor.FunctionConfig{
			Conn: s.nc, Info: info, Logger: s.opts.Logger, Log: console, Track: s.inFlight,
		})
		cfg.Done = wf.direct.Callbacks().Done
	}
	wf.pool = pool.New(cfg)
	if wf.direct != nil {
		if err := wf.direct.Serve(executor.PoolRunner(wf.pool, nil)); err != nil {
			s.out.send(frameLoadResult, id, []byte(err.Error()))
			return
		}
	}
	key := info.Spec.Key()
	wf.key = key
	s.mu.Lock()
	old := s.functions[id]
	var previous *workerFunction // the version this one replaces
	if pid, ok := s.current[key]; ok && pid != id {
		previous = s.functions[pid]
	}
	s.functions[id] = wf
	s.current[key] = id
	s.mu.Unlock()
	// A load can arrive twice when the node restarts this worker while a
	// deploy is loading: the second replaces the first.
	if old != nil {
		old.close()
	}
	// A new version takes over at once: the one before stops taking calls
	// before the deploy is answered (the node unloads it later).
	if previous != nil && previous.direct != nil {
		previous.direct.Retire()
	}
	s.out.send(frameLoadResult, id, nil)
}

func (s *server) unload(id uint64) {
	s.mu.Lock()
	wf := s.functions[id]
	delete(s.functions, id)
	if wf != nil && s.current[wf.key] == id {
		delete(s.current, wf.key)
	}
	s.mu.Unlock()
	if wf != nil {
		wf.close()
	}
	s.out.send(frameUnloaded, id)
}

func (s *server) invoke(f *frame) {
	s.mu.Lock()
	wf := s.functions[f.u64(0)]
	s.mu.Unlock()
	// The node sent the headers as JSON, which is what the engine wants:
	// they pass through without being decoded here.
	job := &pool.Job{Subject: f.str(1), Reply: f.str(2), Payload: f.field(4), Ref: f.id}
	if h := f.field(3); len(h) > 0 {
		job.HeadersJSON = h
	}
	switch {
	case wf == nil:
		s.done(job, engine.Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: "function not loaded in worker"})
	case !wf.pool.Submit(job):
		s.done(job, engine.Result{Err: api.Errorf(api.CodeTooMany, "function is over its concurrency")})
	}
}

// done sends a job's result; the writer copies the body before the
// isolate can reuse its memory.
func (s *server) done(job *pool.Job, res engine.Result) {
	id := job.Ref.(uint64)
	if res.Err != nil {
		s.out.send(frameResult, id, []byte(strconv.Itoa(res.Err.Code)), []byte(res.Err.Message), []byte(res.Detail), nil)
		return
	}
	s.out.send(frameResult, id, nil, nil, nil, res.Body)
}

func (s *server) closeAll() {
	s.mu.Lock()
	fs := s.functions
	s.functions = map[uint64]*workerFunction{}
	s.mu.Unlock()
	for _, wf := range fs {
		wf.close()
	}
}

// attach connects to NATS over the inherited socket and maps the in-flight
// table: from now on loaded functions serve their own triggers.
func (s *server) attach(f *frame) {
	msg := ""
	if s.opts.NATSFd == 0 || s.opts.InFlightFd == 0 {
		msg = "no NATS connection was passed to this worker"
	} else if t, err := mapInFlight(os.NewFile(uintptr(s.opts.InFlightFd), "inflight")); err != nil {
		msg = err.Error()
	} else if nc, err := connectInherited(s.opts.NATSFd, f.str(0), f.str(1), f.field(2), s.opts.Logger, s.natsClosed); err != nil {
		t.close()
		msg = "cannot connect to NATS: " + err.Error()
	} else {
		s.nc, s.inFlight = nc, t
	}
	s.out.send(frameAttached, f.id, []byte(msg))
}

// natsClosed ends a worker whose NATS connection is gone while it still
// serves: it can no longer take calls, and the node answers the ones in
// flight and starts a fresh worker.
func (s *server) natsClosed() {
	if s.closing.Load() {
		return
	}
	fmt.Fprintln(os.Stderr, "natsfn worker: the NATS connection closed; exiting")
	os.Exit(4)
}

// detach closes the NATS connection once every function is unloaded.
func (s *server) detach() {
	s.closing.Store(true)
	if s.nc != nil {
		s.nc.Close()
	}
}

// remoteHost sends a function's host-service calls to the node, which runs
// them with the function's own services: the worker itself has no network.
type remoteHost struct {
	s  *server
	fn uint64
}

func (h *remoteHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	s := h.s
	id := s.nextCall.Add(1)
	ch := make(chan *frame, 1)
	s.mu.Lock()
	s.calls[id] = ch
	s.mu.Unlock()
	hasBody := []byte("0")
	if body != nil {
		hasBody = []byte("1")
	}
	var deadline uint64
	if d, ok := ctx.Deadline(); ok {
		deadline = uint64(d.UnixNano())
	}
	if err := s.out.send(frameHost, id, u64Field(h.fn), []byte(op), args, body, hasBody, u64Field(deadline)); err != nil {
		s.forget(id)
		return nil, nil, &engine.HostError{Type: "Error", Code: "UNAVAILABLE", Message: "host services unavailable"}
	}
	select {
	case f := <-ch:
		if f.str(0) != "0" {
			var he engine.HostError
			if err := json.Unmarshal(f.field(1), &he); err != nil {
				return nil, nil, fmt.Errorf("bad host error: %w", err)
			}
			return nil, nil, &he
		}
		var result json.RawMessage
		if len(f.field(1)) > 0 {
			result = json.RawMessage(f.field(1))
		}
		var resultBody []byte
		if f.str(3) == "1" {
			resultBody = f.field(2)
			if resultBody == nil {
				resultBody = []byte{}
			}
		}
		if result == nil {
			return nil, resultBody, nil
		}
		return result, resultBody, nil
	case <-ctx.Done():
		s.forget(id)
		return nil, nil, &engine.HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
}

func (s *server) forget(id uint64) {
	s.mu.Lock()
	delete(s.calls, id)
	s.mu.Unlock()
}
