// Package node is the natsfn daemon: it connects to NATS (starting an
// embedded server when no URL is given), serves the control API, and runs
// every deployed function by reconciling from the desired state in JetStream.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/metrics"
	"github.com/natsfn/natsfn/internal/natsconn"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/natsserver"
	"github.com/natsfn/natsfn/internal/stats"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/worker"
)

// Config configures a node. The zero value (plus a DataDir) runs an
// embedded server on 127.0.0.1:4222 with the sandbox chosen automatically.
type Config struct {
	// ServerURL joins an existing NATS system; empty starts an embedded one.
	// It may list several servers, comma-separated, and carry a user and
	// password (never logged).
	ServerURL string
	// Creds is a NATS credentials file for ServerURL.
	Creds string
	// NKey is a file holding an nkey seed to log in to ServerURL with.
	NKey string
	// TLSCert and TLSKey are a client certificate and its key, and TLSCA
	// the authorities that sign the servers' certificates, all PEM files.
	TLSCert, TLSKey, TLSCA string
	// Listen is the embedded server's client address, "127.0.0.1:4222" by
	// default; port -1 picks a free port.
	Listen string
	// DataDir holds the embedded server's JetStream store.
	DataDir string
	// Sandbox is "auto" (the default), "process" or "none".
	Sandbox string
	// WorkerPath is the binary started as a worker process; natsfn's own
	// executable by default. Its main must call worker.Main when
	// worker.IsWorker().
	WorkerPath string
	// WorkerMemory limits each sandboxed worker's memory (its cgroup); 0
	// means DefaultWorkerMemory. WorkerPids limits its threads; 0 means
	// DefaultWorkerPids.
	WorkerMemory int64
	WorkerPids   int
	// MaxIsolates bounds the isolates alive at once in each worker (in
	// process: in the node), the longest idle disposed first; 0 means one
	// per isolateBudgetBytes of WorkerMemory.
	MaxIsolates int
	// HideExceptions keeps the message of a function's exception out of
	// the error its caller sees (engine.Options.HideExceptions).
	HideExceptions bool
	// Name identifies this node in logs and `natsfn nodes`; by default the
	// host name and a random suffix (defaultName).
	Name string
	// Logger receives the node's log, the embedded server's included.
	Logger *slog.Logger
	// Services configures the host services of every function.
	Services Services
	// IdleTimeout disposes isolates unused this long; 0 means a minute.
	IdleTimeout time.Duration

	// MaxWorkers caps the namespaces' workers alive at once; 0 means
	// DefaultMaxWorkers.
	MaxWorkers int
	// WorkerMemoryBudget bounds the memory limits of the worker and check
	// processes alive at once, added up; 0 means twice the machine's memory,
	// and at least one WorkerMemory.
	WorkerMemoryBudget int64
	// CheckMemory limits the process that runs a bundle's top level before
	// a deploy; 0 means DefaultCheckMemory, and never more than WorkerMemory.
	CheckMemory int64
	// WorkerIdle is how long a namespace's worker lives on once nothing is
	// deployed in it; 0 means 5 seconds.
	WorkerIdle time.Duration
	// MaxHostCalls bounds one namespace's host-service calls in flight in
	// the node, and HostCallBytes the bytes they carry; more wait for
	// their turn, within their function's timeout. 0 means 128 calls and
	// 64 MiB.
	MaxHostCalls  int
	HostCallBytes int64

	// Metrics, when set, is the HOST:PORT where the node serves Prometheus
	// metrics (/metrics) and its health (/healthz, /readyz) over HTTP.
	Metrics string
	// MetricsFunctions is how many functions of each namespace get series
	// of their own; the others share function="_other". 0 means
	// stats.DefaultMaxFunctions.
	MetricsFunctions int

	// testHookStarting, when set, runs just before the node is ready
	// (tests only).
	testHookStarting func(*Node)

	// Replicas asks for this many copies of natsfn's state and of every
	// function's bucket; 0 keeps the system's setting (3 on a new cluster
	// that can place them, 1 on a single server). It raises what exists
	// and never lowers it.
	Replicas int
}

// Defaults of the per-namespace worker limits.
const (
	DefaultWorkerMemory = 2 << 30
	DefaultWorkerPids   = 512
	DefaultMaxWorkers   = 64
	DefaultCheckMemory  = 512 << 20
)

// isolateBudgetBytes is what the default isolate budget allows for each
// isolate: a served echo's isolate takes about 1 MiB, and room is left for
// heaps that grow (docs/performance.md).
const isolateBudgetBytes = 4 << 20

// Node is a running natsfn node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	server *natsserver.Server // nil when joining an existing system
	nc     *nats.Conn
	store  *store.Store
	exec   *executor.Executor
	ctl    *control.Server
	admin  *control.Server

	tenants    tenants
	reconciled atomic.Bool // the desired state at start is applied
	sandbox    string      // how functions run, for NodeInfo
	started    time.Time

	// Observability: the counts of calls, the metrics server, the micro
	// service, and how far a starting node is (for /readyz).
	stats   *stats.Registry
	metrics *metrics.Server
	service micro.Service
	serving atomic.Bool // Start has finished: the node serves its functions
	phase   atomic.Pointer[string]

	backend executor.Backend
	loaded  loadedSet
	// refusals are the permission errors of each of the node's
	// connections, by *nats.Conn.
	refusals sync.Map
	served   servedSet

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	// Draining: see drain.go.
	draining   atomic.Bool
	drainOnce  sync.Once
	drainSub   *nats.Subscription
	drainBegan time.Time
	done       chan struct{} // closed once Close has finished
}

// Start starts a node and returns once it serves the control API and every
// function already deployed. Close stops it.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = defaultName()
	}
	if cfg.WorkerMemory == 0 {
		cfg.WorkerMemory = DefaultWorkerMemory
	}
	if cfg.WorkerPids == 0 {
		cfg.WorkerPids = DefaultWorkerPids
	}
	if cfg.MaxIsolates == 0 {
		cfg.MaxIsolates = int(max(16, cfg.WorkerMemory/isolateBudgetBytes))
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = DefaultMaxWorkers
	}
	if cfg.CheckMemory == 0 {
		cfg.CheckMemory = DefaultCheckMemory
	}
	cfg.CheckMemory = min(cfg.CheckMemory, cfg.WorkerMemory)
	if cfg.WorkerMemoryBudget == 0 {
		// Limits are ceilings, and most workers stay far below theirs:
		// the budget overcommits twice, and the cgroups stay the hard limit.
		cfg.WorkerMemoryBudget = max(worker.TotalMemory()*2, cfg.WorkerMemory)
	}
	if err := cfg.Services.Config.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("subsystem", "node"), started: time.Now().UTC(),
		stats: stats.NewRegistry(cfg.MetricsFunctions), done: make(chan struct{})}
	runCtx, stop := context.WithCancel(context.Background())
	n.stop = stop
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	n.setPhase("connecting to NATS")
	if cfg.Metrics != "" {
		// First, so that /readyz answers while the node starts.
		var err error
		if n.metrics, err = metrics.Start(cfg.Metrics, n); err != nil {
			return nil, err
		}
		n.log.Info("serving metrics", "url", "http://"+n.metrics.Addr()+"/metrics")
	}

	var creds nats.Option
	if cfg.ServerURL == "" {
		listen := cfg.Listen
		if listen == "" {
			listen = "127.0.0.1:4222"
		}
		srv, err := natsserver.Start(natsserver.Config{Listen: listen, DataDir: cfg.DataDir, ServerName: cfg.Name, Logger: cfg.Logger, Accounts: true})
		if err != nil {
			return nil, err
		}
		n.server = srv
		nodeCreds, err := n.startSystemAccount()
		if err != nil {
			return nil, err
		}
		creds = nats.UserJWTAndSeed(nodeCreds.JWT, string(nodeCreds.Seed))
	} else if err := n.auth().Validate(); err != nil {
		return nil, fmt.Errorf("natsfn: %w", err)
	}
	url := n.ClientURL()
	nc, err := n.connect("natsfn-node "+cfg.Name, creds)
	if err != nil {
		return nil, fmt.Errorf("natsfn: connect to %s: %w", natsconn.Redact(url), err)
	}
	n.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	n.setPhase("opening the desired state in JetStream")
	if n.store, err = n.openStore(ctx, js); err != nil {
		return nil, err
	}
	if n.backend, err = n.chooseBackend(); err != nil {
		return nil, err
	}
	n.exec = executor.New(executor.Config{
		ConnFor:  n.connFor,
		Refusals: n.refusalsOf,
		Backend:  n.backend,
		Logger:   cfg.Logger.With("subsystem", "function"),
		Node:     cfg.Name,
		Stats:    n.stats.For,
	})
	n.setPhase("loading the functions deployed")

	if err := n.waitForJetStream(ctx, "watch the namespaces", func(attempt context.Context) error {
		return n.watchNamespaces(attempt, runCtx)
	}); err != nil {
		return nil, fmt.Errorf("natsfn: namespaces: %w", err)
	}
	if n.server == nil && len(n.tenants.all()) == 0 {
		n.log.Warn("NAMESPACES NOT ISOLATED: no namespace of this NATS system has an account of its own, so every namespace shares the node's account; see docs/tenancy.md")
	}
	ready := make(chan error, 1)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.reconcile(runCtx, ready)
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	n.reconciled.Store(true)
	if n.ctl, err = control.Start(ctx, nc, n.store, control.WithCheck(n.check), control.WithDeployed(n.waitLoaded),
		control.WithDataConn(n.connFor), control.WithRefusals(n.refusalsOf, nc),
		control.WithLogger(cfg.Logger.With("subsystem", "control"))); err != nil {
		return nil, err
	}
	if n.admin, err = control.StartAdmin(ctx, nc, (*namespaceAdmin)(n), control.WithRefusals(n.refusalsOf),
		control.WithLogger(cfg.Logger.With("subsystem", "admin"))); err != nil {
		return nil, err
	}
	if n.service, err = n.startService(); err != nil {
		return nil, fmt.Errorf("natsfn: micro service: %w", err)
	}
	if cfg.testHookStarting != nil {
		cfg.testHookStarting(n)
	}
	if n.drainSub, err = n.serveDrain(); err != nil {
		return nil, err
	}
	n.serving.Store(true)
	ok = true
	n.log.Info("node ready", "nats", natsconn.Redact(url), "name", cfg.Name)
	return n, nil
}

// defaultName names a node that was given no name: its host's name and a
// random suffix, so that several nodes on one host (or in containers that
// share a host name) tell apart in logs and in `natsfn nodes`.
func defaultName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "natsfn"
	}
	id := strings.ToLower(nuid.Next())
	return host + "-" + id[len(id)-5:]
}

// ClientURL is the NATS URL clients use to reach this node's NATS system.
func (n *Node) ClientURL() string {
	if n.server != nil {
		return n.server.ClientURL()
	}
	return n.cfg.ServerURL
}

// LogLinesLost is how many function log lines the log stream did not store
// since the node started; each loss is also reported in the node's log.
func (n *Node) LogLinesLost() uint64 { return n.exec.LogLinesLost() }

// Close drains the node and leaves: it stops taking control requests
// (other nodes answer them) and new calls (the queue groups hand them to
// other nodes), finishes the calls in flight, within their functions'
// timeouts, tells the administrator's API it has drained, and shuts the
// embedded server down. It is safe to call more than once, and returns
// once the node is gone. See drain.go.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		defer close(n.done)
		n.beginDrain()
		n.drainControl()
		if n.stop != nil {
			n.stop()
		}
		n.wg.Wait()
		if n.exec != nil {
			n.exec.Close()
		}
		if b, ok := n.backend.(interface{ Close() }); ok {
			b.Close()
		}
		if n.service != nil {
			_ = n.service.Stop()
		}
		if n.drainSub != nil {
			_ = n.drainSub.Unsubscribe()
		}
		for _, t := range n.tenants.all() {
			flushReplies(t.nc)
			t.close()
		}
		if n.nc != nil {
			n.announceDrained()
			n.nc.Drain()
			n.nc.Close()
		}
		if n.server != nil {
			n.server.Shutdown()
		}
		if n.metrics != nil {
			n.metrics.Close()
		}
		if !n.drainBegan.IsZero() {
			n.log.Info("drained; leaving", "took", time.Since(n.drainBegan).Round(time.Millisecond))
		}
	})
	return nil
}

// Waiting for JetStream at start: each attempt is bounded, and the pause
// between attempts doubles up to a ceiling.
const (
	openAttemptTimeout = 10 * time.Second
	openBackoffMin     = 250 * time.Millisecond
	openBackoffMax     = 10 * time.Second
)

// openStore opens the desired state, waiting for JetStream for as long as
// ctx allows.
func (n *Node) openStore(ctx context.Context, js jetstream.JetStream) (*store.Store, error) {
	var opts []store.Option
	if n.cfg.Replicas > 0 {
		opts = append(opts, store.WithReplicas(n.cfg.Replicas))
	}
	var st *store.Store
	err := n.waitForJetStream(ctx, "open the desired state", func(ctx context.Context) error {
		var err error
		st, err = store.Open(ctx, js, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	n.logReplicas(st)
	return st, nil
}

// waitForJetStream runs op until it succeeds or ctx ends, saying what it
// waits for: on a cluster a node may start while a server is down or no
// meta leader is elected yet, and should serve once JetStream answers, not
// exit. Each attempt is bounded, and the pause between attempts doubles up
// to a ceiling.
func (n *Node) waitForJetStream(ctx context.Context, what string, op func(context.Context) error) error {
	backoff := openBackoffMin
	for {
		attempt, cancel := context.WithTimeout(ctx, openAttemptTimeout)
		err := op(attempt)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("natsfn: %s (is JetStream enabled and reachable?): %w", what, err)
		}
		n.log.Warn("waiting for JetStream to "+what+" (is it enabled, and does the cluster have a leader?)",
			"err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("natsfn: %s (is JetStream enabled and reachable?): %w", what, err)
		}
		backoff = min(2*backoff, openBackoffMax)
	}
}

// auth is how this node logs in to the NATS system it joins.
func (n *Node) auth() natsconn.Auth {
	return natsconn.Auth{Creds: n.cfg.Creds, NKey: n.cfg.NKey, TLSCert: n.cfg.TLSCert, TLSKey: n.cfg.TLSKey, TLSCA: n.cfg.TLSCA}
}

// logReplicas says how many copies the system keeps, and warns where it
// keeps fewer than asked or more than this node asked for.
func (n *Node) logReplicas(st *store.Store) {
	n.log.Info("desired state opened", "replicas", st.Replicas())
	if asked := st.AskedReplicas(); asked > 0 && asked < st.Replicas() {
		n.log.Warn("--replicas is lower than what the NATS system keeps: natsfn never lowers replicas, so they stay as they are (lower them with `nats stream edit` if you mean it)",
			"asked", asked, "replicas", st.Replicas())
	}
	n.logOpened(st.Opened())
}

// logOpened warns of buckets that have fewer replicas than asked.
func (n *Node) logOpened(opened []store.Opened) {
	for _, o := range opened {
		if o.Short {
			n.log.Warn("a bucket has fewer replicas than asked: the cluster cannot place more now (a server down, or fewer servers); a node started later raises them",
				"bucket", o.Name, "replicas", o.Replicas, "err", o.ShortErr)
		}
	}
}

// connect opens a connection of this node's: in memory to the embedded
// server, else to the NATS system at ServerURL, with creds or, when nil,
// the node's own credentials (Config's Creds or NKey). Every connection to
// a system it joins uses Config's TLS settings.
func (n *Node) connect(name string, creds nats.Option) (*nats.Conn, error) {
	refusals := natsperm.New()
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: the node closed its own connection
				n.log.Warn("disconnected from NATS", "connection", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("reconnected to NATS", "connection", name, "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			refusals.Report(err)
			n.log.Warn("NATS error", "connection", name, "subject", subjectOf(s), "err", err)
		}),
		nats.ClosedHandler(func(c *nats.Conn) { n.refusals.Delete(c) }),
	}
	switch {
	case n.server != nil:
		if creds != nil {
			opts = append(opts, creds)
		}
	case creds != nil:
		opts = append(opts, creds)
		opts = append(opts, n.auth().TLSOptions()...)
	default:
		own, err := n.auth().Options()
		if err != nil {
			return nil, err
		}
		opts = append(opts, own...)
	}
	if n.server != nil {
		// The node talks to its own embedded server in memory, without
		// loopback TCP syscalls.
		opts = append(opts, nats.InProcessServer(n.server.Inner()))
	}
	nc, err := nats.Connect(n.ClientURL(), opts...)
	if err != nil {
		return nil, err
	}
	n.refusals.Store(nc, refusals)
	return nc, nil
}

// refusalsOf are the permission errors of one of the node's connections;
// nil for another connection.
func (n *Node) refusalsOf(nc *nats.Conn) *natsperm.Violations {
	if v, ok := n.refusals.Load(nc); ok {
		return v.(*natsperm.Violations)
	}
	return nil
}

// reloadNamespace applies the desired state of a namespace that this node
// began to serve after its functions were deployed.
func (n *Node) reloadNamespace(ctx context.Context, namespace string) {
	fns, err := n.store.List(ctx, namespace)
	if err != nil {
		n.log.Error("cannot list the functions of a new namespace", "namespace", namespace, "err", err)
		return
	}
	for i := range fns {
		pause := retryPauseMin
		for attempt := 0; n.apply(ctx, &fns[i], attempt) && attempt+1 < reportAfter; attempt++ {
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return
			}
			pause *= 2
		}
	}
}

// check compiles a bundle and runs its top level before a deploy is
// accepted, so that a broken script is refused with the reason.
func (n *Node) check(ctx context.Context, spec api.FunctionSpec, script []byte) error {
	if _, err := n.connFor(spec.Namespace); err != nil {
		return err // a namespace that does not exist, or is not served here
	}
	if err := n.checkHTTPAllow(spec); err != nil {
		return err
	}
	if conn, err := n.connFor(spec.Namespace); err == nil {
		if err := n.checkTriggers(ctx, conn, spec); err != nil {
			return err
		}
	}
	return n.backend.Check(ctx, spec, script)
}

// waitLoaded holds a deploy's reply until this node serves the new version,
// so that a request sent right after `natsfn deploy` finds it. A version
// whose trigger NATS refuses to subscribe fails the deploy: no node with
// the same permissions can serve it.
func (n *Node) waitLoaded(ctx context.Context, info api.FunctionInfo) error {
	err := n.loaded.wait(ctx, info.Spec.Key(), info.Revision)
	if errors.Is(err, executor.ErrSubscribeRefused) {
		return api.Errorf(api.CodeForbidden, "deployed as revision %d, but not served: %v (grant the permission, or remove the function with `natsfn rm %s`)",
			info.Revision, err, info.Spec.Name)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The deploy's own time is up: logged by the control API, the
		// deploy stands, and the node goes on loading it.
		return fmt.Errorf("not served yet: %v", err)
	}
	if err != nil {
		return api.Errorf(api.CodeUnavailable, "deployed as revision %d, but this node could not serve it: %v (it keeps trying; `natsfn rm %s` removes it)",
			info.Revision, err, info.Spec.Name)
	}
	return nil
}

// triggerCheckTimeout bounds asking the server about a deploy's triggers.
const triggerCheckTimeout = 10 * time.Second

// checkTriggers refuses a deploy whose trigger this node's NATS user may not
// subscribe to, before it becomes desired state that no node can serve. It
// subscribes to each outside any queue group, which takes no message from
// the function's queue group, and asks the server.
func (n *Node) checkTriggers(ctx context.Context, conn *nats.Conn, spec api.FunctionSpec) error {
	refusals := n.refusalsOf(conn)
	if refusals == nil {
		return nil
	}
	// nats.go flushes only with a deadline.
	ctx, cancel := context.WithTimeout(ctx, triggerCheckTimeout)
	defer cancel()
	mark := refusals.Mark(conn)
	for _, t := range spec.Triggers {
		sub, err := conn.SubscribeSync(t)
		if err != nil {
			return api.Errorf(api.CodeBadRequest, "trigger %q: %v", t, err)
		}
		defer sub.Unsubscribe()
	}
	if err := conn.FlushWithContext(ctx); err != nil {
		return api.Errorf(api.CodeUnavailable, "cannot ask NATS about the triggers: %v", err)
	}
	for _, t := range spec.Triggers {
		if r := refusals.Subscribed(ctx, conn, mark, t, ""); r != nil {
			return api.Errorf(api.CodeForbidden, "trigger %q: the node's NATS permissions do not allow subscribing to it (%v)", t, r)
		}
	}
	return nil
}

func subjectOf(s *nats.Subscription) string {
	if s == nil {
		return ""
	}
	return s.Subject
}
