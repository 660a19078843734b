// Package sandbox starts natsfn worker processes in a sandbox and lets a
// worker lock itself in.
//
// The node calls Start; the worker, started by it, calls Enter first thing
// in main. A worker gets its own user, pid, mount, ipc, uts, cgroup and
// network namespaces (no network at all), an empty read-only root file
// system holding only /dev/urandom, no capabilities, no_new_privs, Landlock
// where the kernel has it, a seccomp allowlist that kills the process on any
// other system call, and a cgroup with memory and pids limits. Check says
// whether all that works on this machine. docs/sandbox.md has the threat
// model and the reasons.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Config describes a worker process.
type Config struct {
	// Path is the program (natsfn's own binary, os.Executable()), Args its
	// arguments after the program name.
	Path string
	Args []string
	// Env is the whole environment: nothing of the node's is inherited, so
	// no secret of the node's leaks into a tenant's process.
	Env []string
	// ExtraFiles become fds 3, 4, ... in the worker: its only way out.
	ExtraFiles     []*os.File
	Stdout, Stderr io.Writer
	// Name names the cgroup (e.g. "ns-default"); it is sanitised.
	Name string
	// MemoryBytes limits the worker's memory (cgroup memory.max, or v1
	// memory.limit_in_bytes and memsw); 0 means no limit.
	MemoryBytes int64
	// Pids limits the worker's threads (V8's and Go's count); 0 means no
	// limit.
	Pids int
}

// ExitInfo says how a worker ended.
type ExitInfo struct {
	// Code is the exit status, or -1 when a signal killed the process.
	Code int
	// Signal killed the process (0 if it exited). SIGSYS means seccomp
	// killed it for a system call outside the allowlist.
	Signal syscall.Signal
	// OOMKilled is set when the cgroup's memory limit killed it.
	OOMKilled bool
}

func (e ExitInfo) String() string {
	switch {
	case e.OOMKilled:
		return "killed: out of memory (cgroup limit)"
	case e.Signal == syscall.SIGSYS:
		return "killed: system call outside the sandbox's allowlist (SIGSYS)"
	case e.Signal != 0:
		return "killed by " + unix.SignalName(e.Signal)
	default:
		return fmt.Sprintf("exited with status %d", e.Code)
	}
}

// ErrNotSandboxed is returned by Enter in a process that Start did not
// start (or whose first stage did not run).
var ErrNotSandboxed = errors.New("sandbox: this process was not started by sandbox.Start")

// EnterOptions configure Enter.
type EnterOptions struct {
	// Audit logs system calls outside the allowlist (SECCOMP_RET_LOG, to
	// the kernel log) instead of killing the process: for finding what a new
	// Go or V8 release needs, never in production.
	Audit bool
	// Profile allows the timers Go's CPU profiler needs (timer_create,
	// timer_settime, timer_delete, setitimer): only for a worker told to
	// write a CPU profile (NATSFN_WORKER_CPUPROFILE).
	Profile bool
}

var errNoCgo = errors.New("sandbox: natsfn was built without cgo, so the sandbox's first stage is missing")
