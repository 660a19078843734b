package executor

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
)

// function is one loaded version of a function. Messages go from the
// subscription callbacks through jobs to worker goroutines, each of which
// owns at most one isolate. Workers are started as load needs them, up to
// maxWorkers, and stay until stop; an idle worker disposes its isolate, so
// an idle function holds goroutines but no V8 memory.
type function struct {
	exec       *Executor
	info       api.FunctionInfo
	prog       *engine.Program
	host       engine.Host
	release    func()
	timeout    time.Duration
	logSubject string
	logger     *slog.Logger

	subs []*nats.Subscription
	jobs chan *nats.Msg

	// mu guards closed and the send side of jobs: handle holds it shared
	// while sending, stop exclusively while closing.
	mu       sync.RWMutex
	closed   bool
	stopOnce sync.Once

	maxWorkers int
	workers    atomic.Int32
	idle       atomic.Int32
	wg         sync.WaitGroup
}

// handle is the subscription callback. It never blocks: a full queue is
// answered with 429.
func (f *function) handle(msg *nats.Msg) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		f.replyError(msg, api.Errorf(api.CodeUnavailable, "function is being removed"))
		return
	}
	select {
	case f.jobs <- msg:
	default:
		f.replyError(msg, api.Errorf(api.CodeTooMany, "function is over its concurrency"))
		return
	}
	if f.idle.Load() == 0 {
		f.spawn()
	}
}

// spawn starts a worker unless maxWorkers are running.
func (f *function) spawn() {
	for {
		n := f.workers.Load()
		if int(n) >= f.maxWorkers {
			return
		}
		if f.workers.CompareAndSwap(n, n+1) {
			f.wg.Add(1)
			go f.work()
			return
		}
	}
}

func (f *function) work() {
	defer f.wg.Done()
	var iso *engine.Isolate
	defer func() {
		if iso != nil {
			iso.Dispose()
		}
	}()
	idle := time.NewTimer(f.exec.cfg.IdleTimeout)
	defer idle.Stop()
	for {
		f.idle.Add(1)
		select {
		case msg, ok := <-f.jobs:
			f.idle.Add(-1)
			if !ok {
				return
			}
			iso = f.serve(iso, msg)
			idle.Reset(f.exec.cfg.IdleTimeout)
		case <-idle.C:
			f.idle.Add(-1)
			if iso != nil {
				iso.Dispose()
				iso = nil
			}
		}
	}
}

// serve runs one message on iso (starting one if needed) and replies. It
// returns the isolate to keep, nil when it had to be dropped.
func (f *function) serve(iso *engine.Isolate, msg *nats.Msg) *engine.Isolate {
	deadline := time.Now().Add(f.timeout)
	if iso == nil {
		var err error
		iso, err = engine.NewIsolate(f.prog, engine.Options{
			HeapBytes:    f.info.Spec.EffectiveHeapBytes(),
			Env:          f.info.Spec.Env,
			Host:         f.host,
			Console:      f.console,
			StartTimeout: f.timeout,
		})
		if err != nil {
			f.log("error", "function failed to start: "+err.Error())
			f.replyError(msg, api.Errorf(api.CodeInternal, "function failed to start"))
			return nil
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	res := iso.Invoke(ctx, &engine.Invocation{
		Subject: msg.Subject,
		Reply:   msg.Reply,
		Headers: msg.Header,
		Payload: msg.Data,
	})
	cancel()
	if res.Err != nil {
		f.log("error", "invocation on "+msg.Subject+" failed: "+res.Err.Message+": "+res.Detail)
		f.replyError(msg, res.Err)
	} else if msg.Reply != "" {
		if err := f.exec.cfg.Conn.Publish(msg.Reply, res.Body); err != nil {
			f.logger.Warn("reply failed", "err", err)
		}
	}
	if iso.Broken() {
		iso.Dispose()
		return nil
	}
	return iso
}

func (f *function) replyError(msg *nats.Msg, e *api.Error) {
	if msg.Reply == "" {
		return
	}
	reply := &nats.Msg{Subject: msg.Reply, Header: nats.Header{}}
	reply.Header.Set(api.HeaderError, e.Message)
	reply.Header.Set(api.HeaderErrorCode, strconv.Itoa(e.Code))
	if err := f.exec.cfg.Conn.PublishMsg(reply); err != nil {
		f.logger.Warn("error reply failed", "err", err)
	}
}

func (f *function) console(level, line string) { f.log(level, line) }

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

// stop unsubscribes, lets the workers answer what is queued, and waits.
func (f *function) stop() {
	f.stopOnce.Do(func() {
		f.unsubscribe()
		f.mu.Lock()
		f.closed = true
		close(f.jobs)
		f.mu.Unlock()
		f.wg.Wait()
		f.release()
	})
}

func (f *function) unsubscribe() {
	for _, s := range f.subs {
		s.Unsubscribe()
	}
}
