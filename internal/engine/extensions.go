package engine

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"

	v8 "github.com/tommie/v8go"
)

// The web extensions: the standard globals a function finds beside the
// host services (fetch, streams, crypto.subtle, ...), each a file in web/
// evaluating to function (internals, natives). They run in file-name order
// once the prelude has, so a later file may use what an earlier one put on
// internals. internals is the prelude's toolkit (prelude.js); natives holds
// the Go callbacks registered with registerNative.
//
//go:embed web/*.js
var webFiles embed.FS

// nativeFunc is a Go callback a web extension calls as natives.NAME(...).
type nativeFunc func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error)

// webNatives are the callbacks handed to the extensions, by name.
var webNatives = map[string]nativeFunc{}

// registerNative adds a callback for the web extensions; call it from an
// init function.
func registerNative(name string, fn nativeFunc) {
	if _, dup := webNatives[name]; dup {
		panic("engine: native " + name + " registered twice")
	}
	webNatives[name] = fn
}

// extensions are compiled once per process, for their code cache.
var extensions struct {
	once  sync.Once
	progs []*Program
	err   error
}

func extensionPrograms() ([]*Program, error) {
	extensions.once.Do(func() {
		names, err := fs.Glob(webFiles, "web/*.js")
		if err != nil {
			extensions.err = err
			return
		}
		sort.Strings(names)
		for _, name := range names {
			src, err := webFiles.ReadFile(name)
			if err != nil {
				extensions.err = err
				return
			}
			p, err := Compile("natsfn:"+name, string(src))
			if err != nil {
				extensions.err = fmt.Errorf("%s: %w", name, err)
				return
			}
			extensions.progs = append(extensions.progs, p)
		}
	})
	return extensions.progs, extensions.err
}

// installExtensions runs every web extension with the prelude's internals.
func (i *Isolate) installExtensions(internals *v8.Value) error {
	progs, err := extensionPrograms()
	if err != nil {
		return fmt.Errorf("engine: web extensions: %w", err)
	}
	if len(progs) == 0 {
		return nil
	}
	natives, err := i.objectOf(webNatives)
	if err != nil {
		return err
	}
	for _, p := range progs {
		script, err := p.compileIn(i.iso)
		if err != nil {
			return fmt.Errorf("engine: %s: %w", p.Name, scriptError(err))
		}
		v, err := script.Run(i.ctx)
		if err != nil {
			return fmt.Errorf("engine: %s: %w", p.Name, scriptError(err))
		}
		fn, err := v.AsFunction()
		if err != nil {
			return fmt.Errorf("engine: %s: %w", p.Name, errors.New("does not evaluate to a function"))
		}
		if _, err := fn.Call(v8.Undefined(i.iso), internals, natives); err != nil {
			return fmt.Errorf("engine: %s: %w", p.Name, scriptError(err))
		}
	}
	return nil
}

// objectOf makes an object whose methods are the callbacks in fns, each
// guarded as natives() guards the prelude's.
func (i *Isolate) objectOf(fns map[string]nativeFunc) (*v8.Value, error) {
	obj := v8.NewObjectTemplate(i.iso)
	for name, fn := range fns {
		fn := fn
		if err := obj.Set(name, i.guarded(func(info *v8.FunctionCallbackInfo) (*v8.Value, error) { return fn(i, info) })); err != nil {
			return nil, err
		}
	}
	o, err := obj.NewInstance(i.ctx)
	if err != nil {
		return nil, err
	}
	return o.Value, nil
}
