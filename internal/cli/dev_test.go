package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
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

// TestDevEndToEnd runs `natsfn dev` as a user would: it starts a node,
// deploys the file, answers requests, redeploys on save and shows logs.
func TestDevEndToEnd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.js")
	os.WriteFile(file, []byte(`(s, p) => { console.log("v1 got", p.text()); return "v1:" + p.text() }`), 0o644)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"dev", file, "--trigger", "dev.hello", "--listen", addr}, strings.NewReader(""), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dev exited %d: %s", code, stderr.String())
		}
	})
	testenv.Eventually(t, "the first deploy", func() bool { return strings.Contains(stdout.String()+stderr.String(), "deployed") })

	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	request := func() string {
		m, err := nc.Request("dev.hello", []byte("x"), 5*time.Second)
		if err != nil {
			return err.Error()
		}
		return string(m.Data)
	}
	if got := request(); got != "v1:x" {
		t.Fatalf("reply %q", got)
	}
	testenv.Eventually(t, "the function's log line", func() bool { return strings.Contains(stdout.String(), "v1 got x") })

	os.WriteFile(file, []byte(`(s, p) => "v2:" + p.text()`), 0o644)
	testenv.Eventually(t, "the redeploy on save", func() bool { return request() == "v2:x" })

	// A save that does not build is reported and the old version serves on.
	os.WriteFile(file, []byte(`(s, p) => {`), 0o644)
	testenv.Eventually(t, "the build error", func() bool { return strings.Contains(stdout.String()+stderr.String(), "hello.js:1") })
	if got := request(); got != "v2:x" {
		t.Fatalf("after a broken save: %q", got)
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
