package sandbox

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireSandbox(t testing.TB) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skipf("no sandbox here: %v", err)
	}
}

func TestCheck(t *testing.T) {
	start := time.Now()
	if err := Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	t.Logf("Check took %v", time.Since(start))
}

// TestIsolation checks each layer from inside a sandboxed helper.
func TestIsolation(t *testing.T) {
	requireSandbox(t)
	// A listener the helper must not reach: its loopback is another one.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var ns map[string]string
	r := spawn(t, "facts", Config{Env: []string{"DIAL=" + l.Addr().String()}}, func(p *Process, conn *os.File, lines <-chan string) {
		for line := range lines {
			if line == "done 1" {
				ns = namespacesOf(t, p.Pid())
				conn.Write([]byte("bye\n"))
			}
		}
	})
	if r.info.Code != 0 || r.info.Signal != 0 {
		t.Fatalf("helper %v: %s", r.info, r.stderr)
	}
	mine := namespacesOf(t, os.Getpid())
	for kind, id := range ns {
		if id == mine[kind] {
			t.Errorf("%s namespace shared with the node (%s)", kind, id)
		}
	}
	want := map[string]string{
		"pid":           "1",
		"uid":           "0",
		"interfaces":    "lo:false",    // only a loopback, down
		"dial":          "ENETUNREACH", // no route out of the empty network namespace
		"passwd_before": "ENOENT",      // the empty root, before seccomp
		"passwd":        "ENOENT",
		"urandom":       "ok",
		"ioctl":         "ENOTTY",
		"clone3":        "ENOSYS",
		"readlink":      "ENOENT",
	}
	if abi, _ := strconv.Atoi(r.said["landlock"]); abi >= 1 {
		want["rootdir"] = "EACCES" // Landlock, on every thread
		if abi >= 4 {
			want["dial"] = "EACCES" // Landlock refuses TCP before routing does
		}
	}
	for k, v := range want {
		if r.said[k] != v {
			t.Errorf("%s: got %q, want %q", k, r.said[k], v)
		}
	}
	t.Logf("Landlock ABI %s", r.said["landlock"])
}

// namespacesOf reads the namespace ids of pid from the node's side.
func namespacesOf(t *testing.T, pid int) map[string]string {
	ns := map[string]string{}
	for _, kind := range []string{"net", "pid", "mnt", "user", "ipc", "uts", "cgroup"} {
		id, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		ns[kind] = id
	}
	return ns
}

// TestForbiddenCallsKill: each call outside the allowlist kills the worker
// before it returns.
func TestForbiddenCallsKill(t *testing.T) {
	requireSandbox(t)
	for call := range forbiddenCalls {
		t.Run(call, func(t *testing.T) {
			r := spawn(t, "syscall:"+call, Config{}, nil)
			if r.info.Signal != syscall.SIGSYS {
				t.Fatalf("got %v (returned %q), want killed by SIGSYS; stderr: %s", r.info, r.said["returned"], r.stderr)
			}
		})
	}
}

// TestV8Runs: the allowlist lets a real V8 workload run (isolates, JIT, GC,
// SharedArrayBuffer, TerminateExecution, Dispose), with I/O on the
// inherited socket.
func TestV8Runs(t *testing.T) {
	requireSandbox(t)
	r := spawn(t, "v8", Config{MemoryBytes: 1 << 30, Pids: 128}, func(_ *Process, conn *os.File, _ <-chan string) {
		if _, err := conn.Write([]byte("go\n")); err != nil {
			t.Error(err)
		}
	})
	if r.info.Code != 0 || r.info.Signal != 0 || r.said["v8"] != "ok" || r.said["started"] != "yes" {
		t.Fatalf("helper %v, said %v; stderr: %s", r.info, r.said, r.stderr)
	}
}

func TestOOMKillReported(t *testing.T) {
	requireSandbox(t)
	r := spawn(t, "oom", Config{MemoryBytes: 64 << 20}, nil)
	if !r.info.OOMKilled || r.info.Signal != syscall.SIGKILL || r.said["entered"] != "1" || r.said["survived"] != "" {
		t.Fatalf("got %v, said %v; want an OOM kill; stderr: %s", r.info, r.said, r.stderr)
	}
}

func TestKill9Reported(t *testing.T) {
	requireSandbox(t)
	r := spawn(t, "wait", Config{MemoryBytes: 256 << 20}, func(p *Process, _ *os.File, lines <-chan string) {
		<-lines // ready
		if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	})
	if r.info.Signal != syscall.SIGKILL || r.info.OOMKilled || r.info.Code != -1 {
		t.Fatalf("got %+v, want killed by SIGKILL, not OOM", r.info)
	}
}

// TestPidsLimit: a worker cannot start more threads than its limit; the Go
// runtime dies when it cannot.
func TestPidsLimit(t *testing.T) {
	requireSandbox(t)
	r := spawn(t, "threads", Config{Pids: 40}, nil)
	// The Go runtime says "failed to create new OS thread", or, with cgo,
	// "pthread_create failed".
	if r.said["entered"] != "1" || r.said["survived"] != "" || !strings.Contains(r.stderr, "pthread_create failed: Resource temporarily unavailable") && !strings.Contains(r.stderr, "failed to create new OS thread") {
		t.Fatalf("got %v, said %v; stderr: %.300s", r.info, r.said, r.stderr)
	}
}

func TestCgroupRemoved(t *testing.T) {
	requireSandbox(t)
	var dirs []string
	spawn(t, "wait", Config{Name: "ns-Gone!"}, func(p *Process, _ *os.File, lines <-chan string) {
		<-lines
		dirs = p.cg.dirs
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				t.Errorf("cgroup missing while running: %v", err)
			}
			if !strings.Contains(d, "/natsfn/ns_gone_-") {
				t.Errorf("cgroup %s: name not sanitised", d)
			}
		}
		p.Kill()
	})
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind: %v", d, err)
		}
	}
}

// BenchmarkStart measures Start to the worker's first message, sandbox
// entered.
func BenchmarkStart(b *testing.B) {
	requireSandbox(b)
	for b.Loop() {
		spawn(b, "hello", Config{MemoryBytes: 256 << 20, Pids: 64}, func(p *Process, conn *os.File, lines <-chan string) {
			<-lines
			b.StopTimer()
			conn.Close()
		})
		b.StartTimer()
	}
}
