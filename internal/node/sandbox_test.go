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
	"github.com/natsfn/natsfn/internal/testenv"
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

	// Timeouts far beyond the limits under test, so that on a busy machine
	// the worker's death, not the clock, ends each call.
	const patient = api.Duration(2 * time.Minute)
	deployIn(t, n, "attacker", api.FunctionSpec{Name: "ab", Triggers: []string{"ab.bomb"}, Timeout: patient},
		`() => { const keep = []; for (;;) keep.push(new Uint8Array(32 << 20).fill(7)) }`)
	m, err := nc.Request("ab.bomb", nil, 3*time.Minute)
	if err != nil || m.Header.Get(api.HeaderErrorCode) != "503" {
		t.Fatalf("ArrayBuffer bomb: %v %v", err, m)
	}

	deployIn(t, n, "attacker", api.FunctionSpec{Name: "ok", Triggers: []string{"ab.ok"}}, `() => "back"`)
	if m := invoke(t, nc, "ab.ok", nil); string(m.Data) != "back" {
		t.Fatalf("after the bomb: %q %v", m.Data, m.Header)
	}

	// The slow call says when it runs, and runs until the worker is killed.
	started, err := nc.SubscribeSync("ab.started")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deployIn(t, n, "attacker", api.FunctionSpec{Name: "slow", Triggers: []string{"ab.slow"}, Timeout: patient},
		`() => { hostServices.messaging.publish("ab.started", ""); for (;;) {} }`)
	reply := make(chan string, 1)
	go func() {
		m, err := nc.Request("ab.slow", nil, 3*time.Minute)
		if err != nil {
			reply <- err.Error()
			return
		}
		reply <- m.Header.Get(api.HeaderErrorCode)
	}()
	if _, err := started.NextMsg(time.Minute); err != nil {
		t.Fatalf("the slow call did not start: %v", err)
	}
	pids := workerPids(t, "attacker")
	if len(pids) != 1 {
		t.Fatalf("attacker workers: %v", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	if got := <-reply; got != "503" {
		t.Fatalf("call in flight during kill -9: %s", got)
	}
	testenv.Eventually(t, "a new worker to serve", func() bool {
		m, err := nc.Request("ab.ok", nil, 10*time.Second)
		return err == nil && string(m.Data) == "back"
	})
	ok, failed := stop()
	if ok == 0 || failed > 0 {
		t.Fatalf("bystander: %d answered, %d failed", ok, failed)
	}
}
