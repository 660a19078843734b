package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/hostsvc"
)

// functionData is one of the stores a function's host services keep its
// data in: its KV bucket or its object store, each a stream.
type functionData struct {
	what   string // as users see it: "KV bucket fn_7_default_hello"
	stream string
}

// dataOf is what a function's host services may have made.
func dataOf(ns, name string) []functionData {
	kv, obj := hostsvc.KVBucketName(ns, name), hostsvc.ObjectBucketName(ns, name)
	return []functionData{
		{what: "KV bucket " + kv, stream: "KV_" + kv},
		{what: "object store " + obj, stream: "OBJ_" + obj},
	}
}

// dataJetStream is JetStream in the account that holds a namespace's
// function data.
func (s *Server) dataJetStream(ns string) (jetstream.JetStream, error) {
	nc := s.nc
	if s.opts.dataConn != nil {
		var err error
		if nc, err = s.opts.dataConn(ns); err != nil {
			return nil, err
		}
	}
	return jetstream.New(nc)
}

// existingData returns the stores of a function that exist.
func (s *Server) existingData(ctx context.Context, ns, name string) ([]string, error) {
	js, err := s.dataJetStream(ns)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dataOf(ns, name) {
		_, err := js.Stream(ctx, d.stream)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
		case err != nil:
			return nil, fmt.Errorf("natsfn: look up %s: %w", d.what, err)
		default:
			out = append(out, d.what)
		}
	}
	return out, nil
}

// purgeData deletes a function's stores and returns those there were.
func (s *Server) purgeData(ctx context.Context, ns, name string) ([]string, error) {
	js, err := s.dataJetStream(ns)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dataOf(ns, name) {
		err := js.DeleteStream(ctx, d.stream)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
		case err != nil:
			return out, fmt.Errorf("natsfn: delete %s: %w", d.what, err)
		default:
			out = append(out, d.what)
		}
	}
	return out, nil
}

// WithDataConn sets where the server finds a namespace's function data
// (KV buckets and object stores), which rm --purge and deploys delete: the
// connection in the namespace's account. By default the server's own
// connection, right for a server of one namespace (WithNamespace) and for
// namespaces that share the server's account.
func WithDataConn(conn func(namespace string) (*nats.Conn, error)) Option {
	return func(o *options) error {
		o.dataConn = conn
		return nil
	}
}
