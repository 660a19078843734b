// Package worker runs functions in worker processes, one per namespace, and
// is both ends of the protocol between the node and a worker: Backend is
// the node's side (an executor.Backend), Serve the worker's.
package worker

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
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
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/stats"
)

// Process is a started worker process.
type Process interface {
	// Wait waits for the process to end and says how it ended.
	Wait() Exit
	Kill()
	Pid() int
}

// Exit is how a worker process ended.
type Exit struct {
	How string // e.g. "exited with status 1", "killed by SIGKILL"
	// OutOfMemory: its cgroup's memory limit killed it.
	OutOfMemory bool
}

// SpawnFunc starts the worker process of a namespace with files as its
// fds 3, 4, ...: the connection to the node first.
type SpawnFunc func(namespace string, files []*os.File) (Process, error)

// Config configures a Backend.
type Config struct {
	// Spawn starts worker processes (sandboxed or not: the caller decides).
	Spawn SpawnFunc
	// SpawnCheck starts the short-lived process that runs a bundle's top
	// level before a deploy, in a cgroup of its own with a smaller memory
	// limit; nil means Spawn.
	SpawnCheck SpawnFunc
	// Hosts makes each function's host services, run in the node on the
	// worker's behalf.
	Hosts  executor.HostFactory
	Logger *slog.Logger
	// MaxInFlight bounds a function's jobs sent to its worker and not yet
	// answered; beyond it Submit refuses (429). 0 means 1024.
	MaxInFlight int
	// Direct, when set, gives each worker its own NATS connection.
	Direct *Direct

	// MaxWorkers caps the namespace workers alive at once; 0: no cap.
	MaxWorkers int
	// MemoryBudget bounds the memory limits of the processes alive at once,
	// added up: WorkerMemory for each namespace's worker, CheckMemory for
	// each check. 0: no bound.
	MemoryBudget              int64
	WorkerMemory, CheckMemory int64
	// IdleWorker is how long a namespace's worker lives on with nothing
	// loaded; 0 means DefaultIdleWorker.
	IdleWorker time.Duration
	// CheckTimeout bounds a check's process, whatever the function's
	// timeout; 0 means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// ChecksPerNamespace bounds a namespace's checks at once; more wait
	// for their turn. 0 means DefaultChecksPerNamespace.
	ChecksPerNamespace int
	// MaxHostCalls bounds a worker's host calls in flight in the node; 0
	// means DefaultMaxHostCalls. HostBytes bounds the bytes they carry (a
	// call larger than that runs alone); 0 means DefaultHostBytes.
	MaxHostCalls int
	HostBytes    int64
}

// Defaults of Config.
const (
	DefaultIdleWorker         = 5 * time.Second
	DefaultCheckTimeout       = time.Minute
	DefaultChecksPerNamespace = 2
	DefaultMaxHostCalls       = 128
	DefaultHostBytes          = 64 << 20
)

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
	// InboxPrefix is the prefix of the worker's reply subjects, which its
	// permissions let it subscribe to (and nobody else's); empty: nats.go's.
	InboxPrefix string
}

// Backend runs each namespace's functions in its own worker process,
// started with the namespace's first function, restarted when it dies and
// stopped once the namespace has nothing loaded.
type Backend struct {
	cfg Config

	mu      sync.Mutex
	closed  bool
	workers map[string]*workerConn // the live ones, by namespace
	running int                    // namespace workers whose supervise has not ended
	memory  int64                  // the memory limits of the workers and checks alive, added up
	checks  map[string]*checkSlots
	probes  map[Process]bool // the check processes alive, killed by Close
	nextID  atomic.Uint64
	procs   atomic.Int32   // processes started and not yet reaped
	wg      sync.WaitGroup // supervise, check and host-call goroutines
}

// NewBackend returns a Backend that starts no process until needed.
func NewBackend(cfg Config) *Backend {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 1024
	}
	if cfg.SpawnCheck == nil {
		cfg.SpawnCheck = cfg.Spawn
	}
	if cfg.IdleWorker == 0 {
		cfg.IdleWorker = DefaultIdleWorker
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	if cfg.ChecksPerNamespace == 0 {
		cfg.ChecksPerNamespace = DefaultChecksPerNamespace
	}
	if cfg.MaxHostCalls == 0 {
		cfg.MaxHostCalls = DefaultMaxHostCalls
	}
	if cfg.HostBytes == 0 {
		cfg.HostBytes = DefaultHostBytes
	}
	return &Backend{cfg: cfg, workers: map[string]*workerConn{}, checks: map[string]*checkSlots{}, probes: map[Process]bool{}}
}

// Processes is the number of worker and check processes alive.
func (b *Backend) Processes() int { return int(b.procs.Load()) }

// Workers is the number of namespaces' workers, those still stopping
// included: what MaxWorkers and the memory budget count.
func (b *Backend) Workers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// Pid is the process id of a namespace's worker, 0 when none runs.
func (b *Backend) Pid(namespace string) int {
	b.mu.Lock()
	w := b.workers[namespace]
	b.mu.Unlock()
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil || !w.alive {
		return 0
	}
	return w.proc.Pid()
}

// Usage is what a namespace's worker holds in the node.
type Usage struct {
	HostCalls     int   // host calls in flight
	HostBytes     int64 // the bytes of their frames
	PeakHostBytes int64 // the most bytes in flight at once, in this worker's life
}

// Usage reports what a namespace's worker holds in the node now.
func (b *Backend) Usage(namespace string) Usage {
	b.mu.Lock()
	w := b.workers[namespace]
	b.mu.Unlock()
	if w == nil {
		return Usage{}
	}
	w.mu.Lock()
	gate := w.gate
	w.mu.Unlock()
	if gate == nil {
		return Usage{}
	}
	calls, bytes, peak := gate.usage()
	return Usage{HostCalls: calls, HostBytes: bytes, PeakHostBytes: peak}
}

// errNoRoom refuses what would take the node past its worker limits.
func (b *Backend) errNoRoom(what string) error {
	return api.Errorf(api.CodeUnavailable, "this node has no room for %s (workers: %d of %d; memory limits: %d of %d MiB)",
		what, b.running, b.cfg.MaxWorkers, b.memory>>20, b.cfg.MemoryBudget>>20)
}

// roomForWorker says whether a new namespace worker fits; b.mu is held.
func (b *Backend) roomForWorker() bool {
	return (b.cfg.MaxWorkers == 0 || b.running < b.cfg.MaxWorkers) &&
		(b.cfg.MemoryBudget == 0 || b.memory+b.cfg.WorkerMemory <= b.cfg.MemoryBudget)
}

// acquire returns the namespace's worker, started if there is none, and
// counts one more user of it: a function loaded or being loaded.
func (b *Backend) acquire(namespace string) (*workerConn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("natsfn: worker backend closed")
	}
	w := b.workers[namespace]
	if w == nil {
		if !b.roomForWorker() {
			return nil, b.errNoRoom("another namespace's worker")
		}
		b.running++
		b.memory += b.cfg.WorkerMemory
		w = &workerConn{b: b, namespace: namespace, functions: map[uint64]*remoteFunction{},
			log: b.cfg.Logger.With("namespace", namespace), quit: make(chan struct{})}
		w.direct = b.cfg.Direct != nil && (b.cfg.Direct.Serves == nil || b.cfg.Direct.Serves(namespace))
		w.cond = sync.NewCond(&w.mu)
		b.workers[namespace] = w
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			w.supervise()
			b.mu.Lock()
			b.running--
			b.memory -= b.cfg.WorkerMemory
			b.mu.Unlock()
		}()
	}
	w.users++
	if w.idle != nil {
		w.idle.Stop()
		w.idle = nil
	}
	return w, nil
}

// release counts one user less; a worker left without any stops after
// IdleWorker, unless one comes meanwhile.
func (b *Backend) release(w *workerConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.users--
	if w.users > 0 || b.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(b.cfg.IdleWorker, func() {
		b.mu.Lock()
		if w.idle != t || w.users > 0 {
			b.mu.Unlock()
			return
		}
		w.idle = nil
		if b.workers[w.namespace] == w {
			delete(b.workers, w.namespace)
		}
		b.mu.Unlock()
		w.shutdown()
	})
	w.idle = t
}

// Start loads a function version into its namespace's worker. A worker
// that dies meanwhile is given the load again once restarted.
func (b *Backend) Start(ctx context.Context, info api.FunctionInfo, script []byte, cb executor.Callbacks) (executor.Runner, error) {
	w, err := b.acquire(info.Spec.Namespace)
	if err != nil {
		return nil, err
	}
	fn := &remoteFunction{id: b.nextID.Add(1), info: info, script: script, cb: cb, release: func() {}}
	if b.cfg.Hosts != nil {
		if fn.host, fn.release, err = b.cfg.Hosts(info); err != nil {
			b.release(w)
			return nil, err
		}
	}
	if ws, ok := fn.host.(workerServices); ok && w.direct {
		if fn.servicesJSON, err = json.Marshal(ws.WorkerConfig()); err != nil {
			fn.release()
			b.release(w)
			return nil, err
		}
	}
	if fn.infoJSON, err = json.Marshal(info); err != nil {
		fn.release()
		b.release(w)
		return nil, err
	}
	w.mu.Lock()
	w.functions[fn.id] = fn
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.load(ctx, fn); err != nil {
		var refused loadError
		if !errors.As(err, &refused) {
			// The worker may load it yet: undo that.
			uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
			w.unload(uctx, fn)
			ucancel()
		}
		w.mu.Lock()
		delete(w.functions, fn.id)
		w.mu.Unlock()
		fn.release()
		b.release(w)
		return nil, fmt.Errorf("load into worker: %w", err)
	}
	return &remoteRunner{w: w, fn: fn}, nil
}

// workerServices are host services a worker with a NATS connection of its
// own may partly run itself, given their configuration
// (executor.ServicesHost).
type workerServices interface {
	WorkerConfig() hostsvc.Config
}

// loadError is a load the worker refused (a script that does not compile).
type loadError string

func (e loadError) Error() string { return string(e) }

// maxLoadAttempts bounds the workers a load may see die: a load that
// kills its worker every time fails rather than looping.
const maxLoadAttempts = 3

// load sends fn to the worker and waits until it is loaded there.
func (w *workerConn) load(ctx context.Context, fn *remoteFunction) error {
	for attempt := 1; ; attempt++ {
		res, err := w.request(ctx, frameLoad, fn, u64Field(fn.id), fn.infoJSON, fn.script, fn.servicesJSON)
		if errors.Is(err, errWorkerDied) && attempt < maxLoadAttempts {
			continue
		}
		if err != nil {
			return err
		}
		if msg := res.str(0); msg != "" {
			return loadError(msg)
		}
		return nil
	}
}

// unload takes fn out of the worker. Once it is marked, a restarted worker
// is not given it again, so it cannot come back whatever the timing.
func (w *workerConn) unload(ctx context.Context, fn *remoteFunction) {
	w.mu.Lock()
	fn.unloading = true
	w.mu.Unlock()
	w.request(ctx, frameUnload, nil, u64Field(fn.id))
}

// Close stops every worker and check and waits until they are gone.
func (b *Backend) Close() {
	b.mu.Lock()
	b.closed = true
	ws := b.workers
	b.workers = map[string]*workerConn{}
	for _, w := range ws {
		if w.idle != nil {
			w.idle.Stop()
			w.idle = nil
		}
	}
	for p := range b.probes {
		p.Kill()
	}
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
	// servicesJSON configures the host calls the worker runs itself; nil:
	// it sends them all to the node.
	servicesJSON []byte
	cb           executor.Callbacks
	host         engine.Host
	release      func()
	inFlight     atomic.Int32
	// isolates is what the worker last reported alive for it.
	isolates atomic.Int32
	// Guarded by workerConn.mu. loaded: a worker has loaded it, so a
	// restarted one gets it again; unloading: it is going away, so a
	// restarted one does not.
	loaded, unloading bool
}

type pendingJob struct {
	fn  *remoteFunction
	job *pool.Job
}

// pendingRequest waits for the answer to a check, load or unload.
type pendingRequest struct {
	ch chan *frame // nil: nobody waits (a load resent to a restarted worker)
	fn *remoteFunction
}

// workerConn is the node's side of one namespace's worker, across restarts.
type workerConn struct {
	b         *Backend
	namespace string
	// direct: the worker takes its calls from NATS on a connection of its
	// own (Config.Direct), rather than through the node.
	direct bool
	log    *slog.Logger

	// Guarded by Backend.mu: the functions loaded or loading, and the
	// timer that stops the worker once there are none.
	users int
	idle  *time.Timer

	mu        sync.Mutex
	cond      *sync.Cond // signalled when alive or closed changes
	alive     bool
	closed    bool
	out       *writer
	gate      *hostGate // this incarnation's host calls in flight
	proc      Process
	functions map[uint64]*remoteFunction
	jobs      map[uint64]pendingJob
	waiting   map[uint64]pendingRequest // by request id
	nextJob   atomic.Uint64
	nextReq   atomic.Uint64
	quit      chan struct{} // closed by shutdown
}

var errWorkerDied = errors.New("worker died")

// request sends a frame with a request id of its own and waits for the
// answer with that id. fn is the function a load is for.
func (w *workerConn) request(ctx context.Context, typ byte, fn *remoteFunction, fields ...[]byte) (*frame, error) {
	ch := make(chan *frame, 1)
	id := w.nextReq.Add(1)
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
	w.waiting[id] = pendingRequest{ch: ch, fn: fn}
	out := w.out
	w.mu.Unlock()
	if err := out.send(typ, id, fields...); err != nil {
		w.forget(id)
		return nil, err
	}
	select {
	case f := <-ch:
		if f == nil {
			return nil, errWorkerDied
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
	w.b.procs.Add(1)
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
		e := proc.Wait()
		w.b.procs.Add(-1)
		conn.Close() // unblocks the reader
		exited <- e.How
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
	// The host calls of this incarnation: bounded, and cancelled once it
	// is gone.
	hostCtx, cancelHost := context.WithCancel(context.Background())
	defer cancelHost()
	inc := &incarnation{out: out, gate: newHostGate(w.b.cfg.MaxHostCalls, w.b.cfg.HostBytes), ctx: hostCtx}
	// Give it the functions loaded before, then go live. The loads are
	// written before anyone else may send (alive is still false), so an
	// unload that follows a restart always comes after the load it undoes.
	w.mu.Lock()
	w.out, w.gate, w.jobs, w.waiting = out, inc.gate, map[uint64]pendingJob{}, map[uint64]pendingRequest{}
	type resend struct {
		id uint64
		fn *remoteFunction
	}
	var resends []resend
	for _, fn := range w.functions {
		if fn.loaded && !fn.unloading {
			id := w.nextReq.Add(1)
			w.waiting[id] = pendingRequest{fn: fn}
			resends = append(resends, resend{id, fn})
		}
	}
	w.mu.Unlock()
	out.send(frameLimits, 0, u64Field(uint64(w.b.cfg.MaxHostCalls)), u64Field(uint64(w.b.cfg.HostBytes)))
	for _, rs := range resends {
		out.send(frameLoad, rs.id, u64Field(rs.fn.id), rs.fn.infoJSON, rs.fn.script, rs.fn.servicesJSON)
	}
	w.mu.Lock()
	w.alive = true
	w.cond.Broadcast()
	w.mu.Unlock()

	for {
		f, err := readFrame(r)
		if err != nil {
			break
		}
		w.dispatch(inc, f)
	}
	proc.Kill()
	how := <-exited
	out.close()
	w.died(how)
	w.orphaned(direct)
	return how, nil
}

// incarnation is one life of a namespace's worker process.
type incarnation struct {
	out  *writer
	gate *hostGate
	ctx  context.Context // ends with it
}

// attach gives the worker its NATS connection and waits until it is
// connected.
func (w *workerConn) attach(out *writer, r *bufio.Reader, c *Conn) (*frame, error) {
	if err := out.send(frameAttach, 0, []byte("natsfn-worker "+w.namespace), []byte(c.JWT), c.Seed, []byte(c.InboxPrefix)); err != nil {
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
	w.jobs, w.waiting = map[uint64]pendingJob{}, map[uint64]pendingRequest{}
	w.mu.Unlock()
	for _, p := range jobs {
		p.fn.inFlight.Add(-1)
		p.fn.cb.Done(p.job, engine.Result{Err: api.Errorf(api.CodeUnavailable, "function unavailable"), Detail: "the worker died: " + how})
	}
	for _, p := range waiting {
		if p.ch != nil {
			p.ch <- nil
		}
	}
	w.mu.Lock()
	for _, fn := range w.functions {
		fn.isolates.Store(0) // gone with the process
	}
	w.mu.Unlock()
}

func (w *workerConn) dispatch(inc *incarnation, f *frame) {
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
		if len(f.fields) > 4 {
			res.Disposition = parseDisposition(f.field(4), f.field(5))
		}
		p.fn.cb.Done(p.job, res)
	case frameLog:
		if fn := w.function(f.id); fn != nil && fn.cb.Console != nil {
			fn.cb.Console(f.str(0), f.str(1))
		}
	case frameHost:
		w.hostCall(inc, f)
	case frameStats:
		w.stats(f.field(0))
	case frameCheckResult, frameLoadResult, frameUnloaded:
		w.mu.Lock()
		p, ok := w.waiting[f.id]
		delete(w.waiting, f.id)
		// Marked here, before a restart can look: a restarted worker
		// gets what the one before had loaded.
		if ok && p.fn != nil && f.typ == frameLoadResult && f.str(0) == "" {
			p.fn.loaded = true
		}
		w.mu.Unlock()
		switch {
		case !ok:
		case p.ch != nil:
			p.ch <- f
		case f.typ == frameLoadResult && f.str(0) != "":
			w.log.Error("a restarted worker could not load a function again", "function", p.fn.info.Spec.Name, "err", f.str(0))
		}
	}
}

// stats takes a worker's report of what it counted. The worker may be
// hostile: it can only misreport its own namespace's functions, and the
// records are read within the frame's bounds.
func (w *workerConn) stats(records []byte) {
	for len(records) >= 16 {
		id := binary.LittleEndian.Uint64(records)
		isolates := binary.LittleEndian.Uint64(records[8:])
		counts, rest, ok := stats.Parse(records[16:])
		if !ok {
			return
		}
		lastError, rest, ok := stats.ParseLastError(rest)
		if !ok {
			return
		}
		records = rest
		if fn := w.function(id); fn != nil {
			fn.isolates.Store(int32(min(isolates, math.MaxInt32)))
			fn.cb.Stats.Add(&counts)
			fn.cb.Stats.AddLastError(lastError)
		}
	}
}

func (w *workerConn) function(id uint64) *remoteFunction {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.functions[id]
}

var errHostUnavailable = &engine.HostError{Type: "Error", Code: "UNAVAILABLE", Message: "host services are not available"}

// hostCall starts a host-service call the worker asked for, or refuses it
// at once. The worker may be taken over, so what it sends bounds nothing:
// its calls in flight, and the bytes they hold, are bounded here, and a
// refused call costs no goroutine.
func (w *workerConn) hostCall(inc *incarnation, f *frame) {
	fn := w.function(f.u64(0))
	if fn == nil || fn.host == nil {
		inc.hostError(f.id, errHostUnavailable)
		return
	}
	if !inc.gate.tryAcquire(f.size) {
		inc.hostError(f.id, &engine.HostError{Type: "Error", Code: "UNAVAILABLE", Message: "too many host-service calls in flight"})
		return
	}
	w.b.wg.Add(1)
	go func() {
		defer w.b.wg.Done()
		w.host(inc, fn, f)
	}()
}

// host runs a host-service call for the worker with the function's own
// services and sends the answer back.
func (w *workerConn) host(inc *incarnation, fn *remoteFunction, f *frame) {
	// No call outlives its function's timeout, whatever deadline the
	// worker asked for (0 would mean none).
	deadline := time.Now().Add(fn.info.Spec.EffectiveTimeout())
	if d := f.u64(5); d != 0 && d <= math.MaxInt64 {
		if asked := time.Unix(0, int64(d)); asked.Before(deadline) {
			deadline = asked
		}
	}
	ctx, cancel := context.WithDeadline(inc.ctx, deadline)
	var reqBody []byte
	if f.str(4) == "1" {
		reqBody = f.field(3)
		if reqBody == nil {
			reqBody = []byte{}
		}
	}
	id, size := f.id, f.size
	result, body, err := fn.host.Call(ctx, f.str(1), f.field(2), reqBody)
	cancel()
	// Released before the answer goes out: the worker counts the call
	// until the answer arrives, so it never sends more than fits here.
	inc.gate.release(size)
	if err != nil {
		inc.hostError(id, err)
		return
	}
	var resultJSON []byte
	if result != nil {
		if resultJSON, err = json.Marshal(result); err != nil {
			inc.hostError(id, &engine.HostError{Type: "Error", Code: "INTERNAL", Message: "host service returned an unencodable result"})
			return
		}
	}
	hasBody := []byte("0")
	if body != nil {
		hasBody = []byte("1")
	}
	if size := frameSize([]byte("0"), resultJSON, body, hasBody); size > maxFrame {
		inc.hostError(id, &engine.HostError{Type: "Error", Code: "TOO_LARGE",
			Message: fmt.Sprintf("the result's %d bytes are over the limit of %d MiB for one host-service call", size, maxFrame>>20)})
		return
	}
	inc.out.send(frameHostResult, id, []byte("0"), resultJSON, body, hasBody)
}

// hostError answers a host call with an error.
func (inc *incarnation) hostError(id uint64, err error) {
	var he *engine.HostError
	if !errors.As(err, &he) {
		he = &engine.HostError{Type: "Error", Code: "INTERNAL", Message: "host service failed"}
	}
	msg, _ := json.Marshal(he)
	inc.out.send(frameHostResult, id, []byte("1"), msg, nil, nil)
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

// Isolates is what the worker last reported alive for the function
// (executor.IsolateCounter).
func (r *remoteRunner) Isolates() int { return int(r.fn.isolates.Load()) }

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
	fields := [][]byte{u64Field(fn.id), []byte(job.Subject), []byte(job.Reply), headers, job.Payload}
	if job.Meta != nil {
		fields = append(fields, job.Meta)
	}
	if err := out.queue(frameInvoke, id, fields...); err != nil {
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
	r.w.unload(ctx, r.fn)
	r.w.mu.Lock()
	delete(r.w.functions, r.fn.id)
	r.w.mu.Unlock()
	r.fn.release()
	r.w.b.release(r.w)
}
