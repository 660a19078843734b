package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// NodeDrain is a node's drain under way (see Admin.DrainNode).
type NodeDrain struct {
	Info    api.DrainInfo
	drained *nats.Subscription
}

// DrainNode asks the node named name to drain: it stops taking calls and
// control requests, finishes those in flight and leaves. It returns once
// the drain has begun; Wait waits for its end. A name that is not exactly
// one node's is an error, and nothing is drained. Stop the NodeDrain when
// done with it.
func (a *Admin) DrainNode(ctx context.Context, name string) (*NodeDrain, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	nodes, err := a.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	matches := 0
	for _, n := range nodes {
		names = append(names, n.Name)
		if n.Name == name {
			matches++
		}
	}
	switch {
	case matches == 0:
		return nil, fmt.Errorf("natsfn: no node is named %q (the nodes: %s)", name, strings.Join(names, ", "))
	case matches > 1:
		return nil, fmt.Errorf("natsfn: %d nodes are named %q: give each its own name (natsfn up --name) to drain one", matches, name)
	}
	// Listening before asking, so that even a drain with nothing to
	// finish cannot end unheard.
	sub, err := a.nc.SubscribeSync(api.NodeDrainedSubject)
	if err != nil {
		return nil, fmt.Errorf("natsfn: nodes drain: %w", err)
	}
	d := &NodeDrain{drained: sub}
	err = roundTrip(ctx, a.nc, api.NodeDrainSubject, "nodes drain", api.DrainRequest{Name: name}, &d.Info, func() error {
		return fmt.Errorf("%w (on %s)", ErrNotAdmin, a.nc.ConnectedUrlRedacted())
	})
	if err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Wait waits until the node reports it has drained, or ctx ends. Without a
// deadline in ctx it waits as long as the node said its drain may take.
func (d *NodeDrain) Wait(ctx context.Context) (*api.Drained, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Info.Within.D())
		defer cancel()
	}
	for {
		m, err := d.drained.NextMsgWithContext(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("natsfn: node %s did not report its drain done in time (natsfn nodes shows whether it is still there): %w", d.Info.Name, ctx.Err())
			}
			return nil, fmt.Errorf("natsfn: waiting for node %s to drain: %w", d.Info.Name, err)
		}
		var done api.Drained
		if json.Unmarshal(m.Data, &done) == nil && done.Name == d.Info.Name {
			return &done, nil
		}
	}
}

// Stop stops listening for the drain's end.
func (d *NodeDrain) Stop() { _ = d.drained.Unsubscribe() }
