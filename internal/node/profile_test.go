package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/natsfn/natsfn/internal/sandbox"
	"github.com/natsfn/natsfn/internal/testenv"
	"github.com/natsfn/natsfn/internal/worker"
)

// A worker started while NATSFN_WORKER_CPUPROFILE is set writes a CPU
// profile there, sandboxed or not, complete once its last function is
// unloaded.
func TestWorkerCPUProfile(t *testing.T) {
	if err := sandbox.Check(); err != nil {
		t.Logf("workers run as plain processes: %v", err)
	}
	dir := t.TempDir()
	t.Setenv(worker.EnvCPUProfile, dir)
	n := startNode(t, Config{Sandbox: "auto"})
	c, nc := newClient(t, n)
	deploy(t, c, "echo", `(s, p) => p`, "profiled")
	for range 100 {
		invoke(t, nc, "profiled", []byte("x"))
	}
	if _, err := c.Remove(context.Background(), "echo"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "a worker profile", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "worker-default-*.pprof"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) { // a gzipped profile.proto
				return true
			}
		}
		return false
	})
}
