package node

import (
	"fmt"
	"os"

	"github.com/natsfn/natsfn/internal/executor"
	"github.com/natsfn/natsfn/internal/worker"
)

// chooseBackend decides where JavaScript runs, from cfg.Sandbox:
//   - none: in this process, isolated by V8 isolates only;
//   - process: in a worker process per namespace;
//   - auto: process.
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
		return worker.NewBackend(worker.Config{
			Spawn:  worker.PlainSpawn(path, worker.ServeOptions{IdleTimeout: cfg.IdleTimeout}),
			Hosts:  n.hosts,
			Logger: cfg.Logger.With("subsystem", "worker"),
		}), nil
	default:
		return nil, fmt.Errorf("natsfn: unknown sandbox %q (want auto, process or none)", cfg.Sandbox)
	}
}
