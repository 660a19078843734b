// Package scaffold holds the files natsfn writes for developers: the
// TypeScript declarations of what a function sees (`natsfn types`) and the
// starting project of `natsfn init`. They are embedded, so the binary
// carries one copy of each.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// TypesFile is the declaration file's usual name.
const TypesFile = "natsfn.d.ts"

//go:embed natsfn.d.ts
var types []byte

//go:embed project
var project embed.FS

// ErrNotEmpty is returned when a project would be written into a directory
// that holds files already.
var ErrNotEmpty = errors.New("scaffold: directory is not empty")

// Types returns the declarations of the globals a function sees.
func Types() []byte { return slices.Clone(types) }

// WriteProject writes a new project into dir, making dir when it does not
// exist. It refuses a directory that holds anything unless force, and then
// overwrites only the files of the same names. It returns the files it
// wrote, relative to dir.
func WriteProject(dir string, force bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case len(entries) > 0 && !force:
		return nil, fmt.Errorf("%w: %s", ErrNotEmpty, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string][]byte{TypesFile: types}
	err = fs.WalkDir(project, "project", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := project.ReadFile(path)
		files[filepath.Base(path)] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	var written []string
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return written, err
		}
		written = append(written, name)
	}
	slices.Sort(written)
	return written, nil
}
