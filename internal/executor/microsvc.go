package executor

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/microsvc"
)

// announcer makes every function served a NATS micro service instance
// (docs/metrics.md): one microsvc.Responder per connection functions are
// served on, so each namespace's functions answer in its own account. It
// is guarded by the Executor's mu.
type announcer struct {
	node   string
	log    *slog.Logger
	byConn map[*nats.Conn]*microsvc.Responder
}

// set announces f, in place of old (nil when f is new here).
func (a *announcer) set(f, old *Function) {
	if old != nil && old.cfg.Conn != f.cfg.Conn {
		a.remove(old)
	}
	conn := f.cfg.Conn
	r := a.byConn[conn]
	if r == nil {
		var err error
		if r, err = microsvc.Start(conn, a.log); err != nil {
			a.log.Warn("cannot answer the NATS services protocol", "namespace", f.cfg.Info.Spec.Namespace, "err", err)
			return
		}
		a.byConn[conn] = r
	}
	r.Set(f.cfg.Info.Spec.Key(), serviceOf(f, a.node))
}

// remove withdraws f, and the connection's Responder with its last function.
func (a *announcer) remove(f *Function) {
	conn := f.cfg.Conn
	r := a.byConn[conn]
	if r != nil && r.Remove(f.cfg.Info.Spec.Key()) {
		r.Close()
		delete(a.byConn, conn)
	}
}

func (a *announcer) close() {
	for conn, r := range a.byConn {
		r.Close()
		delete(a.byConn, conn)
	}
}

// serviceOf is a function as `nats micro info` shows it. Function names
// (a-z, 0-9, '-', '_') follow micro's naming rule as they are. Each trigger
// is an endpoint in the function's queue group.
func serviceOf(f *Function, node string) microsvc.Service {
	info := f.cfg.Info
	spec := info.Spec
	svc := microsvc.Service{
		Name: spec.Name,
		// micro wants a semantic version; the deploy's revision tells
		// versions apart.
		Version:     "0.0." + strconv.FormatUint(info.Revision, 10),
		Description: "natsfn function " + spec.Namespace + "/" + spec.Name,
		Metadata: map[string]string{
			"natsfn":        "function",
			"namespace":     spec.Namespace,
			"node":          node,
			"revision":      strconv.FormatUint(info.Revision, 10),
			"bundle_digest": info.BundleDigest,
			"deployed_at":   info.DeployedAt.UTC().Format(time.RFC3339),
		},
		Stats: f.cfg.Stats,
	}
	if spec.Source != "" {
		svc.Metadata["source"] = spec.Source
	}
	queue := QueueGroup(spec.Namespace, spec.Name)
	for i, t := range spec.Triggers {
		name := spec.Name
		if len(spec.Triggers) > 1 {
			name += "-" + strconv.Itoa(i+1)
		}
		svc.Endpoints = append(svc.Endpoints, microsvc.Endpoint{Name: name, Subject: t, QueueGroup: queue,
			Metadata: map[string]string{"trigger": "subject"}})
	}
	// Consumer triggers take no requests, but show what runs the function.
	if t := spec.Stream; t != nil {
		svc.Endpoints = append(svc.Endpoints, microsvc.Endpoint{Name: spec.Name + "-stream", Subject: orAll(t.Filter),
			Metadata: map[string]string{"trigger": "stream", "stream": t.Stream}})
	}
	if t := spec.Schedule; t != nil {
		svc.Endpoints = append(svc.Endpoints, microsvc.Endpoint{Name: spec.Name + "-schedule", Subject: "-",
			Metadata: map[string]string{"trigger": "schedule", "cron": t.Cron, "time_zone": t.TimeZone}})
	}
	if t := spec.Watch; t != nil {
		svc.Endpoints = append(svc.Endpoints, microsvc.Endpoint{Name: spec.Name + "-watch", Subject: orAll(t.Keys),
			Metadata: map[string]string{"trigger": "watch", "bucket": t.Bucket}})
	}
	return svc
}

// orAll is a consumer trigger's filter as an endpoint's subject.
func orAll(filter string) string {
	if filter == "" {
		return ">"
	}
	return filter
}
