package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

// serve answers one request.
func (s *Server) serve(msg *nats.Msg) {
	ctx, stopWatching := s.watchRefusals(s.base, requestNamespace(msg.Subject))
	defer stopWatching()
	ctx, cancel := context.WithTimeout(ctx, requestBudget(msg))
	defer cancel()
	body, apiErr := s.route(ctx, msg.Subject, msg.Data)
	if msg.Reply == "" || strings.HasPrefix(msg.Reply, "$") {
		// A reply subject on $JS.API, $KV, ... would have the node act
		// for whoever chose it; real requesters use inboxes.
		return
	}
	reply := &nats.Msg{Data: body}
	if apiErr != nil {
		reply.Header = nats.Header{}
		reply.Header.Set(api.HeaderError, oneLine(apiErr.Message))
		reply.Header.Set(api.HeaderErrorCode, strconv.Itoa(apiErr.Code))
	}
	if err := msg.RespondMsg(reply); err != nil {
		s.opts.logger.Warn("control: cannot reply", "subject", msg.Subject, "error", err)
	}
}

// requestNamespace is the namespace a control subject names; empty for
// another subject.
func requestNamespace(subject string) string {
	rest, ok := strings.CutPrefix(subject, api.ControlPrefix+".")
	if !ok {
		return ""
	}
	ns, _, _ := strings.Cut(rest, ".")
	if api.ValidateName("namespace", ns) != nil {
		return ""
	}
	return ns
}

// replyMargin is what the node keeps of the client's timeout to get its
// answer back in time.
const replyMargin = 500 * time.Millisecond

// requestBudget is how long the node works on a request: requestTimeout,
// or less when the client says it waits less (HeaderTimeout), so that a
// request stuck on JetStream fails with the reason before the client
// gives up.
func requestBudget(msg *nats.Msg) time.Duration {
	if msg.Header == nil {
		return requestTimeout
	}
	d, err := time.ParseDuration(msg.Header.Get(api.HeaderTimeout))
	if err != nil || d <= 0 {
		return requestTimeout
	}
	return min(requestTimeout, max(d-min(replyMargin, d/4), 100*time.Millisecond))
}

// handle runs the request on subject and returns the reply envelope, and
// the error it holds, if any. It never panics on what a client sends.
func (s *Server) handle(ctx context.Context, subject string, data []byte) ([]byte, *api.Error) {
	rest, ok := strings.CutPrefix(subject, api.ControlPrefix+".")
	ns, op, _ := strings.Cut(rest, ".")
	log := s.opts.logger.With("namespace", ns, "op", op)
	var (
		result any
		err    error
	)
	switch {
	case !ok:
		err = api.Errorf(api.CodeNotFound, "not a control subject: %s", subject)
	case api.ValidateName("namespace", ns) != nil:
		err = api.Errorf(api.CodeBadRequest, "%v", api.ValidateName("namespace", ns))
	case s.opts.namespace != "" && ns != s.opts.namespace:
		err = api.Errorf(api.CodeForbidden, "these credentials are for namespace %q, not %q", s.opts.namespace, ns)
	case op == api.OpDeploy:
		result, err = s.deploy(ctx, log, ns, data)
	case op == api.OpList:
		result, err = s.list(ctx, ns, data)
	case op == api.OpInfo:
		result, err = s.info(ctx, ns, data)
	case op == api.OpRemove:
		result, err = s.remove(ctx, log, ns, data)
	case op == api.OpVersions:
		result, err = s.versions(ctx, ns, data)
	case op == api.OpRollback:
		result, err = s.rollback(ctx, log, ns, data)
	default:
		err = api.Errorf(api.CodeNotFound, "unknown operation %q; want %s, %s, %s, %s, %s or %s",
			op, api.OpDeploy, api.OpList, api.OpInfo, api.OpRemove, api.OpVersions, api.OpRollback)
	}
	return s.envelope(ctx, log, result, err)
}

// envelope is the reply to a request that gave result or failed with err.
// A request that NATS refused failed for that reason, whatever error the
// refusal's cancellation turned into.
func (s *Server) envelope(ctx context.Context, log *slog.Logger, result any, err error) ([]byte, *api.Error) {
	if err != nil {
		apiErr := refused(ctx)
		if apiErr != nil {
			log.Warn("control: refused by NATS permissions", "error", apiErr.Message, "cause", err)
		} else {
			apiErr = s.publicError(log, err)
		}
		return encode(api.Response[json.RawMessage]{Error: apiErr}), apiErr
	}
	raw, mErr := json.Marshal(result)
	if mErr != nil {
		apiErr := s.publicError(log, mErr)
		return encode(api.Response[json.RawMessage]{Error: apiErr}), apiErr
	}
	return encode(api.Response[json.RawMessage]{Data: (*json.RawMessage)(&raw)}), nil
}

// publicError turns err into what the client may see; the cause of an
// internal failure stays in the log.
func (s *Server) publicError(log *slog.Logger, err error) *api.Error {
	var apiErr *api.Error
	switch {
	case errors.As(err, &apiErr):
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNamespaceNotFound):
		apiErr = api.Errorf(api.CodeNotFound, "%s", strings.TrimPrefix(err.Error(), "natsfn: "))
	case errors.Is(err, store.ErrNamespaceExists):
		apiErr = api.Errorf(api.CodeConflict, "%s", strings.TrimPrefix(err.Error(), "natsfn: "))
	case errors.Is(err, store.ErrConflict):
		apiErr = api.Errorf(api.CodeConflict, "the function changed during the request; try again")
	case jetStreamUnavailable(err):
		apiErr = api.Errorf(api.CodeUnavailable, "JetStream is not available: %s (is a majority of its servers up?)",
			strings.TrimPrefix(oneLine(err.Error()), "natsfn: "))
	case errors.Is(err, context.DeadlineExceeded):
		// What the node waited for: a JetStream outage shows here.
		apiErr = api.Errorf(api.CodeTimeout, "the request timed out: %s (no answer from JetStream in time: is a majority of its servers up?)",
			strings.TrimPrefix(oneLine(err.Error()), "natsfn: "))
	default:
		log.Error("control: request failed", "error", err)
		return api.Errorf(api.CodeInternal, "internal error; see the node's log")
	}
	log.Debug("control: request refused", "code", apiErr.Code, "error", err)
	return apiErr
}

// codeClusterNotAvailable is JetStream's "JetStream system temporarily
// unavailable": no meta leader.
const codeClusterNotAvailable = 10008

// jetStreamUnavailable reports whether err says JetStream could not serve
// the request: no leader, too few servers, a request that went unanswered.
func jetStreamUnavailable(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, store.ErrWatchStopped),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode == codeClusterNotAvailable
	}
	return false
}

func encode(r api.Response[json.RawMessage]) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		// Only a RawMessage that is not JSON fails, and handle never makes one.
		panic(err)
	}
	return b
}
