package node

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/sandbox"
)

func requireSandbox(t *testing.T) {
	t.Helper()
	if err := sandbox.Check(); err != nil {
		t.Skipf("no process sandbox here: %v", err)
	}
}

// workerPids lists this process's children in a namespace's worker cgroup.
func workerPids(t *testing.T, namespace string) []int {
	t.Helper()
	var pids []int
	for _, pid := range childPids() {
		cgroups, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if strings.Contains(string(cgroups), "ns_"+namespace+"-") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// An ArrayBuffer bomb, which V8's heap limit does not see, is stopped by
// the worker's cgroup; kill -9 of a worker is survived the same way. Each
// ends in a 503 for the calls of that namespace in flight, the worker
// comes back, and another namespace answers throughout.
func TestWorkerDeathsAreContained(t *testing.T) {
	requireSandbox(t)
	n := startNode(t, Config{Sandbox: "process", WorkerMemory: 256 << 20})
	stop := watchBystander(t, n)
	_, nc := nsClient(t, n, "attacker")

	deployIn(t, n, "attacker", api.FunctionSpec{Name: "ab", Triggers: []string{"ab.bomb"}},
		`() => { const keep = []; for (;;) keep.push(new Uint8Array(32 << 20).fill(7)) }`)
	m, err := nc.Request("ab.bomb", nil, 10*time.Second)
	if err != nil || m.Header.Get(api.HeaderErrorCode) != "503" {
		t.Fatalf("ArrayBuffer bomb: %v %v", err, m)
	}

	deployIn(t, n, "attacker", api.FunctionSpec{Name: "ok", Triggers: []string{"ab.ok"}}, `() => "back"`)
	if m := invoke(t, nc, "ab.ok", nil); string(m.Data) != "back" {
		t.Fatalf("after the bomb: %q %v", m.Data, m.Header)
	}

	deployIn(t, n, "attacker", api.FunctionSpec{Name: "slow", Triggers: []string{"ab.slow"}},
		`() => { const end = Date.now() + 3000; while (Date.now() < end) {} return "late" }`)
	reply := make(chan string, 1)
	go func() {
		m, err := nc.Request("ab.slow", nil, 10*time.Second)
		if err != nil {
			reply <- err.Error()
			return
		}
		reply <- m.Header.Get(api.HeaderErrorCode)
	}()
	time.Sleep(300 * time.Millisecond)
	pids := workerPids(t, "attacker")
	if len(pids) != 1 {
		t.Fatalf("attacker workers: %v", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	if got := <-reply; got != "503" {
		t.Fatalf("call in flight during kill -9: %s", got)
	}
	deadline := time.Now().Add(time.Second)
	for {
		m, err := nc.Request("ab.ok", nil, time.Second)
		if err == nil && string(m.Data) == "back" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not replaced within a second: %v %v", err, m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ok, failed := stop()
	if ok == 0 || failed > 0 {
		t.Fatalf("bystander: %d answered, %d failed", ok, failed)
	}
}
