package engine

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	v8 "github.com/tommie/v8go"
)

// The web extensions: the standard globals a function finds beside the
// host services (fetch, streams, crypto.subtle, ...), each a file in web/
// evaluating to function (internals, natives). internals is the prelude's
// toolkit (prelude.js); natives holds the Go callbacks registered with
// registerNative. A file hands what a later one needs through
// internals.shared.
//
// Most files are lazy: they say which globals they define, and run only
// when a function first touches one of them. Together they are over 100 KB
// of JavaScript, and running them all would more than double the time a
// new isolate takes; a function that never fetches pays nothing for fetch.
// A lazy file's first lines say what it defines and which files it needs
// run before it (for their internals.shared):
//
//	// natsfn:globals Blob File FormData
//	// natsfn:needs 20_streams
//
// A file without natsfn:globals runs at once, in file-name order.
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

// extension is one file of web/.
type extension struct {
	name    string // the file's base name without .js: "20_streams"
	prog    *Program
	globals []string // lazy: the globals it defines; none: runs at once
	needs   []int    // the indexes of the extensions to run before it
}

// extensions are compiled once per process, for their code cache.
var extensions struct {
	once sync.Once
	list []*extension
	err  error
}

func loadExtensions() ([]*extension, error) {
	extensions.once.Do(func() {
		extensions.list, extensions.err = readExtensions()
	})
	return extensions.list, extensions.err
}

func readExtensions() ([]*extension, error) {
	names, err := fs.Glob(webFiles, "web/*.js")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var list []*extension
	index := map[string]int{}
	for _, file := range names {
		src, err := webFiles.ReadFile(file)
		if err != nil {
			return nil, err
		}
		p, err := Compile("natsfn:"+file, string(src))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		e := &extension{name: strings.TrimSuffix(path.Base(file), ".js"), prog: p}
		for _, line := range strings.Split(string(src), "\n") {
			if !strings.HasPrefix(line, "//") {
				break
			}
			fields := strings.Fields(strings.TrimPrefix(line, "//"))
			if len(fields) == 0 {
				continue
			}
			switch fields[0] {
			case "natsfn:globals":
				e.globals = append(e.globals, fields[1:]...)
			case "natsfn:needs":
				for _, need := range fields[1:] {
					k, ok := index[need]
					if !ok {
						return nil, fmt.Errorf("%s: needs %s, which is not an earlier file", file, need)
					}
					e.needs = append(e.needs, k)
				}
			}
		}
		index[e.name] = len(list)
		list = append(list, e)
	}
	return list, nil
}

// webState is an isolate's side of the extensions.
type webState struct {
	internals *v8.Value
	natives   *v8.Value
	ran       []bool
}

// installExtensions runs the eager web extensions and puts the lazy ones'
// globals in place.
func (i *Isolate) installExtensions(internals *v8.Value) error {
	list, err := loadExtensions()
	if err != nil {
		return fmt.Errorf("engine: web extensions: %w", err)
	}
	natives, err := i.objectOf(webNatives)
	if err != nil {
		return err
	}
	i.ext = webState{internals: internals, natives: natives, ran: make([]bool, len(list))}
	var lazy [][2]any // [name, extension index]
	for k, e := range list {
		if len(e.globals) == 0 {
			if err := i.runExtension(k); err != nil {
				return err
			}
			continue
		}
		for _, g := range e.globals {
			lazy = append(lazy, [2]any{g, k})
		}
	}
	if len(lazy) == 0 {
		return nil
	}
	return i.installLazy(lazy)
}

// installLazy has the prelude's internals.lazy put an accessor for each
// global of the lazy extensions in place.
func (i *Isolate) installLazy(globals [][2]any) error {
	lazy, err := i.ext.internals.Object().Get("lazy")
	if err != nil {
		return err
	}
	fn, err := lazy.AsFunction()
	if err != nil {
		return err
	}
	spec, err := json.Marshal(globals)
	if err != nil {
		return err
	}
	specV, err := v8.NewValue(i.iso, string(spec))
	if err != nil {
		return err
	}
	load := i.guarded(func(info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		if len(args) != 1 {
			return nil, errors.New("natsfn: lazy load: want one argument")
		}
		return nil, i.runExtension(int(args[0].Integer()))
	}).GetFunction(i.ctx)
	if _, err := fn.Call(v8.Undefined(i.iso), specV, load); err != nil {
		return scriptError(err)
	}
	return nil
}

// runExtension runs extension k, after those it needs, once.
func (i *Isolate) runExtension(k int) error {
	list, _ := loadExtensions()
	if k < 0 || k >= len(list) {
		return fmt.Errorf("natsfn: no web extension %d", k)
	}
	if i.ext.ran[k] {
		return nil
	}
	// Marked before it runs (it may touch its own globals) and unmarked
	// if it fails, so that a load cut short (by the invocation's deadline,
	// say) is tried again at the next use instead of leaving the globals
	// undefined for the isolate's life.
	i.ext.ran[k] = true
	if err := i.runOneExtension(list[k]); err != nil {
		i.ext.ran[k] = false
		return err
	}
	return nil
}

func (i *Isolate) runOneExtension(e *extension) error {
	for _, need := range e.needs {
		if err := i.runExtension(need); err != nil {
			return err
		}
	}
	script, err := e.prog.compileIn(i.iso)
	if err != nil {
		return fmt.Errorf("engine: %s: %w", e.prog.Name, scriptError(err))
	}
	v, err := script.Run(i.ctx)
	if err != nil {
		return fmt.Errorf("engine: %s: %w", e.prog.Name, scriptError(err))
	}
	fn, err := v.AsFunction()
	if err != nil {
		return fmt.Errorf("engine: %s: does not evaluate to a function", e.prog.Name)
	}
	if _, err := fn.Call(v8.Undefined(i.iso), i.ext.internals, i.ext.natives); err != nil {
		return fmt.Errorf("engine: %s: %w", e.prog.Name, scriptError(err))
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
