package worker

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// envWorker marks a process started by Spawn as a worker; natsfn's main
// (and test binaries) call Main when it is set. envIdle and envBudget
// carry the node's isolate idle timeout and isolate budget.
const (
	envWorker = "NATSFN_WORKER"
	envIdle   = "NATSFN_WORKER_IDLE_TIMEOUT"
	envBudget = "NATSFN_WORKER_MAX_ISOLATES"
	envHide   = "NATSFN_WORKER_HIDE_EXCEPTIONS"
	envFiles  = "NATSFN_WORKER_FILES" // how many fds from 3 up the node passed on purpose
)

// Env returns the environment a worker process needs besides the node's
// own: the worker marker and the serve options.
func Env(opts ServeOptions) []string {
	env := []string{envWorker + "=1"}
	if opts.IdleTimeout > 0 {
		env = append(env, envIdle+"="+opts.IdleTimeout.String())
	}
	if opts.MaxIsolates > 0 {
		env = append(env, envBudget+"="+strconv.Itoa(opts.MaxIsolates))
	}
	if opts.HideExceptions {
		env = append(env, envHide+"=1")
	}
	return env
}

// IsWorker reports whether this process was started as a worker.
func IsWorker() bool { return os.Getenv(envWorker) != "" }

// Main is the worker process: it serves the node on fd 3 after enter (the
// sandbox's last step, applied from inside) and returns the exit code.
func Main(enter func() error) int {
	// Before anything else: a descriptor the node holds without
	// close-on-exec (a host file, a socket) came along into this process,
	// where tenant code that escapes V8 could use it.
	given := 3
	if n, err := strconv.Atoi(os.Getenv(envFiles)); err == nil && n >= 0 {
		given = n
	}
	if err := closeInherited(3 + given); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn worker: cannot close inherited descriptors:", err)
		return 2
	}
	conn := os.NewFile(3, "node")
	if conn == nil {
		fmt.Fprintln(os.Stderr, "natsfn worker: no connection to the node on fd 3")
		return 2
	}
	// Before the sandbox: the profiler's first timers are made here.
	stopProfile := startProfile()
	defer stopProfile()
	if enter != nil {
		if err := enter(); err != nil {
			fmt.Fprintln(os.Stderr, "natsfn worker: cannot enter the sandbox:", err)
			return 3
		}
	}
	// The node passes its NATS socket and the in-flight table as fds 4 and
	// 5 when workers have their own connection (see Direct).
	opts := ServeOptions{NATSFd: 4, InFlightFd: 5,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if d, err := time.ParseDuration(os.Getenv(envIdle)); err == nil {
		opts.IdleTimeout = d
	}
	if n, err := strconv.Atoi(os.Getenv(envBudget)); err == nil {
		opts.MaxIsolates = n
	}
	opts.HideExceptions = os.Getenv(envHide) == "1"
	// The node kills its workers when it stops: the profile ends when the
	// last function is unloaded, if that comes first.
	opts.Unloaded = stopProfile
	runtime.GOMAXPROCS(workerProcs(runtime.NumCPU()))
	if err := Serve(conn, opts); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn worker:", err)
		return 1
	}
	return 0
}

// TotalMemory is the machine's memory in bytes, 0 when unknown.
func TotalMemory() int64 {
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil {
		return 0
	}
	return int64(info.Totalram) * int64(info.Unit)
}

// filesEnv tells the worker how many fds it is given on purpose.
func filesEnv(files []*os.File) string { return envFiles + "=" + strconv.Itoa(len(files)) }

// closeInherited closes every descriptor from first up that this process
// inherited. Those have no close-on-exec flag (or exec would have closed
// them), while everything the Go runtime opened before main (it keeps
// cgroup files open, at whatever numbers were free) has it. /proc is
// missing in the sandbox, so poll finds the open descriptors, a few
// thousand per call, up to the highest number the process may have.
func closeInherited(first int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	end := int(min(lim.Max, 1<<30))
	const chunk = 4096
	fds := make([]unix.PollFd, 0, chunk)
	for base := first; base < end; base += chunk {
		fds = fds[:0]
		for fd := base; fd < min(base+chunk, end); fd++ {
			fds = append(fds, unix.PollFd{Fd: int32(fd)})
		}
		for {
			_, err := unix.Poll(fds, 0)
			if err == nil {
				break
			}
			if err != unix.EINTR {
				return fmt.Errorf("poll: %w", err)
			}
		}
		for _, p := range fds {
			if p.Revents&unix.POLLNVAL != 0 {
				continue // not open
			}
			flags, err := unix.FcntlInt(uintptr(p.Fd), unix.F_GETFD, 0)
			if err == nil && flags&unix.FD_CLOEXEC == 0 {
				unix.Close(int(p.Fd))
			}
		}
	}
	return nil
}

// workerProcs is the worker's GOMAXPROCS: half the CPUs. JavaScript runs
// inside cgo calls, and a cgo call that runs past a scheduler tick (20 µs)
// gives up its P, so long-running JavaScript still runs in parallel on
// every CPU; the Go side (NATS, the node's frames) is light, and fewer Ps
// mean fewer threads spinning for work on CPUs the NATS server and V8 need.
// On two CPUs one P gave 0.67-0.73x of a plain Go responder's throughput
// with 32 calls in flight, two Ps 0.60-0.70x (docs/performance.md).
func workerProcs(cpus int) int { return max(1, cpus/2) }

// PlainSpawn starts workers as ordinary child processes of path (natsfn's
// own binary): the process boundary without the sandbox's namespaces.
// Their output goes to log, or to this process's stderr when log is nil.
func PlainSpawn(path string, opts ServeOptions, log *slog.Logger) SpawnFunc {
	return func(namespace string, files []*os.File) (Process, error) {
		files, profileEnv, closeProfile := withProfile(namespace, files)
		defer closeProfile()
		cmd := exec.Command(path)
		cmd.Env = append(append(append(os.Environ(), Env(opts)...), filesEnv(files)), profileEnv...)
		cmd.ExtraFiles = files
		p := &plainProcess{cmd: cmd, out: io.NopCloser(nil)}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if log != nil {
			out := logOutput(log, namespace)
			cmd.Stdout, cmd.Stderr, p.out = out, out, out
		}
		// The worker dies with the node.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			p.out.Close()
			return nil, err
		}
		return p, nil
	}
}

type plainProcess struct {
	cmd  *exec.Cmd
	out  io.Closer
	once sync.Once
}

func (p *plainProcess) Wait() Exit {
	err := p.cmd.Wait()
	p.out.Close()
	if p.cmd.ProcessState != nil {
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return Exit{How: "killed by " + unix.SignalName(ws.Signal())}
		}
	}
	if err != nil {
		return Exit{How: err.Error()}
	}
	return Exit{How: "exited"}
}

func (p *plainProcess) Kill() { p.once.Do(func() { p.cmd.Process.Kill() }) }

func (p *plainProcess) Pid() int { return p.cmd.Process.Pid }
