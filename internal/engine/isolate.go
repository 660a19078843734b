package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/api"
)

// headerBytes is the size of the exchange's slot area (prelude.js HEADER).
// The engine accepts no exchange smaller than minExchange, so the slots can
// be read without a check.
const (
	headerBytes = 32
	minExchange = 64 << 10
)

// Options configure an Isolate.
type Options struct {
	// HeapBytes caps the V8 heap; an isolate that reaches it is Broken.
	HeapBytes int64
	// Env becomes the frozen global env.
	Env map[string]string
	// Host answers hostServices calls; nil refuses them all.
	Host Host
	// Console receives each console.* line with its level (debug, info,
	// warn, error). nil discards.
	Console func(level, line string)
	// StartTimeout bounds the script's top-level code; 0 means 5s.
	StartTimeout time.Duration
	// HideExceptions keeps an exception's message out of the error the
	// caller sees ("function failed" alone); the log has it either way.
	HideExceptions bool
}

// Isolate is one V8 isolate with one context running one Program.
type Isolate struct {
	iso     *v8.Isolate
	ctx     *v8.Context
	opts    Options
	prog    *Program
	ext     webState
	invoke  *v8.Function
	settle  *v8.Function
	prepare *v8.Function
	// complete(id) and fire(id) deliver the event loop's events (loop.go).
	complete *v8.Function
	fire     *v8.Function

	// exchange is the Go view of the SharedArrayBuffer shared with the
	// prelude; releaseExchange lets V8 free it once JS drops it too.
	exchange        []byte
	releaseExchange func()
	// web is the web extensions' scratch buffer (scratch.go).
	web scratch
	// cryptoLeft is closed when a crypto.subtle operation an invocation
	// left running at its deadline ends (runSubtleInTime).
	cryptoLeft chan struct{}
	// zs holds the compression streams' Go state (compression.go).
	zs zState

	// callCtx is the context of the invocation running now; host calls
	// use it. Only the owning goroutine touches it.
	callCtx context.Context
	loop    eventLoop

	watchdog watchdog
	broken   bool
	// faulted says why the isolate was given up after a Go panic.
	faulted string
}

// NewIsolate creates an isolate, installs the prelude and runs p's
// top-level code. The error says why the script cannot serve.
func NewIsolate(p *Program, opts Options) (iso *Isolate, err error) {
	if opts.Host == nil {
		opts.Host = noHost{}
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Second
	}
	pre, err := preludeProgram()
	if err != nil {
		return nil, fmt.Errorf("engine: prelude: %w", err)
	}
	var isoOpts []v8.IsolateOption
	if opts.HeapBytes > 0 {
		isoOpts = append(isoOpts, v8.WithResourceConstraints(0, uint64(opts.HeapBytes)))
	}
	i := &Isolate{iso: v8.NewIsolate(isoOpts...), opts: opts, prog: p}
	i.loop.origin = time.Now()
	i.watchdog.iso = i.iso
	i.ctx = v8.NewContext(i.iso)
	defer func() {
		if r := recover(); r != nil {
			i.fault(r)
		}
		if i.faulted != "" {
			err = fmt.Errorf("engine: %s", i.faulted)
		}
		if err != nil {
			i.Dispose()
			iso = nil
		}
	}()
	if err := i.start(pre, p); err != nil {
		return nil, err
	}
	return i, nil
}

// fault gives the isolate up after a Go panic: its state on the Go side
// can no longer be trusted, so it is disposed instead of reused.
func (i *Isolate) fault(r any) {
	i.broken = true
	if i.faulted == "" {
		i.faulted = fmt.Sprintf("internal error: %v", r)
	}
}

func (i *Isolate) faultResult() Result {
	return Result{Err: api.Errorf(api.CodeInternal, "function failed"), Detail: i.faulted + "; the isolate is replaced"}
}

func (i *Isolate) start(pre, p *Program) error {
	preScript, err := pre.compileIn(i.iso)
	if err != nil {
		return fmt.Errorf("engine: prelude: %w", scriptError(err))
	}
	preFn, err := preScript.Run(i.ctx)
	if err != nil {
		return fmt.Errorf("engine: prelude: %w", scriptError(err))
	}
	natives, err := i.natives()
	if err != nil {
		return err
	}
	envJSON, err := json.Marshal(orEmpty(i.opts.Env))
	if err != nil {
		return err
	}
	envVal, err := v8.NewValue(i.iso, string(envJSON))
	if err != nil {
		return err
	}
	fn, err := preFn.AsFunction()
	if err != nil {
		return err
	}
	exportsVal, err := fn.Call(v8.Undefined(i.iso), natives, envVal)
	if err != nil {
		return fmt.Errorf("engine: prelude: %w", scriptError(err))
	}
	exports := exportsVal.Object()
	get := func(name string) (*v8.Function, error) {
		v, err := exports.Get(name)
		if err != nil {
			return nil, err
		}
		return v.AsFunction()
	}
	if i.invoke, err = get("invoke"); err != nil {
		return err
	}
	if i.settle, err = get("settle"); err != nil {
		return err
	}
	if i.prepare, err = get("prepare"); err != nil {
		return err
	}
	if i.complete, err = get("complete"); err != nil {
		return err
	}
	if i.fire, err = get("fire"); err != nil {
		return err
	}
	if len(i.exchange) < minExchange {
		return errors.New("engine: prelude: no exchange")
	}
	setHandler, err := get("setHandler")
	if err != nil {
		return err
	}
	internals, err := exports.Get("internals")
	if err != nil {
		return err
	}
	if err := i.installExtensions(internals); err != nil {
		return err
	}

	script, err := p.compileIn(i.iso)
	if err != nil {
		return p.scriptError(err)
	}
	// The top-level code, then what it left pending (a promise awaiting a
	// host call or a timer), all within the start timeout: the first call
	// then finds the script ready.
	deadline := time.Now().Add(i.opts.StartTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	i.callCtx = ctx
	i.beginLoop()
	i.watchdog.arm(deadline)
	handler, err := script.Run(i.ctx)
	if err == nil {
		err = i.runUntilIdle(ctx)
		var ce *callError
		if errors.As(err, &ce) {
			err = ce.err
		}
	}
	timedOut := i.watchdog.disarm()
	i.endLoop()
	i.callCtx = nil
	if err != nil {
		if timedOut || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("the script's top-level code ran longer than %s (counting the timers and host calls it left pending)", i.opts.StartTimeout)
		}
		return p.scriptError(err)
	}
	if !handler.IsFunction() {
		typ := handler.TypeOf()
		if handler.IsNull() {
			typ = "null"
		}
		return fmt.Errorf("%w; it evaluated to %s", ErrNotFunction, typ)
	}
	if _, err := setHandler.Call(v8.Undefined(i.iso), handler); err != nil {
		return p.scriptError(err)
	}
	return nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// natives builds the object of Go callbacks handed to the prelude.
func (i *Isolate) natives() (*v8.Object, error) {
	obj := v8.NewObjectTemplate(i.iso)
	set := func(name string, cb v8.FunctionCallbackWithError) error {
		return obj.Set(name, i.guarded(cb))
	}
	if err := set("exchange", i.nativeExchange); err != nil {
		return nil, err
	}
	if err := set("host", i.nativeHost); err != nil {
		return nil, err
	}
	if err := set("hostStart", i.nativeHostStart); err != nil {
		return nil, err
	}
	if err := set("timerSet", i.nativeTimerSet); err != nil {
		return nil, err
	}
	if err := set("timerClear", i.nativeTimerClear); err != nil {
		return nil, err
	}
	if err := set("log", i.nativeLog); err != nil {
		return nil, err
	}
	if err := set("random", i.nativeRandom); err != nil {
		return nil, err
	}
	return obj.NewInstance(i.ctx)
}

// guarded makes a function template of cb that turns a Go panic into a
// JavaScript exception: a panic must not unwind through V8's frames, which
// would kill the process. The isolate is given up once the call returns.
func (i *Isolate) guarded(cb v8.FunctionCallbackWithError) *v8.FunctionTemplate {
	return v8.NewFunctionTemplateWithError(i.iso, func(info *v8.FunctionCallbackInfo) (v *v8.Value, err error) {
		defer info.Release()
		defer func() {
			if r := recover(); r != nil {
				i.fault(r)
				v, err = nil, errors.New("natsfn: internal error")
			}
		}()
		return cb(info)
	})
}

// nativeExchange adopts the SharedArrayBuffer the prelude uses from now on.
func (i *Isolate) nativeExchange(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
	args := info.Args()
	if len(args) != 1 {
		return nil, errors.New("exchange: want one argument")
	}
	buf, release, err := args[0].SharedArrayBufferGetContents()
	if err != nil {
		return nil, err
	}
	if len(buf) < minExchange {
		release()
		return nil, errors.New("exchange: too small")
	}
	if i.releaseExchange != nil {
		i.releaseExchange()
	}
	i.exchange, i.releaseExchange = buf, release
	return nil, nil
}

func (i *Isolate) nativeLog(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
	args := info.Args()
	if i.opts.Console == nil || len(args) != 2 || !args[0].IsString() || !args[1].IsString() {
		return nil, nil
	}
	i.opts.Console(args[0].String(), i.prog.userText(args[1].String()))
	return nil, nil
}

func (i *Isolate) nativeRandom(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
	args := info.Args()
	if len(args) != 1 {
		return nil, errors.New("random: want one argument")
	}
	n := int(args[0].Integer())
	if n < 0 || headerBytes+n > len(i.exchange) {
		return nil, errors.New("random: bad length")
	}
	rand.Read(i.exchange[headerBytes : headerBytes+n])
	return nil, nil
}

// slot reads int32 slot k of the exchange; setSlot writes it. The prelude
// uses an Int32Array, so the byte order is the machine's (little-endian on
// every platform V8 ships for here).
func (i *Isolate) slot(k int) int {
	return int(int32(binary.LittleEndian.Uint32(i.exchange[4*k:])))
}

func (i *Isolate) setSlot(k, v int) {
	binary.LittleEndian.PutUint32(i.exchange[4*k:], uint32(int32(v)))
}

// ensure makes the exchange hold at least n data bytes.
func (i *Isolate) ensure(n int) error {
	if headerBytes+n <= len(i.exchange) {
		return nil
	}
	if n > math.MaxInt32-headerBytes {
		return fmt.Errorf("engine: %d bytes do not fit the exchange", n)
	}
	nv, err := v8.NewValue(i.iso, int32(n))
	if err != nil {
		return err
	}
	defer nv.Release()
	v, err := i.prepare.Call(v8.Undefined(i.iso), nv)
	if v != nil {
		v.Release()
	}
	if err != nil {
		return err
	}
	if headerBytes+n > len(i.exchange) {
		return fmt.Errorf("engine: the exchange did not grow to %d bytes", n)
	}
	return nil
}

// trimAbove is the exchange size past which Trim gives the memory back: one
// large payload or host-service body must not keep its buffer for as long
// as the isolate lives.
const trimAbove = 4 << 20

// Trim shrinks an exchange a large call grew back to its starting size. Call
// it between invocations only, once the last Result's Body is no longer
// used: the Body aliases the exchange.
func (i *Isolate) Trim() {
	if i.broken || len(i.exchange) <= trimAbove {
		return
	}
	nv, err := v8.NewValue(i.iso, int32(-1))
	if err != nil {
		return
	}
	defer nv.Release()
	if v, err := i.prepare.Call(v8.Undefined(i.iso), nv); v != nil {
		v.Release()
	} else if err != nil {
		i.broken = true // the prelude cannot run: start afresh
	}
}

// Broken reports that the isolate hit its heap limit (or V8 otherwise gave
// up on it): dispose it and start another.
func (i *Isolate) Broken() bool { return i.broken }

// Dispose frees the isolate. It is safe to call more than once.
func (i *Isolate) Dispose() {
	if i.iso == nil {
		return
	}
	i.watchdog.stop()
	i.stopLoop()
	if i.releaseExchange != nil {
		i.releaseExchange()
		i.releaseExchange = nil
	}
	i.exchange = nil
	i.web.free()
	i.ctx.Close()
	i.iso.Dispose()
	i.iso = nil
}

// watchdog terminates the running JavaScript at its deadline. One timer
// serves every call and is not reset per call: deadlines only move later
// (each is its call's start plus the timeout), so a timer due at an
// earlier call's deadline, on firing, finds the running call's deadline
// not yet passed and sleeps again until it. A call thus costs no timer
// operation, and a late timer cannot hit a later call.
type watchdog struct {
	iso      *v8.Isolate
	mu       sync.Mutex
	timer    *time.Timer
	pending  bool // the timer is set, due at due
	due      time.Time
	running  bool
	deadline time.Time
	fired    bool
}

func (w *watchdog) arm(deadline time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running, w.deadline, w.fired = true, deadline, false
	if w.pending && !w.due.After(deadline) {
		return // fires first and sleeps again until deadline
	}
	w.set(deadline)
}

func (w *watchdog) set(due time.Time) {
	w.pending, w.due = true, due
	if w.timer == nil {
		w.timer = time.AfterFunc(time.Until(due), w.fire)
	} else {
		w.timer.Reset(time.Until(due))
	}
}

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = false
	if !w.running || w.fired {
		return
	}
	if time.Now().Before(w.deadline) {
		w.set(w.deadline)
		return
	}
	w.fired = true
	w.iso.TerminateExecution()
}

// expire ends the running call now, as fire does at its deadline: for Go
// code that saw the deadline pass before the timer fired.
func (w *watchdog) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running || w.fired {
		return
	}
	w.fired = true
	w.iso.TerminateExecution()
}

// disarm ends the running call and reports whether the watchdog
// terminated it. The timer stays set, for the next call.
func (w *watchdog) disarm() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	fired := w.fired
	w.running, w.fired = false, false
	return fired
}

// firedNow reports whether the watchdog terminated the running call.
func (w *watchdog) firedNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.running, w.pending = false, false
}
