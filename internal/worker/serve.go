package worker

import (
	"context"
	"encoding/binary"
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
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/stats"
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
	// HideExceptions keeps exception messages from callers
	// (engine.Options.HideExceptions).
	HideExceptions bool
	// NATSFd and InFlightFd are the inherited NATS socket and in-flight
	// table, taken up when the node sends attach; 0 when there are none.
	NATSFd, InFlightFd int
	// Logger receives the worker's own warnings; nil discards them.
	Logger *slog.Logger
	// StatsInterval is how often the worker reports its counts to the
	// node; 0 means DefaultStatsInterval.
	StatsInterval time.Duration
	// Unloaded, when set, is called after an unload leaves no function
	// loaded (it ends the CPU profile: a bench removes its function).
	Unloaded func()
}

// DefaultStatsInterval is how often a worker reports what it counted: the
// calls it answered itself, and its isolates alive.
const DefaultStatsInterval = time.Second

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
		ops:       map[uint64]chan struct{}{},
		keys:      map[string]*versions{},
		calls:     map[uint64]*hostCall{},
		gate:      newHostGate(0, 0),
		refusals:  natsperm.New(),
	}
	defer s.out.close()
	defer s.detach()
	if err := s.out.send(frameReady, 0); err != nil {
		return err
	}
	stopReports := s.startReports()
	defer stopReports()
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

	budget *pool.Budget

	mu        sync.Mutex
	functions map[uint64]*workerFunction // loaded versions, by function id
	ops       map[uint64]chan struct{}   // by function id: closed when its latest load or unload is done
	keys      map[string]*versions       // by api.FunctionKey
	calls     map[uint64]*hostCall
	nextCall  atomic.Uint64
	// gate mirrors the node's bound on host calls in flight, so that calls
	// wait here for room rather than being refused there.
	gate *hostGate

	// Set by attach: the worker's own NATS connection, on which functions
	// subscribe their triggers, and the in-flight table the node reads if
	// this process dies.
	nc       *nats.Conn
	refusals *natsperm.Violations // nc's permission errors
	inFlight *inFlight
	closing  atomic.Bool

	// reportMu serialises stats reports, and guards each function's
	// reportedIsolates.
	reportMu sync.Mutex
}

// versions are the loaded versions of one function. With a NATS
// connection of its own the worker serves exactly one of them: the newest
// by revision, whatever order loads finish in. After a restart the node
// loads every version it still holds, and a version being replaced must
// not take over again because its load happened to finish last.
type versions struct {
	mu      sync.Mutex // serialises changes of the serving version
	gone    bool       // removed from server.keys: look it up again
	loaded  map[uint64]*workerFunction
	serving *workerFunction
}

// workerFunction is a loaded function version: a pool the node sends
// invocations to, or, attached, a pool serving its own subscriptions.
type workerFunction struct {
	id   uint64
	key  string
	rev  uint64
	pool *pool.Pool
	// direct configures serving on the worker's own NATS connection; its
	// Conn is nil when the node relays the calls.
	direct executor.FunctionConfig
	// served are the subscriptions of each time this version served, the
	// last one current while it is the serving version.
	served []*executor.Function
	// stats counts the calls it answers on the worker's own connection;
	// reportedIsolates is what the node last heard of its isolates.
	stats            stats.Function
	reportedIsolates int
	// services are the host services the worker runs itself; nil when
	// every call goes to the node.
	services *hostsvc.Services
}

// newer orders versions: by revision, then by the node's function id,
// which grows with every load it starts.
func (wf *workerFunction) newer(than *workerFunction) bool {
	if wf.rev != than.rev {
		return wf.rev > than.rev
	}
	return wf.id > than.id
}

// serve subscribes the version's triggers.
func (wf *workerFunction) serve() error {
	if wf.direct.Conn == nil {
		return nil
	}
	f := executor.NewFunction(wf.direct)
	if err := f.ServeSubjects(poolRunner{wf.pool}); err != nil {
		return err
	}
	wf.served = append(wf.served, f)
	return nil
}

// retire stops the version taking messages; those it has are still run.
func (wf *workerFunction) retire() {
	if n := len(wf.served); n > 0 {
		wf.served[n-1].Retire()
	}
}

func (wf *workerFunction) close() {
	for _, f := range wf.served {
		f.Stop() // drains the subscriptions into the pool
	}
	wf.pool.Close()
	if wf.services != nil {
		wf.services.Close()
	}
}

// poolRunner hands a serving version's messages to its pool, which
// outlives each time the version serves.
type poolRunner struct{ p *pool.Pool }

func (r poolRunner) Submit(job *pool.Job) bool { return r.p.Submit(job) }
func (poolRunner) Flush()                      {}
func (poolRunner) Close()                      {}

func (s *server) handle(f *frame) {
	switch f.typ {
	case frameInvoke:
		s.invoke(f)
	case frameHostResult:
		s.mu.Lock()
		c := s.calls[f.id]
		delete(s.calls, f.id)
		s.mu.Unlock()
		if c != nil {
			s.gate.release(c.size)
			c.result <- f
		}
	case frameLimits:
		// Sent before any load, so before any host call.
		s.gate.setLimits(int(min(f.u64(0), 1<<31)), int64(min(f.u64(1), 1<<62)))
	case frameAttach:
		// Before any load: handled in the read loop, so loads wait for it.
		s.attach(f)
	case frameCheck:
		// Checking runs untrusted top-level code: off the read loop.
		go s.check(f)
	case frameLoad:
		s.sequence(f.u64(0), func() { s.load(f) })
	case frameUnload:
		s.sequence(f.u64(0), func() { s.unload(f) })
	}
}

// sequence runs op off the read loop (loading compiles, and invocations
// keep flowing meanwhile), after every earlier load or unload of the same
// function, so that an unload never overtakes the load it undoes.
func (s *server) sequence(fn uint64, op func()) {
	done := make(chan struct{})
	s.mu.Lock()
	prev := s.ops[fn]
	s.ops[fn] = done
	s.mu.Unlock()
	go func() {
		if prev != nil {
			<-prev
		}
		op()
		s.mu.Lock()
		if s.ops[fn] == done {
			delete(s.ops, fn)
		}
		s.mu.Unlock()
		close(done)
	}()
}

func (s *server) check(f *frame) {
	var spec api.FunctionSpec
	msg := ""
	if err := json.Unmarshal(f.field(0), &spec); err != nil {
		msg = "bad spec: " + err.Error()
	} else if _, err := engine.CheckSpec(spec, f.str(1)); err != nil {
		msg = err.Error()
	}
	s.out.send(frameCheckResult, f.id, []byte(msg))
}

func (s *server) load(f *frame) {
	id := f.u64(0)
	fail := func(msg string) { s.out.send(frameLoadResult, f.id, []byte(msg)) }
	var info api.FunctionInfo
	if err := json.Unmarshal(f.field(1), &info); err != nil {
		fail("bad info: " + err.Error())
		return
	}
	s.mu.Lock()
	loaded := s.functions[id] != nil
	s.mu.Unlock()
	if loaded { // sent twice: once is enough
		s.out.send(frameLoadResult, f.id, nil)
		return
	}
	prog, err := engine.Compile(info.Spec.Name+".js", f.str(2))
	if err != nil {
		fail(err.Error())
		return
	}
	wf := &workerFunction{id: id, key: info.Spec.Key(), rev: info.Revision}
	console := func(level, line string) { s.out.send(frameLog, id, []byte(level), []byte(line)) }
	host, err := s.hostFor(wf, info, f.field(3))
	if err != nil {
		fail(err.Error())
		return
	}
	cfg := pool.SpecConfig(info.Spec, prog, host, console)
	cfg.QueueLength, cfg.IdleTimeout, cfg.Done, cfg.Budget = s.opts.QueueLength, s.opts.IdleTimeout, s.done, s.budget
	cfg.Isolate.HideExceptions = s.opts.HideExceptions
	if s.nc != nil {
		wf.direct = executor.FunctionConfig{Conn: s.nc, Info: info, Logger: s.opts.Logger, Log: console, Track: s.inFlight, Stats: &wf.stats}
		// Any Function with this configuration answers the jobs it took
		// from NATS (their trigger finishes them); the node's relayed
		// jobs (consumer deliveries) go back to the node.
		direct := executor.NewFunction(wf.direct).Callbacks().Done
		cfg.Done = func(job *pool.Job, res engine.Result) {
			if job.Finish == nil {
				s.done(job, res)
				return
			}
			direct(job, res)
		}
	}
	wf.pool = pool.New(cfg)
	if err := s.adopt(wf); err != nil {
		wf.pool.Close()
		fail(err.Error())
		return
	}
	s.out.send(frameLoadResult, f.id, nil)
}

// versionsOf returns the live versions of key, locked.
func (s *server) versionsOf(key string) *versions {
	for {
		s.mu.Lock()
		v := s.keys[key]
		if v == nil {
			v = &versions{loaded: map[uint64]*workerFunction{}}
			s.keys[key] = v
		}
		s.mu.Unlock()
		v.mu.Lock()
		if !v.gone {
			return v
		}
		v.mu.Unlock()
	}
}

// adopt adds a loaded version; it serves if it is the newest. The version
// it replaces stops taking calls before the load is answered (the node
// unloads it later).
func (s *server) adopt(wf *workerFunction) error {
	v := s.versionsOf(wf.key)
	defer v.mu.Unlock()
	v.loaded[wf.id] = wf
	if err := v.serveNewest(); err != nil {
		delete(v.loaded, wf.id)
		return err
	}
	s.mu.Lock()
	s.functions[wf.id] = wf
	s.mu.Unlock()
	return nil
}

// serveNewest makes the newest loaded version the serving one; v.mu is
// held. The newest subscribes before the one before it unsubscribes, so
// no message finds nobody.
func (v *versions) serveNewest() error {
	var newest *workerFunction
	for _, wf := range v.loaded {
		if newest == nil || wf.newer(newest) {
			newest = wf
		}
	}
	if newest == v.serving {
		return nil
	}
	if newest != nil {
		if err := newest.serve(); err != nil {
			return err
		}
	}
	if v.serving != nil {
		v.serving.retire()
	}
	v.serving = newest
	return nil
}

func (s *server) unload(f *frame) {
	id := f.u64(0)
	s.mu.Lock()
	wf := s.functions[id]
	delete(s.functions, id)
	s.mu.Unlock()
	if wf != nil {
		v := s.versionsOf(wf.key)
		delete(v.loaded, id)
		// The serving version going away (a load the node gave up on): the
		// newest left serves again.
		if err := v.serveNewest(); err != nil {
			s.opts.Logger.Warn("cannot serve the previous version again", "function", wf.key, "err", err)
			if v.serving == wf {
				wf.retire()
				v.serving = nil
			}
		}
		if len(v.loaded) == 0 {
			v.gone = true
			s.mu.Lock()
			delete(s.keys, wf.key)
			s.mu.Unlock()
		}
		v.mu.Unlock()
		wf.close()
		if s.nc != nil {
			// The replies of the last calls leave before the node hears
			// the function is gone: it may stop this process next.
			_ = s.nc.FlushTimeout(5 * time.Second)
		}
		s.report([]*workerFunction{wf}) // its last calls, before it is gone
		s.mu.Lock()
		empty := len(s.functions) == 0
		s.mu.Unlock()
		if empty && s.opts.Unloaded != nil {
			s.opts.Unloaded()
		}
	}
	s.out.send(frameUnloaded, f.id)
}

func (s *server) invoke(f *frame) {
	s.mu.Lock()
	wf := s.functions[f.u64(0)]
	s.mu.Unlock()
	// The node sent the headers as JSON, which is what the engine wants:
	// they pass through without being decoded here.
	job := &pool.Job{Subject: f.str(1), Reply: f.str(2), Payload: f.field(4), Meta: f.field(5), Ref: f.id}
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
	var disp [][]byte
	if res.Disposition.Kind != engine.DispositionNone {
		disp = dispositionFields(res.Disposition)
	}
	if res.Err != nil {
		s.out.send(frameResult, id, append([][]byte{[]byte(strconv.Itoa(res.Err.Code)), []byte(res.Err.Message), []byte(res.Detail), nil}, disp...)...)
		return
	}
	if disp != nil {
		s.out.send(frameResult, id, append([][]byte{nil, nil, nil, res.Body}, disp...)...)
		return
	}
	s.out.send(frameResult, id, nil, nil, nil, res.Body)
}

// closeAll unloads everything once the node has hung up.
func (s *server) closeAll() {
	s.mu.Lock()
	keys := make([]string, 0, len(s.keys))
	for key := range s.keys {
		keys = append(keys, key)
	}
	s.mu.Unlock()
	for _, key := range keys {
		v := s.versionsOf(key)
		v.gone = true
		fs := v.loaded
		v.loaded, v.serving = map[uint64]*workerFunction{}, nil
		v.mu.Unlock()
		s.mu.Lock()
		delete(s.keys, key)
		for id := range fs {
			delete(s.functions, id)
		}
		s.mu.Unlock()
		for _, wf := range fs {
			wf.close()
		}
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
	} else if nc, err := connectInherited(s.opts.NATSFd, f.str(0), f.str(1), f.field(2), f.str(3), s.refusals, s.opts.Logger, s.natsClosed); err != nil {
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

// hostCall is a host call sent to the node and not yet answered.
type hostCall struct {
	size   int // of its frame, held in the gate until the answer comes
	result chan *frame
}

func (h *remoteHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	s := h.s
	hasBody := []byte("0")
	if body != nil {
		hasBody = []byte("1")
	}
	var deadline uint64
	if d, ok := ctx.Deadline(); ok {
		deadline = uint64(d.UnixNano())
	}
	fields := [][]byte{u64Field(h.fn), []byte(op), args, body, hasBody, u64Field(deadline)}
	size := frameSize(fields...)
	if size > maxFrame {
		return nil, nil, &engine.HostError{Type: "Error", Code: "TOO_LARGE",
			Message: fmt.Sprintf("%s: %d bytes are over the limit of %d MiB for one host-service call", op, size, maxFrame>>20)}
	}
	if err := s.gate.acquire(ctx, size); err != nil {
		return nil, nil, &engine.HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
	id := s.nextCall.Add(1)
	c := &hostCall{size: size, result: make(chan *frame, 1)}
	s.mu.Lock()
	s.calls[id] = c
	s.mu.Unlock()
	if err := s.out.send(frameHost, id, fields...); err != nil {
		s.mu.Lock()
		delete(s.calls, id)
		s.mu.Unlock()
		s.gate.release(size)
		return nil, nil, &engine.HostError{Type: "Error", Code: "UNAVAILABLE", Message: "host services unavailable"}
	}
	select {
	case f := <-c.result:
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
		// The call stays in s.calls: the node still counts it until it
		// answers, and so must the gate.
		return nil, nil, &engine.HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
}

// startReports reports the worker's counts to the node every
// StatsInterval, until the returned stop is called: a batch a second
// rather than a message per call.
func (s *server) startReports() (stop func()) {
	interval := s.opts.StatsInterval
	if interval <= 0 {
		interval = DefaultStatsInterval
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.mu.Lock()
				wfs := make([]*workerFunction, 0, len(s.functions))
				for _, wf := range s.functions {
					wfs = append(wfs, wf)
				}
				s.mu.Unlock()
				s.report(wfs)
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// report sends the node what wfs counted since their last report, and
// their isolates alive where that changed.
func (s *server) report(wfs []*workerFunction) {
	s.reportMu.Lock()
	defer s.reportMu.Unlock()
	var records []byte
	for _, wf := range wfs {
		c := wf.stats.Take()
		lastError := wf.stats.TakeLastError()
		isolates := wf.pool.Isolates()
		if c.IsZero() && lastError == nil && isolates == wf.reportedIsolates {
			continue
		}
		wf.reportedIsolates = isolates
		records = binary.LittleEndian.AppendUint64(records, wf.id)
		records = binary.LittleEndian.AppendUint64(records, uint64(isolates))
		records = c.Append(records)
		records = stats.AppendLastError(records, lastError)
	}
	if len(records) > 0 {
		s.out.send(frameStats, 0, records)
	}
}
