package executor

import (
	"context"
	"errors"
	"log/slog"

	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/stats"
)

// ServicesHost is a function's hostsvc.Services as the engine sees them:
// each call is counted, its error becomes what JavaScript sees, and the
// cause goes to the log. The node (in process, or for a worker's relayed
// calls) and a worker running calls itself both answer through it.
type ServicesHost struct {
	Services *hostsvc.Services
	Log      *slog.Logger
	Stats    *stats.Function
}

// Call runs a host-service call and counts it.
func (h *ServicesHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	result, resultBody, err := h.Services.Call(ctx, op, args, body)
	h.Stats.HostCall(stats.ServiceOf(op), err != nil)
	if err == nil {
		return result, resultBody, nil
	}
	var he *hostsvc.Error
	if errors.As(err, &he) {
		if he.Cause != nil {
			h.Log.Warn("host service call failed", "op", op, "code", he.Code, "err", he.Cause)
		}
		return nil, nil, &engine.HostError{Type: he.Type, Code: he.Code, Message: he.Message}
	}
	h.Log.Warn("host service call failed", "op", op, "err", err)
	return nil, nil, err
}

// WorkerConfig is what a worker with a NATS connection of its own needs to
// run some of the calls itself: the function's configuration, the services
// it keeps in the node (HTTP) left out.
func (h *ServicesHost) WorkerConfig() hostsvc.Config {
	c := h.Services.Config()
	c.HTTP = hostsvc.HTTPConfig{Disabled: true}
	return c
}
