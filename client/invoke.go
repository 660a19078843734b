package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// ErrNoResponders means nothing listens on the subject invoked.
var ErrNoResponders = errors.New("natsfn: no function listens on the subject")

// Invoke sends payload to subject and returns the reply. A reply that
// carries the Nats-Service-Error headers is returned together with an
// *api.Error holding its code and message.
func (c *Client) Invoke(ctx context.Context, subject string, payload []byte, hdr nats.Header) (*nats.Msg, error) {
	if err := api.ValidateSubject(subject, false); err != nil {
		return nil, fmt.Errorf("natsfn: %w", err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	msg := nats.NewMsg(subject)
	msg.Data = payload
	for k, vs := range hdr {
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w: %s", ErrNoResponders, subject)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return nil, fmt.Errorf("natsfn: no reply on %s in time: %w", subject, err)
	case err != nil:
		return nil, fmt.Errorf("natsfn: invoke %s: %w", subject, err)
	}
	if e := headerError(reply); e != nil {
		return reply, e
	}
	return reply, nil
}
