package executor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/pool"
)

// subjectSource is the subject trigger: core NATS subjects subscribed in
// the function's queue group, so each message runs once across the nodes;
// the function's return is the reply (DESIGN.md section 2). It is the hot
// path: the callback only enqueues.
type subjectSource struct {
	f        *Function
	subs     []*nats.Subscription
	draining []<-chan nats.SubStatus
}

func newSubjectSource(f *Function) Source {
	if len(f.cfg.Info.Spec.Triggers) == 0 {
		return nil
	}
	return &subjectSource{f: f}
}

// ErrSubscribeRefused is wrapped by the error of a load whose trigger the
// server's permissions refuse to subscribe.
var ErrSubscribeRefused = errors.New("natsfn: NATS permissions refuse the trigger's subscription")

// subscribeTimeout bounds confirming the triggers' subscriptions.
const subscribeTimeout = 5 * time.Second

// Start subscribes the triggers and returns once the server has the
// subscriptions, so requests reach the function.
func (s *subjectSource) Start() error {
	f := s.f
	spec := f.cfg.Info.Spec
	queue := QueueGroup(spec.Namespace, spec.Name)
	var mark natsperm.Mark
	if f.cfg.Refusals != nil {
		mark = f.cfg.Refusals.Mark(f.cfg.Conn)
	}
	for _, t := range spec.Triggers {
		sub, err := f.cfg.Conn.QueueSubscribe(t, queue, s.receive)
		if err == nil {
			// NATS drops a subscription's messages without a word once
			// this many wait for the callback; receive never blocks and
			// answers every message at once (the runner's queue, else
			// 429), so a backlog is only a burst that arrived faster
			// than that, and any limit would leave callers of the burst
			// without a reply.
			err = sub.SetPendingLimits(-1, -1)
		}
		if err != nil {
			return fmt.Errorf("subscribe %q: %w", t, err)
		}
		s.subs = append(s.subs, sub)
	}
	if err := f.cfg.Conn.FlushTimeout(subscribeTimeout); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if f.cfg.Refusals != nil {
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		defer cancel()
		for _, t := range spec.Triggers {
			if r := f.cfg.Refusals.Subscribed(ctx, f.cfg.Conn, mark, t, queue); r != nil {
				return fmt.Errorf("%w: trigger %q: %v", ErrSubscribeRefused, t, r)
			}
		}
	}
	return nil
}

// receive is the subscriptions' callback. After the last message that has
// arrived it flushes the runner, so a burst travels to a worker in one
// write.
func (s *subjectSource) receive(msg *nats.Msg) {
	s.handle(msg)
	// The message being handled still counts as pending.
	if n, _, err := msg.Sub.Pending(); err != nil || n <= 1 {
		s.f.runner.Flush()
	}
}

// handle gives a message to the runner. It never blocks: a refused job is
// answered with 429.
func (s *subjectSource) handle(msg *nats.Msg) {
	f := s.f
	reply := msg.Reply
	if !MayReplyTo(reply) {
		// Whoever chose this reply subject wants the function's
		// connection to publish on $JS.API or the like for them.
		f.log("warn", "reply subject "+strconv.Quote(truncate(reply, 64))+" refused: replies never go to $ subjects; the function runs without replying")
		reply = ""
	}
	job := &pool.Job{Subject: msg.Subject, Reply: reply, Headers: msg.Header, Payload: msg.Data, Received: time.Now(), Finish: s}
	if f.cfg.Track != nil && reply != "" {
		job.Ref = f.cfg.Track.Begin(reply)
	}
	if !f.submit(job) {
		e := api.Errorf(api.CodeTooMany, "function is over its concurrency")
		f.cfg.Stats.CallFailed(time.Since(job.Received), e.Code, e.Message)
		s.replyError(reply, e)
		f.untrack(job)
	}
}

// Finish answers a job: the reply body, or an error reply (counted and
// logged by Function.done).
func (s *subjectSource) Finish(job *pool.Job, res engine.Result) {
	f := s.f
	defer f.untrack(job)
	if res.Err != nil {
		s.replyError(job.Reply, res.Err)
		return
	}
	if job.Reply == "" {
		f.cfg.Stats.Call(time.Since(job.Received), 0)
		return
	}
	// NATS refuses to publish past max_payload; checked here so that the
	// caller hears why instead of timing out. Counted before the reply
	// goes out, so whoever has the reply finds the call counted.
	maxPayload := f.cfg.Conn.MaxPayload()
	err := errTooLarge
	if maxPayload <= 0 || int64(len(res.Body)) <= maxPayload {
		err = nil
		f.cfg.Stats.Call(time.Since(job.Received), 0)
	} else {
		f.cfg.Stats.CallFailed(time.Since(job.Received), api.CodeTooLarge, errReplyTooLarge)
	}
	if err == nil {
		err = f.cfg.Conn.Publish(job.Reply, res.Body)
	}
	tooLarge := errors.Is(err, errTooLarge) || errors.Is(err, nats.ErrMaxPayload)
	switch {
	case tooLarge:
		f.log("error", fmt.Sprintf("invocation on %s failed: its reply of %d bytes is larger than the server's max_payload (%d)",
			job.Subject, len(res.Body), maxPayload))
		s.replyError(job.Reply, api.Errorf(api.CodeTooLarge, errReplyTooLarge))
	case err != nil:
		f.logger.Warn("reply failed", "err", err)
	}
}

var errTooLarge = errors.New("reply too large")

const errReplyTooLarge = "reply larger than the server's max_payload"

func (s *subjectSource) replyError(reply string, e *api.Error) {
	if reply == "" {
		return
	}
	if err := s.f.cfg.Conn.PublishMsg(ErrorReply(reply, e)); err != nil {
		s.f.logger.Warn("error reply failed", "err", err)
	}
}

// drainTimeout bounds how long Stop waits for a subscription to hand over
// the messages it already received.
const drainTimeout = 5 * time.Second

// Retire drains the subscriptions: once it returns the server has dropped
// them. Messages already received are still handled.
func (s *subjectSource) Retire() {
	for _, sub := range s.subs {
		ch := sub.StatusChanged(nats.SubscriptionClosed)
		if sub.Drain() == nil {
			s.draining = append(s.draining, ch)
		}
	}
	if len(s.subs) > 0 {
		if err := s.f.cfg.Conn.FlushTimeout(drainTimeout); err != nil {
			s.f.logger.Warn("unsubscribe not confirmed", "err", err)
		}
	}
}

// Stop waits until the subscriptions have handed every message the
// server sent to the runner.
func (s *subjectSource) Stop() {
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	for _, ch := range s.draining {
		select {
		case <-ch:
		case <-timeout.C:
			s.f.logger.Warn("subscription did not drain in time")
		}
	}
}
