package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envHelper makes the test binary a helper process: Start re-executes it,
// and TestMain runs the named helper in the sandbox instead of the tests.
const envHelper = "NATSFN_SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	if name := os.Getenv(envHelper); name != "" {
		os.Exit(runHelper(name))
	}
	os.Exit(m.Run())
}

// helperResult is what a helper process said on fd 3 and how it ended.
type helperResult struct {
	said   map[string]string
	info   ExitInfo
	stderr string
}

// spawn runs helper name in the sandbox with cfg's limits and collects the
// "key value" lines it writes to fd 3, its stderr and how it ended. during,
// if set, runs while the helper does; lines delivers what it says.
func spawn(t testing.TB, name string, cfg Config, during func(p *Process, conn *os.File, lines <-chan string)) helperResult {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Our end in the netpoller, so that closing it interrupts a read.
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "test"), os.NewFile(uintptr(fds[1]), "helper")
	defer ours.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cfg.Path, cfg.Env = exe, append(cfg.Env, envHelper+"="+name)
	cfg.ExtraFiles, cfg.Stderr = []*os.File{theirs}, &stderr
	if cfg.Name == "" {
		cfg.Name = "test-" + name
	}
	p, err := Start(cfg)
	theirs.Close()
	if err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, p.Kill)
	defer timer.Stop()
	res := helperResult{said: map[string]string{}}
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		s := bufio.NewScanner(ours)
		for s.Scan() {
			k, v, _ := strings.Cut(s.Text(), " ")
			res.said[k] = v
			select {
			case lines <- s.Text():
			default:
			}
		}
	}()
	if during != nil {
		during(p, ours, lines)
	}
	res.info, err = p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	<-done
	res.stderr = stderr.String()
	return res
}

// say writes one "key value" line to the test on fd 3.
func say(key string, value any) {
	fmt.Fprintf(os.NewFile(3, "test"), "%s %v\n", key, value)
}
