package node

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

// A reply larger than the server's max_payload (1 MiB here) cannot be
// published: the caller gets 413 instead of a timeout, and the function's
// log says why, on every path a call can take.
func TestCallsReplyTooLarge(t *testing.T) {
	for _, path := range callPaths {
		t.Run(path.name, func(t *testing.T) {
			n := startNode(t, path.cfg(t))
			c, nc := newClient(t, n)
			logs, err := nc.SubscribeSync(api.LogSubject(api.DefaultNamespace, "big"))
			if err != nil {
				t.Fatal(err)
			}
			deploy(t, c, "big", `(s, p) => p.length ? "x".repeat(2 << 20) : "small"`, "big")
			if m := invoke(t, nc, "big", nil); string(m.Data) != "small" {
				t.Fatalf("small reply: %q %v", m.Data, m.Header)
			}
			m := invoke(t, nc, "big", []byte("big"))
			if m.Header.Get(api.HeaderErrorCode) != "413" || m.Header.Get(api.HeaderError) != "reply larger than the server's max_payload" {
				t.Fatalf("2 MiB reply: %v, %d bytes", m.Header, len(m.Data))
			}
			for {
				lm, err := logs.NextMsg(10 * time.Second)
				if err != nil {
					t.Fatalf("no log line about the reply: %v", err)
				}
				var e api.LogEntry
				json.Unmarshal(lm.Data, &e)
				if strings.Contains(e.Message, "max_payload") {
					break
				}
			}
		})
	}
}
