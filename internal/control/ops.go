package control

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/trigger"
)

const (
	// maxUploadName bounds an upload's object name.
	maxUploadName = 256
	// maxMessage bounds an error message in a reply header.
	maxMessage = 1000
)

func (s *Server) deploy(ctx context.Context, log *slog.Logger, ns string, data []byte) (*api.Deployed, error) {
	var req api.DeployRequest
	if err := decode(data, &req, false); err != nil {
		return nil, err
	}
	if err := validateUpload(ns, req.Upload); err != nil {
		return nil, err
	}
	// The upload is useless after this request whatever its outcome: a
	// client that tries again stages a new one.
	defer func() {
		// Whatever ended the request, and watching anew: a refusal that
		// ended it need not refuse this.
		cleanup, stop := s.watchRefusals(context.WithoutCancel(ctx), ns)
		defer stop()
		if err := s.opts.uploads.Delete(cleanup, req.Upload); err != nil {
			log.Warn("control: cannot delete upload", "upload", req.Upload, "error", err)
		}
	}()

	spec := req.Spec
	switch spec.Namespace {
	case "":
		spec.Namespace = ns
	case ns:
	default:
		return nil, api.Errorf(api.CodeBadRequest, "the spec's namespace %q is not the request's namespace %q", spec.Namespace, ns)
	}
	if err := spec.Validate(); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}

	script, err := s.opts.uploads.Read(ctx, req.Upload, api.MaxBundleBytes)
	switch {
	case errors.Is(err, store.ErrUploadNotFound):
		return nil, api.Errorf(api.CodeBadRequest, "upload %q not found; stage the bundle in %s first (uploads expire after %s)", req.Upload, api.UploadsBucket, store.UploadMaxAge)
	case errors.Is(err, store.ErrUploadTooLarge):
		return nil, api.Errorf(api.CodeTooLarge, "the bundle is larger than %d MiB", api.MaxBundleBytes>>20)
	case err != nil:
		return nil, err
	}
	return s.put(ctx, log, api.FunctionInfo{Spec: spec}, script, req.KeepData, req.Force)
}

// put vets and stores a new version of a function, for deploy and
// rollback, and answers once it is served.
func (s *Server) put(ctx context.Context, log *slog.Logger, version api.FunctionInfo, script []byte, keepData, force bool) (*api.Deployed, error) {
	spec := version.Spec
	ns := spec.Namespace
	warnings, err := s.checkShared(ctx, spec, force)
	if err != nil {
		return nil, err
	}
	if s.opts.check != nil {
		if err := s.opts.check(ctx, spec, script); err != nil {
			var apiErr *api.Error
			switch {
			case errors.As(err, &apiErr):
				return nil, apiErr
			case errors.Is(err, context.DeadlineExceeded):
				return nil, api.Errorf(api.CodeTimeout, "checking the bundle timed out")
			default:
				return nil, api.Errorf(api.CodeBadRequest, "bundle does not compile: %s", oneLine(err.Error()))
			}
		}
	}

	if !keepData {
		if err := s.dropStaleData(ctx, log, ns, spec.Name); err != nil {
			return nil, err
		}
	}

	previous, _ := s.st.Get(ctx, ns, spec.Name)
	info, err := s.st.Put(ctx, version, script)
	if err != nil {
		return nil, err
	}
	if previous != nil {
		s.dropOldTriggers(ctx, log, ns, previous.Spec, spec)
	}
	log.Info("control: deployed", "name", spec.Name, "version", info.Version, "revision", info.Revision,
		"digest", info.BundleDigest, "size", info.BundleSize, "triggers", spec.Triggers, "rollback_of", info.RollbackOf)
	if s.opts.deployed != nil {
		if err := s.opts.deployed(ctx, *info); err != nil {
			log.Warn("control: deployed but not yet served", "name", spec.Name, "revision", info.Revision, "error", err)
			var apiErr *api.Error
			if errors.As(err, &apiErr) {
				return nil, apiErr // the version cannot be served: the deploy failed
			}
		}
	}
	return &api.Deployed{FunctionInfo: *info, Warnings: warnings}, nil
}

// validateUpload checks an upload name. It must lie in the namespace, so
// that a tenant scoped by NATS permissions deploys only what it staged.
func validateUpload(ns, upload string) error {
	switch {
	case upload == "":
		return api.Errorf(api.CodeBadRequest, "upload must name the staged bundle")
	case len(upload) > maxUploadName || !utf8.ValidString(upload):
		return api.Errorf(api.CodeBadRequest, "upload name is not valid")
	case !strings.HasPrefix(upload, ns+"."):
		return api.Errorf(api.CodeBadRequest, "upload %q must start with the namespace, %q", upload, ns+".")
	}
	return nil
}

func (s *Server) list(ctx context.Context, ns string, data []byte) (*api.ListResponse, error) {
	var req struct{}
	if err := decode(data, &req, true); err != nil {
		return nil, err
	}
	fns, err := s.st.List(ctx, ns)
	if err != nil {
		return nil, err
	}
	return &api.ListResponse{Functions: fns}, nil
}

// dropStaleData deletes the KV bucket and object store that a removed
// function of this name left, so that a new function of the name does not
// inherit its data (secrets included). A function that exists keeps its
// data: this is a redeploy.
func (s *Server) dropStaleData(ctx context.Context, log *slog.Logger, ns, name string) error {
	_, err := s.st.Get(ctx, ns, name)
	if !errors.Is(err, store.ErrNotFound) {
		return err // nil: a redeploy
	}
	purged, err := s.purgeData(ctx, ns, name)
	if len(purged) > 0 {
		log.Info("control: deleted the data a removed function of this name left", "name", name, "deleted", purged)
	}
	return err
}

func (s *Server) info(ctx context.Context, ns string, data []byte) (*api.FunctionInfo, error) {
	req, err := decodeName(data)
	if err != nil {
		return nil, err
	}
	if req.Purge {
		return nil, api.Errorf(api.CodeBadRequest, "purge is for rm only")
	}
	return s.st.Get(ctx, ns, req.Name)
}

// remove removes a function's desired state and, with purge, its data. A
// function removed earlier without purge has no state left but may have
// data: purge deletes it then.
func (s *Server) remove(ctx context.Context, log *slog.Logger, ns string, data []byte) (*api.Removed, error) {
	req, err := decodeName(data)
	if err != nil {
		return nil, err
	}
	name := req.Name
	info, err := s.st.Get(ctx, ns, name)
	if errors.Is(err, store.ErrNotFound) {
		return s.removeLeftovers(ctx, log, ns, name, req.Purge, err)
	}
	if err != nil {
		return nil, err
	}
	if err := s.st.Delete(ctx, ns, name); err != nil {
		return nil, err
	}
	s.dropOldTriggers(ctx, log, ns, info.Spec, api.FunctionSpec{Namespace: ns, Name: name})
	log.Info("control: removed", "name", name, "revision", info.Revision)
	out := &api.Removed{FunctionInfo: *info}
	if req.Purge {
		// The function is gone whatever happens here; a failure is
		// reported, and rm --purge again finishes the job.
		out.Purged, err = s.purgeData(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		log.Info("control: purged", "name", name, "deleted", out.Purged)
		return out, nil
	}
	if out.Kept, err = s.existingData(ctx, ns, name); err != nil {
		log.Warn("control: cannot tell whether the removed function left data", "name", name, "error", err)
	}
	return out, nil
}

// removeLeftovers answers rm of a function that does not exist: with purge
// it deletes data a function removed earlier left; otherwise it says not
// found, and whether there is such data.
func (s *Server) removeLeftovers(ctx context.Context, log *slog.Logger, ns, name string, purge bool, notFound error) (*api.Removed, error) {
	if !purge {
		if left, err := s.existingData(ctx, ns, name); err == nil && len(left) > 0 {
			return nil, api.Errorf(api.CodeNotFound, "function not found: %s/%s; the data a removed function of this name left is still there (rm %s --purge deletes it)", ns, name, name)
		}
		return nil, notFound
	}
	purged, err := s.purgeData(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if len(purged) == 0 {
		return nil, api.Errorf(api.CodeNotFound, "function not found: %s/%s, and no data of that name", ns, name)
	}
	log.Info("control: purged the data a removed function left", "name", name, "deleted", purged)
	return &api.Removed{FunctionInfo: api.FunctionInfo{Spec: api.FunctionSpec{Namespace: ns, Name: name}}, Purged: purged}, nil
}

func decodeName(data []byte) (api.NameRequest, error) {
	var req api.NameRequest
	if err := decode(data, &req, false); err != nil {
		return req, err
	}
	if err := api.ValidateName("name", req.Name); err != nil {
		return req, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	return req, nil
}

// oneLine keeps a message, a compiler's multi-line one say, to one line of
// bounded length that is safe in a NATS header.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ; ")), " ")
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// dropOldTriggers deletes the consumers (and the schedule) of old's
// triggers that spec no longer has: after a redeploy, or every one after
// rm (spec then has no triggers). A failure is logged: the function's
// state is already changed, and a consumer left behind holds messages,
// not the function.
func (s *Server) dropOldTriggers(ctx context.Context, log *slog.Logger, ns string, old, spec api.FunctionSpec) {
	if old.Stream == nil && old.Schedule == nil && old.Watch == nil {
		return // subjects only: nothing in JetStream
	}
	js, err := s.dataJetStream(ns)
	if err == nil {
		err = trigger.RemoveChanged(ctx, js, old, spec)
	}
	if err != nil {
		log.Warn("control: cannot delete the consumers of old triggers", "name", old.Name, "error", err)
	}
}
