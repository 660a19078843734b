package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroup is one worker's cgroup (one directory in v2, two in v1).
type cgroup struct {
	v2   bool
	dirs []string // the memory one first
	fd   *os.File // v2: the directory, for CLONE_INTO_CGROUP
}

// newCgroup makes a worker's cgroup with cfg's limits.
func newCgroup(cfg *Config) (*cgroup, error) {
	l, err := layout()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d-%d", sanitize(cfg.Name), os.Getpid(), cgroupSetup.seq.Add(1))
	cg := &cgroup{v2: l.v2, dirs: []string{filepath.Join(l.memory, name)}}
	if !l.v2 {
		cg.dirs = append(cg.dirs, filepath.Join(l.pids, name))
	}
	for _, d := range cg.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	if err := cg.limit(cfg); err != nil {
		cg.remove()
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if l.v2 {
		if cg.fd, err = os.Open(cg.dirs[0]); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	return cg, nil
}

func (cg *cgroup) limit(cfg *Config) error {
	type setting struct {
		dir, file string
		value     int64
		optional  bool // absent without swap accounting
	}
	mem, pids := cg.dirs[0], cg.dirs[len(cg.dirs)-1]
	var todo []setting
	if cg.v2 {
		todo = append(todo, setting{mem, "memory.oom.group", 1, false})
		if cfg.MemoryBytes > 0 {
			todo = append(todo, setting{mem, "memory.max", cfg.MemoryBytes, false}, setting{mem, "memory.swap.max", 0, true})
		}
	} else if cfg.MemoryBytes > 0 {
		// memsw (memory plus swap) may not be below the memory limit: set it second.
		todo = append(todo, setting{mem, "memory.limit_in_bytes", cfg.MemoryBytes, false}, setting{mem, "memory.memsw.limit_in_bytes", cfg.MemoryBytes, true})
	}
	if cfg.Pids > 0 {
		todo = append(todo, setting{pids, "pids.max", int64(cfg.Pids), false})
	}
	for _, s := range todo {
		err := writeFile(filepath.Join(s.dir, s.file), strconv.FormatInt(s.value, 10))
		if err != nil && !(s.optional && errors.Is(err, os.ErrNotExist)) {
			return err
		}
	}
	return nil
}

// join moves pid into the cgroup (v1; v2 workers are born in it).
func (cg *cgroup) join(pid int) error {
	for _, d := range cg.dirs {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup: join: %w", err)
		}
	}
	return nil
}

// oomKills says how many processes the cgroup's memory limit killed.
func (cg *cgroup) oomKills() int {
	file := "memory.oom_control"
	if cg.v2 {
		file = "memory.events"
	}
	f, err := os.Open(filepath.Join(cg.dirs[0], file))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), " "); ok && k == "oom_kill" {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// remove deletes the cgroup; it must be empty (the worker reaped).
func (cg *cgroup) remove() {
	if cg.fd != nil {
		cg.fd.Close()
	}
	for _, d := range cg.dirs {
		os.Remove(d)
	}
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sanitize makes name safe as a directory name: a-z, 0-9, _ and at most 64
// bytes; anything else becomes _.
func sanitize(name string) string {
	b := []byte(strings.ToLower(name))
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "worker"
	}
	return string(b)
}
