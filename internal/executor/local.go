package executor

import (
	"context"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/pool"
)

// HostFactory makes the host services of one function. release is called
// when the function version is unloaded.
type HostFactory func(info api.FunctionInfo) (host engine.Host, release func(), err error)

// Local runs functions in this process: isolation between functions is the
// V8 isolate boundary only.
type Local struct {
	// Hosts makes each function's host services; nil gives none.
	Hosts HostFactory
	// IdleTimeout disposes an isolate unused this long; 0 means a minute.
	IdleTimeout time.Duration
	// QueueLength bounds the jobs waiting for an isolate; 0 means 1024.
	QueueLength int
	// Budget bounds the isolates of all functions together; nil: no bound.
	Budget *pool.Budget
	// HideExceptions keeps exception messages from callers
	// (engine.Options.HideExceptions).
	HideExceptions bool

	programs engine.ProgramCache
}

// Check compiles script and runs its top level in a throwaway isolate. The
// compiled program is kept for the Start that usually follows.
func (l *Local) Check(ctx context.Context, spec api.FunctionSpec, script []byte) error {
	prog, err := engine.CheckSpec(spec, string(script))
	if err != nil {
		return api.Errorf(api.CodeBadRequest, "%s", err.Error())
	}
	l.programs.Put(api.Digest(script), prog)
	return nil
}

// Start compiles (or takes the checked program) and returns a pool.
func (l *Local) Start(ctx context.Context, info api.FunctionInfo, script []byte, cb Callbacks) (Runner, error) {
	prog := l.programs.Take(info.BundleDigest)
	if prog == nil {
		var err error
		if prog, err = engine.Compile(info.Spec.Name+".js", string(script)); err != nil {
			return nil, err
		}
	}
	var host engine.Host
	release := func() {}
	if l.Hosts != nil {
		var err error
		if host, release, err = l.Hosts(info); err != nil {
			return nil, err
		}
	}
	cfg := pool.SpecConfig(info.Spec, prog, host, cb.Console)
	cfg.QueueLength, cfg.IdleTimeout, cfg.Done, cfg.Budget = l.QueueLength, l.IdleTimeout, cb.Done, l.Budget
	cfg.Isolate.HideExceptions = l.HideExceptions
	p := pool.New(cfg)
	return PoolRunner(p, release), nil
}

type localRunner struct {
	*pool.Pool
	release func()
}

// Flush does nothing: the pool takes jobs one by one.
func (r *localRunner) Flush() {}

func (r *localRunner) Close() {
	r.Pool.Close()
	r.release()
}

// PoolRunner is the Runner of a pool in this process; release, when set,
// runs after the pool is closed.
func PoolRunner(p *pool.Pool, release func()) Runner {
	if release == nil {
		release = func() {}
	}
	return &localRunner{Pool: p, release: release}
}
