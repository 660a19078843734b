package node

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

// WebAssembly memory lives outside V8's heap limit, like an ArrayBuffer: a
// function that grows it without end is stopped by its worker's memory
// limit (or refused the memory by V8), its call fails, the namespace gets
// a fresh worker, and another namespace answers throughout.
func TestWasmMemoryBombIsContained(t *testing.T) {
	requireSandbox(t)
	n := startNode(t, Config{Sandbox: "process", WorkerMemory: 256 << 20})
	stop := watchBystander(t, n)
	_, nc := nsClient(t, n, "attacker")

	// A timeout far beyond what the bomb needs: the memory limit, not the
	// clock, ends the call.
	deployIn(t, n, "attacker", api.FunctionSpec{Name: "wasm", Triggers: []string{"wasm.bomb"}, Timeout: api.Duration(2 * time.Minute)},
		`() => {
			const keep = [];
			for (;;) {
				const m = new WebAssembly.Memory({ initial: 1024, maximum: 65536 }); // 64 MiB
				new Uint8Array(m.buffer).fill(7);
				keep.push(m);
			}
		}`)
	m, err := nc.Request("wasm.bomb", nil, 3*time.Minute)
	if err != nil {
		t.Fatalf("wasm bomb: %v", err)
	}
	if code := m.Header.Get(api.HeaderErrorCode); code != "503" && code != "500" {
		t.Fatalf("wasm bomb answered %q %v", m.Data, m.Header)
	}
	t.Logf("the bomb ended in %s %s", m.Header.Get(api.HeaderErrorCode), m.Header.Get(api.HeaderError))
	deployIn(t, n, "attacker", api.FunctionSpec{Name: "ok", Triggers: []string{"wasm.ok"}}, `() => "back"`)
	testenv.Eventually(t, "the attacker's namespace to serve again", func() bool {
		m, err := nc.Request("wasm.ok", nil, 10*time.Second)
		return err == nil && string(m.Data) == "back"
	})
	ok, failed := stop()
	if ok == 0 || failed > 0 {
		t.Fatalf("bystander: %d answered, %d failed", ok, failed)
	}
}
