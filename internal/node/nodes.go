package node

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// serveNodeInfo answers api.NodesSubject with this node's NodeInfo. Every
// node subscribes outside any queue group, so one request hears them all.
func (n *Node) serveNodeInfo() (*nats.Subscription, error) {
	started := time.Now().UTC()
	return n.nc.Subscribe(api.NodesSubject, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		server := n.nc.ConnectedServerName()
		if server == "" {
			server = n.nc.ConnectedUrlRedacted()
		}
		info := api.NodeInfo{
			Name:       n.cfg.Name,
			Started:    started,
			Server:     server,
			Embedded:   n.server != nil,
			Sandbox:    n.sandbox,
			Namespaces: len(n.tenants.all()),
			Functions:  n.exec.Functions(),
			Draining:   n.Draining(),
		}
		data, err := json.Marshal(api.Response[api.NodeInfo]{Data: &info})
		if err != nil {
			return
		}
		_ = m.Respond(data)
	})
}
