package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

func (s *Server) versions(ctx context.Context, ns string, data []byte) (*api.VersionsResponse, error) {
	req, err := decodeName(data)
	if err != nil {
		return nil, err
	}
	if req.Purge {
		return nil, api.Errorf(api.CodeBadRequest, "purge is for rm only")
	}
	kept, err := s.st.History(ctx, ns, req.Name)
	if err != nil {
		return nil, err
	}
	return &api.VersionsResponse{Versions: kept}, nil
}

// rollback deploys a kept version again, as a new version, so that the
// rollback shows in the versions and can itself be rolled back.
func (s *Server) rollback(ctx context.Context, log *slog.Logger, ns string, data []byte) (*api.Deployed, error) {
	var req api.RollbackRequest
	if err := decode(data, &req, false); err != nil {
		return nil, err
	}
	if err := api.ValidateName("name", req.Name); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	kept, err := s.st.History(ctx, ns, req.Name)
	if err != nil {
		return nil, err
	}
	target, err := rollbackTarget(ns, req, kept)
	if err != nil {
		return nil, err
	}
	bundle, err := s.st.BundleOf(ctx, target)
	if errors.Is(err, store.ErrNotFound) {
		return nil, api.Errorf(api.CodeNotFound, "the bundle of version %d of %s/%s is gone", target.Version, ns, req.Name)
	}
	if err != nil {
		return nil, err
	}
	version := api.FunctionInfo{Spec: target.Spec, RollbackOf: target.Version}
	// The function exists, so its data stays whatever keepData says.
	return s.put(ctx, log, version, bundle, true, req.Force)
}

// rollbackTarget picks the version req goes back to among kept, newest
// first: req.To, or the one before the current.
func rollbackTarget(ns string, req api.RollbackRequest, kept []api.FunctionInfo) (*api.FunctionInfo, error) {
	current := kept[0].Version
	if req.To == 0 {
		if len(kept) < 2 {
			return nil, api.Errorf(api.CodeNotFound, "%s/%s has no version before the current one (%d) to roll back to", ns, req.Name, current)
		}
		return &kept[1], nil
	}
	if req.To == current {
		return nil, api.Errorf(api.CodeBadRequest, "version %d is the current version of %s/%s", current, ns, req.Name)
	}
	for i := range kept {
		if kept[i].Version == req.To {
			return &kept[i], nil
		}
	}
	nums := make([]string, len(kept))
	for i, v := range kept {
		nums[i] = fmt.Sprint(v.Version)
	}
	return nil, api.Errorf(api.CodeNotFound, "version %d of %s/%s is not kept (kept: %s; the last %d versions are)",
		req.To, ns, req.Name, strings.Join(nums, ", "), api.KeptVersions)
}
