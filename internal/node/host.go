package node

import (
	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// hosts makes a function's host services: the hostsvc implementation, with
// its errors turned into what JavaScript sees and their causes logged.
func (n *Node) hosts(info api.FunctionInfo) (engine.Host, func(), error) {
	// The node-wide list opens destinations to every function; the
	// namespace's list only to the functions that ask with --http-allow.
	base := n.cfg.Services.Config
	spec := info.Spec
	var dropped []string
	if spec.HTTPAllow, dropped = n.coveredHTTPAllow(spec); len(dropped) > 0 {
		n.log.Warn("the function's --http-allow entries the operator does not allow are ignored",
			"namespace", spec.Namespace, "function", spec.Name, "ignored", dropped)
	}
	cfg := servicesFor(base, spec)
	// The system's setting, the same on every node.
	cfg.Replicas = n.store.Replicas()
	if subjects, ok := n.cfg.Services.AllowedSubjects[info.Spec.Namespace]; ok {
		cfg.Messaging.AllowedSubjects = subjects
	}
	conn, err := n.connFor(info.Spec.Namespace)
	if err != nil {
		return nil, nil, err
	}
	svc, err := hostsvc.New(conn, hostsvc.Identity{Namespace: info.Spec.Namespace, Name: info.Spec.Name, Triggers: info.Spec.Triggers}, cfg,
		hostsvc.WithViolations(n.refusalsOf(conn)))
	if err != nil {
		return nil, nil, err
	}
	h := &executor.ServicesHost{Services: svc, Log: n.log.With("namespace", info.Spec.Namespace, "function", info.Spec.Name),
		Stats: n.stats.For(info.Spec.Namespace, info.Spec.Name)}
	return h, func() { svc.Close() }, nil
}

// servicesFor is the node's host-service configuration narrowed or widened
// for one function: its HTTP allow list adds to the node's, and it may
// turn services off but never on.
func servicesFor(node hostsvc.Config, spec api.FunctionSpec) hostsvc.Config {
	cfg := node
	cfg.HTTP.Allow = append(append([]string(nil), node.HTTP.Allow...), spec.HTTPAllow...)
	for _, d := range spec.Disable {
		switch d {
		case "http":
			cfg.HTTP.Disabled = true
		case "kv":
			cfg.KV.Disabled = true
		case "objectStore":
			cfg.Objects.Disabled = true
		case "messaging":
			cfg.Messaging.Disabled = true
		}
	}
	return cfg
}
