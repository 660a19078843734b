package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
)

// callWatcher prints one line per call of a function: when it came, its
// subject, how it was answered (ok or the error code) and how long that
// took. It watches from the outside, as a client would: the node may run
// the function in a worker process, where no hook in dev's process could
// see the call, and the caller's view is the one a developer cares about.
// So it sees subject triggers that are called with a reply subject in
// _INBOX (every NATS client's requests); the other trigger kinds show
// their failures in the log only.
type callWatcher struct {
	out  io.Writer
	subs []*nats.Subscription
	// msgs carries requests and replies alike to one goroutine, in the
	// order they came: with a callback per subscription a fast reply
	// could be handled before its request.
	msgs chan *nats.Msg
	quit chan struct{}
	wg   sync.WaitGroup

	pending map[string]pendingCall // by reply subject; owned by loop
	inbox   *nats.Subscription
}

type pendingCall struct {
	subject string
	start   time.Time
}

// maxPendingCalls bounds the requests waiting for a reply that are
// remembered; past it the oldest are forgotten (their callers gave up).
const maxPendingCalls = 10000

// pendingCallAge is how long a request's reply is waited for: beyond any
// function's timeout.
const pendingCallAge = 2 * api.MaxTimeout

// watchCalls subscribes to triggers and to the replies of requests.
func watchCalls(nc *nats.Conn, triggers []string, out io.Writer) (*callWatcher, error) {
	w := &callWatcher{out: out, pending: map[string]pendingCall{}, msgs: make(chan *nats.Msg, 4096), quit: make(chan struct{})}
	w.wg.Go(w.loop)
	sub, err := nc.ChanSubscribe(nats.InboxPrefix+">", w.msgs)
	if err != nil {
		w.stop()
		return nil, err
	}
	w.inbox = sub
	w.subs = append(w.subs, sub)
	for _, t := range triggers {
		sub, err := nc.ChanSubscribe(t, w.msgs)
		if err != nil {
			w.stop()
			return nil, err
		}
		w.subs = append(w.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

// stop ends the watch and waits for the goroutine.
func (w *callWatcher) stop() {
	for _, s := range w.subs {
		s.Unsubscribe()
	}
	close(w.quit)
	w.wg.Wait()
}

func (w *callWatcher) loop() {
	for {
		select {
		case <-w.quit:
			return
		case m := <-w.msgs:
			if m.Sub == w.inbox {
				w.reply(m)
			} else {
				w.request(m)
			}
		}
	}
}

func (w *callWatcher) request(m *nats.Msg) {
	if len(m.Reply) <= len(nats.InboxPrefix) || m.Reply[:len(nats.InboxPrefix)] != nats.InboxPrefix {
		return
	}
	now := time.Now()
	if len(w.pending) >= maxPendingCalls {
		for reply, p := range w.pending {
			if now.Sub(p.start) > pendingCallAge {
				delete(w.pending, reply)
			}
		}
		if len(w.pending) >= maxPendingCalls {
			return
		}
	}
	w.pending[m.Reply] = pendingCall{subject: m.Subject, start: now}
}

func (w *callWatcher) reply(m *nats.Msg) {
	now := time.Now()
	p, ok := w.pending[m.Subject]
	delete(w.pending, m.Subject)
	if !ok {
		return
	}
	status := "ok"
	if code := m.Header.Get(api.HeaderErrorCode); code != "" {
		status = code
		if msg := m.Header.Get(api.HeaderError); msg != "" {
			// An exception's message is shown once, with its stack, by
			// the log: not again on each call's line.
			if _, thrown := api.ExceptionOf(msg); thrown {
				msg = api.FunctionFailed
			}
			status += " " + msg
		}
	}
	fmt.Fprintf(w.out, "%s %s %s %s\n", p.start.Format("15:04:05.000"), printable(p.subject), oneLine(status), roundDuration(now.Sub(p.start)))
}

// roundDuration keeps a duration's few meaningful digits: 1.2ms, 340µs, 2.5s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// errorCollapser passes log entries on, but an error that repeats the one
// before it is counted instead of printed again: a function failing on
// every call would otherwise print the same stack trace per call.
type errorCollapser struct {
	print func(api.LogEntry)
	out   io.Writer

	mu      sync.Mutex
	last    string // the last error printed, without its subject
	repeats int
}

// invocationSubject is the part of an invocation's error that differs
// between calls of a wildcard trigger.
var invocationSubject = regexp.MustCompile(`^invocation on \S+ `)

func (c *errorCollapser) entry(e api.LogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Level == "error" {
		key := invocationSubject.ReplaceAllString(e.Message, "")
		if key == c.last {
			c.repeats++
			return
		}
		c.flushLocked()
		c.last = key
	}
	c.print(e)
}

// flush says how often the last error repeated, and forgets it: after a
// redeploy the same error is news.
func (c *errorCollapser) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	c.last = ""
}

func (c *errorCollapser) flushLocked() {
	if c.repeats > 0 {
		fmt.Fprintf(c.out, "(same error ×%d)\n", c.repeats)
		c.repeats = 0
	}
}

// withoutFunctionLines is a slog handler for dev's node log that leaves
// out the lines the functions logged (console.* and invocation errors):
// dev shows those from the log stream already, with repeats collapsed,
// and the node's log would print every stack trace a second time. They
// are the records of the "function" subsystem with no attributes of
// their own; the executor's own warnings carry an error.
type withoutFunctionLines struct {
	slog.Handler
	function bool // the logger is the function subsystem's
}

func (h withoutFunctionLines) Handle(ctx context.Context, r slog.Record) error {
	if h.function && r.NumAttrs() == 0 {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h withoutFunctionLines) WithAttrs(attrs []slog.Attr) slog.Handler {
	function := h.function
	for _, a := range attrs {
		if a.Key == "subsystem" {
			function = a.Value.String() == "function"
		}
	}
	return withoutFunctionLines{Handler: h.Handler.WithAttrs(attrs), function: function}
}

func (h withoutFunctionLines) WithGroup(name string) slog.Handler {
	return withoutFunctionLines{Handler: h.Handler.WithGroup(name), function: h.function}
}
