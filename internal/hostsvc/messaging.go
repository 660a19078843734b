package hostsvc

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/synadia-io/orbit.go/natsext"
)

// message builds the message of every messaging op from its subject,
// opts.headers and payload, and returns the opts for the op's other fields.
func (s *Services) message(a args, body []byte) (*nats.Msg, options, *Error) {
	subj, e := a.str(0, "subject")
	if e != nil {
		return nil, options{}, e
	}
	if e := s.checkSubject(subj); e != nil {
		return nil, options{}, e
	}
	opts, e := a.options(1, "opts")
	if e != nil {
		return nil, opts, e
	}
	h, e := opts.headers("headers")
	if e != nil {
		return nil, opts, e
	}
	if e := checkHeaders(h, "opts.headers"); e != nil {
		return nil, opts, e
	}
	// Checked here, headers included, rather than left to the client: a
	// failed publish inside natsext.RequestMany would leave its inbox
	// subscribed.
	if size, max := int64(len(body)+headerSize(h)), s.nc.MaxPayload(); size > max {
		return nil, opts, newError(CodeTooLarge, nil, "message of %d bytes is over the server's limit of %d", size, max)
	}
	// Last, so that a call refused for its arguments spends nothing.
	if !s.sends.take(time.Now()) {
		return nil, opts, newError(CodeRateLimited, nil, "messaging: more than %g messages per second (%d at once); slow down",
			s.cfg.Messaging.MaxRate, s.cfg.Messaging.MaxBurst)
	}
	m := &nats.Msg{Subject: subj, Data: body}
	if len(h) > 0 {
		m.Header = nats.Header(h)
	}
	return m, opts, nil
}

// requestTimeout is opts.timeout_ms bounded by the configured timeout (zero
// or absent means the configured one); the invocation's deadline bounds it
// further through ctx.
func (s *Services) requestTimeout(opts options) (time.Duration, *Error) {
	d, ok, e := opts.millis("timeout_ms")
	if e != nil {
		return 0, e
	}
	if !ok || d == 0 || d > s.cfg.Messaging.Timeout {
		d = s.cfg.Messaging.Timeout
	}
	return d, nil
}

func msgPublish(s *Services, _ context.Context, a args, body []byte) (any, []byte, error) {
	m, _, e := s.message(a, body)
	if e != nil {
		return nil, nil, e
	}
	// A publish expects no answer: a refusal reaches the publishes that
	// follow it.
	if s.refusals != nil {
		if r := s.refusals.RecentlyDenied(m.Subject); r != nil {
			return nil, nil, newError(CodePermission, r, "messaging.publish: the node's NATS permissions refuse publishing to %s", quoteShort(m.Subject))
		}
	}
	if err := s.nc.PublishMsg(m); err != nil {
		return nil, nil, classify("messaging.publish", err)
	}
	return nil, nil, nil
}

type requestResult struct {
	Headers map[string][]string `json:"headers"`
}

func msgRequest(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error) {
	m, opts, e := s.message(a, body)
	if e != nil {
		return nil, nil, e
	}
	timeout, e := s.requestTimeout(opts)
	if e != nil {
		return nil, nil, e
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, stop := s.watchRefusals(ctx, func(subject string) bool { return subject == m.Subject })
	defer stop()
	reply, err := s.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		if e := refusedError(ctx, "messaging.request"); e != nil {
			return nil, nil, e
		}
		return nil, nil, requestError("messaging.request", m.Subject, err)
	}
	h := map[string][]string(reply.Header)
	if h == nil {
		h = map[string][]string{}
	}
	data := reply.Data
	if data == nil {
		data = []byte{}
	}
	return requestResult{Headers: h}, data, nil
}

type requestManyResult struct {
	Sizes []int `json:"sizes"`
}

func msgRequestMany(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error) {
	m, opts, e := s.message(a, body)
	if e != nil {
		return nil, nil, e
	}
	timeout, e := s.requestTimeout(opts)
	if e != nil {
		return nil, nil, e
	}
	max, ok, e := opts.count("max")
	if e != nil {
		return nil, nil, e
	}
	if !ok || max > s.cfg.Messaging.MaxReplies {
		max = s.cfg.Messaging.MaxReplies
	}
	// Absent means the configured quiet gap; 0 means none (gather until max
	// or the timeout).
	stall, ok, e := opts.millis("stall_ms")
	if e != nil {
		return nil, nil, e
	}
	if !ok {
		stall = s.cfg.Messaging.Stall
	}
	rmOpts := []natsext.RequestManyOpt{natsext.RequestManyMaxMessages(max)}
	if stall > 0 {
		rmOpts = append(rmOpts, natsext.RequestManyStall(stall))
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, stop := s.watchRefusals(ctx, func(subject string) bool { return subject == m.Subject })
	defer stop()
	replies, err := natsext.RequestManyMsg(ctx, s.nc, m, rmOpts...)
	if err != nil {
		if e := refusedError(ctx, "messaging.requestMany"); e != nil {
			return nil, nil, e
		}
		return nil, nil, requestError("messaging.requestMany", m.Subject, err)
	}
	res := requestManyResult{Sizes: []int{}}
	var out []byte
	for reply, err := range replies {
		if err != nil {
			if e := refusedError(ctx, "messaging.requestMany"); e != nil {
				return nil, nil, e
			}
			return nil, nil, requestError("messaging.requestMany", m.Subject, err)
		}
		if len(out)+len(reply.Data) > s.cfg.Messaging.MaxReplyBytes {
			return nil, nil, newError(CodeTooLarge, nil, "messaging.requestMany: replies exceed %d bytes in total", s.cfg.Messaging.MaxReplyBytes)
		}
		res.Sizes = append(res.Sizes, len(reply.Data))
		out = append(out, reply.Data...)
	}
	if e := refusedError(ctx, "messaging.requestMany"); e != nil {
		return nil, nil, e
	}
	if out == nil {
		out = []byte{}
	}
	return res, out, nil
}

func requestError(what, subj string, err error) *Error {
	if errors.Is(err, nats.ErrNoResponders) {
		return newError(CodeNoResponders, err, "%s: no responders on %s", what, quoteShort(subj))
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return newError(CodeTimeout, err, "%s: no reply on %s in time", what, quoteShort(subj))
	}
	return classify(what, err)
}

// headerSize is an upper bound of h's size on the wire.
func headerSize(h map[string][]string) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + len(": \r\n")
		}
	}
	return n
}
