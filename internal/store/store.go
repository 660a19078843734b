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
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound       = errors.New("natsfn: function not found")
	ErrUploadNotFound = errors.New("natsfn: upload not found")
	ErrUploadTooLarge = errors.New("natsfn: upload is too large")
	ErrDigestMismatch = errors.New("natsfn: bundle does not match its digest")
	ErrConflict       = errors.New("natsfn: function changed concurrently")
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
	defaultReplicas    = 1
	maxReplicas        = 5
	putConflictRetries = 5
)

// Store is the desired state of every namespace. It is safe for concurrent
// use.
type Store struct {
	functions  jetstream.KeyValue
	bundles    jetstream.ObjectStore
	namespaces jetstream.KeyValue
	uploads    *Uploads
}

// Option configures Open.
type Option func(*options) error

type options struct {
	replicas int
}

// WithReplicas sets how many copies JetStream keeps of each bucket and of the
// log stream when Open creates them; 1 by default, 3 suits a cluster.
func WithReplicas(n int) Option {
	return func(o *options) error {
		if n < 1 || n > maxReplicas {
			return fmt.Errorf("natsfn: replicas must be between 1 and %d", maxReplicas)
		}
		o.replicas = n
		return nil
	}
}

// Open creates the buckets and the log stream, or binds to them when another
// node already has, and updates their limits to this version's.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	o := options{replicas: defaultReplicas}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	functions, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      api.FunctionsBucket,
		Description: "natsfn desired state: one FunctionInfo per <namespace>.<name>",
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.FunctionsBucket, err)
	}
	bundles, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      api.BundlesBucket,
		Description: "natsfn bundles: one script per <namespace>.<name>",
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: open object store %s: %w", api.BundlesBucket, err)
	}
	namespaces, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      api.NamespacesBucket,
		Description: "natsfn namespaces: the account of each, and its limits",
		Storage:     jetstream.FileStorage,
		Replicas:    o.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: open bucket %s: %w", api.NamespacesBucket, err)
	}
	uploads, err := OpenAccount(ctx, js, o.replicas, LogMaxBytes)
	if err != nil {
		return nil, err
	}
	return &Store{functions: functions, bundles: bundles, namespaces: namespaces, uploads: uploads}, nil
}

// OpenAccount creates, or binds to, what natsfn keeps in an account that
// functions run in, the namespace's own or a shared one: the staging area
// for uploads (UploadMaxBytes at most) and the stream of function logs
// (logBytes at most). A store or stream that exists takes the limits of
// this version.
func OpenAccount(ctx context.Context, js jetstream.JetStream, replicas int, logBytes int64) (*Uploads, error) {
	uploadBytes := int64(UploadMaxBytes)
	if ai, err := js.AccountInfo(ctx); err == nil && ai.Limits.MaxStore > 0 {
		// MaxBytes is reserved out of the account's storage.
		uploadBytes = min(uploadBytes, ai.Limits.MaxStore/4)
	}
	uploads, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      api.UploadsBucket,
		Description: "natsfn staged uploads; abandoned ones expire",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		TTL:         UploadMaxAge,
		MaxBytes:    uploadBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("natsfn: open object store %s: %w", api.UploadsBucket, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
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
		return nil, fmt.Errorf("natsfn: open stream %s: %w", api.LogStream, err)
	}
	return &Uploads{store: uploads}, nil
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
