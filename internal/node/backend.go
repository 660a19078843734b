package node

import (
	"fmt"
	"os"

	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/sandbox"
	"github.com/natsfn/natsfn/internal/worker"
)

// chooseBackend decides where JavaScript runs, from cfg.Sandbox:
//   - none: in this process, isolated by V8 isolates only;
//   - process: in a sandboxed worker process per namespace, or not at all;
//   - auto: process where the machine allows it, else plain worker
//     processes, said loudly.
func (n *Node) chooseBackend() (executor.Backend, error) {
	cfg := n.cfg
	switch cfg.Sandbox {
	case "none":
		n.log.Warn("SANDBOX OFF: functions run inside the node process, isolated by V8 isolates only (--sandbox=none); do not run untrusted code like this")
		return &executor.Local{Hosts: n.hosts, IdleTimeout: cfg.IdleTimeout}, nil
	case "", "auto", "process":
		path := cfg.WorkerPath
		if path == "" {
			var err error
			if path, err = os.Executable(); err != nil {
				return nil, fmt.Errorf("natsfn: cannot find my own executable to start workers: %w", err)
			}
		}
		opts := worker.ServeOptions{IdleTimeout: cfg.IdleTimeout}
		spawn := worker.SandboxSpawn(path, opts, worker.Limits{MemoryBytes: cfg.WorkerMemory, Pids: cfg.WorkerPids},
			cfg.Logger.With("subsystem", "worker"))
		if err := sandbox.Check(); err != nil {
			if cfg.Sandbox == "process" {
				return nil, fmt.Errorf("natsfn: --sandbox process is not available here: %v", err)
			}
			n.log.Warn("SANDBOX UNAVAILABLE: workers run as plain processes, without namespaces, seccomp or cgroup limits", "reason", err.Error())
			spawn = worker.PlainSpawn(path, opts, cfg.Logger.With("subsystem", "worker"))
		} else {
			n.log.Info("functions run in sandboxed worker processes, one per namespace",
				"memory_limit", cfg.WorkerMemory, "pids_limit", cfg.WorkerPids)
		}
		return worker.NewBackend(worker.Config{
			Spawn:  spawn,
			Hosts:  n.hosts,
			Logger: cfg.Logger.With("subsystem", "worker"),
		}), nil
	default:
		return nil, fmt.Errorf("natsfn: unknown sandbox %q (want auto, process or none)", cfg.Sandbox)
	}
}
