// Package jsbucket opens natsfn's JetStream buckets and streams: it binds to
// one that exists and creates one that does not, with as many replicas as
// asked and the cluster can place, and it never lowers the replicas, nor a
// KV bucket's history, of one that exists (an operator's `nats kv edit
// --replicas 3` stays).
//
// A bucket that exists is updated only when this version's limits differ
// or its replicas are below those asked: nodes that agree bind without
// touching it, so a node's start or a function's first kv call is a read.
package jsbucket

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxReplicas is the most replicas JetStream keeps of a stream.
const MaxReplicas = 5

// Result says how a bucket was opened.
type Result struct {
	// Replicas the bucket has now.
	Replicas int
	// Created is set when this call made the bucket.
	Created bool
	// Short is set when the bucket has fewer replicas than asked: the
	// cluster could not place more (a server down, or fewer servers than
	// asked); ShortErr says why. The bucket works; a later open raises it.
	// A single server is never short: one copy is all it keeps.
	Short    bool
	ShortErr error
}

// JetStream error codes that say the replicas asked cannot be placed.
const (
	codeNoPeers               = 10005 // "no suitable peers for placement"
	codeInsufficientResources = 10023
	codeReplicasNotSupported  = 10074 // a single server, not a cluster
)

// CannotPlace reports whether err says that JetStream cannot place the
// replicas asked for: a single server, or a cluster with fewer servers up
// than replicas.
func CannotPlace(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case codeNoPeers, codeInsufficientResources, codeReplicasNotSupported:
		return true
	}
	return false
}

// NotClustered reports whether err says JetStream runs on a single server,
// which keeps one copy of everything.
func NotClustered(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == codeReplicasNotSupported
}

// streamConfig returns the config of a stream, or nil when there is none.
func streamConfig(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamConfig, error) {
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cfg := s.CachedInfo().Config
	return &cfg, nil
}

// create makes a bucket with replicas, and fewer when the cluster cannot
// place them, down to one.
func create(replicas int, try func(replicas int) error) (Result, error) {
	replicas = max(1, replicas)
	var short error
	for r := replicas; r >= 1; r-- {
		err := try(r)
		if err == nil {
			// A single server keeps one copy of everything: nothing is
			// short of what it can give.
			isShort := r < replicas && !NotClustered(short)
			return Result{Replicas: r, Created: true, Short: isShort, ShortErr: short}, nil
		}
		if !CannotPlace(err) {
			return Result{}, err
		}
		if short == nil {
			short = err
		}
	}
	return Result{}, short
}

// raise applies update, which keeps at least the bucket's replicas; when
// the cluster cannot place more replicas now, the bucket stays as it is and
// the result says so.
func raise(have, want int, update func(replicas int) error) (Result, error) {
	target := max(have, want)
	err := update(target)
	if err == nil {
		return Result{Replicas: target}, nil
	}
	if !CannotPlace(err) || target == have {
		return Result{}, err
	}
	// The limits still apply, at the replicas there are.
	if err2 := update(have); err2 != nil {
		return Result{}, err2
	}
	return Result{Replicas: have, Short: !NotClustered(err), ShortErr: err}, nil
}

// orDefault maps a zero limit to what JetStream stores for it.
func orDefault[T comparable](v, zero, def T) T {
	if v == zero {
		return def
	}
	return v
}

// KeyValue opens the KV bucket cfg names with at least cfg.Replicas.
func KeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, Result, error) {
	stream := "KV_" + cfg.Bucket
	have, err := streamConfig(ctx, js, stream)
	if err != nil {
		return nil, Result{}, err
	}
	var res Result
	switch {
	case have == nil:
		res, err = createBucket(ctx, js, stream, cfg.Replicas, func(r int) error {
			c := cfg
			c.Replicas = r
			_, err := js.CreateKeyValue(ctx, c)
			return err
		})
	default:
		want := *have
		want.Description = cfg.Description
		// History, like replicas, is raised and never lowered: versions
		// an operator chose to keep stay kept.
		want.MaxMsgsPerSubject = max(have.MaxMsgsPerSubject, int64(orDefault(cfg.History, 0, 1)))
		want.MaxMsgSize = orDefault(cfg.MaxValueSize, 0, -1)
		want.MaxBytes = orDefault(cfg.MaxBytes, 0, -1)
		want.MaxAge = cfg.TTL
		if want.MaxAge > 0 && want.MaxAge < want.Duplicates {
			want.Duplicates = want.MaxAge
		}
		res, err = update(ctx, js, have, want, cfg.Replicas)
	}
	if err != nil {
		return nil, Result{}, err
	}
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	return kv, res, err
}

// ObjectStore opens the object store cfg names with at least cfg.Replicas.
func ObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, Result, error) {
	stream := "OBJ_" + cfg.Bucket
	have, err := streamConfig(ctx, js, stream)
	if err != nil {
		return nil, Result{}, err
	}
	var res Result
	switch {
	case have == nil:
		res, err = createBucket(ctx, js, stream, cfg.Replicas, func(r int) error {
			c := cfg
			c.Replicas = r
			_, err := js.CreateObjectStore(ctx, c)
			return err
		})
	default:
		want := *have
		want.Description = cfg.Description
		want.MaxBytes = orDefault(cfg.MaxBytes, 0, -1)
		want.MaxAge = cfg.TTL
		res, err = update(ctx, js, have, want, cfg.Replicas)
	}
	if err != nil {
		return nil, Result{}, err
	}
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	return obs, res, err
}

// createBucket makes a bucket with makeIt (replicas, or fewer when the
// cluster cannot place them) and settles its reads. A bucket another node
// made first is as good.
func createBucket(ctx context.Context, js jetstream.JetStream, stream string, replicas int, makeIt func(replicas int) error) (Result, error) {
	return create(replicas, func(r int) error {
		if err := makeIt(r); err != nil && !errors.Is(err, jetstream.ErrBucketExists) {
			return err
		}
		return settleReads(ctx, js, stream)
	})
}

// settleReads makes a new replicated bucket's reads go to its leader. With
// direct gets (the NATS default) any replica answers a read, one that has
// not yet applied a write acknowledged a moment ago included: a deploy
// then misses the bundle its client just staged, and a function's kv.get
// misses its own kv.set. A single copy keeps direct gets, which are
// faster and cannot be stale. Only a bucket being made is changed: a
// client bound to a bucket with direct gets would find nobody answering
// them once they are turned off.
func settleReads(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if cfg.Replicas == 1 || !cfg.AllowDirect {
		return nil
	}
	cfg.AllowDirect = false
	_, err = js.UpdateStream(ctx, cfg)
	return err
}

// Stream opens the stream cfg names with at least cfg.Replicas.
func Stream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (Result, error) {
	have, err := streamConfig(ctx, js, cfg.Name)
	if err != nil {
		return Result{}, err
	}
	if have == nil {
		return create(cfg.Replicas, func(r int) error {
			c := cfg
			c.Replicas = r
			_, err := js.CreateStream(ctx, c)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return nil // another node made it first
			}
			return err
		})
	}
	want := *have
	want.Description = cfg.Description
	want.Subjects = cfg.Subjects
	want.MaxAge = cfg.MaxAge
	want.MaxMsgsPerSubject = orDefault(cfg.MaxMsgsPerSubject, 0, -1)
	want.MaxBytes = orDefault(cfg.MaxBytes, 0, -1)
	want.Discard = cfg.Discard
	return update(ctx, js, have, want, cfg.Replicas)
}

// update changes a stream's limits to want's, keeping everything else an
// operator may have set, and raises its replicas to at least replicas. A
// stream that has them already is not touched.
func update(ctx context.Context, js jetstream.JetStream, have *jetstream.StreamConfig, want jetstream.StreamConfig, replicas int) (Result, error) {
	want.Replicas = have.Replicas
	if have.Replicas >= replicas && reflect.DeepEqual(*have, want) {
		return Result{Replicas: have.Replicas}, nil
	}
	return raise(have.Replicas, replicas, func(r int) error {
		c := want
		c.Replicas = r
		_, err := js.UpdateStream(ctx, c)
		return err
	})
}

// Replicas returns the replicas of a stream, and false when it does not
// exist.
func Replicas(ctx context.Context, js jetstream.JetStream, stream string) (int, bool, error) {
	cfg, err := streamConfig(ctx, js, stream)
	if err != nil || cfg == nil {
		return 0, false, err
	}
	return cfg.Replicas, true, nil
}

// Describe is a Result as words for a log line.
func (r Result) Describe() string {
	if r.Short {
		return fmt.Sprintf("%d replicas, fewer than asked: %v", r.Replicas, r.ShortErr)
	}
	return fmt.Sprintf("%d replicas", r.Replicas)
}
