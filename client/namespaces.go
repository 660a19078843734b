package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

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
