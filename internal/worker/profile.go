package worker

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// EnvCPUProfile names a directory: workers the node starts while it is set
// write a CPU profile of their life there (worker-NAMESPACE-TIME.pprof),
// to see where a worker's time goes. The node opens the file and passes
// it, for a sandboxed worker sees no file system; the sandbox then also
// allows the profiler's timers. The profile ends when an unload leaves the
// worker no function (`natsfn bench` removes its echo at the end), or
// when the worker ends on its own; a worker the node kills leaves an
// empty file.
const EnvCPUProfile = "NATSFN_WORKER_CPUPROFILE"

// envProfileFd tells the worker which of its descriptors is the profile.
const envProfileFd = "NATSFN_WORKER_CPUPROFILE_FD"

// withProfile adds the profile file to a worker's files when the node is
// asked for profiles: the files to pass, the environment to add, and what
// closes the node's copy once the worker has started.
func withProfile(namespace string, files []*os.File) ([]*os.File, []string, func()) {
	dir := os.Getenv(EnvCPUProfile)
	if dir == "" {
		return files, nil, func() {}
	}
	name := filepath.Join(dir, fmt.Sprintf("worker-%s-%d.pprof", namespace, time.Now().UnixNano()))
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsfn: no worker CPU profile:", err)
		return files, nil, func() {}
	}
	files = append(files[:len(files):len(files)], f)
	return files, []string{envProfileFd + "=" + strconv.Itoa(3+len(files)-1)}, func() { f.Close() }
}

// profiling says whether this worker was given a profile to write.
func profiling() bool { return os.Getenv(envProfileFd) != "" }

// startProfile starts the CPU profile the node asked for, if it did, and
// returns what ends it.
func startProfile() (stop func()) {
	fd, err := strconv.Atoi(os.Getenv(envProfileFd))
	if err != nil {
		return func() {}
	}
	f := os.NewFile(uintptr(fd), "cpuprofile")
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn worker: no CPU profile:", err)
		f.Close()
		return func() {}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
}
