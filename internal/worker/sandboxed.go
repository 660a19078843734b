package worker

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/natsfn/natsfn/internal/sandbox"
)

// Limits bound a sandboxed worker's cgroup.
type Limits struct {
	// MemoryBytes covers the whole worker: V8 heaps, ArrayBuffers (which
	// V8's heap limit does not count) and the Go runtime.
	MemoryBytes int64
	// Pids bounds its threads.
	Pids int
	// Cgroup prefixes the cgroup's name, before the namespace: "ns-" when
	// empty (a namespace's worker), "check-" for a check's process.
	Cgroup string
}

// SandboxSpawn starts workers of path through the sandbox: their own user,
// pid, mount, ipc, uts and network namespaces, an empty read-only root,
// seccomp, Landlock where present, and a cgroup with limits.
func SandboxSpawn(path string, opts ServeOptions, limits Limits, log *slog.Logger) SpawnFunc {
	return func(namespace string, files []*os.File) (Process, error) {
		out := logOutput(log, namespace)
		prefix := limits.Cgroup
		if prefix == "" {
			prefix = "ns-"
		}
		files, profileEnv, closeProfile := withProfile(namespace, files)
		defer closeProfile()
		p, err := sandbox.Start(sandbox.Config{
			Path:        path,
			Env:         append(append(Env(opts), filesEnv(files)), profileEnv...),
			ExtraFiles:  files,
			Stdout:      out,
			Stderr:      out,
			Name:        prefix + namespace,
			MemoryBytes: limits.MemoryBytes,
			Pids:        limits.Pids,
		})
		if err != nil {
			out.Close()
			return nil, err
		}
		return sandboxProcess{p: p, out: out}, nil
	}
}

type sandboxProcess struct {
	p   *sandbox.Process
	out io.Closer
}

func (s sandboxProcess) Wait() Exit {
	info, err := s.p.Wait()
	s.out.Close()
	if err != nil {
		return Exit{How: err.Error()}
	}
	return Exit{How: info.String(), OutOfMemory: info.OOMKilled}
}

func (s sandboxProcess) Kill() { s.p.Kill() }

func (s sandboxProcess) Pid() int { return s.p.Pid() }

// EnterSandbox is the enter step for Main: the sandbox's last stage in a
// worker that sandbox.Start started, nothing in a plain worker. (A worker
// that was meant to be sandboxed and is not never gets here: the
// sandbox's first stage ends the process before main.)
func EnterSandbox() error {
	err := sandbox.Enter(sandbox.EnterOptions{Profile: profiling()})
	if errors.Is(err, sandbox.ErrNotSandboxed) {
		return nil
	}
	return err
}
