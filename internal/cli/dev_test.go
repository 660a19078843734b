package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the dev command's goroutines and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// devRun is a running `natsfn dev` and a NATS connection to its server.
type devRun struct {
	stdout, stderr *syncBuffer
	nc             *nats.Conn
}

// startDev runs `natsfn dev args...` on a free port until the test ends.
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"dev", "--listen", addr}, args...), strings.NewReader(""), d.stdout, d.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dev exited %d: %s", code, d.stderr.String())
		}
	})
	testenv.Eventually(t, "dev's NATS server", func() bool {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("dev exited %d: %s", code, d.stderr.String())
		default:
		}
		nc, err := nats.Connect("nats://"+addr, nats.NoReconnect())
		if err != nil {
			return false
		}
		d.nc = nc
		return true
	})
	t.Cleanup(d.nc.Close)
	return d
}

func (d *devRun) output() string { return d.stdout.String() + d.stderr.String() }

// request calls subject and returns the reply, or the error as text.
func (d *devRun) request(subject, payload string) string {
	m, err := d.nc.Request(subject, []byte(payload), 5*time.Second)
	if err != nil {
		return err.Error()
	}
	if code := m.Header.Get("Nats-Service-Error-Code"); code != "" {
		return "error " + code
	}
	return string(m.Data)
}

// saveByRename writes a file as many editors do: a new file renamed over
// the old one.
func saveByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestDevEndToEnd runs `natsfn dev` as a user would: it starts a node,
// deploys the file, answers requests, redeploys on save and shows logs.
func TestDevEndToEnd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.js")
	os.WriteFile(file, []byte(`(s, p) => { console.log("v1 got", p.text()); return "v1:" + p.text() }`), 0o644)
	d := startDev(t, file, "--trigger", "dev.hello")
	testenv.Eventually(t, "the first deploy", func() bool { return strings.Contains(d.output(), "deployed") })
	if got := d.request("dev.hello", "x"); got != "v1:x" {
		t.Fatalf("reply %q", got)
	}
	testenv.Eventually(t, "the function's log line", func() bool { return strings.Contains(d.stdout.String(), "v1 got x") })
	// One line per call: time, subject, status, duration.
	callLine := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} dev\.hello ok [0-9.]+(µs|ms|s)$`)
	testenv.Eventually(t, "the call's line", func() bool { return callLine.MatchString(d.stdout.String()) })

	os.WriteFile(file, []byte(`(s, p) => "v2:" + p.text()`), 0o644)
	testenv.Eventually(t, "the redeploy on save", func() bool { return d.request("dev.hello", "x") == "v2:x" })

	// A save that does not build is reported and the old version serves on.
	os.WriteFile(file, []byte(`(s, p) => {`), 0o644)
	testenv.Eventually(t, "the build error", func() bool { return strings.Contains(d.output(), "hello.js:1") })
	if got := d.request("dev.hello", "x"); got != "v2:x" {
		t.Fatalf("after a broken save: %q", got)
	}
}

// TestDevWatchesImports: the README's own example, greet.ts importing
// ./lib/greeting.ts, redeploys when the imported file changes, saved by
// rename, and again when that file gains an import of its own.
func TestDevWatchesImports(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	greet := filepath.Join(dir, "greet.ts")
	greeting := filepath.Join(dir, "lib", "greeting.ts")
	os.WriteFile(greet, []byte("import { greeting } from './lib/greeting';\nexport default (s: string, p: any) => greeting(p.text());\n"), 0o644)
	os.WriteFile(greeting, []byte("export const greeting = (n: string) => 'hello ' + n;\n"), 0o644)
	d := startDev(t, greet, "--trigger", "greet")
	testenv.Eventually(t, "the first deploy", func() bool { return d.request("greet", "ann") == "hello ann" })
	if !strings.Contains(d.stdout.String(), "watching greet.ts and the file it imports") {
		t.Errorf("dev does not say what it watches:\n%s", d.stdout.String())
	}

	saveByRename(t, greeting, "export const greeting = (n: string) => 'hi ' + n;\n")
	testenv.Eventually(t, "the redeploy after the import changed", func() bool { return d.request("greet", "ann") == "hi ann" })

	// A file one level deeper, imported from now on, is watched too.
	os.MkdirAll(filepath.Join(dir, "lib", "deep"), 0o755)
	os.WriteFile(filepath.Join(dir, "lib", "deep", "mark.ts"), []byte("export const mark = '!';\n"), 0o644)
	saveByRename(t, greeting, "import { mark } from './deep/mark';\nexport const greeting = (n: string) => 'hi ' + n + mark;\n")
	testenv.Eventually(t, "the redeploy with a new import", func() bool { return d.request("greet", "ann") == "hi ann!" })
	os.WriteFile(filepath.Join(dir, "lib", "deep", "mark.ts"), []byte("export const mark = '?';\n"), 0o644)
	testenv.Eventually(t, "the redeploy after the deeper import changed", func() bool { return d.request("greet", "ann") == "hi ann?" })
}

// TestDevWaitsForAFix: a file that does not build at start is reported and
// dev keeps running; once fixed, the function serves. Errors the function
// throws are shown once, then counted, and each call still gets its line.
func TestDevWaitsForAFix(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "fix.ts")
	os.WriteFile(file, []byte("import { x } from './missing';\nexport default () => x;\n"), 0o644)
	d := startDev(t, file, "--trigger", "fix")
	testenv.Eventually(t, "the build error", func() bool {
		return strings.Contains(d.stderr.String(), "fix.ts:1:") && strings.Contains(d.stderr.String(), "waiting for a fix")
	})
	if strings.Contains(d.stdout.String(), "deployed") {
		t.Fatalf("deployed a file that does not build:\n%s", d.stdout.String())
	}

	saveByRename(t, file, "export default (s: string, p: any) => { if (p.text() !== 'x') throw new Error(p.text() + ' input'); return 'fixed'; };\n")
	testenv.Eventually(t, "the function after the fix", func() bool { return d.request("fix", "x") == "fixed" })

	for _, payload := range []string{"bad", "bad", "bad", "worse"} {
		if got := d.request("fix", payload); got != "error 500" {
			t.Fatalf("a throwing call answered %q", got)
		}
	}
	failed := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3} fix 500 .*[0-9.]+(µs|ms|s)$`)
	testenv.Eventually(t, "a line per failed call", func() bool { return len(failed.FindAllString(d.stdout.String(), -1)) == 4 })
	// The log keeps the order of the function's entries: the repeats are
	// counted before the next, different error is shown.
	testenv.Eventually(t, "the next error in the log", func() bool { return strings.Contains(d.stdout.String(), "Error: worse input") })
	out := d.stdout.String()
	if got := strings.Count(out, "Error: bad input"); got != 1 {
		t.Errorf("the error is shown %d times:\n%s", got, out)
	}
	if i, j := strings.Index(out, "(same error ×2)"), strings.Index(out, "Error: worse input"); i < 0 || i > j {
		t.Errorf("the repeats are not counted before the next error:\n%s", out)
	}
}

// TestUpServesTheCLI runs `natsfn up` and drives it with other commands.
func TestUpServesTheCLI(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr syncBuffer
	done := make(chan int, 1)
	data := t.TempDir()
	go func() {
		done <- Run(ctx, []string{"up", "--listen", addr, "--data", data}, strings.NewReader(""), &upOut, &upErr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d: %s", code, upErr.String())
		}
	})
	server := "nats://" + addr
	creds := filepath.Join(data, "admin.creds")
	testenv.Eventually(t, "the node", func() bool {
		var out, errOut bytes.Buffer
		return Run(context.Background(), []string{"-s", server, "--creds", creds, "ls"}, nil, &out, &errOut) == 0
	})
	if !strings.Contains(upOut.String(), creds) {
		t.Errorf("up does not say where the administrator's credentials are: %q", upOut.String())
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "up.js")
	os.WriteFile(file, []byte(`(s, p) => ({ up: p.text() })`), 0o644)
	anonymous := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), append([]string{"-s", server}, args...), strings.NewReader("from stdin"), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	run := func(args ...string) (string, string, int) {
		return anonymous(append([]string{"--creds", creds}, args...)...)
	}
	if _, errOut, code := run("deploy", file, "--name", "up", "--trigger", "up.fn"); code != 0 {
		t.Fatalf("deploy: %d %s", code, errOut)
	}
	if out, errOut, code := run("invoke", "up.fn", "-"); code != 0 || out != `{"up":"from stdin"}` {
		t.Fatalf("invoke: %d %q %s", code, out, errOut)
	}
	// Without credentials a client calls the default namespace's functions,
	// and is refused, at once and in one line, everything else.
	if out, errOut, code := anonymous("invoke", "up.fn", "-"); code != 0 || out != `{"up":"from stdin"}` {
		t.Fatalf("anonymous invoke: %d %q %s", code, out, errOut)
	}
	if _, errOut, code := anonymous("rm", "up"); code == 0 || !strings.Contains(errOut, "Permissions Violation") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("anonymous rm: %d %q", code, errOut)
	}
	if out, _, code := run("ls"); code != 0 || !strings.Contains(out, "up.fn") {
		t.Fatalf("ls: %d %q", code, out)
	}
	if _, errOut, code := run("rm", "up"); code != 0 {
		t.Fatalf("rm: %d %s", code, errOut)
	}
	if _, errOut, code := run("info", "up"); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("info after rm: %d %q", code, errOut)
	}
}
