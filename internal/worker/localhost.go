package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// Host calls without the node hop. A worker with a NATS connection of its
// own runs the host calls its connection's permissions allow itself, with
// the same hostsvc code and configuration as the node: kv.get, kv.set and
// kv.delete, on its namespace's buckets (kv.get only where the bucket
// answers direct gets, hostsvc.OpenedKV). The rest cross the socketpair:
// HTTP needs the node's network and egress policy; kv.keys and the object
// store need JetStream consumers or purges, and messaging a right to
// publish on any subject, which the worker's connection does not get
// (docs/sandbox.md says why).
var inWorker = map[string]bool{"kv.get": true, "kv.set": true, "kv.delete": true}

// hostFor makes a function's host: every call to the node, or, where the
// worker has its own connection and the node sent the function's services
// configuration, the calls in inWorker run here.
func (s *server) hostFor(wf *workerFunction, info api.FunctionInfo, servicesJSON []byte) (engine.Host, error) {
	remote := &remoteHost{s: s, fn: wf.id}
	if s.nc == nil || len(servicesJSON) == 0 {
		return remote, nil
	}
	var cfg hostsvc.Config
	if err := json.Unmarshal(servicesJSON, &cfg); err != nil {
		return nil, fmt.Errorf("bad services configuration: %w", err)
	}
	spec := info.Spec
	h := &splitHost{remote: remote, gate: s.gate}
	svc, err := hostsvc.New(s.nc, hostsvc.Identity{Namespace: spec.Namespace, Name: spec.Name, Triggers: spec.Triggers}, cfg,
		hostsvc.WithViolations(s.refusals), hostsvc.WithOpener(h.open))
	if err != nil {
		return nil, err
	}
	wf.services = svc
	h.local = &executor.ServicesHost{Services: svc, Log: s.opts.Logger.With("function", spec.Key()), Stats: &wf.stats}
	return h, nil
}

// splitHost runs a function's calls in inWorker here, the others in the
// node.
type splitHost struct {
	local  engine.Host
	remote *remoteHost
	// gate is the worker's bound on host calls in flight, the node's
	// limits: the calls run here count in it like those sent to the node.
	gate *hostGate
	// opened: the node has made the function's bucket; direct: the bucket
	// answers direct gets, so kv.get runs here too.
	opened atomic.Bool
	direct atomic.Bool
}

// open has the node make the function's bucket, once.
func (h *splitHost) open(ctx context.Context) error {
	if h.opened.Load() {
		return nil
	}
	opened, err := h.remote.openKV(ctx)
	if err != nil {
		return err
	}
	h.direct.Store(opened.Direct)
	h.opened.Store(true)
	return nil
}

func (h *splitHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	if !inWorker[op] {
		return h.remote.Call(ctx, op, args, body)
	}
	if !h.opened.Load() {
		// Before taking room in the gate: the node's call takes some too,
		// and calls holding all of it while waiting for it would wait
		// until their deadline. A failure is reported by the call itself.
		_ = h.open(ctx)
	}
	if op == "kv.get" && !h.direct.Load() {
		// Reads of a bucket without direct gets need a right the worker's
		// connection does not have (hostsvc.OpenedKV).
		return h.remote.Call(ctx, op, args, body)
	}
	size := frameSize([]byte(op), args, body)
	if err := h.gate.acquire(ctx, size); err != nil {
		return nil, nil, &engine.HostError{Type: "Error", Code: "TIMEOUT", Message: "the invocation ran out of time"}
	}
	defer h.gate.release(size)
	return h.local.Call(ctx, op, args, body)
}

// openKV asks the node to create the function's KV bucket, which the
// worker's connection may use but not create.
func (h *remoteHost) openKV(ctx context.Context) (hostsvc.OpenedKV, error) {
	var opened hostsvc.OpenedKV
	result, _, err := h.Call(ctx, hostsvc.OpenKVOp, []byte("[]"), nil)
	var he *engine.HostError
	if errors.As(err, &he) {
		return opened, &hostsvc.Error{Code: he.Code, Message: he.Message, Type: he.Type}
	}
	if err != nil {
		return opened, err
	}
	if raw, ok := result.(json.RawMessage); ok {
		if err := json.Unmarshal(raw, &opened); err != nil {
			return opened, fmt.Errorf("bad reply to %s: %w", hostsvc.OpenKVOp, err)
		}
	}
	return opened, nil
}
