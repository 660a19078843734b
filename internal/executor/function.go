package executor

import (
	"context"
	"encoding/json"
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

// Tracker follows the messages a function owes a reply, so that someone
// can answer them if this process dies.
type Tracker interface {
	// Begin records reply; its result comes back in End.
	Begin(reply string) any
	End(ref any)
}

// Function serves one loaded version of a function: its trigger sources
// (trigger.go) hand messages to the Runner, and each source finishes what
// it delivered its own way (a reply, an ack).
type Function struct {
	cfg        FunctionConfig
	seq        uint64 // the executor's order of loads
	runner     Runner
	sources    []Source
	logSubject string
	logger     *slog.Logger
	logLimit   *logLimiter
	retireOnce sync.Once
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

// Serve starts every trigger source of the function and hands their
// messages to runner. It returns once each source delivers (the server has
// the subscriptions, the consumers exist), so messages reach the function.
// On error the function is stopped.
func (f *Function) Serve(runner Runner) error { return f.serve(runner, allKinds) }

// ServeSubjects is Serve for a worker with a NATS connection of its own:
// it serves the kinds of trigger a worker serves itself (subjects); the
// node runs the others and relays them (ServeRelayed).
func (f *Function) ServeSubjects(runner Runner) error { return f.serve(runner, workerKinds) }

// ServeRelayed is Serve for a runner that serves its subjects itself: the
// node runs the other kinds and hands their messages to runner.
func (f *Function) ServeRelayed(runner Runner) error { return f.serve(runner, nodeKinds) }

func (f *Function) serve(runner Runner, which kindFilter) error {
	f.runner = runner
	for _, k := range kinds {
		if !which(k) {
			continue
		}
		src := k.source(f)
		if src == nil {
			continue
		}
		f.sources = append(f.sources, src)
		if err := src.Start(); err != nil {
			f.Stop()
			return err
		}
	}
	return nil
}

// submit hands a source's job to the runner; false means the runner
// refused it (queue full) and the source answers for it.
func (f *Function) submit(job *pool.Job) bool { return f.runner.Submit(job) }

func (f *Function) untrack(job *pool.Job) {
	if f.cfg.Track != nil && job.Reply != "" {
		f.cfg.Track.End(job.Ref)
	}
}

// done counts and logs a job's outcome, then lets its source finish it.
// The details of a failure go to the function's log only.
func (f *Function) done(job *pool.Job, res engine.Result) {
	if res.Err != nil {
		f.cfg.Stats.CallFailed(time.Since(job.Received), res.Err.Code, res.Err.Message)
		f.log("error", "invocation on "+job.Subject+" failed: "+failure(res))
	}
	if job.Finish != nil {
		job.Finish.Finish(job, res)
	} else if res.Err == nil {
		f.cfg.Stats.Call(time.Since(job.Received), 0)
	}
}

// failure is what the log says of a failed call: the caller's message and
// the details, the exception's message not twice when the details (its
// stack) start with it.
func failure(res engine.Result) string {
	msg := res.Err.Message
	if thrown, ok := api.ExceptionOf(msg); ok && strings.HasPrefix(res.Detail, thrown) {
		msg = api.FunctionFailed
	}
	if res.Detail == "" {
		return msg
	}
	return msg + ": " + res.Detail
}

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

// Retire stops taking messages: once it returns every source has stopped
// taking new ones (the server has dropped the subscriptions, the consumer
// pulls no more), so a new version that started before gets every message
// from then on. Messages already taken are still handled.
func (f *Function) Retire() {
	f.retireOnce.Do(func() {
		for _, s := range f.sources {
			s.Retire()
		}
	})
}

// Stop retires the function, waits until every source has handed over
// the messages it took, then lets the runner answer what is queued.
func (f *Function) Stop() {
	f.stopOnce.Do(func() {
		f.Retire()
		for _, s := range f.sources {
			s.Stop()
		}
		if f.runner != nil {
			f.runner.Close()
		}
		for _, s := range f.sources {
			if w, ok := s.(interface{ Wait() }); ok {
				w.Wait()
			}
		}
		if n := f.logLimit.takeDropped(); n > 0 {
			f.emit("warn", droppedNotice(n))
		}
	})
}
