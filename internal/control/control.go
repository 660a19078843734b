// Package control serves the control API: deploy, ls, info, rm, versions
// and rollback requests on $NATSFN.v1.<namespace>.<op>, answered from and
// written to the store, and the administrator's namespace API on
// $NATSFN.admin.v1.ns.<op>. Every node serves them in one queue group, so
// any node may answer.
//
// A node serves the control API once in natsfn's own account, for the
// administrator and every namespace, and once in each namespace's account
// (WithNamespace), where the account a request comes from decides the
// namespace, whatever the subject says.
package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/store"
)

// DefaultQueue is the queue group the nodes of one NATS system share.
const DefaultQueue = "natsfn-control"

const (
	// requestTimeout bounds one request, a deploy's compile check included.
	requestTimeout = time.Minute
	// flushTimeout bounds Start when its context has no deadline.
	flushTimeout = 10 * time.Second
	// maxInFlight bounds the requests handled at once; more wait in NATS.
	maxInFlight = 32
)

// CheckFunc vets a deploy before it is stored, typically by compiling
// script. An *api.Error it returns reaches the client as is; any other error
// becomes a 400 "bundle does not compile".
type CheckFunc func(ctx context.Context, spec api.FunctionSpec, script []byte) error

// Option configures Start.
type Option func(*options) error

// DeployedFunc is told about each deploy once it is stored, and may hold the
// reply until the new version is served.
type DeployedFunc func(ctx context.Context, info api.FunctionInfo) error

type options struct {
	logger    *slog.Logger
	check     CheckFunc
	deployed  DeployedFunc
	queue     string
	namespace string
	uploads   *store.Uploads
	dataConn  func(namespace string) (*nats.Conn, error)
	// refusals and refusalConns: see WithRefusals.
	refusals     func(*nats.Conn) *natsperm.Violations
	refusalConns []*nats.Conn
}

// WithNamespace serves one namespace only: the connection is in that
// namespace's account, so every request on it comes from that namespace.
// Requests naming another namespace are refused with 403.
func WithNamespace(ns string) Option {
	return func(o *options) error {
		if err := api.ValidateName("namespace", ns); err != nil {
			return fmt.Errorf("natsfn: control: %w", err)
		}
		o.namespace = ns
		return nil
	}
}

// WithUploads reads deploys' bundles from uploads, the staging area in the
// connection's account; the store's own by default.
func WithUploads(uploads *store.Uploads) Option {
	return func(o *options) error {
		o.uploads = uploads
		return nil
	}
}

// WithLogger sets where the server logs requests and failures.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("natsfn: control: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithCheck sets the hook that vets each deploy.
func WithCheck(check CheckFunc) Option {
	return func(o *options) error {
		o.check = check
		return nil
	}
}

// WithDeployed sets the hook called after each successful deploy, before
// the reply. Its error is logged; the deploy stands, unless the error is
// an *api.Error: then the deploy's reply is that error (the version is
// stored but cannot be served).
func WithDeployed(deployed DeployedFunc) Option {
	return func(o *options) error {
		o.deployed = deployed
		return nil
	}
}

// WithQueue sets the queue group, DefaultQueue by default.
func WithQueue(name string) Option {
	return func(o *options) error {
		if name == "" {
			return errors.New("natsfn: control: empty queue group")
		}
		o.queue = name
		return nil
	}
}

// Server answers control requests until Close.
type Server struct {
	nc    *nats.Conn
	st    *store.Store
	opts  options
	route func(ctx context.Context, subject string, data []byte) ([]byte, *api.Error)
	sub   *nats.Subscription
	sem   chan struct{}
	// base is every request's parent context; Close cancels it, so a
	// request waiting on something that will not come (a worker that
	// cannot start) does not hold shutdown up.
	base       context.Context
	cancelBase context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Start subscribes to the control subjects and returns once the NATS server
// knows about the subscription, so a request sent after Start is answered.
func Start(ctx context.Context, nc *nats.Conn, st *store.Store, opts ...Option) (*Server, error) {
	o := options{logger: slog.New(slog.DiscardHandler), queue: DefaultQueue}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.uploads == nil {
		o.uploads = st.Uploads()
	}
	s := &Server{nc: nc, st: st, opts: o}
	s.route = s.handle
	return s, s.subscribe(ctx, nc, api.ControlPrefix+".>")
}

// subscribe starts taking requests on subject.
func (s *Server) subscribe(ctx context.Context, nc *nats.Conn, subject string) error {
	o := s.opts
	s.sem = make(chan struct{}, maxInFlight)
	s.base, s.cancelBase = context.WithCancel(context.Background())
	sub, err := nc.QueueSubscribe(subject, o.queue, s.dispatch)
	if err != nil {
		s.cancelBase()
		return fmt.Errorf("natsfn: control: subscribe: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		_ = sub.Unsubscribe()
		s.cancelBase()
		return fmt.Errorf("natsfn: control: subscribe: %w", err)
	}
	s.sub = sub
	return nil
}

// dispatch hands each request to its own goroutine, so a slow deploy does
// not hold up a listing; the semaphore bounds how many run.
func (s *Server) dispatch(msg *nats.Msg) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.sem <- struct{}{}
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.serve(msg)
	}()
}

// Close stops taking requests and waits for those in flight. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancelBase()
	err := s.sub.Unsubscribe()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		err = nil
	}
	s.wg.Wait()
	return err
}

// Drain stops taking requests, so that other nodes in the queue group get
// them, answers those already received, and waits for them until ctx ends;
// then it closes. Requests still running then are cancelled.
func (s *Server) Drain(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	handedOver := s.sub.StatusChanged(nats.SubscriptionClosed)
	if s.sub.Drain() != nil {
		return s.Close()
	}
	select {
	case <-handedOver:
	case <-ctx.Done():
		return s.Close()
	}
	// The subscription is closed, so nothing more is dispatched and the
	// wait group only falls.
	answered := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(answered)
	}()
	select {
	case <-answered:
	case <-ctx.Done():
	}
	return s.Close()
}
