package cli

import (
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
	os.Exit(m.Run())
}
