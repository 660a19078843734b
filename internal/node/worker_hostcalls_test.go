package node

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/worker"
)

// peakRSS is a process's peak resident set (since the last resetPeakRSS,
// for this process), from /proc.
func peakRSS(t *testing.T, pid string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc/self/status")
	return 0
}

// resetPeakRSS starts a new peak at the current resident set.
func resetPeakRSS(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak resident set: %v", err)
	}
}

// Two namespaces each put eight 31 MiB objects at once: the node's memory
// for their host calls stays within the per-namespace budget, and every
// put still succeeds (the calls over the budget wait for room).
func TestWorkerHostBytesBudget(t *testing.T) {
	// The workers hold each put's bytes several times over (the array, the
	// engine's exchange, its copy) while it waits its turn; under the race
	// detector that is past the default 2 GiB. The worker's memory is not
	// what this test is about.
	n := startNode(t, Config{WorkerMemory: 4 << 30})
	const perNamespace, size = 8, 31 << 20
	src := fmt.Sprintf(`(s, p) => hostServices.objectStore.put("blob-" + p.text(), new Uint8Array(%d)).size`, size)
	var conns []func(string, []byte) (string, error)
	for _, ns := range []string{"put-a", "put-b"} {
		c, nc := nsClient(t, n, ns)
		if _, err := c.Deploy(t.Context(), api.FunctionSpec{Name: "put", Triggers: []string{"put"}, Concurrency: perNamespace, Timeout: api.Duration(2 * time.Minute)}, []byte(src)); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, func(subject string, payload []byte) (string, error) {
			m, err := nc.Request(subject, payload, 3*time.Minute)
			if err != nil {
				return "", err
			}
			if code := m.Header.Get(api.HeaderErrorCode); code != "" {
				return "", fmt.Errorf("%s %s", code, m.Header.Get(api.HeaderError))
			}
			return string(m.Data), nil
		})
	}
	before := rssOf(os.Getpid())
	resetPeakRSS(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*perNamespace)
	for _, call := range conns {
		for i := range perNamespace {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := call("put", []byte(strconv.Itoa(i)))
				if err == nil && got != strconv.Itoa(size) {
					err = fmt.Errorf("put answered %q", got)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	var workersPeak []string
	for _, pid := range childPids() {
		workersPeak = append(workersPeak, fmt.Sprintf("%d MiB", peakRSS(t, strconv.Itoa(pid))>>20))
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("node RSS: %d MiB before, peak %d MiB during 2 namespaces x %d concurrent %d MiB puts",
		before>>20, peakRSS(t, "self")>>20, perNamespace, size>>20)
	t.Logf("the workers' peak RSS: %s", strings.Join(workersPeak, ", "))
	b := n.backend.(*worker.Backend)
	for _, ns := range []string{"put-a", "put-b"} {
		u := b.Usage(ns)
		t.Logf("%s: at most %d MiB of host calls in flight in the node", ns, u.PeakHostBytes>>20)
		if u.PeakHostBytes > worker.DefaultHostBytes || u.PeakHostBytes < size {
			t.Errorf("%s: peak of host-call bytes in flight %d, want between %d and %d", ns, u.PeakHostBytes, size, worker.DefaultHostBytes)
		}
	}
}

// A host call whose body is over what one call may carry between a worker
// and the node fails with TOO_LARGE, and the function goes on.
func TestHostCallOverFrameLimit(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "big", `(s, p) => {
		try { hostServices.objectStore.put("x", new Uint8Array(Number(p.text()))); return "stored" }
		catch (e) { return e.code + ": " + e.message } }`, "big")
	m := invoke(t, nc, "big", []byte(strconv.Itoa(100<<20)))
	if !strings.HasPrefix(string(m.Data), "TOO_LARGE: ") {
		t.Fatalf("a 100 MiB put: %q %v", m.Data, m.Header)
	}
	if m := invoke(t, nc, "big", []byte("16")); string(m.Data) != "stored" {
		t.Fatalf("a small put after it: %q %v", m.Data, m.Header)
	}
}
