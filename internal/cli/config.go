package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/natsfn/natsfn/api"
)

// configName is the config file natsfn looks for beside a function.
const configName = "natsfn.json"

// projectConfig is a config file: the deploy flags of one function at the
// top level, or of several under "functions", each by its name. Its keys
// are the flags' names, so what a user knows of one is the other.
type projectConfig struct {
	path      string
	multi     bool          // the functions are under "functions"
	functions []configEntry // by name
}

// configEntry is one function of a config file.
type configEntry struct {
	config *projectConfig
	// name is the entry's key under "functions", or the top level's
	// "name"; empty when the name comes from the file.
	name string
	// file is the function's file, resolved against the config's
	// directory; empty at the top level when it names none.
	file string
	// values holds the deploy flags the entry sets, by flag name.
	values map[string]json.RawMessage
}

// where names the entry in errors.
func (c *configEntry) where() string {
	if c.config.multi {
		return c.config.path + ": functions." + c.name
	}
	return c.config.path
}

// loadConfig reads the config file path names, which must exist, or when
// path is empty the natsfn.json in dir if there is one. It returns nil when
// there is no config file.
func loadConfig(path, dir string) (*projectConfig, error) {
	if path == "" {
		path = filepath.Join(dir, configName)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	cfg := &projectConfig{path: path}
	top, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	delete(top, "$schema") // for editors
	fns, ok := top["functions"]
	if !ok {
		entry, err := cfg.entry("", top, true)
		if err != nil {
			return nil, err
		}
		cfg.functions = []configEntry{entry}
		return cfg, nil
	}
	cfg.multi = true
	if len(top) > 1 {
		for k := range top {
			if k != "functions" {
				return nil, fmt.Errorf("%s: %q is not allowed beside \"functions\": give it in each function", path, k)
			}
		}
	}
	byName, err := decodeObject(fns)
	if err != nil {
		return nil, fmt.Errorf("%s: functions: %v", path, err)
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("%s: functions is empty", path)
	}
	for _, name := range sortedKeys(byName) {
		values, err := decodeObject(byName[name])
		if err != nil {
			return nil, fmt.Errorf("%s: functions.%s: %v", path, name, err)
		}
		if _, ok := values["name"]; ok {
			return nil, fmt.Errorf("%s: functions.%s: \"name\" is not allowed: the key names the function", path, name)
		}
		entry, err := cfg.entry(name, values, false)
		if err != nil {
			return nil, err
		}
		cfg.functions = append(cfg.functions, entry)
	}
	return cfg, nil
}

// entry checks one function's keys and resolves its file.
func (p *projectConfig) entry(name string, values map[string]json.RawMessage, top bool) (configEntry, error) {
	e := configEntry{config: p, name: name, values: values}
	where := p.path
	if !top {
		where += ": functions." + name
	}
	allowed := configKeys()
	for _, k := range sortedKeys(values) {
		if k != "file" && !allowed[k] {
			return e, fmt.Errorf("%s: unknown key %q (the keys are deploy's flags: %s)", where, k, strings.Join(sortedKeys(allowed), ", "))
		}
	}
	if raw, ok := values["file"]; ok {
		var file string
		if err := json.Unmarshal(raw, &file); err != nil || file == "" {
			return e, fmt.Errorf("%s: file: want the function's file name", where)
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(p.path), file)
		}
		e.file = filepath.Clean(file)
		delete(values, "file")
	} else if !top {
		return e, fmt.Errorf("%s: file is missing: name the function's file", where)
	}
	if raw, ok := values["name"]; ok {
		if err := json.Unmarshal(raw, &e.name); err != nil {
			return e, fmt.Errorf("%s: name: want a string", where)
		}
	}
	return e, nil
}

// configKeys are the flags a config file may set: those of a function's
// settings.
func configKeys() map[string]bool {
	fs := &flagSet{FlagSet: flag.NewFlagSet("", flag.ContinueOnError), aliases: map[string]string{}}
	var f specFlags
	f.add(fs, true)
	keys := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) { keys[fl.Name] = true })
	return keys
}

// decodeObject reads one JSON object, keeping its values raw.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("want a JSON object: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if m == nil {
		return nil, errors.New("want a JSON object, not null")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// forFile returns the entry of file: the one whose file it is (of those,
// the one named name when name is given), or a top-level entry that names
// no file. It returns nil when the config has none.
func (p *projectConfig) forFile(file, name string) (*configEntry, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	var found []*configEntry
	for i := range p.functions {
		e := &p.functions[i]
		path, err := filepath.Abs(e.file)
		if e.file == "" || err == nil && path == abs {
			if name == "" || e.name == "" || e.name == name {
				found = append(found, e)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, e := range found {
		names[i] = e.name
	}
	return nil, usageErrorf("%s has several functions of %s (%s): pick one with --name", p.path, file, strings.Join(names, ", "))
}

// apply sets the flags of fs the entry gives and the command line does
// not: a flag given wins, and a list flag given replaces the entry's list.
func (c *configEntry) apply(fs *flagSet, given map[string]bool) error {
	if c.config.multi && !given["name"] {
		if err := fs.Set("name", c.name); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(c.values) {
		if given[k] {
			continue
		}
		fl := fs.Lookup(k)
		if fl == nil {
			return fmt.Errorf("%s: %s is not a flag of natsfn %s", c.where(), k, strings.TrimPrefix(fs.Name(), "natsfn "))
		}
		values, err := configValues(k, fl, c.values[k])
		if err != nil {
			return fmt.Errorf("%s: %s: %v", c.where(), k, err)
		}
		for _, v := range values {
			if err := fs.Set(k, v); err != nil {
				return fmt.Errorf("%s: %s: invalid value %q: %v", c.where(), k, v, err)
			}
		}
	}
	return nil
}

// configValues turns a config value into the flag arguments it stands for.
func configValues(key string, fl *flag.Flag, raw json.RawMessage) ([]string, error) {
	switch {
	case key == "env":
		var env map[string]string
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, errors.New(`want an object of strings, such as {"GREETING": "hi"}`)
		}
		var out []string
		for _, k := range sortedKeys(env) {
			if k == "" || strings.Contains(k, "=") {
				return nil, fmt.Errorf("%q is not a variable name", k)
			}
			out = append(out, k+"="+env[k])
		}
		return out, nil
	case key == "backoff":
		list, err := stringList(raw)
		if err != nil {
			return nil, err
		}
		return []string{strings.Join(list, ",")}, nil
	}
	switch fl.Value.(type) {
	case *listFlag:
		return stringList(raw)
	case interface{ IsBoolFlag() bool }:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, errors.New("want true or false")
		}
		return []string{strconv.FormatBool(b)}, nil
	}
	if g, ok := fl.Value.(flag.Getter); ok && isInt(g.Get()) {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, errors.New("want an integer")
		}
		return []string{strconv.Itoa(n)}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errors.New("want a string")
	}
	return []string{s}, nil
}

func isInt(v any) bool {
	_, ok := v.(int)
	return ok
}

// stringList reads a list of strings, or one string as a list of one.
func stringList(raw json.RawMessage) ([]string, error) {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, errors.New("want a list of strings")
	}
	return []string{one}, nil
}

// setFlags returns the names of the flags the command line gave.
func setFlags(fs *flagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		if long, ok := fs.aliases[name]; ok {
			name = long
		}
		given[name] = true
	})
	return given
}

// configOf returns the config entry of file: in the config file path
// names, which must have one, or else in the natsfn.json beside file, if
// any. Nil means none.
func configOf(path, file, name string) (*configEntry, error) {
	cfg, err := loadConfig(path, filepath.Dir(file))
	if err != nil || cfg == nil {
		return nil, err
	}
	entry, err := cfg.forFile(file, name)
	if err == nil && entry == nil && path != "" {
		return nil, usageErrorf("%s has no function of %s", cfg.path, file)
	}
	return entry, err
}

// configuredSpec is the spec of the function in file for a command that
// takes some of the deploy flags (dev): f, parsed from fs, and what the
// config file of file says of the rest. The command line wins.
func configuredSpec(fs *flagSet, f *specFlags, path, file, namespace string) (api.FunctionSpec, error) {
	entry, err := configOf(path, file, f.name)
	if err != nil {
		return api.FunctionSpec{}, err
	}
	if entry == nil {
		return f.spec(namespace, file)
	}
	// The entry may set any deploy flag: it goes into a set of all of
	// them, with the command's own spec flags given on top.
	all := &flagSet{FlagSet: flag.NewFlagSet(fs.Name(), flag.ContinueOnError), aliases: map[string]string{}}
	var full specFlags
	full.add(all, true)
	own := &flagSet{FlagSet: flag.NewFlagSet("", flag.ContinueOnError), aliases: map[string]string{}}
	new(specFlags).add(own, false)
	given := map[string]bool{}
	for name := range setFlags(fs) {
		if own.Lookup(name) == nil {
			continue // the command's own flag, such as the node's --disable
		}
		given[name] = true
		values := []string{fs.Lookup(name).Value.String()}
		if list, ok := fs.Lookup(name).Value.(*listFlag); ok {
			values = *list
		}
		for _, v := range values {
			if err := all.Set(name, v); err != nil {
				return api.FunctionSpec{}, err
			}
		}
	}
	if err := entry.apply(all, given); err != nil {
		return api.FunctionSpec{}, err
	}
	return full.spec(namespace, file)
}
