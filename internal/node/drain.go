package node

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// Draining a node, whether the administrator asked (`natsfn nodes drain`)
// or the process got SIGTERM, is Close, in this order:
//
//  1. the control API subscriptions drain: requests already received are
//     answered (within controlDrainWithin), new ones go to other nodes;
//  2. the node stops following the desired state;
//  3. every function's trigger subscriptions drain (in the node, or in the
//     worker that serves them itself): the server drops this node from the
//     queue groups, so new calls go to the other nodes, and the calls
//     already delivered run to their end, within the function's timeout;
//     their replies are flushed before the worker is stopped;
//  4. the workers stop, replies still buffered are flushed, and the node
//     publishes api.Drained and closes its connections.
//
// No call is lost while another node serves the function. A call in
// flight is lost only when the node is killed rather than drained.

const (
	// controlDrainWithin bounds the wait for control requests in flight,
	// a deploy waiting for its check, say; longer ones are cancelled.
	controlDrainWithin = 10 * time.Second
	// handOverWithin is what a drain takes beyond the calls themselves:
	// subscriptions handing over what they hold (executor's drainTimeout)
	// and workers unloading.
	handOverWithin = 15 * time.Second
)

// Done is closed once the node has drained and closed, however that began.
func (n *Node) Done() <-chan struct{} { return n.done }

// Draining says whether the node has begun to drain.
func (n *Node) Draining() bool { return n.draining.Load() }

// beginDrain marks the node draining and says so in the log.
func (n *Node) beginDrain() {
	if n.draining.Swap(true) || n.drainSub == nil {
		return // already said, or a node that never started
	}
	n.drainBegan = time.Now()
	n.log.Info("draining: no new calls or control requests; finishing the calls in flight",
		"functions", n.exec.Functions(), "within", n.drainWithin())
}

// drainWithin bounds a drain of this node as it serves now.
func (n *Node) drainWithin() time.Duration {
	return controlDrainWithin + n.exec.LongestTimeout() + handOverWithin
}

// drainControl drains every control API subscription of the node at once:
// its own, the administrator's and the namespaces'.
func (n *Node) drainControl() {
	ctx, cancel := context.WithTimeout(context.Background(), controlDrainWithin)
	defer cancel()
	servers := []interface{ Drain(context.Context) error }{}
	if n.ctl != nil {
		servers = append(servers, n.ctl)
	}
	if n.admin != nil {
		servers = append(servers, n.admin)
	}
	for _, t := range n.tenants.all() {
		if t.ctl != nil {
			servers = append(servers, t.ctl)
		}
	}
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Drain(ctx)
		}()
	}
	wg.Wait()
}

// serveDrain answers api.NodeDrainSubject: when the request names this
// node, it begins to drain and says so; every other node stays silent.
func (n *Node) serveDrain() (*nats.Subscription, error) {
	return n.nc.Subscribe(api.NodeDrainSubject, func(m *nats.Msg) {
		var req api.DrainRequest
		if json.Unmarshal(m.Data, &req) != nil || req.Name != n.cfg.Name {
			return
		}
		info := api.DrainInfo{Name: n.cfg.Name, Functions: n.exec.Functions(), Within: api.Duration(n.drainWithin())}
		n.drainOnce.Do(func() {
			n.log.Info("the administrator asked this node to drain")
			// Close's once owns this goroutine: Done says when it ends,
			// and any other Close waits for it.
			go n.Close()
		})
		if m.Reply == "" {
			return
		}
		if data, err := json.Marshal(api.Response[api.DrainInfo]{Data: &info}); err == nil {
			_ = m.Respond(data)
		}
	})
}

// announceDrained publishes api.Drained, for `natsfn nodes drain` to hear
// that the node is gone.
func (n *Node) announceDrained() {
	if n.drainBegan.IsZero() {
		return
	}
	data, err := json.Marshal(api.Drained{Name: n.cfg.Name, Took: api.Duration(time.Since(n.drainBegan))})
	if err == nil {
		_ = n.nc.Publish(api.NodeDrainedSubject, data)
		flushReplies(n.nc)
	}
}

// flushReplies waits until the server has what nc buffered (the replies
// of the last calls, chiefly), so that closing nc, or the process ending,
// loses none of it.
func flushReplies(nc *nats.Conn) {
	if nc != nil && nc.IsConnected() {
		_ = nc.FlushTimeout(5 * time.Second)
	}
}
