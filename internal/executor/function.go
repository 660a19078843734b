package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/natsperm"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/stats"
)

// FunctionConfig configures the serving of one function version.
type FunctionConfig struct {
	Conn   *nats.Conn
	Info   api.FunctionInfo
	Logger *slog.Logger
	// Node names this node in log entries.
	Node string
	// Log, when set, takes the function's log lines (console output and
	// failed invocations) instead of the default: Logger plus a publish on
	// the function's log subject.
	Log func(level, line string)
	// Track, when set, hears of every message with a reply before the
	// function runs and again once it is answered.
	Track Tracker
	// Stats, when set, counts the calls answered here.
	Stats *stats.Function
	// Refusals, when set, are Conn's permission errors: Serve fails when
	// the server refuses a trigger's subscription.
	Refusals *natsperm.Violations

	logs *logSink // the executor's; nil: a plain publish
}

// ErrSubscribeRefused is wrapped by the error of a load whose trigger the
// server's permissions refuse to subscribe.
var ErrSubscribeRefused = errors.New("natsfn: NATS permissions refuse the trigger's subscription")

// Tracker follows the messages a function owes a reply, so that someone
// can answer them if this process dies.
type Tracker interface {
	// Begin records reply; its result comes back in End.
	Begin(reply string) any
	End(ref any)
}

// Function serves one loaded version of a function on a NATS connection:
// it subscribes the triggers in the function's queue group, hands every
// message to the Runner and replies with the result.
type Function struct {
	cfg        FunctionConfig
	seq        uint64 // the executor's order of loads
	runner     Runner
	subs       []*nats.Subscription
	logSubject string
	logger     *slog.Logger
	logLimit   *logLimiter
	retireOnce sync.Once
	draining   []<-chan nats.SubStatus
	stopOnce   sync.Once
}

// NewFunction prepares a Function; Callbacks are for the Runner that Serve
// then takes.
func NewFunction(cfg FunctionConfig) *Function {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	spec := cfg.Info.Spec
	return &Function{
		cfg:        cfg,
		logSubject: api.LogSubject(spec.Namespace, spec.Name),
		logger:     cfg.Logger.With("namespace", spec.Namespace, "function", spec.Name),
		logLimit:   newLogLimiter(time.Now),
	}
}

// Callbacks are what the function's Runner reports to.
func (f *Function) Callbacks() Callbacks {
	return Callbacks{Done: f.done, Console: f.log, Stats: f.cfg.Stats}
}

// QueueGroup is the queue group of a function's subscriptions: every node
// (and every version during a redeploy) shares it, so each message runs
// once.
func QueueGroup(namespace, name string) string { return "natsfn." + namespace + "." + name }

// Serve subscribes the triggers and starts handing messages to runner. It
// returns once the server has the subscriptions, so requests reach the
// function. On error the function is stopped.
func (f *Function) Serve(runner Runner) error {
	f.runner = runner
	spec := f.cfg.Info.Spec
	queue := QueueGroup(spec.Namespace, spec.Name)
	var mark natsperm.Mark
	if f.cfg.Refusals != nil {
		mark = f.cfg.Refusals.Mark(f.cfg.Conn)
	}
	for _, t := range spec.Triggers {
		sub, err := f.cfg.Conn.QueueSubscribe(t, queue, f.receive)
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
			f.Stop()
			return fmt.Errorf("subscribe %q: %w", t, err)
		}
		f.subs = append(f.subs, sub)
	}
	if err := f.cfg.Conn.FlushTimeout(subscribeTimeout); err != nil {
		f.Stop()
		return fmt.Errorf("subscribe: %w", err)
	}
	if f.cfg.Refusals != nil {
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		defer cancel()
		for _, t := range spec.Triggers {
			if r := f.cfg.Refusals.Subscribed(ctx, f.cfg.Conn, mark, t, queue); r != nil {
				f.Stop()
				return fmt.Errorf("%w: trigger %q: %v", ErrSubscribeRefused, t, r)
			}
		}
	}
	return nil
}

// subscribeTimeout bounds confirming the triggers' subscriptions.
const subscribeTimeout = 5 * time.Second

// receive is the subscriptions' callback. After the last message that has
// arrived it flushes the runner, so a burst travels to a worker in one
// write.
func (f *Function) receive(msg *nats.Msg) {
	f.handle(msg)
	// The message being handled still counts as pending.
	if n, _, err := msg.Sub.Pending(); err != nil || n <= 1 {
		f.runner.Flush()
	}
}

// handle gives a message to the runner. It never blocks: a refused job is
// answered with 429.
func (f *Function) handle(msg *nats.Msg) {
	reply := msg.Reply
	if !MayReplyTo(reply) {
		// Whoever chose this reply subject wants the function's
		// connection to publish on $JS.API or the like for them.
		f.log("warn", "reply subject "+strconv.Quote(truncate(reply, 64))+" refused: replies never go to $ subjects; the function runs without replying")
		reply = ""
	}
	job := &pool.Job{Subject: msg.Subject, Reply: reply, Headers: msg.Header, Payload: msg.Data, Received: time.Now()}
	if f.cfg.Track != nil && reply != "" {
		job.Ref = f.cfg.Track.Begin(reply)
	}
	if !f.runner.Submit(job) {
		e := api.Errorf(api.CodeTooMany, "function is over its concurrency")
		f.cfg.Stats.CallFailed(time.Since(job.Received), e.Code, e.Message)
		f.replyError(reply, e)
		f.untrack(job)
	}
}

func (f *Function) untrack(job *pool.Job) {
	if f.cfg.Track != nil && job.Reply != "" {
		f.cfg.Track.End(job.Ref)
	}
}

// done answers a job: the reply body, or an error reply whose details go
// to the function's log only.
func (f *Function) done(job *pool.Job, res engine.Result) {
	defer f.untrack(job)
	if res.Err != nil {
		f.cfg.Stats.CallFailed(time.Since(job.Received), res.Err.Code, res.Err.Message)
		f.log("error", "invocation on "+job.Subject+" failed: "+res.Err.Message+": "+res.Detail)
		f.replyError(job.Reply, res.Err)
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
		f.replyError(job.Reply, api.Errorf(api.CodeTooLarge, errReplyTooLarge))
	case err != nil:
		f.logger.Warn("reply failed", "err", err)
	}
}

var errTooLarge = errors.New("reply too large")

const errReplyTooLarge = "reply larger than the server's max_payload"

// MayReplyTo says whether a function may reply on subject. NATS's own
// services ($JS.API, $KV, $O, $SYS, ...) and natsfn's ($NATSFN) all live on
// $ subjects, and no client's inbox does, so a reply there could only make
// the function's connection act for whoever chose the subject.
func MayReplyTo(subject string) bool {
	return !strings.HasPrefix(subject, "$")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ErrorReply is the message that answers reply with e: no body, the error
// in the Nats-Service-Error headers.
func ErrorReply(reply string, e *api.Error) *nats.Msg {
	msg := &nats.Msg{Subject: reply, Header: nats.Header{}}
	msg.Header.Set(api.HeaderError, e.Message)
	msg.Header.Set(api.HeaderErrorCode, strconv.Itoa(e.Code))
	return msg
}

func (f *Function) replyError(reply string, e *api.Error) {
	if reply == "" {
		return
	}
	if err := f.cfg.Conn.PublishMsg(ErrorReply(reply, e)); err != nil {
		f.logger.Warn("error reply failed", "err", err)
	}
}

// log writes a line to the node's log and publishes it on the function's
// log subject, where `natsfn logs` reads it, within the limits of size and
// rate (MaxLogLine, LogRate).
func (f *Function) log(level, line string) {
	ok, dropped := f.logLimit.take()
	if !ok {
		return
	}
	if dropped > 0 {
		f.emit("warn", droppedNotice(dropped))
	}
	f.emit(level, clipLine(line))
}

func (f *Function) emit(level, line string) {
	if f.cfg.Log != nil {
		f.cfg.Log(level, line)
		return
	}
	f.logger.Log(context.Background(), slogLevel(level), line)
	entry, err := json.Marshal(api.LogEntry{
		Time:      time.Now().UTC(),
		Namespace: f.cfg.Info.Spec.Namespace,
		Function:  f.cfg.Info.Spec.Name,
		Level:     level,
		Message:   line,
		Node:      f.cfg.Node,
	})
	switch {
	case err != nil:
	case f.cfg.logs != nil:
		f.cfg.logs.publish(f.cfg.Conn, f.logSubject, entry)
	default:
		f.cfg.Conn.Publish(f.logSubject, entry)
	}
}

func slogLevel(level string) slog.Level {
	switch level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// drainTimeout bounds how long Stop waits for a subscription to hand over
// the messages it already received.
const drainTimeout = 5 * time.Second

// Retire stops taking messages: once it returns the server has dropped
// the subscriptions, so a new version that subscribed before gets every
// message from then on. Messages already received are still handled.
func (f *Function) Retire() {
	f.retireOnce.Do(func() {
		for _, s := range f.subs {
			ch := s.StatusChanged(nats.SubscriptionClosed)
			if s.Drain() == nil {
				f.draining = append(f.draining, ch)
			}
		}
		if len(f.subs) > 0 {
			if err := f.cfg.Conn.FlushTimeout(drainTimeout); err != nil {
				f.logger.Warn("unsubscribe not confirmed", "err", err)
			}
		}
	})
}

// Stop retires the function, waits until the subscriptions have handed
// every message the server sent to the runner, then lets the runner answer
// what is queued.
func (f *Function) Stop() {
	f.stopOnce.Do(func() {
		f.Retire()
		timeout := time.NewTimer(drainTimeout)
		defer timeout.Stop()
		for _, ch := range f.draining {
			select {
			case <-ch:
			case <-timeout.C:
				f.logger.Warn("subscription did not drain in time")
			}
		}
		if f.runner != nil {
			f.runner.Close()
		}
		if n := f.logLimit.takeDropped(); n > 0 {
			f.emit("warn", droppedNotice(n))
		}
	})
}
