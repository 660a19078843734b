// Package worker runs functions in worker processes, one per namespace, and
// is both ends of the protocol between the node and a worker: Backend is
// the node's side (an executor.Backend), Serve the worker's.
package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/pool"
)

// Process is a started worker process.
type Process interface {
	// Wait waits for the process to end and says how it ended.
	Wait() (string, error)
	Kill()
}

// SpawnFunc starts the worker process of a namespace with files as its
// fds 3, 4, ...: the connection to the node first.
type SpawnFunc func(namespace string, files []*os.File) (Process, error)

// Config configures a Backend.
type Config struct {
	// Spawn starts worker processes (sandboxed or not: the caller decides).
	Spawn SpawnFunc
	// Hosts makes each function's host services, run in the node on the
	// worker's behalf.
	Hosts  executor.HostFactory
	Logger *slog.Logger
	// MaxInFlight bounds a function's jobs sent to its worker and not yet
	// answered; beyond it Submit refuses (429). 0 means 1024.
	MaxInFlight int
	// Direct, when set, gives each worker its own NATS connection.
	Direct *Direct
}

// Direct makes workers take their calls from NATS themselves: triggers and
// replies skip the node, which only loads functions, runs host services
// and answers for a worker that dies.
type Direct struct {
	// Dial opens a NATS connection for a namespace's worker, with
	// permissions scoped to it.
	Dial func(namespace string) (*Conn, error)
	// Serves says whether a namespace's worker gets a connection of its
	// own; nil means every namespace's does. The others relay their calls
	// through the node.
	Serves func(namespace string) bool
	// Orphaned answers the calls a dead worker had accepted but not
	// answered, given by reply subject. The subjects come from the
	// worker's memory: they must be checked before anything is published.
	Orphaned func(namespace string, replies []string)
}

// Conn is a worker's own NATS connection, dialled by the node.
type Conn struct {
	// File is the connected socket.
	File *os.File
	// Forget is called once the worker is gone; may be nil.
	Forget func()
	// JWT and Seed are the user the worker authenticates as, signing the
	// server's nonce itself. Empty where the server knows the socket
	// itself (natsserver.DialScoped).
	JWT  string
	Seed []byte
}

// Backend runs each namespace's functions in its own worker process,
// started on first use and restarted when it dies.
type Backend struct {
	cfg Config

	mu      sync.Mutex
	closed  bool
	workers map[string]*workerConn
	nextID  atomic.Uint64
	wg      sync.WaitGroup // the supervise goroutines
}

// NewBackend returns a Backend that starts no process until needed.
func NewBackend(cfg Config) *Backend {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 1024
	}
	return &Backend{cfg: cfg, workers: map[string]*workerConn{}}
}

func (b *Backend) worker(namespace string) (*workerConn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("natsfn: worker backend closed")
	}
	w := b.workers[namespace]
	if w == nil {
		w = &workerConn{b: b, namespace: namespace, functions: map[uint64]*remoteFunction{},
			log: b.cfg.Logger.With("namespace", namespace), quit: make(chan struct{})}
		w.direct = b.cfg.Direct != nil && (b.cfg.Direct.Serves == nil || b.cfg.Direct.Serves(namespace))
		b.workers[namespace] = w
		w.cond = sync.NewCond(&w.mu)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			w.supervise()
		}()
	}
	return w, nil
}

// Check runs the bundle's top level in the namespace's worker.
func (b *Backend) Check(ctx context.Context, spec api.FunctionSpec, script []byte) error {
	w, err := b.worker(spec.Namespace)
	if err != nil {
		return err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	res, err := w.request(ctx, frameCheck, b.nextID.Add(1), specJSON, script)
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "cannot check the bundle: %v", err)
	}
	if msg := res.str(0); msg != "" {
		return api.Errorf(api.CodeBadRequest, "%s", msg)
	}
	return nil
}

// Start loads a function version into its namespace's worker.
func (b *Backend) Start(ctx context.Context, info api.FunctionInfo, script []byte, cb executor.Callbacks) (executor.Runner, error) {
	w, err := b.worker(info.Spec.Namespace)
	if err != nil {
		return nil, err
	}
	fn := &remoteFunction{id: b.nextID.Add(1), info: info, script: script, cb: cb, release: func() {}}
	if b.cfg.Hosts != nil {
		if fn.host, fn.release, err = b.cfg.Hosts(info); err != nil {
			return nil, err
		}
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	fn.infoJSON = infoJSON
	w.mu.Lock()
	w.functions[fn.id] = fn
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := w.request(ctx, frameLoad, fn.id, infoJSON, script)
	if err == nil && res.str(0) != "" {
		err = errors.New(res.str(0))
	}
	if err != nil {
		w.mu.Lock()
		delete(w.functions, fn.id)
		w.mu.Unlock()
		fn.release()
		return nil, fmt.Errorf("load into worker: %w", err)
	}
	return &remoteRunner{w: w, fn: fn}, nil
}

// Close stops every worker and waits until they are gone.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	ws := b.workers
	b.workers = map[string]*workerConn{}
	b.mu.Unlock()
	for _, w := range ws {
		w.shutdown()
	}
	b.wg.Wait()
}

// remoteFunction is a function version loaded in a worker.
type remoteFunction struct {
	id       uint64
	info     api.FunctionInfo
	infoJSON []byte
	script   []byte
	cb       executor.Callbacks
	host     engine.Host
	release  func()
	inFlight atomic.Int32
}

type pendingJob struct {
	fn  *remoteFunction
	job *pool.Job
}

// workerConn is the node's side of one namespace's worker, across restarts.
type workerConn struct {
	b         *Backend
	namespace string
	// direct: the worker takes its calls from NATS on a connection of its
	// own (Config.Direct), rather than through the node.
	direct bool
	log    *slog.Logger

	mu        sync.Mutex
	cond      *sync.Cond // signalled when alive or closed changes
	alive     bool
	closed    bool
	out       *writer
	proc      Process
	functions map[uint64]*remoteFunction
	jobs      map[uint64]pendingJob
	waiting   map[uint64]chan *frame // checks, loads and unloads by id
	nextJob   atomic.Uint64
	quit      chan struct{} // closed by shutdown
}

// request sends a frame and waits for the answer with the same id.
func (w *workerConn) request(ctx context.Context, typ byte, id uint64, fields ...[]byte) (*frame, error) {
	ch := make(chan *frame, 1)
	w.mu.Lock()
	for !w.alive && !w.closed {
		// Wait for the (re)started worker, bounded by ctx.
		stop := context.AfterFunc(ctx, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
		w.cond.Wait()
		stop()
		if ctx.Err() != nil {
			w.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	if w.closed {
		w.mu.Unlock()
		return nil, errors.New("worker stopped")
	}
	if w.waiting == nil {
		w.waiting = map[uint64]chan *frame{}
	}
	w.waiting[id] = ch
	out := w.out
	w.mu.Unlock()
	if err := out.send(typ, id, fields...); err != nil {
		w.forget(id)
		return nil, err
	}
	select {
	case f := <-ch:
		if f == nil {
			return nil, errors.New("worker died")
		}
		return f, nil
	case <-ctx.Done():
		w.forget(id)
		return nil, ctx.Err()
	}
}

func (w *workerConn) forget(id uint64) {
	w.mu.Lock()
	delete(w.waiting, id)
	w.mu.Unlock()
}

// supervise starts the worker, reads its frames, and restarts it when it
// dies: at once the first time, then backing off while it keeps dying
// young, so a function that kills its worker cannot make it spin.
func (w *workerConn) supervise() {
	backoff := time.Duration(0)
	for {
		w.mu.Lock()
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return
		}
		started := time.Now()
		how, err := w.run()
		w.mu.Lock()
		closed = w.closed
		w.mu.Unlock()
		switch {
		case closed:
			w.log.Debug("worker stopped", "how", how)
			return
		case err != nil:
			w.log.Error("worker failed to start", "err", err)
		default:
			w.log.Warn("worker ended", "how", how)
		}
		if time.Since(started) > 10*time.Second {
			backoff = 0
		} else if backoff == 0 {
			backoff = 100 * time.Millisecond
		} else {
			backoff = min(backoff*2, 30*time.Second)
			w.log.Error("worker keeps dying; backing off", "backoff", backoff, "how", how)
		}
		select {
		case <-time.After(backoff):
		case <-w.quit:
			return
		}
	}
}

// run runs one incarnation of the worker until it dies.
func (w *workerConn) run() (string, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	parentFile := os.NewFile(uintptr(fds[0]), "worker-"+w.namespace)
	childFile := os.NewFile(uintptr(fds[1]), "node")
	conn, err := net.FileConn(parentFile)
	parentFile.Close()
	if err != nil {
		childFile.Close()
		return "", err
	}
	files := []*os.File{childFile}
	var direct *directFiles
	if w.direct {
		if direct, err = openDirect(w.b.cfg.Direct, w.namespace); err != nil {
			childFile.Close()
			conn.Close()
			return "", err
		}
		defer direct.release()
		files = append(files, direct.nats, direct.tableFile)
	}
	proc, err := w.b.cfg.Spawn(w.namespace, files)
	for _, f := range files {
		f.Close() // the worker has its copies
	}
	if err != nil {
		conn.Close()
		return "", err
	}
	// shutdown kills w.proc: publish it at once, and honour a shutdown
	// that came while the process was starting.
	w.mu.Lock()
	w.proc = proc
	closed := w.closed
	w.mu.Unlock()
	if closed {
		proc.Kill()
	}
	out := newWriter(conn)
	exited := make(chan string, 1)
	go func() {
		how, err := proc.Wait()
		if err != nil && how == "" {
			how = err.Error()
		}
		conn.Close() // unblocks the reader
		exited <- how
	}()

	r := newFrameReader(conn)
	first, err := readFrame(r)
	if err == nil && first.typ == frameReady && direct != nil {
		first, err = w.attach(out, r, direct.conn)
	}
	if err != nil || (first.typ != frameReady && first.typ != frameAttached) {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			w.log.Error("worker failed to start", "err", err)
		}
		proc.Kill()
		out.close()
		how := <-exited
		w.orphaned(direct)
		return how, nil
	}
	// Load every function this namespace serves, then go live.
	w.mu.Lock()
	w.out, w.jobs = out, map[uint64]pendingJob{}
	fns := make([]*remoteFunction, 0, len(w.functions))
	for _, fn := range w.functions {
		fns = append(fns, fn)
	}
	w.alive = true
	w.cond.Broadcast()
	w.mu.Unlock()
	for _, fn := range fns {
		out.send(frameLoad, fn.id, fn.infoJSON, fn.script)
	}

	for {
		f, err := readFrame(r)
		if err != nil {
			break
		}
		w.dispatch(f)
	}
	proc.Kill()
	how := <-exited
	out.close()
	w.died(how)
	w.orphaned(direct)
	return how, nil
}

// attach gives the worker its NATS connection and waits until it is
// connected.
func (w *workerConn) attach(out *writer, r *bufio.Reader, c *Conn) (*frame, error) {
	if err := out.send(frameAttach, 0, []byte("natsfn-worker "+w.namespace), []byte(c.JWT), c.Seed); err != nil {
		return nil, err
	}
	f, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	if f.typ != frameAttached {
		return nil, fmt.Errorf("worker answered attach with frame type %d", f.typ)
	}
	if msg := f.str(0); msg != "" {
		return nil, errors.New(msg)
	}
	return f, nil
}

// orphaned answers, through Direct.Orphaned, the calls a dead worker had
// taken from NATS itself.
func (w *workerConn) orphaned(d *directFiles) {
	if d == nil {
		return
	}
	if replies := d.table.orphans(); len(replies) > 0 {
		w.b.cfg.Direct.Orphaned(w.namespace, replies)
	}
}

// directFiles are what one worker incarnation gets for its own NATS
// connection.
type directFiles struct {
	conn      *Conn
	nats      *os.File // the socket, for the worker
	tableFile *os.File // the in-flight table, for the worker
	table     *inFlight
}

func openDirect(d *Direct, namespace string) (*directFiles, error) {
	conn, err := d.Dial(namespace)
	if err != nil {
		return nil, fmt.Errorf("NATS connection for the worker: %w", err)
	}
	table, tableFile, err := newInFlight()
	if err != nil {
		conn.File.Close()
		if conn.Forget != nil {
			conn.Forget()
		}
		return nil, err
	}
	return &directFiles{conn: conn, nats: conn.File, tableFile: tableFile, table: table}, nil
}

// release is for after the worker is gone (the files went with Spawn).
func (d *directFiles) release() {
	d.table.close()
	if d.conn.Forget != nil {
		d.conn.Forget()
	}
}

// died fails everything in flight: every caller gets an answer.
func (w *workerConn) died(how string) {
	w.mu.Lock()
	w.alive = false
	jobs, waiting := w.jobs, w.waiting
	w.jobs, w.waiting = map[uint64]pendingJob{}, nil
	w.mu.Unlock()
	for _, p := range jobs {
		p.fn.inFlight.Add(-1)
		p.fn.cb.Done(p.job, engine.Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: "the worker died: " + how})
	}
	for _, ch := range waiting {
		ch <- nil
	}
}

func (w *workerConn) dispatch(f *frame) {
	switch f.typ {
	case frameResult:
		w.mu.Lock()
		p, ok := w.jobs[f.id]
		delete(w.jobs, f.id)
		w.mu.Unlock()
		if !ok {
			return
		}
		p.fn.inFlight.Add(-1)
		res := engine.Result{Body: f.field(3)}
		if code := f.str(0); code != "" {
			c, _ := strconv.Atoi(code)
			res = engine.Result{Err: &api.Error{Code: c, Message: f.str(1)}, Detail: f.str(2)}
		}
		p.fn.cb.Done(p.job, res)
	case frameLog:
		if fn := w.function(f.id); fn != nil && fn.cb.Console != nil {
			fn.cb.Console(f.str(0), f.str(1))
		}
	case frameHost:
		go w.host(f)
	case frameCheckResult, frameLoadResult, frameUnloaded:
		w.mu.Lock()
		ch := w.waiting[f.id]
		delete(w.waiting, f.id)
		w.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
}

func (w *workerConn) function(id uint64) *remoteFunction {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.functions[id]
}

// host runs a host-service call for the worker with the function's own
// services and sends the answer back.
func (w *workerConn) host(f *frame) {
	fn := w.function(f.u64(0))
	var result any
	var body []byte
	var err error
	if fn == nil || fn.host == nil {
		err = &engine.HostError{Type: "Error", Code: "UNAVAILABLE", Message: "host services are not available"}
	} else {
		ctx := context.Background()
		if d := f.u64(5); d != 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, time.Unix(0, int64(d)))
			defer cancel()
		}
		var reqBody []byte
		if f.str(4) == "1" {
			reqBody = f.field(3)
			if reqBody == nil {
				reqBody = []byte{}
			}
		}
		result, body, err = fn.host.Call(ctx, f.str(1), f.field(2), reqBody)
	}
	w.mu.Lock()
	out := w.out
	w.mu.Unlock()
	if err != nil {
		var he *engine.HostError
		if !errors.As(err, &he) {
			he = &engine.HostError{Type: "Error", Code: "INTERNAL", Message: "host service failed"}
		}
		msg, _ := json.Marshal(he)
		out.send(frameHostResult, f.id, []byte("1"), msg, nil, nil)
		return
	}
	var resultJSON []byte
	if result != nil {
		if resultJSON, err = json.Marshal(result); err != nil {
			msg, _ := json.Marshal(&engine.HostError{Type: "Error", Code: "INTERNAL", Message: "host service returned an unencodable result"})
			out.send(frameHostResult, f.id, []byte("1"), msg, nil, nil)
			return
		}
	}
	hasBody := []byte("0")
	if body != nil {
		hasBody = []byte("1")
	}
	out.send(frameHostResult, f.id, []byte("0"), resultJSON, body, hasBody)
}

func (w *workerConn) shutdown() {
	w.mu.Lock()
	if !w.closed {
		close(w.quit)
	}
	w.closed = true
	proc := w.proc
	w.cond.Broadcast()
	w.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// remoteRunner is the executor's Runner for a function in a worker.
type remoteRunner struct {
	w  *workerConn
	fn *remoteFunction
}

// ServesTriggers says whether the worker subscribes the function's
// triggers on its own NATS connection (executor.SelfServing).
func (r *remoteRunner) ServesTriggers() bool { return r.w.direct }

func (r *remoteRunner) Submit(job *pool.Job) bool {
	w, fn := r.w, r.fn
	if int(fn.inFlight.Add(1)) > w.b.cfg.MaxInFlight {
		fn.inFlight.Add(-1)
		return false
	}
	id := w.nextJob.Add(1)
	w.mu.Lock()
	out, alive := w.out, w.alive
	if alive {
		w.jobs[id] = pendingJob{fn: fn, job: job}
	}
	w.mu.Unlock()
	if !alive {
		fn.inFlight.Add(-1)
		fn.cb.Done(job, engine.Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: "the worker is restarting"})
		return true
	}
	var headers []byte
	if len(job.Headers) > 0 {
		headers, _ = json.Marshal(job.Headers)
	}
	// Queued only: the executor flushes once it has submitted every
	// message that arrived together, so a burst shares one write.
	if err := out.queue(frameInvoke, id, u64Field(fn.id), []byte(job.Subject), []byte(job.Reply), headers, job.Payload); err != nil {
		w.mu.Lock()
		_, still := w.jobs[id]
		delete(w.jobs, id)
		w.mu.Unlock()
		if still {
			fn.inFlight.Add(-1)
			fn.cb.Done(job, engine.Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: err.Error()})
		}
	}
	return true
}

// Flush writes the jobs Submit queued.
func (r *remoteRunner) Flush() {
	r.w.mu.Lock()
	out := r.w.out
	r.w.mu.Unlock()
	if out != nil {
		out.flush()
	}
}

// Close unloads the function from the worker once its queued jobs are
// answered.
func (r *remoteRunner) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), r.fn.info.Spec.EffectiveTimeout()+10*time.Second)
	defer cancel()
	r.w.request(ctx, frameUnload, r.fn.id)
	r.w.mu.Lock()
	delete(r.w.functions, r.fn.id)
	r.w.mu.Unlock()
	r.fn.release()
}
