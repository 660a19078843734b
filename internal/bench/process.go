package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// envResponder marks a process started by StartResponder; its value is the
// subject to answer on. natsfn's main (and test binaries that measure)
// serve as the responder when it is set.
const envResponder = "NATSFN_BENCH_RESPONDER"

// readyLine is what a responder prints once the server has its
// subscription.
const readyLine = "ready"

// IsResponder reports whether this process was started as a responder.
func IsResponder() bool { return os.Getenv(envResponder) != "" }

// ResponderSubject is the subject a responder process answers on.
func ResponderSubject() string { return os.Getenv(envResponder) }

// ServeResponder is the responder process: it answers on its subject over
// nc, says ready on stdout once the server has the subscription, and
// returns when stdin closes (the bench is done, or gone).
func ServeResponder(nc *nats.Conn, stdin io.Reader, stdout io.Writer) error {
	sub, err := Responder(nc, ResponderSubject())
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if _, err := fmt.Fprintln(stdout, readyLine); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, stdin)
	return err
}

// ResponderProcess is the plain Go responder in a process of its own, as a
// function's worker is: its CPU time is its own, and it is as far from
// the server as the worker.
type ResponderProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed once Wait has returned
	err   error         // of Wait
}

// StartResponder starts cmd (this program again, told how to connect) as
// the responder on subject and waits until it says it is ready, ctx ends
// or it exits.
func StartResponder(ctx context.Context, cmd *exec.Cmd, subject string) (*ResponderProcess, error) {
	cmd.Env = append(cmd.Environ(), envResponder+"="+subject)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	// It dies with the bench.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Go responder: %w", err)
	}
	p := &ResponderProcess{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != readyLine {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	fail := func(err error) (*ResponderProcess, error) {
		p.Stop()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			lines := strings.Split(msg, "\n")
			err = errors.New(lines[len(lines)-1])
		}
		return nil, fmt.Errorf("the Go responder did not start: %w", err)
	}
	select {
	case err := <-ready:
		if err != nil {
			<-p.done // its stderr is complete
			return fail(err)
		}
		return p, nil
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// Pid is the responder's process id.
func (p *ResponderProcess) Pid() int { return p.cmd.Process.Pid }

// Stop ends the responder: it sees its stdin close and leaves; a
// responder that does not is killed with the bench.
func (p *ResponderProcess) Stop() {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
