package node

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor the node holds without close-on-exec, here a writable host
// file, does not reach the worker: it has stdio, what the node gave it
// (socketpair, NATS socket, in-flight table) and what its own runtime
// opened since, and nothing else.
func TestWorkerInheritsOnlyItsDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host-secret")
	// Opened the way C code or a careless syscall would: no O_CLOEXEC.
	low, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Numbered past the fds a worker is given (3, 4, 5), which would
	// replace it in the child.
	fd, err := unix.FcntlInt(uintptr(low), unix.F_DUPFD, 100)
	syscall.Close(low)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	var leaked syscall.Stat_t
	if err := syscall.Fstat(fd, &leaked); err != nil {
		t.Fatal(err)
	}

	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "f", `() => "up"`, "f")
	invoke(t, nc, "f", nil)
	b := workerBackend(t, n)
	if b.Processes() != 1 {
		t.Fatalf("%d worker processes", b.Processes())
	}
	pids := childPids()
	if len(pids) != 1 {
		t.Fatalf("children %v, want the one worker", pids)
	}
	dir := "/proc/" + strconv.Itoa(pids[0]) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("cannot list the worker's descriptors: %v", err)
	}
	var seen []string
	for _, e := range entries {
		num, _ := strconv.Atoi(e.Name())
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		seen = append(seen, e.Name()+" → "+target)
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join(dir, e.Name()), &st) == nil && st.Dev == leaked.Dev && st.Ino == leaked.Ino {
			t.Errorf("the worker holds the node's file as fd %d", num)
		}
		// Past what the node gave it, only the Go runtime's own: its poller,
		// and outside the sandbox the cgroup files it reads CPU limits from.
		if num > 5 && !strings.HasPrefix(target, "anon_inode:") && !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			t.Errorf("unexpected descriptor %d → %s", num, target)
		}
	}
	sort.Strings(seen)
	t.Logf("the worker's descriptors: %s", strings.Join(seen, ", "))
}
