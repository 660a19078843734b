package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/natsfn/natsfn/internal/scaffold"
)

func runTypes(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("types")
	pos, err := e.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	file := scaffold.TypesFile
	if len(pos) == 1 {
		file = pos[0]
	}
	if file == "-" {
		_, err := e.stdout.Write(scaffold.Types())
		return err
	}
	if err := os.WriteFile(file, scaffold.Types(), 0o644); err != nil {
		return fmt.Errorf("%s: %w", file, unwrapPath(err))
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", file)
	return nil
}

func runInit(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("init")
	var force bool
	fs.BoolVar(&force, "force", false, "write into a directory that is not empty, replacing the files of the same names")
	pos, err := e.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	dir := pos[0]
	files, err := scaffold.WriteProject(dir, force)
	if errors.Is(err, scaffold.ErrNotEmpty) {
		return fmt.Errorf("%s is not empty: choose a new directory, or --force to write the project's files into it", dir)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	for _, f := range files {
		fmt.Fprintln(e.stdout, filepath.Join(dir, f))
	}
	fmt.Fprintf(e.stdout, "next: cd %s && natsfn dev hello.ts --trigger hello   (natsfn test runs hello.test.ts)\n", dir)
	return nil
}
