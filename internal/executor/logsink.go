package executor

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// logLossWarnEvery bounds how often the node's log says that function log
// lines were lost: the first loss at once, then one summary per interval.
const logLossWarnEvery = 10 * time.Second

// logMaxPending bounds the log lines waiting for the stream's
// acknowledgement on one connection; more are lost, not waited for, since
// a function's console.log must never block on the log stream.
const logMaxPending = 4096

// logSink stores functions' log lines in the log stream (api.LogStream),
// publishing each with an acknowledgement so that a line the stream does
// not store (no stream, storage full, permissions, no JetStream) is
// counted and reported rather than lost in silence. Live readers of the
// log subject get every line either way.
type logSink struct {
	logger *slog.Logger
	now    func() time.Time
	lost   atomic.Uint64

	mu         sync.Mutex
	js         map[*nats.Conn]jetstream.JetStream
	unreported uint64 // lost since the last warning
	reason     error  // of the last loss
	warned     time.Time
}

func newLogSink(logger *slog.Logger) *logSink {
	return &logSink{logger: logger, now: time.Now, js: map[*nats.Conn]jetstream.JetStream{}}
}

// publish stores one log entry; it never blocks on the stream.
func (s *logSink) publish(conn *nats.Conn, subject string, entry []byte) {
	js, err := s.jetStream(conn)
	if err == nil {
		// No retries: each would repeat the line to live readers.
		_, err = js.PublishAsync(subject, entry, jetstream.WithStallWait(time.Millisecond), jetstream.WithRetryAttempts(0))
	}
	if err != nil {
		s.lose(err)
	}
}

func (s *logSink) jetStream(conn *nats.Conn) (jetstream.JetStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if js, ok := s.js[conn]; ok {
		return js, nil
	}
	for c := range s.js {
		if c.IsClosed() {
			delete(s.js, c)
		}
	}
	js, err := jetstream.New(conn,
		jetstream.WithPublishAsyncMaxPending(logMaxPending),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { s.lose(err) }))
	if err != nil {
		return nil, err
	}
	s.js[conn] = js
	return js, nil
}

// lose counts a line the stream did not store, and warns once per
// interval with how many and why.
func (s *logSink) lose(err error) {
	s.lost.Add(1)
	s.mu.Lock()
	s.unreported++
	s.reason = err
	now := s.now()
	if !s.warned.IsZero() && now.Sub(s.warned) < logLossWarnEvery {
		s.mu.Unlock()
		return
	}
	n, reason := s.unreported, s.reason
	s.unreported, s.warned = 0, now
	s.mu.Unlock()
	s.logger.Warn("function log lines lost: the log stream did not store them", "stream", "NATSFN_LOGS", "lines", n, "total", s.lost.Load(), "err", reason)
}

// close reports the losses not yet reported.
func (s *logSink) close() {
	s.mu.Lock()
	n, reason := s.unreported, s.reason
	s.unreported = 0
	s.mu.Unlock()
	if n > 0 {
		s.logger.Warn("function log lines lost: the log stream did not store them", "stream", "NATSFN_LOGS", "lines", n, "total", s.lost.Load(), "err", reason)
	}
}
