package cli_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/cli"
	"github.com/natsfn/natsfn/internal/scaffold"
	"github.com/natsfn/natsfn/internal/testenv"
)

func TestTypes(t *testing.T) {
	code, stdout, stderr := run(t, "", "types", "-")
	if code != 0 || stdout != string(scaffold.Types()) {
		t.Fatalf("types -: %d %q", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "x.d.ts")
	if code, _, stderr := run(t, "", "types", file); code != 0 {
		t.Fatalf("types FILE: %d %q", code, stderr)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != string(scaffold.Types()) {
		t.Errorf("types FILE wrote %d bytes, %v", len(b), err)
	}
	code, stdout, stderr = run(t, "", "types", filepath.Join(t.TempDir(), "no", "such", "dir.d.ts"))
	wantFailure(t, code, stdout, stderr, 1, "no such file")
}

// TestInitThenTest writes a project and runs its test as a user would:
// `natsfn init DIR`, then `natsfn test DIR`; a failing test fails the
// command; and tsc finds no type errors.
func TestInitThenTest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	if code, stdout, stderr := run(t, "", "init", dir); code != 0 || !strings.Contains(stdout, "hello.ts") {
		t.Fatalf("init: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr := run(t, "", "init", dir)
	wantFailure(t, code, stdout, stderr, 1, "is not empty: choose a new directory, or --force")

	code, stdout, stderr = runLong(t, "test", dir)
	if code != 0 || !regexp.MustCompile(`(?m)^ok   .*hello\.test\.ts \S+$`).MatchString(stdout) || !strings.Contains(stdout, "PASS (1 test)") {
		t.Fatalf("test: %d\n%s%s", code, stdout, stderr)
	}

	// A test that throws fails the command, with its message and its
	// console output, and the others still run. (The node's own warnings
	// may come before the last line: a race-enabled worker prints some.)
	os.WriteFile(filepath.Join(dir, "broken.test.ts"), []byte("export default () => { console.log('about to fail'); throw new Error('this is wrong'); };\n"), 0o644)
	code, stdout, stderr = runLong(t, "test", dir)
	if code != 1 || !strings.Contains(stdout, "FAIL "+filepath.Join(dir, "broken.test.ts")+": ") || !strings.Contains(stdout, "Error: this is wrong") ||
		!strings.Contains(stdout, "about to fail") || !strings.Contains(stdout, "ok   "+filepath.Join(dir, "hello.test.ts")) ||
		!strings.HasSuffix(stderr, "\nnatsfn: 1 of 2 tests failed\n") && stderr != "natsfn: 1 of 2 tests failed\n" {
		t.Fatalf("a failing test: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "", "test", t.TempDir())
	wantFailure(t, code, stdout, stderr, 1, "no test files")

	tsc := testenv.Tsc(t) // the pinned TypeScript scripts/setup installs
	os.Remove(filepath.Join(dir, "broken.test.ts"))
	cmd := exec.CommandContext(context.Background(), tsc, "-p", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc -p %s: %v\n%s", dir, err, out)
	}
	// And the check has teeth: a misspelt payload method is an error.
	os.WriteFile(filepath.Join(dir, "typo.ts"), []byte("export default (s: string, p: Payload) => p.txt();\n"), 0o644)
	if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "txt") {
		t.Errorf("tsc accepted p.txt(): %v\n%s", err, out)
	}
}

// runLong runs a command that starts a node, with room for a busy machine.
func runLong(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
