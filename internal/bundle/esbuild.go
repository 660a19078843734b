package bundle

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// input is one source file to hand to esbuild.
type input struct {
	name   string
	src    string
	dir    string
	loader loader
}

type loader api.Loader

func (l loader) typeScript() bool { return l == loader(api.LoaderTS) || l == loader(api.LoaderTSX) }

// loaderFor picks the language by extension; anything unknown is JavaScript.
func loaderFor(name string) loader {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".ts", ".mts", ".cts":
		return loader(api.LoaderTS)
	case ".tsx":
		return loader(api.LoaderTSX)
	case ".jsx":
		return loader(api.LoaderJSX)
	}
	return loader(api.LoaderJS)
}

type format int

const (
	iifeFormat format = iota
	esmFormat
)

// output is what one esbuild run tells about the entry file.
type output struct {
	code       string
	esm        bool // the entry uses import/export syntax
	imports    int  // imports and require() calls in the entry
	hasDefault bool // only known for esmFormat
	// files are the source files the bundle was built from, other than
	// the entry itself, as absolute paths.
	files []string
}

// build bundles the input. esbuild parses the file properly, so whether it
// is a module comes from its metafile, not from guessing at the text.
func (in input) build(f format) (*output, error) {
	opts := api.BuildOptions{
		Stdin: &api.StdinOptions{
			Contents:   in.src,
			ResolveDir: in.dir,
			Sourcefile: filepath.Base(in.name),
			Loader:     api.Loader(in.loader),
		},
		Bundle:     true,
		Write:      false,
		Metafile:   true,
		Platform:   api.PlatformNeutral,
		Target:     api.ES2024, // V8 13.6 runs all of it natively
		MainFields: []string{"module", "main"},
		Charset:    api.CharsetUTF8,
		LogLevel:   api.LogLevelSilent,
		Plugins:    []api.Plugin{refuseNodeBuiltins},
		// Paths in messages and in the bundle's comments are relative to
		// the source's directory, so the digest does not depend on where
		// the build ran.
		AbsWorkingDir: in.dir,
	}
	if f == iifeFormat {
		opts.Format = api.FormatIIFE
		opts.GlobalName = globalName
		// Stack traces name the user's files and lines: the engine reads
		// this map. Positions only; the sources are the user's to keep.
		opts.Sourcemap = api.SourceMapInline
		opts.SourcesContent = api.SourcesContentExclude
	} else {
		opts.Format = api.FormatESModule
	}
	res := api.Build(opts)
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("bundle: %s", describe(res.Errors, in.name))
	}
	if len(res.OutputFiles) != 1 {
		return nil, fmt.Errorf("bundle: %s: esbuild produced %d files, want 1", in.name, len(res.OutputFiles))
	}
	var meta metafile
	if err := json.Unmarshal([]byte(res.Metafile), &meta); err != nil {
		return nil, fmt.Errorf("bundle: %s: reading esbuild metafile: %w", in.name, err)
	}
	out := &output{code: string(res.OutputFiles[0].Contents)}
	for path := range meta.Inputs {
		// The entry comes from stdin; plugins' virtual modules have a
		// "namespace:" prefix and no file behind them.
		if path == "<stdin>" || strings.Contains(path, ":") && !filepath.IsAbs(path) {
			continue
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(in.dir, path)
		}
		out.files = append(out.files, path)
	}
	slices.Sort(out.files)
	for _, o := range meta.Outputs {
		if o.EntryPoint == "" {
			continue
		}
		entry := meta.Inputs[o.EntryPoint]
		out.esm = entry.Format == "esm"
		out.imports = len(entry.Imports)
		out.hasDefault = slices.Contains(o.Exports, "default")
	}
	return out, nil
}

// metafile is the part of esbuild's metafile we read.
type metafile struct {
	Inputs map[string]struct {
		Format  string            `json:"format"`
		Imports []json.RawMessage `json:"imports"`
	} `json:"inputs"`
	Outputs map[string]struct {
		EntryPoint string   `json:"entryPoint"`
		Exports    []string `json:"exports"`
	} `json:"outputs"`
}

// describe makes one line of esbuild's errors: the first with its position,
// and how many more there are.
func describe(msgs []api.Message, name string) string {
	m := msgs[0]
	where := name
	if l := m.Location; l != nil {
		file := l.File
		if file == "" || file == "<stdin>" || file == filepath.Base(name) {
			file = name
		}
		// esbuild's columns count from 0, editors count from 1.
		where = fmt.Sprintf("%s:%d:%d", file, l.Line, l.Column+1)
	}
	text := m.Text
	if m.PluginName != "" {
		text = strings.TrimPrefix(text, "["+m.PluginName+"] ")
	}
	line := where + ": " + text
	if n := len(msgs) - 1; n == 1 {
		line += " (and 1 more error)"
	} else if n > 1 {
		line += fmt.Sprintf(" (and %d more errors)", n)
	}
	return line
}
