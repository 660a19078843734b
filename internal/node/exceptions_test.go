package node

import (
	"testing"

	"github.com/natsfn/natsfn/api"
)

// The caller of a function that throws sees the exception's message in
// Nats-Service-Error, whether the function runs in the node or in a
// worker, unless the operator hides it.
func TestExceptionMessageReachesTheCaller(t *testing.T) {
	for _, sandbox := range []string{"none", "auto"} {
		for _, hide := range []bool{false, true} {
			n := startNode(t, Config{Sandbox: sandbox, HideExceptions: hide})
			_, nc := newClient(t, n)
			deployIn(t, n, api.DefaultNamespace, api.FunctionSpec{Name: "boom", Triggers: []string{"boom"}},
				`async (s, p) => { throw new RangeError("no stock for " + p.text()) }`)
			m := invoke(t, nc, "boom", []byte("sku-1"))
			want := "function failed: RangeError: no stock for sku-1"
			if hide {
				want = "function failed"
			}
			if got := m.Header.Get(api.HeaderError); got != want || m.Header.Get(api.HeaderErrorCode) != "500" {
				t.Errorf("sandbox %s, hide %v: caller sees %q (%s), want %q (500)", sandbox, hide, got, m.Header.Get(api.HeaderErrorCode), want)
			}
			n.Close()
		}
	}
}
