package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/synadia-io/orbit.go/natsext"

	"github.com/natsfn/natsfn/api"
)

// ErrNotAdmin means the connection cannot reach the administrator's API: it
// is not natsfn's administrator, or natsfn does not manage the accounts of
// this NATS system.
var ErrNotAdmin = errors.New("natsfn: the administrator's API is not reachable with these credentials")

// Admin manages namespaces. Its connection must use the administrator's
// credentials (<data>/admin.creds on a node with the embedded server).
type Admin struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewAdmin returns an Admin on nc. The caller keeps nc and closes it.
func NewAdmin(nc *nats.Conn) (*Admin, error) {
	if nc == nil {
		return nil, errors.New("natsfn: nil NATS connection")
	}
	return &Admin{nc: nc, timeout: DefaultTimeout}, nil
}

func (a *Admin) request(ctx context.Context, op string, req, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	return roundTrip(ctx, a.nc, api.AdminSubject(op), "ns "+op, req, out, func() error {
		return fmt.Errorf("%w (on %s)", ErrNotAdmin, a.nc.ConnectedUrlRedacted())
	})
}

// AddNamespace creates a namespace, with an account of its own, and
// returns credentials for its owner (see api.NamespaceRequest).
func (a *Admin) AddNamespace(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceCreds, error) {
	var out api.NamespaceCreds
	err := a.request(ctx, api.OpNamespaceAdd, req, &out)
	return &out, err
}

// SetNamespace changes a namespace's storage limit.
func (a *Admin) SetNamespace(ctx context.Context, name string, maxStorage int64) (*api.NamespaceInfo, error) {
	var out api.NamespaceInfo
	err := a.request(ctx, api.OpNamespaceSet, api.NamespaceRequest{Name: name, MaxStorage: &maxStorage}, &out)
	return &out, err
}

// Namespaces lists the namespaces.
func (a *Admin) Namespaces(ctx context.Context) ([]api.NamespaceInfo, error) {
	var out api.NamespaceList
	if err := a.request(ctx, api.OpNamespaceList, nil, &out); err != nil {
		return nil, err
	}
	return out.Namespaces, nil
}

// RemoveNamespace removes a namespace with its functions and data.
func (a *Admin) RemoveNamespace(ctx context.Context, name string) (*api.NamespaceInfo, error) {
	var out api.NamespaceInfo
	err := a.request(ctx, api.OpNamespaceRm, api.NamespaceRequest{Name: name}, &out)
	return &out, err
}

// NamespaceCreds mints credentials for a namespace's owner, valid for ttl
// (0: no expiry).
func (a *Admin) NamespaceCreds(ctx context.Context, name string, ttl time.Duration) (*api.NamespaceCreds, error) {
	var out api.NamespaceCreds
	err := a.request(ctx, api.OpNamespaceCreds, api.NamespaceRequest{Name: name, TTL: api.Duration(ttl)}, &out)
	return &out, err
}

// nodesStall is how long Nodes waits for one more node after the last
// answer: nodes answer at once, so a quiet gap means they all have.
const nodesStall = 300 * time.Millisecond

// Nodes asks every node of the NATS system who it is, sorted by name.
func (a *Admin) Nodes(ctx context.Context) ([]api.NodeInfo, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	replies, err := natsext.RequestMany(ctx, a.nc, api.NodesSubject, nil, natsext.RequestManyStall(nodesStall))
	if err != nil {
		return nil, fmt.Errorf("natsfn: nodes: %w", err)
	}
	var out []api.NodeInfo
	for m, err := range replies {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%w (on %s)", ErrNotAdmin, a.nc.ConnectedUrlRedacted())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			break // those that answered in time
		}
		if err != nil {
			return nil, fmt.Errorf("natsfn: nodes: %w", err)
		}
		var r api.Response[api.NodeInfo]
		if json.Unmarshal(m.Data, &r) != nil || r.Data == nil {
			continue // not a node's answer
		}
		out = append(out, *r.Data)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("natsfn: nodes: no node answered in time")
	}
	slices.SortFunc(out, func(x, y api.NodeInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}
