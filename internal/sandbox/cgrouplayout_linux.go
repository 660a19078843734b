package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Workers' cgroups live in a "natsfn" directory under the node's own cgroup,
// so that whatever limits the operator gave the node also bound its workers:
//
//	cgroup v2: <node's cgroup>/natsfn/<name>-<node pid>-<seq>, made with
//	           CLONE_INTO_CGROUP so the worker never runs outside it;
//	cgroup v1: the same path in the memory and in the pids hierarchy; the
//	           worker joins right after exec, before Start returns, so before
//	           the node can send it any untrusted input.
type cgroupLayout struct {
	v2     bool
	memory string // v2: the only parent
	pids   string
}

// cgroupSetup is found and prepared once per process.
var cgroupSetup struct {
	once   sync.Once
	layout cgroupLayout
	err    error
	seq    atomic.Uint64
}

func layout() (cgroupLayout, error) {
	cgroupSetup.once.Do(func() {
		mi, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			cgroupSetup.err = err
			return
		}
		cg, err := os.ReadFile("/proc/self/cgroup")
		if err != nil {
			cgroupSetup.err = err
			return
		}
		own := ownCgroups(string(mi), string(cg))
		cgroupSetup.layout, cgroupSetup.err = prepare(own)
		if cgroupSetup.err == nil {
			removeStale(cgroupSetup.layout)
		}
	})
	return cgroupSetup.layout, cgroupSetup.err
}

// ownCgroups maps "memory", "pids" (v1) and "" (v2) to the directories of
// the cgroups this process is in, from /proc/self/mountinfo and
// /proc/self/cgroup.
func ownCgroups(mountinfo, cgroups string) map[string]string {
	paths := map[string]string{} // controller -> path in its hierarchy
	for _, line := range strings.Split(cgroups, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			paths[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			paths[c] = f[2]
		}
	}
	dirs := map[string]string{}
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 3 {
			continue
		}
		root, mountpoint := unescape(a[3]), unescape(a[4])
		var controllers []string
		switch b[0] {
		case "cgroup2":
			controllers = []string{""}
		case "cgroup":
			controllers = strings.Split(b[2], ",")
		}
		for _, c := range controllers {
			p, ok := paths[c]
			if !ok || (c != "" && c != "memory" && c != "pids") {
				continue
			}
			rel, err := filepath.Rel(root, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue // the mount shows another part of the hierarchy
			}
			dirs[c] = filepath.Join(mountpoint, rel)
		}
	}
	return dirs
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// prepare chooses cgroup v2 when the node's cgroup offers memory and pids,
// else v1, and makes the "natsfn" parents.
func prepare(own map[string]string) (cgroupLayout, error) {
	if dir, ok := own[""]; ok && hasWords(filepath.Join(dir, "cgroup.controllers"), "memory", "pids") {
		parent, err := prepareV2(dir)
		if err != nil {
			return cgroupLayout{}, err
		}
		return cgroupLayout{v2: true, memory: parent, pids: parent}, nil
	}
	mem, okMem := own["memory"]
	pids, okPids := own["pids"]
	if !okMem || !okPids {
		return cgroupLayout{}, errors.New("no cgroup with the memory and pids controllers (need cgroup v2 with both delegated, or the v1 memory and pids hierarchies)")
	}
	l := cgroupLayout{memory: filepath.Join(mem, "natsfn"), pids: filepath.Join(pids, "natsfn")}
	for _, d := range []string{l.memory, l.pids} {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return cgroupLayout{}, fmt.Errorf("cgroup v1: %w", err)
		}
	}
	return l, nil
}

// prepareV2 enables memory and pids below dir. cgroup v2 allows that only
// in a cgroup without processes, so if the node's cgroup has some (the node
// itself), the node first moves into a leaf, dir/natsfn-node.
func prepareV2(dir string) (string, error) {
	enable := func(d string) error {
		if hasWords(filepath.Join(d, "cgroup.subtree_control"), "memory", "pids") {
			return nil
		}
		return writeFile(filepath.Join(d, "cgroup.subtree_control"), "+memory +pids")
	}
	if err := enable(dir); errors.Is(err, syscall.EBUSY) {
		leaf := filepath.Join(dir, "natsfn-node")
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("cgroup v2: %w", err)
		}
		if err := writeFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
			return "", fmt.Errorf("cgroup v2: move the node into %s: %w", leaf, err)
		}
		if err := enable(dir); err != nil {
			return "", fmt.Errorf("cgroup v2: %s has other processes: %w", dir, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("cgroup v2: %w", err)
	}
	parent := filepath.Join(dir, "natsfn")
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("cgroup v2: %w", err)
	}
	if err := enable(parent); err != nil {
		return "", fmt.Errorf("cgroup v2: %w", err)
	}
	return parent, nil
}

// removeStale removes empty cgroups left by nodes that died.
func removeStale(l cgroupLayout) {
	for _, parent := range []string{l.memory, l.pids} {
		entries, _ := os.ReadDir(parent)
		for _, e := range entries {
			f := strings.Split(e.Name(), "-")
			if !e.IsDir() || len(f) < 3 {
				continue
			}
			pid, err := strconv.Atoi(f[len(f)-2])
			if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
				os.Remove(filepath.Join(parent, e.Name()))
			}
		}
		if l.v2 {
			break
		}
	}
}

// hasWords says whether the file (a cgroup list) names all of words.
func hasWords(path string, words ...string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	have := strings.Fields(string(b))
	for _, w := range words {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}
