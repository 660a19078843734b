package bench

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNoCPU says a process's CPU time cannot be read here: it runs on
// another machine, in another pid namespace, or has gone.
var ErrNoCPU = errors.New("the process's CPU time is not visible here")

// ProcessCPU is the CPU time (user and system) a process's threads have
// used so far. It sums each thread's time on CPU in nanoseconds
// (/proc/PID/task/*/schedstat) rather than reading the process's utime and
// stime, which count in ticks of 10 ms: too coarse for a phase of a few
// hundred milliseconds of CPU. A thread that ended takes its time with it;
// the Go runtime and V8 keep theirs for the life of the process.
func ProcessCPU(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, ErrNoCPU
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue // ended meanwhile
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		total += time.Duration(ns)
	}
	if total == 0 {
		return statCPU(pid)
	}
	return total, nil
}

// statCPU is utime+stime from /proc/PID/stat, for kernels without
// schedstat: in ticks of 1/100 s (USER_HZ).
func statCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, ErrNoCPU
	}
	s := string(data)
	// The command name may hold spaces: the fields start after its ')'.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, ErrNoCPU
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// CPUSampler reads the CPU time of a set of processes, to measure what a
// phase of a benchmark cost each.
type CPUSampler struct {
	pids []int
}

// NewCPUSampler samples pids; those not visible here count as missing.
func NewCPUSampler(pids ...int) *CPUSampler { return &CPUSampler{pids: pids} }

// Sample is each process's CPU time at one moment, -1 where unknown.
type Sample []time.Duration

// Sample reads every process's CPU time now.
func (c *CPUSampler) Sample() Sample {
	s := make(Sample, len(c.pids))
	for i, pid := range c.pids {
		d, err := ProcessCPU(pid)
		if err != nil || pid <= 0 {
			d = -1
		}
		s[i] = d
	}
	return s
}

// Since is what each process used from before to s, -1 where unknown.
func (s Sample) Since(before Sample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i := range s {
		if s[i] < 0 || before[i] < 0 {
			out[i] = -1
			continue
		}
		out[i] = s[i] - before[i]
	}
	return out
}

// MachineID is the boot id of the kernel this process runs on, "" when
// unknown: a process that reports the same one runs on this machine, and
// its pid is one /proc here knows (in the same pid namespace).
func MachineID() string {
	id, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(id))
}
