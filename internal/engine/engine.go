// Package engine runs JavaScript functions in V8 isolates. It is the only
// package that touches V8 (through cgo); the rest of natsfn sees a Program
// (a compiled function) and an Isolate that invokes it.
//
// An Isolate must be used by one goroutine at a time: V8 crashes the process
// on concurrent use. Callers give each Isolate an owning goroutine.
package engine

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	v8 "github.com/tommie/v8go"

	"github.com/natsfn/natsfn/api"
)

//go:embed prelude.js
var preludeSource string

// ErrNotFunction is returned when a script does not evaluate to a function.
// It is worded for the user: a deploy shows it as is.
var ErrNotFunction = errors.New("the script must evaluate to a function, or export one as default")

// Program is a function's script, compiled once so that every isolate that
// runs it starts from V8's code cache.
type Program struct {
	Name   string
	Source string
	cache  *v8.CompilerCachedData
	pos    positions
}

// Compile checks that source parses and produces its code cache. It does not
// run the script: CheckProgram does.
func Compile(name, source string) (*Program, error) {
	iso := v8.NewIsolate()
	defer iso.Dispose()
	p := &Program{Name: name, Source: source}
	script, err := iso.CompileUnboundScript(source, name, v8.CompileOptions{})
	if err != nil {
		return nil, p.scriptError(err)
	}
	p.cache = script.CreateCodeCache()
	return p, nil
}

// compileIn compiles p in iso, from the code cache when V8 accepts it.
func (p *Program) compileIn(iso *v8.Isolate) (*v8.UnboundScript, error) {
	if p.cache != nil && len(p.cache.Bytes) > 0 {
		cache := &v8.CompilerCachedData{Bytes: p.cache.Bytes}
		if s, err := iso.CompileUnboundScript(p.Source, p.Name, v8.CompileOptions{CachedData: cache}); err == nil {
			return s, nil
		}
	}
	return iso.CompileUnboundScript(p.Source, p.Name, v8.CompileOptions{})
}

// prelude is compiled once per process for its code cache.
var prelude struct {
	once sync.Once
	prog *Program
	err  error
}

func preludeProgram() (*Program, error) {
	prelude.once.Do(func() {
		prelude.prog, prelude.err = Compile("natsfn:prelude", preludeSource)
	})
	return prelude.prog, prelude.err
}

// scriptError turns a V8 error into one line: message and location.
func scriptError(err error) error {
	var jsErr *v8.JSError
	if errors.As(err, &jsErr) {
		msg := strings.TrimSpace(jsErr.Message)
		if jsErr.Location != "" {
			return fmt.Errorf("%s: %s", jsErr.Location, msg)
		}
		return errors.New(msg)
	}
	return err
}

// scriptError is scriptError for an error in p's code: the location is
// the first of p's frames in the stack, mapped to the user's source, so
// that an error thrown inside built-in code (JSON.parse, say) still names
// the line of the function that called it.
func (p *Program) scriptError(err error) error {
	var jsErr *v8.JSError
	if !errors.As(err, &jsErr) {
		return err
	}
	msg := strings.TrimSpace(jsErr.Message)
	where := p.firstFrame(jsErr.StackTrace)
	if where == "" && strings.HasPrefix(jsErr.Location, p.Name+":") {
		where = p.mapPositions(jsErr.Location)
	}
	if where == "" {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", where, msg)
}

// Check compiles source and runs its top-level code in a fresh isolate, so
// that a deploy fails early, with the reason, when the script cannot serve.
func Check(name, source string, opts Options) (*Program, error) {
	p, err := Compile(name, source)
	if err != nil {
		return nil, err
	}
	iso, err := NewIsolate(p, opts)
	if err != nil {
		return nil, err
	}
	iso.Dispose()
	return p, nil
}

// CheckSpec is Check with the limits and environment a function spec asks
// for; its error is what a deploy reports.
func CheckSpec(spec api.FunctionSpec, script string) (*Program, error) {
	return Check(spec.Name+".js", script, Options{
		HeapBytes:    spec.EffectiveHeapBytes(),
		Env:          spec.Env,
		StartTimeout: spec.EffectiveTimeout(),
	})
}
