package control

import (
	"context"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/natsperm"
)

// WithRefusals gives the permission errors NATS reported on each connection
// (nil for one it does not know), so that a request whose JetStream
// operation NATS refuses fails at once with 403 naming the refusal, instead
// of waiting out its timeout: the server only ever answers a refused
// publish with an asynchronous error. A request watches the server's
// connection, its namespace's data connection (WithDataConn) and also,
// typically the store's connection when it is another.
func WithRefusals(of func(*nats.Conn) *natsperm.Violations, also ...*nats.Conn) Option {
	return func(o *options) error {
		o.refusals = of
		o.refusalConns = also
		return nil
	}
}

// stateStreams are the streams of natsfn's own state, which every request
// may touch: specs, bundles, namespaces, uploads, logs.
var stateStreams = []string{
	"KV_" + api.FunctionsBucket, "OBJ_" + api.BundlesBucket, "KV_" + api.NamespacesBucket,
	"OBJ_" + api.UploadsBucket, api.LogStream,
}

// watchRefusals makes ctx end, with the refusal as its cause, once NATS
// refuses something a request about namespace ns (empty: none in
// particular) may have sent: a JetStream operation on natsfn's state or on
// the data of the namespace's functions, or anything on an inbox, where
// the replies come. A refusal of another request's message on the same
// stream ends this one too; it names the permission both lack.
func (s *Server) watchRefusals(ctx context.Context, ns string) (context.Context, func()) {
	if s.opts.refusals == nil {
		return ctx, func() {}
	}
	conns := append([]*nats.Conn{s.nc}, s.opts.refusalConns...)
	if s.opts.dataConn != nil && ns != "" {
		if nc, err := s.opts.dataConn(ns); err == nil {
			conns = append(conns, nc)
		}
	}
	match := func(e *natsperm.Error) bool {
		return strings.HasPrefix(e.Subject, "_INBOX.") || e.Op == natsperm.Publish && touches(e.Subject, ns)
	}
	var stops []func()
	seen := map[*natsperm.Violations]bool{}
	for _, nc := range conns {
		v := s.opts.refusals(nc)
		if v == nil || seen[v] {
			continue
		}
		seen[v] = true
		var stop func()
		ctx, stop = v.Watch(ctx, match)
		stops = append(stops, stop)
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// touches says whether subject belongs to one of natsfn's state streams or
// to the data of a function in ns: the JetStream API on the stream, or its
// KV or object store messages.
func touches(subject, ns string) bool {
	fnData := "" // what the streams of every function's data in ns start with
	if ns != "" {
		fnData = strings.TrimSuffix(hostsvc.KVBucketName(ns, "x"), "x")
	}
	ours := func(stream string) bool {
		return slices.Contains(stateStreams, stream) ||
			fnData != "" && (strings.HasPrefix(stream, "KV_"+fnData) || strings.HasPrefix(stream, "OBJ_"+fnData))
	}
	tokens := strings.Split(subject, ".")
	switch {
	case len(tokens) > 1 && tokens[0] == "$KV":
		return ours("KV_" + tokens[1])
	case len(tokens) > 1 && tokens[0] == "$O":
		return ours("OBJ_" + tokens[1])
	}
	return slices.ContainsFunc(tokens, ours)
}

// refused is the 403 of a request that NATS refused (ctx from
// watchRefusals); nil when none was.
func refused(ctx context.Context) *api.Error {
	r := natsperm.Refusal(ctx)
	if r == nil {
		return nil
	}
	return api.Errorf(api.CodeForbidden, "the node's %v, which this request needs: grant it to the node's NATS user", r)
}
