package executor

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/pool"
)

// messageBuffer is how many messages of one function NATS may hand over
// before deliver takes them. deliver never blocks, so this only has to
// cover a burst.
const messageBuffer = 512

// function is one loaded version of a function.
type function struct {
	exec       *Executor
	info       api.FunctionInfo
	runner     Runner
	subs       []*nats.Subscription
	msgs       chan *nats.Msg // every trigger's messages
	quit       chan struct{}  // closed once the subscriptions are drained
	delivering sync.WaitGroup
	logSubject string
	logger     *slog.Logger
	stopOnce   sync.Once
}

// deliver hands messages to the runner: everything that has arrived, then
// one Flush, so a burst travels to a worker in one write.
func (f *function) deliver() {
	defer f.delivering.Done()
	for {
		select {
		case msg := <-f.msgs:
			f.handle(msg)
			f.handlePending()
			f.runner.Flush()
		case <-f.quit:
			f.handlePending()
			f.runner.Flush()
			return
		}
	}
}

// handlePending handles the messages already in the channel.
func (f *function) handlePending() {
	for {
		select {
		case msg := <-f.msgs:
			f.handle(msg)
		default:
			return
		}
	}
}

// handle gives a message to the runner. It never blocks: a refused job is
// answered with 429.
func (f *function) handle(msg *nats.Msg) {
	job := &pool.Job{Subject: msg.Subject, Reply: msg.Reply, Headers: msg.Header, Payload: msg.Data}
	if !f.runner.Submit(job) {
		f.replyError(msg.Reply, api.Errorf(api.CodeTooMany, "function is over its concurrency"))
	}
}

// done answers a job: the reply body, or an error reply whose details go
// to the function's log only.
func (f *function) done(job *pool.Job, res engine.Result) {
	if res.Err != nil {
		f.log("error", "invocation on "+job.Subject+" failed: "+res.Err.Message+": "+res.Detail)
		f.replyError(job.Reply, res.Err)
		return
	}
	if job.Reply == "" {
		return
	}
	if err := f.exec.cfg.Conn.Publish(job.Reply, res.Body); err != nil {
		f.logger.Warn("reply failed", "err", err)
	}
}

func (f *function) replyError(reply string, e *api.Error) {
	if reply == "" {
		return
	}
	msg := &nats.Msg{Subject: reply, Header: nats.Header{}}
	msg.Header.Set(api.HeaderError, e.Message)
	msg.Header.Set(api.HeaderErrorCode, strconv.Itoa(e.Code))
	if err := f.exec.cfg.Conn.PublishMsg(msg); err != nil {
		f.logger.Warn("error reply failed", "err", err)
	}
}

// log writes a line to the node's log and publishes it on the function's
// log subject, where `natsfn logs` reads it.
func (f *function) log(level, line string) {
	f.logger.Log(context.Background(), slogLevel(level), line)
	entry, err := json.Marshal(api.LogEntry{
		Time:      time.Now().UTC(),
		Namespace: f.info.Spec.Namespace,
		Function:  f.info.Spec.Name,
		Level:     level,
		Message:   line,
		Node:      f.exec.cfg.Node,
	})
	if err == nil {
		f.exec.cfg.Conn.Publish(f.logSubject, entry)
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

// drainTimeout bounds how long stop waits for a subscription to hand over
// the messages it already received.
const drainTimeout = 5 * time.Second

// stop drains the subscriptions (every message the server already sent is
// still handed to the runner), stops deliver once it has handed over the
// rest, then lets the runner answer what is queued.
func (f *function) stop() {
	f.stopOnce.Do(func() {
		var closed []<-chan nats.SubStatus
		for _, s := range f.subs {
			ch := s.StatusChanged(nats.SubscriptionClosed)
			if s.Drain() == nil {
				closed = append(closed, ch)
			}
		}
		timeout := time.NewTimer(drainTimeout)
		defer timeout.Stop()
		for _, ch := range closed {
			select {
			case <-ch:
			case <-timeout.C:
				f.logger.Warn("subscription did not drain in time")
			}
		}
		if f.quit != nil {
			close(f.quit)
			f.delivering.Wait()
		}
		if f.runner != nil {
			f.runner.Close()
		}
	})
}
