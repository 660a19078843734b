package natsserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// LevelTrace is below slog's Debug: nats-server traces every protocol
// message, far too much to switch on with ordinary debug logging.
const LevelTrace = slog.LevelDebug - 4

// logAdapter is a server.Logger writing to slog. It also keeps the first
// fatal error, because nats-server reports startup failures only by logging
// them.
type logAdapter struct {
	log          *slog.Logger
	debug, trace bool

	mu       sync.Mutex
	fatalErr error
}

func newLogAdapter(l *slog.Logger) *logAdapter {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	return &logAdapter{
		log:   l.With(slog.String("subsystem", "nats")),
		debug: l.Enabled(ctx, slog.LevelDebug),
		trace: l.Enabled(ctx, LevelTrace),
	}
}

func (a *logAdapter) emit(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if a.log.Enabled(ctx, level) {
		a.log.Log(ctx, level, fmt.Sprintf(format, v...))
	}
}

func (a *logAdapter) Noticef(format string, v ...any) { a.emit(slog.LevelInfo, format, v) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.emit(slog.LevelWarn, format, v) }
func (a *logAdapter) Errorf(format string, v ...any)  { a.emit(slog.LevelError, format, v) }
func (a *logAdapter) Debugf(format string, v ...any)  { a.emit(slog.LevelDebug, format, v) }
func (a *logAdapter) Tracef(format string, v ...any)  { a.emit(LevelTrace, format, v) }

// Fatalf logs at Error and records the failure; it does not exit, unlike
// nats-server's own logger, because the server is only part of this process.
func (a *logAdapter) Fatalf(format string, v ...any) {
	a.emit(slog.LevelError, format, v)
	// Prefer the underlying error ("listen tcp ...: address already in
	// use") to nats-server's wording around it.
	var err error
	for _, x := range v {
		if e, ok := x.(error); ok {
			err = e
			break
		}
	}
	if err == nil {
		err = fmt.Errorf(format, v...)
	}
	a.mu.Lock()
	if a.fatalErr == nil {
		a.fatalErr = err
	}
	a.mu.Unlock()
}

func (a *logAdapter) fatal() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatalErr
}
