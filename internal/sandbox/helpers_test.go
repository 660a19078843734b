package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runHelper runs in the sandboxed child; the exit code goes to the test.
func runHelper(name string) int {
	if call, ok := strings.CutPrefix(name, "syscall:"); ok {
		return forbidden(call)
	}
	h, ok := helpers[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "no helper", name)
		return 99
	}
	if err := h(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

func enter() error { return Enter(EnterOptions{Audit: os.Getenv("AUDIT") != ""}) }

var helpers = map[string]func() error{
	// before notes what the namespaces and the empty root do on their own,
	// after the constructor and before seccomp; then enters and reports.
	"facts": func() error {
		_, abi := earlyState()
		say("landlock", abi)
		ifaces, err := net.Interfaces()
		if err != nil {
			return err
		}
		var names []string
		for _, i := range ifaces {
			names = append(names, fmt.Sprintf("%s:%v", i.Name, i.Flags&net.FlagUp != 0))
		}
		say("interfaces", strings.Join(names, ","))
		_, err = net.DialTimeout("tcp", os.Getenv("DIAL"), time.Second)
		say("dial", errnoName(err))
		_, err = os.ReadFile("/etc/passwd")
		say("passwd_before", errnoName(err))
		if err := enter(); err != nil {
			return err
		}
		say("pid", os.Getpid())
		say("uid", os.Getuid())
		_, err = os.ReadFile("/etc/passwd")
		say("passwd", errnoName(err))
		say("rootdir", onManyThreads(func() error { _, err := os.ReadDir("/"); return err }))
		f, err := os.Open("/dev/urandom")
		if err == nil {
			_, err = f.Read(make([]byte, 16))
			f.Close()
		}
		say("urandom", errnoName(err))
		// Calls that fail softly instead of killing.
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 1, unix.TCGETS, uintptr(unsafe.Pointer(&unix.Termios{})))
		say("ioctl", errnoName(e))
		_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
		say("clone3", errnoName(e))
		_, err = os.Readlink("/etc/localtime")
		say("readlink", errnoName(err))
		say("done", 1)
		// Stay until the test has looked at our namespaces.
		bufio.NewReader(os.NewFile(3, "test")).ReadByte()
		return nil
	},
	// v8 runs a real V8 workload in the sandbox, after a request that it
	// reads with recvmsg; it replies with sendmsg and write.
	"v8": func() error {
		if err := enter(); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, _, _, _, err := syscall.Recvmsg(3, buf, nil, 0)
		if err != nil {
			return fmt.Errorf("recvmsg: %w", err)
		}
		if string(buf[:n]) != "go\n" {
			return fmt.Errorf("recvmsg: got %q", buf[:n])
		}
		if err := syscall.Sendmsg(3, []byte("started yes\n"), nil, nil, 0); err != nil {
			return err
		}
		say("v8", errnoName(runV8Workload()))
		return nil
	},
	"hello": func() error {
		if err := enter(); err != nil {
			return err
		}
		say("hello", 1)
		bufio.NewReader(os.NewFile(3, "test")).ReadByte() // until the test hangs up
		return nil
	},
	// wait blocks until killed.
	"wait": func() error {
		if err := enter(); err != nil {
			return err
		}
		say("ready", 1)
		select {}
	},
	// oom touches memory until the cgroup limit stops it.
	"oom": func() error {
		if err := enter(); err != nil {
			return err
		}
		say("entered", 1)
		var keep [][]byte
		for i := 0; i < 4096; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		say("survived", len(keep))
		return nil
	},
	// threads starts more OS threads than the pids limit allows.
	"threads": func() error {
		if err := enter(); err != nil {
			return err
		}
		say("entered", 1)
		for i := 0; i < 200; i++ {
			go func() {
				runtime.LockOSThread()
				select {}
			}()
		}
		time.Sleep(2 * time.Second)
		say("survived", 1)
		return nil
	},
}

// onManyThreads runs f on 16 distinct OS threads at once and names the
// errors they got, so that a restriction on one thread only would show.
func onManyThreads(f func() error) string {
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	start := make(chan struct{})
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			name := errnoName(f())
			mu.Lock()
			seen[name] = true
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// forbidden enters and makes one system call the allowlist refuses; the
// test expects the kernel to kill the process before it can say anything.
func forbidden(call string) int {
	if err := enter(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, ok := forbiddenCalls[call]
	if !ok {
		fmt.Fprintln(os.Stderr, "no call", call)
		return 99
	}
	say("returned", errnoName(f()))
	return 0
}

func raw(nr uintptr, args ...uintptr) func() error {
	return func() error {
		var a [6]uintptr
		copy(a[:], args)
		_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		if e != 0 {
			return e
		}
		return nil
	}
}

var forbiddenCalls = map[string]func() error{
	"socket":     func() error { _, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0); return err },
	"socketpair": func() error { _, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0); return err },
	"connect":    func() error { return unix.Connect(3, &unix.SockaddrUnix{Name: "@natsfn-test"}) },
	"bind":       func() error { return unix.Bind(3, &unix.SockaddrUnix{Name: "@natsfn-test"}) },
	"listen":     func() error { return unix.Listen(3, 1) },
	"accept":     func() error { _, _, err := unix.Accept4(3, 0); return err },
	"execve":     func() error { return unix.Exec("/proc/self/exe", []string{"x"}, nil) },
	"fork": func() error {
		_, err := syscall.ForkExec("/proc/self/exe", []string{"x"}, nil)
		return err
	},
	"clone-newnet-thread": raw(unix.SYS_CLONE, unix.CLONE_THREAD|unix.CLONE_NEWNET),
	"unshare":             func() error { return unix.Unshare(unix.CLONE_NEWNS) },
	"setns":               raw(unix.SYS_SETNS, 3, 0),
	"mount":               func() error { return unix.Mount("none", "/", "tmpfs", 0, "") },
	"umount":              func() error { return unix.Unmount("/", unix.MNT_DETACH) },
	"pivot_root":          func() error { return unix.PivotRoot(".", ".") },
	"chroot":              func() error { return unix.Chroot("/") },
	"ptrace":              raw(unix.SYS_PTRACE, unix.PTRACE_ATTACH, 1),
	"open-write":          func() error { _, err := unix.Open("/x", unix.O_WRONLY|unix.O_CREAT, 0o644); return err },
	"openat-rdwr":         func() error { _, err := unix.Open("/dev/urandom", unix.O_RDWR, 0); return err },
	"bpf":                 raw(unix.SYS_BPF, 0, 0, 0),
	"keyctl":              raw(unix.SYS_KEYCTL, 0),
	"add_key":             raw(unix.SYS_ADD_KEY, 0),
	"perf_event_open":     raw(unix.SYS_PERF_EVENT_OPEN, 0),
	"kexec_load":          raw(unix.SYS_KEXEC_LOAD, 0),
	"init_module":         raw(unix.SYS_INIT_MODULE, 0),
	"reboot":              raw(unix.SYS_REBOOT, 0),
	"swapon":              raw(unix.SYS_SWAPON, 0),
	"userfaultfd":         raw(unix.SYS_USERFAULTFD, 0),
	"io_uring_setup":      raw(unix.SYS_IO_URING_SETUP, 1, 0),
	"process_vm_readv":    raw(unix.SYS_PROCESS_VM_READV, 1),
	"memfd_create":        func() error { _, err := unix.MemfdCreate("x", 0); return err },
	"prctl-dumpable":      func() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0) },
	"prlimit-set":         func() error { return unix.Prlimit(0, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1, Max: 1}, nil) },
}

// errnoName names err's errno ("ENOENT"), "ok" for nil, else err's text.
func errnoName(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if e == 0 {
			return "ok"
		}
		return unix.ErrnoName(e)
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}
