package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// NodeModules is the node_modules directory of the npm packages some tests
// use (testdata/npm/package.json: a web framework, tsc), which
// scripts/setup installs. Without it the test is skipped, except in CI
// (CI set), where a missing install is a failure.
func NodeModules(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "testdata", "npm", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, ".package-lock.json")); err != nil {
		missing(t, "the test npm packages are not installed (run scripts/setup)")
	}
	return dir
}

// Tsc is the path of the TypeScript compiler from NodeModules.
func Tsc(t testing.TB) string {
	t.Helper()
	tsc := filepath.Join(NodeModules(t), ".bin", "tsc")
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node is not installed (run scripts/setup)")
	}
	return tsc
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
