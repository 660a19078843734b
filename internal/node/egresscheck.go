package node

import (
	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc/egress"
)

// operatorHTTPAllow is what the operator opened for a namespace's
// functions: the node-wide list and the namespace's own.
func (n *Node) operatorHTTPAllow(namespace string) []string {
	svc := n.cfg.Services
	return append(append([]string(nil), svc.Config.HTTP.Allow...), svc.HTTPAllow[namespace]...)
}

// checkHTTPAllow refuses a deploy whose --http-allow entries would open more
// than the operator opened for its namespace: a function may only name
// destinations already reachable (public ones, or those the node-wide and
// namespace lists open), never loopback, private or metadata addresses of
// its own accord.
func (n *Node) checkHTTPAllow(spec api.FunctionSpec) error {
	allowed := n.operatorHTTPAllow(spec.Namespace)
	for _, entry := range spec.HTTPAllow {
		if err := egress.ValidateEntry(entry); err != nil {
			return api.Errorf(api.CodeBadRequest, "--http-allow %q: %v", entry, err)
		}
		// An open policy already reaches everything.
		if n.cfg.Services.Config.HTTP.AllowPrivate {
			continue
		}
		if !egress.Covers(allowed, entry) {
			return api.Errorf(api.CodeBadRequest, "--http-allow %q: not allowed for namespace %q; the operator opens destinations with `natsfn up --http-allow` or the services file's namespaces.%s.http_allow", entry, spec.Namespace, spec.Namespace)
		}
	}
	return nil
}

// coveredHTTPAllow splits a function's --http-allow entries into those the
// operator's lists still cover and those they do not: a function deployed
// before the lists narrowed, or by a node with wider ones, keeps only what
// this node's operator allows.
func (n *Node) coveredHTTPAllow(spec api.FunctionSpec) (kept, dropped []string) {
	if n.cfg.Services.Config.HTTP.AllowPrivate {
		return spec.HTTPAllow, nil
	}
	allowed := n.operatorHTTPAllow(spec.Namespace)
	for _, entry := range spec.HTTPAllow {
		if egress.ValidateEntry(entry) == nil && egress.Covers(allowed, entry) {
			kept = append(kept, entry)
		} else {
			dropped = append(dropped, entry)
		}
	}
	return kept, dropped
}
