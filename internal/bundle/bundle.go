// Package bundle turns one user source file into a single classic script
// whose completion value is the handler function. V8 here runs scripts, not
// ES modules, so modules are bundled by esbuild into an IIFE at deploy time;
// plain scripts (the Nex form) are kept exactly as written.
package bundle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/natsfn/natsfn/api"
)

// Errors a caller may want to tell apart; messages read
// "bundle: FILE: <error>".
var (
	ErrEmpty           = errors.New("source is empty")
	ErrNoDefaultExport = errors.New("module has no default export")
	ErrTooLarge        = fmt.Errorf("bundle is larger than %d MiB", api.MaxBundleBytes>>20)
)

// globalName holds a module's exports inside the bundled script.
const globalName = "__natsfn_module"

// sourceMapComment starts the inline source map esbuild appends to a module's
// bundle (the engine reads it to map stack traces to the user's files).
const sourceMapComment = "//# sourceMappingURL="

// Bundle is a script ready for the engine.
type Bundle struct {
	// Script evaluates to the handler function.
	Script string
	// Module is true when Script was bundled from an ES module.
	Module bool
	// Digest is "sha256:<hex>" of Script.
	Digest string
	// Inputs are the files the bundle was built from, as absolute paths:
	// the entry (when it came from a file) and every file it imports,
	// sorted. `natsfn dev` watches them.
	Inputs []string
}

// Build reads the file at path and bundles it; relative imports resolve from
// the file's directory.
func Build(path string) (*Bundle, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	b, err := BuildSource(path, src, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	// The metafile may name the entry too (as its Sourcefile).
	b.Inputs = append([]string{abs}, b.Inputs...)
	slices.Sort(b.Inputs)
	b.Inputs = slices.Compact(b.Inputs)
	return b, nil
}

// BuildSource bundles src. name is used for messages and, by its extension,
// picks the language (.ts, .mts, .cts and .tsx are TypeScript and always
// modules); resolveDir is where relative imports are looked up (empty means
// the working directory).
func BuildSource(name string, src []byte, resolveDir string) (*Bundle, error) {
	if strings.TrimSpace(string(src)) == "" {
		return nil, fmt.Errorf("bundle: %s: %w", name, ErrEmpty)
	}
	if len(src) > 4*api.MaxBundleBytes {
		// Not worth parsing: even stripped of comments and types it won't fit.
		return nil, fmt.Errorf("bundle: %s: %w", name, ErrTooLarge)
	}
	dir, err := filepath.Abs(resolveDir)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	in := input{name: name, src: string(src), dir: dir, loader: loaderFor(name)}
	out, err := in.build(iifeFormat)
	if err != nil {
		return nil, err
	}
	module := out.esm || in.loader.typeScript()
	var script string
	if !module {
		if out.imports > 0 {
			return nil, fmt.Errorf("bundle: %s: require() is not available; use an ES module import and export default", name)
		}
		// The Nex form: any transform could change the completion value.
		script = in.src
	} else {
		// Only an ESM build lists the entry's exports.
		esm, err := in.build(esmFormat)
		if err != nil {
			return nil, err
		}
		if !esm.hasDefault {
			return nil, fmt.Errorf("bundle: %s: %w", name, ErrNoDefaultExport)
		}
		// The last expression statement is the script's completion value.
		script = out.code + "\n" + globalName + ".default;\n"
	}
	if len(script) > api.MaxBundleBytes && module {
		// The code may fit without its source map.
		if i := strings.LastIndex(out.code, "\n"+sourceMapComment); i >= 0 {
			script = out.code[:i] + "\n" + globalName + ".default;\n"
		}
	}
	if len(script) > api.MaxBundleBytes {
		return nil, fmt.Errorf("bundle: %s: %w (%d bytes)", name, ErrTooLarge, len(script))
	}
	return &Bundle{Script: script, Module: module, Digest: api.Digest([]byte(script)), Inputs: out.files}, nil
}
