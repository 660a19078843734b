package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
)

const probeServices = `() => {
	const out = {};
	const tries = {
		kv: () => hostServices.kv.keys(),
		objectStore: () => hostServices.objectStore.list(),
		messaging: () => hostServices.messaging.publish("probe.x", "x"),
		http: () => hostServices.http.get("http://127.0.0.1:1/"),
	};
	for (const [name, f] of Object.entries(tries)) {
		try { f(); out[name] = "ok" } catch (e) { out[name] = e.code }
	}
	return out;
}`

// Operators turn services off per node and per function; a function can
// turn services off for itself but never on.
func TestServicesDisabled(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "services.json")
	os.WriteFile(file, []byte(`{"disable": ["http"], "kv": {"max_bucket_bytes": 1048576}}`), 0o644)
	services, err := LoadServicesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{Services: services})
	c, nc := newClient(t, n.ClientURL())
	deploy(t, c, "all", probeServices, "probe.all")
	if m := invoke(t, nc, "probe.all", nil); string(m.Data) != `{"kv":"ok","objectStore":"ok","messaging":"ok","http":"DISABLED"}` {
		t.Fatalf("node-wide: %s", m.Data)
	}
	if _, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "less", Triggers: []string{"probe.less"}, Disable: []string{"kv", "messaging"}}, []byte(probeServices)); err != nil {
		t.Fatal(err)
	}
	if m := invoke(t, nc, "probe.less", nil); string(m.Data) != `{"kv":"DISABLED","objectStore":"ok","messaging":"DISABLED","http":"DISABLED"}` {
		t.Fatalf("per function: %s", m.Data)
	}
}

func TestServicesFileErrors(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		`{"disable": ["ftp"]}`:                   "unknown host service",
		`{"kv": {"max_bucket_bytes": -1}}`:       "must not be negative",
		`{"http": {"allow": ["*.example.com"]}}`: "HTTP.Allow",
		`{"htp": {}}`:                            "unknown field",
		`{"messaging": {"timeout": 5}}`:          "duration",
	} {
		file := filepath.Join(dir, "s.json")
		os.WriteFile(file, []byte(body), 0o644)
		if _, err := LoadServicesFile(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
	if _, err := LoadServicesFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file loaded")
	}
}
