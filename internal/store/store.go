// Package store keeps natsfn's desired state in JetStream: function specs in
// a KV bucket, their bundles in an object store, the namespaces in a second
// KV bucket, staged uploads in an object store that forgets them after a
// while, and the stream that keeps recent function logs. Uploads and logs
// exist in every account functions run in (OpenAccount). Every node opens the same buckets, so any node can
// serve any function.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/jsbucket"
)

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound       = errors.New("natsfn: function not found")
	ErrUploadNotFound = errors.New("natsfn: upload not found")
	ErrUploadTooLarge = errors.New("natsfn: upload is too large")
	ErrDigestMismatch = errors.New("natsfn: bundle does not match its digest")
	ErrConflict       = errors.New("natsfn: function changed concurrently")
	// ErrWatchStopped: JetStream ended a watch of a bucket (its consumer
	// was lost and could not be made again).
	ErrWatchStopped = errors.New("natsfn: the watch stopped: JetStream lost its consumer")
)

// Retention of staged uploads and logs.
const (
	// UploadMaxAge is how long a staged upload no deploy took is kept: a
	// deploy takes its upload within a minute.
	UploadMaxAge = 15 * time.Minute
	// UploadMaxBytes bounds an account's staging area: room for a few
	// deploys of the largest bundle at once. An account with a storage
	// limit gets at most a quarter of it, as for its logs.
	UploadMaxBytes     = 4 * api.MaxBundleBytes
	LogMaxAge          = 24 * time.Hour
	LogMaxMsgsPerFunc  = 1000
	LogMaxBytes        = 64 << 20
	putConflictRetries = 5
)

// Store is the desired state of every namespace. It is safe for concurrent
// use.
type Store struct {
	js        jetstream.JetStream
	functions jetstream.KeyValue
	// functionsStream reads single messages of functions from the
	// stream's leader (current.go).
	functionsStream jetstream.Stream
	bundles         jetstream.ObjectStore
	namespaces      jetstream.KeyValue
	uploads         *Uploads
	replicas        int
	asked           int
	opened          []Opened
}

// Opened is how Open found one of natsfn's buckets or streams.
type Opened struct {
	Name string
	jsbucket.Result
}

// DefaultReplicas is what a new NATS system's state is kept with where the
// cluster can place it; a single server keeps one copy.
const DefaultReplicas = 3

// Option configures Open.
type Option func(*options) error

type options struct {
	replicas int
}

// WithReplicas asks for n copies of natsfn's state and of every function's
// bucket. It raises what exists and never lowers it: Replicas says what
// the system keeps. Without it the system's setting applies (the replicas
// of the functions bucket), and a new system gets DefaultReplicas where
// the cluster can place them.
func WithReplicas(n int) Option {
	return func(o *options) error {
		if n < 1 || n > jsbucket.MaxReplicas {
			return fmt.Errorf("natsfn: replicas must be between 1 and %d", jsbucket.MaxReplicas)
		}
		o.replicas = n
		return nil
	}
}

// Open creates the buckets and the log stream, or binds to them when another
// node already has, and updates their limits to this version's. Replicas
// are never lowered.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &Store{js: js, asked: o.replicas}
	// The functions bucket's replicas are the system's setting: every
	// node reads them, and one asked for more raises them.
	have, exists, err := jsbucket.Replicas(ctx, js, "KV_"+api.FunctionsBucket)
	if err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.FunctionsBucket, err)
	}
	want := o.replicas
	switch {
	case want == 0 && exists:
		want = have
	case want == 0:
		want = DefaultReplicas
	}
	functions, res, err := jsbucket.KeyValue(ctx, js, functionsConfig(want))
	if err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.FunctionsBucket, err)
	}
	s.note(api.FunctionsBucket, res)
	s.functions = functions
	if s.functionsStream, err = js.Stream(ctx, "KV_"+api.FunctionsBucket); err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.FunctionsBucket, err)
	}
	s.replicas = res.Replicas
	if res.Short && !jsbucket.NotClustered(res.ShortErr) {
		// A server is down: the rest aims for what was asked, and gets
		// it once the cluster can place it.
		s.replicas = max(res.Replicas, want)
	}
	bundles, res, err := jsbucket.ObjectStore(ctx, js, bundlesConfig(s.replicas))
	if err != nil {
		return nil, fmt.Errorf("natsfn: open object store %s: %w", api.BundlesBucket, err)
	}
	s.note(api.BundlesBucket, res)
	s.bundles = bundles
	namespaces, res, err := jsbucket.KeyValue(ctx, js, namespacesConfig(s.replicas))
	if err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.NamespacesBucket, err)
	}
	s.note(api.NamespacesBucket, res)
	s.namespaces = namespaces
	uploads, opened, err := OpenAccount(ctx, js, s.replicas, LogMaxBytes)
	if err != nil {
		return nil, err
	}
	s.opened = append(s.opened, opened...)
	s.uploads = uploads
	return s, nil
}

func (s *Store) note(name string, res jsbucket.Result) {
	s.opened = append(s.opened, Opened{Name: name, Result: res})
}

// Replicas is the system's setting: the copies every bucket natsfn makes
// is asked to have.
func (s *Store) Replicas() int { return s.replicas }

// AskedReplicas is what WithReplicas asked for; 0 without it.
func (s *Store) AskedReplicas() int { return s.asked }

// Opened says how Open found each bucket and stream, for the node's log.
func (s *Store) Opened() []Opened { return slices.Clone(s.opened) }

func functionsConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      api.FunctionsBucket,
		Description: "natsfn desired state: one FunctionInfo per <namespace>.<name>",
		// The versions a rollback can go back to.
		History:  api.KeptVersions,
		Storage:  jetstream.FileStorage,
		Replicas: replicas,
	}
}

func bundlesConfig(replicas int) jetstream.ObjectStoreConfig {
	return jetstream.ObjectStoreConfig{
		Bucket:      api.BundlesBucket,
		Description: "natsfn bundles: <namespace>.<name>.<digest>, one per version the functions bucket keeps",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

func namespacesConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      api.NamespacesBucket,
		Description: "natsfn namespaces: the account of each, and its limits",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}
}

// OpenAccount creates, or binds to, what natsfn keeps in an account that
// functions run in, the namespace's own or a shared one: the staging area
// for uploads (UploadMaxBytes at most) and the stream of function logs
// (logBytes at most), with at least replicas copies. A store or stream
// that exists takes the limits of this version, and keeps more replicas
// if it has them.
func OpenAccount(ctx context.Context, js jetstream.JetStream, replicas int, logBytes int64) (*Uploads, []Opened, error) {
	uploadBytes := int64(UploadMaxBytes)
	if ai, err := js.AccountInfo(ctx); err == nil && ai.Limits.MaxStore > 0 {
		// MaxBytes is reserved out of the account's storage.
		uploadBytes = min(uploadBytes, ai.Limits.MaxStore/4)
	}
	uploads, upRes, err := jsbucket.ObjectStore(ctx, js, jetstream.ObjectStoreConfig{
		Bucket:      api.UploadsBucket,
		Description: "natsfn staged uploads; abandoned ones expire",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		TTL:         UploadMaxAge,
		MaxBytes:    uploadBytes,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("natsfn: open object store %s: %w", api.UploadsBucket, err)
	}
	logRes, err := jsbucket.Stream(ctx, js, jetstream.StreamConfig{
		Name:              api.LogStream,
		Description:       "natsfn function logs",
		Subjects:          []string{api.LogPrefix + ".>"},
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		MaxAge:            LogMaxAge,
		MaxMsgsPerSubject: LogMaxMsgsPerFunc,
		MaxBytes:          logBytes,
		Discard:           jetstream.DiscardOld,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("natsfn: open stream %s: %w", api.LogStream, err)
	}
	return &Uploads{store: uploads}, []Opened{{Name: api.UploadsBucket, Result: upRes}, {Name: api.LogStream, Result: logRes}}, nil
}

// validateNames keeps malformed names, which could carry subject wildcards,
// away from bucket keys.
func validateNames(namespace, name string) error {
	if err := api.ValidateName("namespace", namespace); err != nil {
		return fmt.Errorf("natsfn: %w", err)
	}
	if err := api.ValidateName("name", name); err != nil {
		return fmt.Errorf("natsfn: %w", err)
	}
	return nil
}
