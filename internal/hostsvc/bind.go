package hostsvc

import (
	"context"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// A worker process with a NATS connection of its own runs some host calls
// itself (docs/sandbox.md). Its connection may use the namespace's KV
// buckets but not create or change streams: creating one means choosing
// its subjects, which could capture any traffic of the account. So there
// the function's bucket is created by whoever may (the node, over
// OpenKVOp) and only bound on the worker's connection.

// OpenKVOp creates the function's KV bucket, if it is missing, and
// nothing else: what a worker asks of the node before it binds the bucket
// itself. It is no host service of JavaScript's and is not counted as one.
const OpenKVOp = "open.kv"

// WithOpener makes the function's KV bucket be created by open, and only
// bound over this connection. open returns an *Error on failure.
func WithOpener(open func(ctx context.Context) error) Option {
	return func(s *Services) { s.openKV = open }
}

// Config is the configuration the Services run with, defaults applied.
func (s *Services) Config() Config {
	c := s.cfg
	c.Messaging.AllowedSubjects = slices.Clone(c.Messaging.AllowedSubjects)
	c.HTTP.Allow = slices.Clone(c.HTTP.Allow)
	return c
}

// bindKV opens the function's bucket that open created.
func (s *Services) bindKV(ctx context.Context) (jetstream.KeyValue, error) {
	if err := s.openKV(ctx); err != nil {
		return nil, classify("kv", err)
	}
	kv, err := s.js.KeyValue(ctx, KVBucketName(s.fn.Namespace, s.fn.Name))
	if err != nil {
		return nil, classifyJS("kv", err)
	}
	return kv, nil
}

// OpenedKV is OpenKVOp's result.
type OpenedKV struct {
	// Direct says the bucket answers direct gets, the only reads a
	// worker's connection may make. A replicated bucket natsfn creates has
	// them off (a lagging replica could answer a read with a value older
	// than the function's own last write), so its reads go to the leader,
	// through the node.
	Direct bool `json:"direct"`
}

func kvOpen(s *Services, ctx context.Context, _ args, _ []byte) (any, []byte, error) {
	kv, err := s.kvBucket(ctx)
	if err != nil {
		return nil, nil, err
	}
	status, err := kv.Status(ctx)
	if err != nil {
		return nil, nil, classifyJS("kv", err)
	}
	var opened OpenedKV
	if b, ok := status.(*jetstream.KeyValueBucketStatus); ok {
		opened.Direct = b.StreamInfo().Config.AllowDirect
	}
	return opened, nil, nil
}
