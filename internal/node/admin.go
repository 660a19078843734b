package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// namespaceAdmin is the node as the administrator's API sees it.
type namespaceAdmin Node

var errNoAccounts = api.Errorf(api.CodeBadRequest, "this NATS system's accounts are not natsfn's to make or limit: its operator does that (docs/tenancy.md)")

// adoptAccount makes a namespace of an account the operator of a NATS
// system natsfn joins made for it, once a user signed with the given key
// gets in.
func (n *Node) adoptAccount(ctx context.Context, req api.NamespaceRequest, maxStorage int64) error {
	switch {
	case req.Account == "" || req.SigningKey == "":
		return api.Errorf(api.CodeBadRequest, "on a NATS system natsfn joins, a namespace is an account its operator made: give its public key (--account) and one of its signing keys (--signing-key FILE); see docs/tenancy.md")
	case maxStorage != api.NoLimit:
		return errNoAccounts
	case !nkeys.IsValidPublicAccountKey(req.Account):
		return api.Errorf(api.CodeBadRequest, "--account %q is not an account's public key", req.Account)
	}
	signer, err := tenancy.NewSigner([]byte(req.SigningKey), req.Account)
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "%v", err)
	}
	probe, err := signer.Mint("natsfn-probe", tenancy.Node, req.Name, nil, time.Minute)
	if err != nil {
		return err
	}
	nc, err := n.connect("natsfn-probe "+req.Name, nats.UserJWTAndSeed(probe.JWT, string(probe.Seed)))
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "the server refused a user of account %s signed with this key (is it one of the account's signing keys?): %v", req.Account, err)
	}
	nc.Close()
	return n.store.CreateNamespace(ctx, store.Namespace{
		NamespaceInfo: api.NamespaceInfo{Name: req.Name, Account: req.Account, MaxStorage: api.NoLimit, Created: time.Now().UTC()},
		SigningKey:    req.SigningKey,
	})
}

func (a *namespaceAdmin) node() *Node { return (*Node)(a) }

func (a *namespaceAdmin) Add(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceCreds, error) {
	n := a.node()
	maxStorage := int64(api.NoLimit)
	if req.MaxStorage != nil {
		maxStorage = *req.MaxStorage
	}
	switch {
	case n.server != nil && (req.Account != "" || req.SigningKey != ""):
		return nil, api.Errorf(api.CodeBadRequest, "natsfn makes the accounts on its own server; --account and --signing-key are for NATS systems it joins")
	case n.server != nil:
		if _, err := n.createNamespace(ctx, req.Name, maxStorage); err != nil {
			return nil, err
		}
	default:
		if err := n.adoptAccount(ctx, req, maxStorage); err != nil {
			return nil, err
		}
	}
	// The credentials work once this node serves the namespace.
	if err := n.tenants.wait(ctx, req.Name, func(t *tenant) bool { return t != nil }); err != nil {
		return nil, err
	}
	n.log.Info("namespace added", "namespace", req.Name, "max_storage", maxStorage)
	return a.Creds(ctx, api.NamespaceRequest{Name: req.Name, TTL: req.TTL})
}

func (a *namespaceAdmin) Set(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceInfo, error) {
	n := a.node()
	if n.server == nil {
		return nil, errNoAccounts
	}
	ns, err := n.store.UpdateNamespace(ctx, req.Name, func(ns *store.Namespace) {
		if req.MaxStorage != nil {
			ns.MaxStorage = *req.MaxStorage
		}
	})
	if err != nil {
		return nil, err
	}
	if err := n.tenants.wait(ctx, req.Name, func(t *tenant) bool { return t != nil && t.ns.MaxStorage == ns.MaxStorage }); err != nil {
		return nil, err
	}
	return &ns.NamespaceInfo, nil
}

func (a *namespaceAdmin) List(ctx context.Context) ([]api.NamespaceInfo, error) {
	all, err := a.node().store.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.NamespaceInfo, len(all))
	for i, ns := range all {
		out[i] = ns.NamespaceInfo
	}
	return out, nil
}

// Remove removes a namespace and everything in it: its functions, the
// data in its account (buckets, object stores, logs), and its users.
func (a *namespaceAdmin) Remove(ctx context.Context, name string) (*api.NamespaceInfo, error) {
	n := a.node()
	if name == api.DefaultNamespace {
		return nil, api.Errorf(api.CodeBadRequest, "the default namespace cannot be removed")
	}
	ns, err := n.store.Namespace(ctx, name)
	if err != nil {
		return nil, err
	}
	fns, err := n.store.List(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, f := range fns {
		if err := n.store.Delete(ctx, name, f.Spec.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if t := n.tenants.get(name); t != nil {
		if err := purgeAccount(ctx, t); err != nil {
			return nil, fmt.Errorf("natsfn: remove the data of namespace %s: %w", name, err)
		}
	}
	if err := n.store.DeleteNamespace(ctx, name); err != nil {
		return nil, err
	}
	if err := n.tenants.wait(ctx, name, func(t *tenant) bool { return t == nil }); err != nil {
		return nil, err
	}
	return &ns.NamespaceInfo, nil
}

// purgeAccount deletes every stream of a namespace's account.
func purgeAccount(ctx context.Context, t *tenant) error {
	js, err := jetstream.New(t.nc)
	if err != nil {
		return err
	}
	names := js.StreamNames(ctx)
	var streams []string
	for s := range names.Name() {
		streams = append(streams, s)
	}
	if err := names.Err(); err != nil {
		return err
	}
	for _, s := range streams {
		if err := js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
	}
	return nil
}

// Creds mints credentials for the owner of a namespace: every right within
// its account.
func (a *namespaceAdmin) Creds(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceCreds, error) {
	ns, err := a.node().store.Namespace(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	signer, err := tenancy.NewSigner([]byte(ns.SigningKey), ns.Account)
	if err != nil {
		return nil, err
	}
	creds, err := signer.Mint("natsfn-tenant "+ns.Name, tenancy.Tenant, ns.Name, nil, req.TTL.D())
	if err != nil {
		return nil, err
	}
	return &api.NamespaceCreds{Namespace: ns.NamespaceInfo, Creds: string(creds.File())}, nil
}

// NamespaceCreds mints the credentials of a namespace's owner, as
// `natsfn ns creds` does.
func (n *Node) NamespaceCreds(ctx context.Context, namespace string) ([]byte, error) {
	c, err := (*namespaceAdmin)(n).Creds(ctx, api.NamespaceRequest{Name: namespace})
	if err != nil {
		return nil, err
	}
	return []byte(c.Creds), nil
}

// DevCreds makes the namespace if it is new and mints credentials for its
// owner, for `natsfn dev`, which runs its own node.
func (n *Node) DevCreds(ctx context.Context, namespace string) (tenancy.Creds, error) {
	if n.server == nil {
		return tenancy.Creds{}, errNoAccounts
	}
	if _, err := n.createNamespace(ctx, namespace, api.NoLimit); err != nil && !errors.Is(err, store.ErrNamespaceExists) {
		return tenancy.Creds{}, err
	}
	if err := n.tenants.wait(ctx, namespace, func(t *tenant) bool { return t != nil }); err != nil {
		return tenancy.Creds{}, err
	}
	return n.tenants.get(namespace).signer.Mint("natsfn-dev", tenancy.Tenant, namespace, nil, 0)
}
