package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/api"
)

// cleanupTimeout bounds removing an upload after a failed deploy.
const cleanupTimeout = 2 * time.Second

// DeployOption changes a deploy or rollback request.
type DeployOption func(*deployOptions)

type deployOptions struct {
	keepData, force bool
	warn            func(string)
}

// KeepData keeps the KV bucket and object store a removed function of the
// same name left, which a deploy of a new function deletes otherwise.
func KeepData() DeployOption {
	return func(o *deployOptions) { o.keepData = true }
}

// Force deploys even though another function of the namespace serves a
// subject that overlaps one of the function's triggers (without it that is
// an *api.Error with code 409). Both functions then get every message on
// it; the node says so in a warning.
func Force() DeployOption {
	return func(o *deployOptions) { o.force = true }
}

// OnWarning has warn called with each one-line warning the node's reply
// carries, such as a trigger shared under Force.
func OnWarning(warn func(msg string)) DeployOption {
	return func(o *deployOptions) { o.warn = warn }
}

func deployOpts(opts []DeployOption) deployOptions {
	var o deployOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// deployed hands a deploy's warnings to the caller and returns the function.
func (o deployOptions) deployed(d *api.Deployed) *api.FunctionInfo {
	if o.warn != nil {
		for _, w := range d.Warnings {
			o.warn(w)
		}
	}
	return &d.FunctionInfo
}

// Deploy stages script in the uploads bucket and asks a node to deploy it
// as spec. The spec's namespace may be empty (the client's is used) but
// must not differ from the client's. A function that did not exist starts
// with an empty KV bucket and object store unless KeepData is given.
func (c *Client) Deploy(ctx context.Context, spec api.FunctionSpec, script []byte, opts ...DeployOption) (*api.FunctionInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	switch spec.Namespace {
	case "":
		spec.Namespace = c.namespace
	case c.namespace:
	default:
		return nil, api.Errorf(api.CodeBadRequest, "the spec's namespace %q is not the client's namespace %q", spec.Namespace, c.namespace)
	}
	if err := spec.Validate(); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if len(script) > api.MaxBundleBytes {
		return nil, api.Errorf(api.CodeTooLarge, "the bundle is larger than %d MiB", api.MaxBundleBytes>>20)
	}

	uploads, err := c.js.ObjectStore(ctx, api.UploadsBucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, c.noNode()
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("natsfn: JetStream is not enabled on %s; natsfn needs it: %w", c.nc.ConnectedUrlRedacted(), err)
	case jetStreamSilent(err):
		return nil, fmt.Errorf("natsfn: JetStream did not answer in time to open %s (is a majority of its servers up?): %w", api.UploadsBucket, err)
	case err != nil:
		return nil, fmt.Errorf("natsfn: open %s: %w", api.UploadsBucket, err)
	}
	// A unique name: concurrent deploys never overwrite each other's upload.
	upload := spec.Key() + "." + nuid.Next()
	if _, err := uploads.PutBytes(ctx, upload, script); err != nil {
		return nil, stageError(ctx, uploads, err)
	}

	o := deployOpts(opts)
	req := api.DeployRequest{Spec: spec, Upload: upload, KeepData: o.keepData, Force: o.force}
	var d api.Deployed
	err = c.request(ctx, api.OpDeploy, req, &d)
	if err != nil {
		var apiErr *api.Error
		if !errors.As(err, &apiErr) {
			// No node took the upload; it would expire, but need not wait.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			_ = uploads.Delete(cctx, upload)
			ccancel()
		}
		return nil, err
	}
	return o.deployed(&d), nil
}

// JetStream error codes of a store that is full: its own limit
// (JSStreamStoreFailedF, "maximum bytes exceeded") or the account's.
const (
	jsStoreFailed              = 10077
	jsStorageResourcesExceeded = 10047
)

// stageError explains a failed upload: a full staging area is worth a
// sentence, not a JetStream error code.
func stageError(ctx context.Context, uploads jetstream.ObjectStore, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jsStoreFailed && strings.Contains(apiErr.Description, "maximum bytes"):
		limit := "its limit"
		if st, serr := uploads.Status(ctx); serr == nil {
			if bs, ok := st.(*jetstream.ObjectBucketStatus); ok && bs.StreamInfo() != nil && bs.StreamInfo().Config.MaxBytes > 0 {
				limit = fmt.Sprintf("at most %d MiB", bs.StreamInfo().Config.MaxBytes>>20)
			}
			if ttl := st.TTL(); ttl > 0 {
				limit += fmt.Sprintf("; uploads no deploy took expire after %s", ttl)
			}
		}
		return api.Errorf(api.CodeTooMany, "the staging area %s is full (%s): try again later", api.UploadsBucket, limit)
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jsStorageResourcesExceeded:
		return api.Errorf(api.CodeTooMany, "the namespace's storage is full: the bundle cannot be staged in %s", api.UploadsBucket)
	}
	if jetStreamSilent(err) {
		return fmt.Errorf("natsfn: JetStream did not answer in time to stage the bundle in %s (is a majority of its servers up?): %w", api.UploadsBucket, err)
	}
	return fmt.Errorf("natsfn: stage bundle: %w", err)
}

// jetStreamSilent reports whether err says JetStream did not answer: no
// leader for the stream, or too few of its servers up.
func jetStreamSilent(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// List returns the namespace's functions sorted by name.
func (c *Client) List(ctx context.Context) ([]api.FunctionInfo, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var list api.ListResponse
	if err := c.request(ctx, api.OpList, nil, &list); err != nil {
		return nil, err
	}
	if list.Functions == nil {
		list.Functions = []api.FunctionInfo{}
	}
	return list.Functions, nil
}

// Info returns a function; an unknown one is an *api.Error with code 404.
func (c *Client) Info(ctx context.Context, name string) (*api.FunctionInfo, error) {
	var info api.FunctionInfo
	if err := c.nameRequest(ctx, api.OpInfo, api.NameRequest{Name: name}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// RemoveOption changes a remove request.
type RemoveOption func(*api.NameRequest)

// Purge deletes the function's KV bucket and object store too, or those a
// function of the name removed earlier left.
func Purge() RemoveOption {
	return func(r *api.NameRequest) { r.Purge = true }
}

// Remove removes a function and returns it as it was, with what became of
// its data: kept unless Purge is given.
func (c *Client) Remove(ctx context.Context, name string, opts ...RemoveOption) (*api.Removed, error) {
	req := api.NameRequest{Name: name}
	for _, opt := range opts {
		opt(&req)
	}
	var removed api.Removed
	if err := c.nameRequest(ctx, api.OpRemove, req, &removed); err != nil {
		return nil, err
	}
	return &removed, nil
}

func (c *Client) nameRequest(ctx context.Context, op string, req api.NameRequest, out any) error {
	if err := api.ValidateName("name", req.Name); err != nil {
		return api.Errorf(api.CodeBadRequest, "%v", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	return c.request(ctx, op, req, out)
}

// Versions returns the kept versions of a function (api.KeptVersions at
// most), newest (the current one) first.
func (c *Client) Versions(ctx context.Context, name string) ([]api.FunctionInfo, error) {
	var list api.VersionsResponse
	if err := c.nameRequest(ctx, api.OpVersions, api.NameRequest{Name: name}, &list); err != nil {
		return nil, err
	}
	return list.Versions, nil
}

// Rollback deploys version to of a function again, as a new version; to 0
// means the version before the current. Force and OnWarning apply as for
// Deploy. An unknown function or a version not kept is an *api.Error with
// code 404.
func (c *Client) Rollback(ctx context.Context, name string, to uint64, opts ...DeployOption) (*api.FunctionInfo, error) {
	if err := api.ValidateName("name", name); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	o := deployOpts(opts)
	var d api.Deployed
	if err := c.request(ctx, api.OpRollback, api.RollbackRequest{Name: name, To: to, Force: o.force}, &d); err != nil {
		return nil, err
	}
	return o.deployed(&d), nil
}
