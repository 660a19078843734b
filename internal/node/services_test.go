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
	c, nc := newClient(t, n)
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
		`{"disable": ["ftp"]}`:                                  "unknown host service",
		`{"kv": {"max_bucket_bytes": -1}}`:                      "must not be negative",
		`{"http": {"allow": ["*.example.com"]}}`:                "HTTP.Allow",
		`{"htp": {}}`:                                           "unknown field",
		`{"messaging": {"timeout": 5}}`:                         "duration",
		`{"namespaces": {"Bad": {}}}`:                           "namespace",
		`{"namespaces": {"a": {"allowed_subjects": ["a..b"]}}}`: "empty token",
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

// A namespace's functions may publish only on the subjects the operator
// allowed that namespace; other namespaces are not narrowed.
func TestNamespaceAllowedSubjects(t *testing.T) {
	file := filepath.Join(t.TempDir(), "services.json")
	os.WriteFile(file, []byte(`{"namespaces": {"acme": {"allowed_subjects": ["acme.>"]}}}`), 0o644)
	services, err := LoadServicesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{Services: services})
	src := `(s, p) => { try { hostServices.messaging.publish(p.text(), "x"); return "ok" } catch (e) { return e.code } }`
	deployIn(t, n, "acme", api.FunctionSpec{Name: "pub", Triggers: []string{"acme.pub"}}, src)
	deployIn(t, n, "other", api.FunctionSpec{Name: "pub", Triggers: []string{"other.pub"}}, src)
	for _, c := range []struct{ trigger, subject, want string }{
		{"acme.pub", "acme.orders", "ok"},
		{"acme.pub", "globex.orders", "SUBJECT_DENIED"},
		{"other.pub", "globex.orders", "ok"},
	} {
		ns, _, _ := strings.Cut(c.trigger, ".")
		if m := invoke(t, nsConn(t, n, ns), c.trigger, []byte(c.subject)); string(m.Data) != c.want {
			t.Errorf("%s publishing on %s: %q, want %q", c.trigger, c.subject, m.Data, c.want)
		}
	}
}
