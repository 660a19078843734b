package sandbox

import (
	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// The seccomp allowlist of a worker: what the Go runtime, glibc and V8 were
// measured to call (strace -f of a V8 workload: isolates, JIT-hot loops,
// allocation and GC, SharedArrayBuffer, Date and Intl, TerminateExecution,
// Dispose) plus the worker's I/O on the sockets it inherited. Everything else
// kills the whole process (SECCOMP_RET_KILL_PROCESS): socket, connect, bind,
// listen, accept, execve, fork, ptrace, mount, pivot_root, chroot, unshare,
// setns, bpf, keyctl, perf_event_open, userfaultfd, io_uring, process_vm_*,
// kexec, module loading, reboot, swapon and all the rest. docs/sandbox.md
// explains the list.
var allowed = []string{
	// Memory: Go's heap, V8's heap and JIT code (PROT_EXEC), glibc malloc.
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "membarrier",
	"pkey_alloc", "pkey_free", "pkey_mprotect", // V8 write-protects code with memory keys where the CPU has them
	// Threads and scheduling.
	"futex", "set_robust_list", "rseq", "set_tid_address", "gettid", "getpid", "getppid",
	"sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
	"exit", "exit_group", "restart_syscall",
	// Signals: Go's preemption (SIGURG to its own threads), V8's and glibc's
	// thread signals. The pid namespace and Landlock's signal scope keep
	// them inside the worker.
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill", "tkill", "kill",
	// Time.
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
	// I/O on descriptors the worker already has: the socketpair to the node,
	// stdout, stderr, the netpoller's epoll and eventfd, /dev/urandom.
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close",
	"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown", "getsockname", "getpeername", "getsockopt",
	"fcntl", "dup", "dup3", "fstat", "newfstatat", "statx",
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe2",
	// Harmless facts about the process and the machine.
	"getrandom", "uname", "sysinfo", "getrusage", "getrlimit",
	"getuid", "geteuid", "getgid", "getegid", "getgroups",
}

// refused lists calls that fail with an errno instead of killing: callers
// that probe for them must keep working.
var refused = []struct {
	errno unix.Errno
	names []string
}{
	// glibc's pthread_create tries clone3 first and falls back to clone,
	// whose flags seccomp can check; openat2 callers fall back to openat.
	{unix.ENOSYS, []string{"clone3", "openat2"}},
	// isatty (fopen calls it on /dev/urandom); no ioctl reaches a driver.
	{unix.ENOTTY, []string{"ioctl"}},
	// Name probes (ICU looks for /etc/localtime): the root is empty anyway.
	{unix.ENOENT, append([]string{"readlinkat", "faccessat", "faccessat2"}, legacyProbes...)},
}

// Argument conditions. CLONE_NEW* flags share one mask for the check.
const (
	cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
		unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	// O_TMPFILE includes O_DIRECTORY; only its own bit marks a write.
	openWrites = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC | unix.O_APPEND | (unix.O_TMPFILE &^ unix.O_DIRECTORY)
)

// conditional lists calls allowed only with some arguments.
var conditional = []seccomp.NameWithConditions{
	// clone only for threads: never a new process, never a namespace.
	{Name: "clone", Conditions: seccomp.ArgumentConditions{
		{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD},
		{Argument: 0, Operation: seccomp.BitsNotSet, Value: cloneNamespaces},
	}},
	// Read-only opens: V8 reads /dev/urandom, glibc /proc/self/maps (absent
	// here). The empty root and Landlock decide what exists and what may be
	// read; opening for writing kills.
	{Name: "openat", Conditions: seccomp.ArgumentConditions{{Argument: 2, Operation: seccomp.BitsNotSet, Value: openWrites}}},
	// prlimit64 to read limits only (glibc's pthread_getattr_np).
	{Name: "prlimit64", Conditions: seccomp.ArgumentConditions{{Argument: 2, Operation: seccomp.Equal, Value: 0}}},
	// prctl to name threads and memory (V8, Go) and nothing else.
	{Name: "prctl", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_SET_NAME}}},
	{Name: "prctl", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_GET_NAME}}},
	{Name: "prctl", Conditions: seccomp.ArgumentConditions{{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_SET_VMA}}},
}

// profiling are the calls Go's CPU profiler makes: per-thread CPU timers
// that signal the thread itself.
var profiling = []string{"timer_create", "timer_settime", "timer_delete", "setitimer"}

// policy assembles the filter. audit logs what would be killed instead;
// profile allows the CPU profiler's timers.
func policy(audit, profile bool) seccomp.Policy {
	deny := seccomp.ActionKillProcess
	if audit {
		deny = seccomp.ActionLog
	}
	p := seccomp.Policy{
		DefaultAction: deny,
		Syscalls: []seccomp.SyscallGroup{{
			Names:              append(append(append([]string(nil), allowed...), legacyAllowed...), profilingIf(profile)...),
			NamesWithCondtions: append(append([]seccomp.NameWithConditions(nil), conditional...), legacyConditional...),
			Action:             seccomp.ActionAllow,
		}},
	}
	for _, r := range refused {
		p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{
			Names:  r.names,
			Action: seccomp.ActionErrno | seccomp.Action(r.errno),
		})
	}
	return p
}

func profilingIf(profile bool) []string {
	if profile {
		return profiling
	}
	return nil
}
