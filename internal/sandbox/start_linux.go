package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// envStage names the variable that tells the constructor (early_linux.c) to
// sandbox the process: "worker" to go on into main, "probe" to exit 0 once
// done.
const envStage = "NATSFN_SANDBOX"

// namespaces are the worker's own: it sees no other process, no network
// (a loopback that is down), no host mount, no host IPC objects.
const namespaces = syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS |
	syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP

// Process is a running worker.
type Process struct {
	cmd      *exec.Cmd
	cg       *cgroup
	killOnce sync.Once
	waitOnce sync.Once
	info     ExitInfo
	err      error
}

// Start starts cfg's program in the sandbox. When it returns, the worker is
// in its cgroup; the rest of the sandbox it enters itself, in the
// constructor that runs before its main and in Enter.
func Start(cfg Config) (*Process, error) {
	return start(cfg, "worker")
}

func start(cfg Config, stage string) (*Process, error) {
	if !haveEarlyStage {
		return nil, errNoCgo
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("sandbox: no program to start")
	}
	cg, err := newCgroup(&cfg)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	cmd := exec.Command(cfg.Path, cfg.Args...)
	cmd.Env = append(append([]string{}, cfg.Env...), envStage+"="+stage)
	cmd.Dir = "/"
	cmd.ExtraFiles = cfg.ExtraFiles
	cmd.Stdout, cmd.Stderr = cfg.Stdout, cfg.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: namespaces,
		// Root inside is the node's own uid outside: no more rights on the
		// host than the node has, and none on the (empty) file system.
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		// Dies with the node; not in the node's process group, so a ^C on the
		// terminal reaches the node, which stops its workers in order.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
	if cg.v2 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(cg.fd.Fd())
	}
	if err := cmd.Start(); err != nil {
		cg.remove()
		return nil, fmt.Errorf("sandbox: start %s: %w", cfg.Path, err)
	}
	p := &Process{cmd: cmd, cg: cg}
	if !cg.v2 {
		if err := cg.join(cmd.Process.Pid); err != nil {
			p.Kill()
			p.Wait()
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return p, nil
}

// Pid is the worker's pid as the node sees it (inside, it is 1).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill kills the worker (SIGKILL). It is safe to call more than once and
// after the worker ended.
func (p *Process) Kill() {
	p.killOnce.Do(func() { p.cmd.Process.Kill() })
}

// Wait waits for the worker to end, says how it ended and removes its
// cgroup. Every call returns the same answer.
func (p *Process) Wait() (ExitInfo, error) {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		var ws syscall.WaitStatus
		ok := false
		if p.cmd.ProcessState != nil {
			ws, ok = p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		}
		if !ok {
			p.err = fmt.Errorf("sandbox: wait: %w", err)
			p.cg.remove()
			return
		}
		p.info = ExitInfo{Code: ws.ExitStatus()}
		if ws.Signaled() {
			p.info.Signal = ws.Signal()
			p.info.OOMKilled = ws.Signal() == syscall.SIGKILL && p.cg.oomKills() > 0
		}
		p.cg.remove()
	})
	return p.info, p.err
}
