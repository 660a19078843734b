package hostsvc

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/natsperm"
)

// Identity names the function a Services value serves.
type Identity struct {
	Namespace string
	Name      string
	// Triggers are the function's trigger subjects: it may not publish or
	// request on them, which would run it again and again.
	Triggers []string
}

// Services serves the host services of one function. It is safe for
// concurrent use by all isolates of that function.
type Services struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	fn       Identity
	cfg      Config
	kv       lazy[jetstream.KeyValue]
	objects  lazy[jetstream.ObjectStore]
	http     *http.Client
	subjects []string // Messaging.AllowedSubjects
	sends    *tokenBucket
	refusals *natsperm.Violations        // nc's, or nil
	openKV   func(context.Context) error // WithOpener's, or nil: create the bucket here
}

// Option is an optional setting of New.
type Option func(*Services)

// WithViolations gives the permission errors of the connection: a call
// the server refuses then fails at once with PERMISSION_DENIED, where it
// would otherwise wait for a reply that never comes.
func WithViolations(v *natsperm.Violations) Option {
	return func(s *Services) { s.refusals = v }
}

// New returns the host services of fn over nc. Buckets are created on first
// use, not here, so a function that never touches its KV costs nothing.
func New(nc *nats.Conn, fn Identity, cfg Config, opts ...Option) (*Services, error) {
	if nc == nil {
		return nil, fmt.Errorf("hostsvc: no NATS connection")
	}
	if err := api.ValidateName("namespace", fn.Namespace); err != nil {
		return nil, fmt.Errorf("hostsvc: %w", err)
	}
	if err := api.ValidateName("name", fn.Name); err != nil {
		return nil, fmt.Errorf("hostsvc: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("hostsvc: %w", err)
	}
	s := &Services{
		nc:       nc,
		js:       js,
		fn:       fn,
		cfg:      cfg,
		kv:       newLazy[jetstream.KeyValue](),
		objects:  newLazy[jetstream.ObjectStore](),
		subjects: slices.Clone(cfg.Messaging.AllowedSubjects),
		sends:    newTokenBucket(cfg.Messaging.MaxRate, cfg.Messaging.MaxBurst, time.Now()),
	}
	s.fn.Triggers = slices.Clone(fn.Triggers)
	for _, o := range opts {
		o(s)
	}
	if !cfg.HTTP.Disabled {
		if s.http, err = newHTTPClient(cfg.HTTP); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close releases the idle HTTP connections of the function. It is
// idempotent; the Services value must not be used afterwards.
func (s *Services) Close() error {
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	return nil
}

// lazy holds a value created on first use. A failed creation is retried by
// the next caller; callers waiting for a creation in progress give up when
// their context ends.
type lazy[T any] struct {
	sem chan struct{} // held while creating
	v   *atomic.Pointer[T]
}

func newLazy[T any]() lazy[T] {
	return lazy[T]{sem: make(chan struct{}, 1), v: new(atomic.Pointer[T])}
}

func (l lazy[T]) get(ctx context.Context, create func(context.Context) (T, error)) (T, error) {
	if v := l.v.Load(); v != nil {
		return *v, nil
	}
	var zero T
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	defer func() { <-l.sem }()
	if v := l.v.Load(); v != nil {
		return *v, nil
	}
	v, err := create(ctx)
	if err != nil {
		return zero, err
	}
	l.v.Store(&v)
	return v, nil
}

// tokenBucket bounds a rate: it holds up to burst tokens, refilled at rate
// per second, and each take spends one.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take spends a token if there is one.
func (b *tokenBucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
