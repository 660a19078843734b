// Package client is the Go client of natsfn: it deploys, lists and removes
// functions through the control API, invokes them, and reads their logs.
// The natsfn CLI is built on it.
//
// API failures come back as *api.Error, matched with errors.As; a NATS
// system without a natsfn node gives an error matching ErrNoNode.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// ErrNoNode means no natsfn node serves the control API on the NATS system.
var ErrNoNode = errors.New("natsfn: no natsfn node is running")

// Client talks to natsfn in one namespace. It is safe for concurrent use.
type Client struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	namespace string
	timeout   time.Duration
}

// Option configures New.
type Option func(*Client) error

// WithNamespace sets the namespace, api.DefaultNamespace by default.
func WithNamespace(ns string) Option {
	return func(c *Client) error {
		if err := api.ValidateName("namespace", ns); err != nil {
			return fmt.Errorf("natsfn: %w", err)
		}
		c.namespace = ns
		return nil
	}
}

// WithTimeout sets the timeout of calls whose context has no deadline,
// DefaultTimeout by default.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("natsfn: timeout must be positive, not %s", d)
		}
		c.timeout = d
		return nil
	}
}

// New returns a client on nc. The caller keeps nc and closes it.
func New(nc *nats.Conn, opts ...Option) (*Client, error) {
	if nc == nil {
		return nil, errors.New("natsfn: nil NATS connection")
	}
	c := &Client{nc: nc, namespace: api.DefaultNamespace, timeout: DefaultTimeout}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsfn: %w", err)
	}
	c.js = js
	return c, nil
}

// Namespace is the namespace the client works in.
func (c *Client) Namespace() string { return c.namespace }

// withTimeout applies the default timeout when ctx has no deadline.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

// noNode is the error for a NATS system where no node answers.
func (c *Client) noNode() error {
	return fmt.Errorf("%w on %s (start one with `natsfn up`)", ErrNoNode, c.nc.ConnectedUrlRedacted())
}

// request sends a control request and decodes the reply's data into out.
func (c *Client) request(ctx context.Context, op string, req, out any) error {
	return roundTrip(ctx, c.nc, api.ControlSubject(c.namespace, op), op, req, out, c.noNode)
}

// roundTrip sends a request in natsfn's envelope protocol on subject and
// decodes the reply's data into out; noNode is the error when nobody answers.
func roundTrip(ctx context.Context, nc *nats.Conn, subject, op string, req, out any, noNode func() error) error {
	var data []byte
	if req != nil {
		var err error
		if data, err = json.Marshal(req); err != nil {
			return fmt.Errorf("natsfn: encode %s request: %w", op, err)
		}
	}
	reqMsg := nats.NewMsg(subject)
	reqMsg.Data = data
	if deadline, ok := ctx.Deadline(); ok {
		// The node answers within it, with the reason when it cannot.
		reqMsg.Header.Set(api.HeaderTimeout, time.Until(deadline).Round(time.Millisecond).String())
	}
	msg, err := nc.RequestMsgWithContext(ctx, reqMsg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return noNode()
	case errors.Is(err, nats.ErrPermissionViolation):
		return fmt.Errorf("natsfn: %s: these credentials may not use %s: %w", op, subject, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("natsfn: %s: no reply from a natsfn node in time: %w", op, err)
	case err != nil:
		return fmt.Errorf("natsfn: %s: %w", op, err)
	}
	var r api.Response[json.RawMessage]
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		if e := headerError(msg); e != nil {
			return e
		}
		return fmt.Errorf("natsfn: %s: the reply is not a natsfn response: %w", op, err)
	}
	if r.Error != nil {
		return r.Error
	}
	if r.Data == nil {
		return fmt.Errorf("natsfn: %s: the reply holds neither data nor an error", op)
	}
	if err := json.Unmarshal(*r.Data, out); err != nil {
		return fmt.Errorf("natsfn: %s: decode reply: %w", op, err)
	}
	return nil
}

// headerError returns the error a reply carries in the NATS services
// headers, or nil.
func headerError(msg *nats.Msg) *api.Error {
	text := msg.Header.Get(api.HeaderError)
	codeText := msg.Header.Get(api.HeaderErrorCode)
	if text == "" && codeText == "" {
		return nil
	}
	code, err := strconv.Atoi(codeText)
	if err != nil || code <= 0 {
		code = api.CodeInternal
	}
	if text == "" {
		text = "error"
	}
	return &api.Error{Code: code, Message: text}
}
