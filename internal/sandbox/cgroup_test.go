package sandbox

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestOwnCgroups(t *testing.T) {
	tests := []struct {
		name, mountinfo, cgroups string
		want                     map[string]string
	}{{
		name: "hybrid: v1 memory and pids, cgroup2 without them",
		mountinfo: `35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`,
		cgroups: "8:pids:/\n4:memory:/svc/abc\n1:cpu,cpuacct:/\n0::/\n",
		want: map[string]string{
			"memory": "/sys/fs/cgroup/memory/svc/abc",
			"pids":   "/sys/fs/cgroup/pids",
			"":       "/sys/fs/cgroup/unified",
		},
	}, {
		name:      "v2 under systemd",
		mountinfo: `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate`,
		cgroups:   "0::/system.slice/natsfn.service\n",
		want:      map[string]string{"": "/sys/fs/cgroup/system.slice/natsfn.service"},
	}, {
		name:      "v2 in a container: the mount shows a subtree",
		mountinfo: `612 600 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw`,
		cgroups:   "0::/docker/abc/app\n",
		want:      map[string]string{"": "/sys/fs/cgroup/app"},
	}, {
		name:      "a mount of another subtree is no use",
		mountinfo: `612 600 0:26 /other /sys/fs/cgroup rw - cgroup2 cgroup2 rw`,
		cgroups:   "0::/docker/abc\n",
		want:      map[string]string{},
	}, {
		name:      "escaped mount point",
		mountinfo: `35 31 0:32 / /cg\040mem rw - cgroup cgroup rw,memory`,
		cgroups:   "4:memory:/x\n",
		want:      map[string]string{"memory": "/cg mem/x"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownCgroups(tt.mountinfo, tt.cgroups); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"ns-default": "ns_default",
		"../../etc":  "______etc",
		"":           "worker",
		"Ünï":        "__n__", // bytes, not letters
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitize(string(make([]byte, 200))); len(got) != 64 {
		t.Errorf("long name: %d bytes", len(got))
	}
}

// TestStartFailureLeavesNoCgroup: a program that cannot start is a one-line
// error, and its cgroup goes away.
func TestStartFailureLeavesNoCgroup(t *testing.T) {
	requireSandbox(t)
	l, err := layout()
	if err != nil {
		t.Fatal(err)
	}
	// Only this cgroup's name counts: other test processes (a node's
	// sandbox probe, say) create and remove cgroups beside it meanwhile.
	pattern := filepath.Join(l.memory, "broken-*")
	before, _ := filepath.Glob(pattern)
	_, err = Start(Config{Path: "/nonexistent/natsfn", Name: "broken"})
	if err == nil {
		t.Fatal("started a program that does not exist")
	}
	t.Log(err)
	after, _ := filepath.Glob(pattern)
	if len(after) != len(before) {
		t.Errorf("cgroups before %v, after %v", before, after)
	}
	if _, err := os.Stat(l.memory); err != nil {
		t.Error(err)
	}
}
