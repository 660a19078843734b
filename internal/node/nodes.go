package node

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/bench"
	"github.com/natsfn/natsfn/internal/metrics"
	"github.com/natsfn/natsfn/internal/stats"
	"github.com/natsfn/natsfn/internal/version"
)

// startService makes the node an instance of the api.NodeService micro
// service on its own connection (natsfn's account), so the stock `nats
// micro` commands list the nodes, and answers the administrator's roll call
// (api.NodesSubject) as its endpoint. The endpoint has no queue group:
// every node answers one request.
func (n *Node) startService() (micro.Service, error) {
	build := version.Get()
	svc, err := micro.AddService(n.nc, micro.Config{
		Name:        api.NodeService,
		Version:     build.SemVer(),
		Description: "a natsfn node: runs JavaScript functions triggered by NATS messages",
		Metadata: map[string]string{
			"node":    n.cfg.Name,
			"version": build.Version,
			"server":  n.serverName(),
			"sandbox": n.sandbox,
		},
		// The node's calls and errors, in `nats micro stats natsfn-node`.
		StatsHandler: func(*micro.Endpoint) any {
			info := n.info("")
			return map[string]any{"calls": info.Calls, "errors": info.Errors,
				"functions": info.Functions, "workers": info.Workers, "isolates": info.Isolates}
		},
	})
	if err != nil {
		return nil, err
	}
	id := svc.Info().ID
	err = svc.AddEndpoint("nodes", micro.HandlerFunc(func(req micro.Request) {
		info := n.info(id)
		data, err := json.Marshal(api.Response[api.NodeInfo]{Data: &info})
		if err != nil {
			req.Error("500", "cannot encode the node's info", nil)
			return
		}
		_ = req.Respond(data)
	}), micro.WithEndpointSubject(api.NodesSubject), micro.WithEndpointQueueGroupDisabled())
	if err != nil {
		svc.Stop()
		return nil, err
	}
	return svc, nil
}

// serverName is the NATS server the node is connected to: its name, else
// its URL without credentials.
func (n *Node) serverName() string {
	if s := n.nc.ConnectedServerName(); s != "" {
		return s
	}
	return n.nc.ConnectedUrlRedacted()
}

// info is this node as `natsfn nodes` shows it; serviceID is its micro
// service instance.
func (n *Node) info(serviceID string) api.NodeInfo {
	g := n.Gauges()
	info := api.NodeInfo{
		Name:       n.cfg.Name,
		Version:    version.Get().Version,
		Started:    n.started,
		ServiceID:  serviceID,
		Server:     n.serverName(),
		Embedded:   n.server != nil,
		Sandbox:    n.sandbox,
		Namespaces: g.Namespaces,
		Workers:    g.Workers,
		Draining:   n.Draining(),
		Pid:        os.Getpid(),
		Machine:    bench.MachineID(),
	}
	byNamespace := map[string]*api.NamespaceUsage{}
	usage := func(namespace string) *api.NamespaceUsage {
		u := byNamespace[namespace]
		if u == nil {
			u = &api.NamespaceUsage{Namespace: namespace}
			byNamespace[namespace] = u
		}
		return u
	}
	for _, ns := range g.ByNamespace {
		u := usage(ns.Namespace)
		u.Functions, u.Isolates = ns.Functions, ns.Isolates
		info.Functions += ns.Functions
		info.Isolates += ns.Isolates
	}
	for _, s := range n.stats.Snapshot() {
		if s.Counts.Calls == 0 {
			continue
		}
		u := usage(s.Namespace)
		u.Calls += s.Counts.Calls
		u.Errors += s.Counts.Errors()
		info.Calls += s.Counts.Calls
		info.Errors += s.Counts.Errors()
	}
	if b, ok := n.backend.(interface{ Pid(namespace string) int }); ok {
		for _, u := range byNamespace {
			u.WorkerPid = b.Pid(u.Namespace)
		}
	}
	for _, u := range byNamespace {
		info.ByNamespace = append(info.ByNamespace, *u)
	}
	slices.SortFunc(info.ByNamespace, func(a, b api.NamespaceUsage) int { return strings.Compare(a.Namespace, b.Namespace) })
	return info
}

// The node is the metrics.Source of its metrics server.
var _ metrics.Source = (*Node)(nil)

// Series are the counts of the functions' calls on this node.
func (n *Node) Series() []stats.Series { return n.stats.Snapshot() }

// Gauges are what this node serves now; nothing until it has started.
func (n *Node) Gauges() metrics.Gauges {
	if !n.serving.Load() {
		return metrics.Gauges{}
	}
	g := metrics.Gauges{Namespaces: len(n.tenants.all()), LogLinesLost: n.LogLinesLost()}
	if b, ok := n.backend.(interface{ Workers() int }); ok {
		g.Workers = b.Workers()
	}
	byNamespace := map[string]*metrics.NamespaceGauges{}
	for _, f := range n.exec.Usage() {
		ns := byNamespace[f.Namespace]
		if ns == nil {
			ns = &metrics.NamespaceGauges{Namespace: f.Namespace}
			byNamespace[f.Namespace] = ns
		}
		ns.Functions++
		ns.Isolates += f.Isolates
	}
	for _, ns := range byNamespace {
		g.ByNamespace = append(g.ByNamespace, *ns)
	}
	slices.SortFunc(g.ByNamespace, func(a, b metrics.NamespaceGauges) int { return strings.Compare(a.Namespace, b.Namespace) })
	// Where namespaces share the node's account there are no tenants:
	// the namespaces served are those with functions.
	g.Namespaces = max(g.Namespaces, len(g.ByNamespace))
	return g
}

// Ready is nil once the node serves its functions and is connected to
// NATS, else the reason it is not ready (/readyz).
func (n *Node) Ready() error {
	if !n.serving.Load() {
		if p := n.phase.Load(); p != nil {
			return errors.New(*p)
		}
		return errors.New("starting")
	}
	if n.Draining() {
		return errors.New("draining: the node takes no new calls and is leaving")
	}
	if !n.nc.IsConnected() {
		return errors.New("disconnected from NATS; reconnecting")
	}
	return nil
}

// setPhase says what a starting node is doing, for Ready.
func (n *Node) setPhase(what string) { n.phase.Store(&what) }
