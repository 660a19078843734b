package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/hostsvc"
)

// A function publishing to its own trigger is refused rather than run in a
// loop; a function sending past its rate is refused at once.
func TestMessagingSelfLoopAndRate(t *testing.T) {
	// A rate this low refills nothing while the test runs: only the burst
	// counts, however slow the machine.
	n := startNode(t, Config{Services: Services{Config: hostsvc.Config{Messaging: hostsvc.MessagingConfig{MaxRate: 1e-9, MaxBurst: 2}}}})
	c, nc := newClient(t, n)
	deploy(t, c, "loop", `(s, p) => { try { hostServices.messaging.publish("loop.again", p); return "sent" } catch (e) { return e.code + ": " + e.message } }`, "loop.>")
	if m := invoke(t, nc, "loop.start", []byte("x")); !strings.HasPrefix(string(m.Data), "SUBJECT_DENIED: a function may not publish to its own trigger") {
		t.Errorf("publishing to its own trigger: %q %v", m.Data, m.Header)
	}
	deploy(t, c, "flood", `() => {
		const out = [];
		for (let i = 0; i < 4; i++) {
			try { hostServices.messaging.publish("elsewhere", "x"); out.push("ok") } catch (e) { out.push(e.code) }
		}
		return out;
	}`, "flood")
	if m := invoke(t, nc, "flood", nil); string(m.Data) != `["ok","ok","RATE_LIMITED","RATE_LIMITED"]` {
		t.Errorf("flood: %q %v", m.Data, m.Header)
	}
}

func TestServicesFileMessagingRate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "services.json")
	os.WriteFile(file, []byte(`{"messaging": {"max_rate": 50.5, "max_burst": 10}}`), 0o644)
	s, err := LoadServicesFile(file)
	if err != nil || s.Config.Messaging.MaxRate != 50.5 || s.Config.Messaging.MaxBurst != 10 {
		t.Fatalf("loaded %+v, %v", s.Config.Messaging, err)
	}
	for body, want := range map[string]string{
		`{"messaging": {"max_rate": -1}}`:  "MaxRate",
		`{"messaging": {"max_burst": -1}}`: "MaxBurst",
	} {
		os.WriteFile(file, []byte(body), 0o644)
		if _, err := LoadServicesFile(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}
