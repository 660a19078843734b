package control

import (
	"context"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// Namespaces carries out the administrator's namespace operations; the
// node implements it, since adding a namespace makes an account.
type Namespaces interface {
	Add(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceCreds, error)
	Set(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceInfo, error)
	List(ctx context.Context) ([]api.NamespaceInfo, error)
	Remove(ctx context.Context, name string) (*api.NamespaceInfo, error)
	Creds(ctx context.Context, req api.NamespaceRequest) (*api.NamespaceCreds, error)
}

// StartAdmin serves the administrator's API on nc, which must be a
// connection in natsfn's own account: no tenant can publish there.
func StartAdmin(ctx context.Context, nc *nats.Conn, namespaces Namespaces, opts ...Option) (*Server, error) {
	o := options{logger: slog.New(slog.DiscardHandler), queue: DefaultQueue}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &Server{opts: o}
	s.route = func(ctx context.Context, subject string, data []byte) ([]byte, *api.Error) {
		op, _ := strings.CutPrefix(subject, api.AdminPrefix+".ns.")
		log := s.opts.logger.With("op", "ns "+op)
		result, err := adminOp(ctx, namespaces, op, data)
		return s.envelope(ctx, log, result, err)
	}
	return s, s.subscribe(ctx, nc, api.AdminPrefix+".ns.>")
}

func adminOp(ctx context.Context, namespaces Namespaces, op string, data []byte) (any, error) {
	if op == api.OpNamespaceList {
		var req struct{}
		if err := decode(data, &req, true); err != nil {
			return nil, err
		}
		list, err := namespaces.List(ctx)
		if list == nil {
			list = []api.NamespaceInfo{}
		}
		return api.NamespaceList{Namespaces: list}, err
	}
	var req api.NamespaceRequest
	if err := decode(data, &req, false); err != nil {
		return nil, err
	}
	if err := api.ValidateName("namespace", req.Name); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if req.MaxStorage != nil && *req.MaxStorage != api.NoLimit && *req.MaxStorage < api.MinNamespaceStorage {
		return nil, api.Errorf(api.CodeBadRequest, "max storage must be at least %d MiB, or %d for no limit", api.MinNamespaceStorage>>20, api.NoLimit)
	}
	if req.TTL < 0 {
		return nil, api.Errorf(api.CodeBadRequest, "ttl must not be negative")
	}
	switch op {
	case api.OpNamespaceAdd:
		return namespaces.Add(ctx, req)
	case api.OpNamespaceSet:
		return namespaces.Set(ctx, req)
	case api.OpNamespaceRm:
		return namespaces.Remove(ctx, req.Name)
	case api.OpNamespaceCreds:
		return namespaces.Creds(ctx, req)
	}
	return nil, api.Errorf(api.CodeNotFound, "unknown operation %q; want %s, %s, %s, %s or %s", op,
		api.OpNamespaceAdd, api.OpNamespaceSet, api.OpNamespaceList, api.OpNamespaceRm, api.OpNamespaceCreds)
}
