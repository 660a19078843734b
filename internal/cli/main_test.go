package cli

import (
	"context"
	"os"
	"testing"

	"github.com/natsfn/natsfn/internal/worker"
)

// The test binary doubles as the worker process a node started by `up` or
// `dev` runs.
func TestMain(m *testing.M) {
	if worker.IsWorker() {
		os.Exit(worker.Main(worker.EnterSandbox))
	}
	// And as the Go responder bench starts.
	if IsBenchResponder() {
		os.Exit(Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// The CLI looks for a local node's credentials in the default data
	// directory: the tests' is their own, empty.
	dir, err := os.MkdirTemp("", "natsfn-cli-test-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_DATA_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
