package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/node"
)

// The administrator makes namespaces and hands out their credentials; a
// tenant works in its own namespace only, and loses access with it.
func TestNamespacesCLI(t *testing.T) {
	n, err := node.Start(context.Background(), node.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir(), Sandbox: "none", Name: "cli-node"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	url, admin := n.ClientURL(), n.AdminCreds()
	if fi, err := os.Stat(admin); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.creds: %v %v", fi, err)
	}
	oneLine := func(what string, code int, stderr string) {
		t.Helper()
		if code == 0 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q: want a failure in one line", what, code, stderr)
		}
	}

	credsA := filepath.Join(t.TempDir(), "a.creds")
	code, stdout, stderr := run(t, "", "ns", "add", "team-a", "--out", credsA, "--max-storage", "1GiB", "-s", url, "--creds", admin)
	if code != 0 || !strings.Contains(stdout, credsA) {
		t.Fatalf("ns add: %d %q %q", code, stdout, stderr)
	}
	if fi, err := os.Stat(credsA); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the tenant's credentials: %v %v", fi, err)
	}
	code, stdout, stderr = run(t, "", "ns", "ls", "-s", url, "--creds", admin)
	if code != 0 || !strings.Contains(stdout, "team-a") || !strings.Contains(stdout, "1 GiB") || !strings.Contains(stdout, "default") {
		t.Errorf("ns ls: %d %q %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, "", "ns", "add", "team-a", "-s", url, "--creds", admin)
	oneLine("ns add twice", code, stderr)
	if code, stdout, stderr = run(t, "", "nodes", "-s", url, "--creds", admin); code != 0 || !strings.Contains(stdout, "cli-node") || !strings.Contains(stdout, "(embedded)") {
		t.Errorf("nodes: %d %q %q", code, stdout, stderr)
	}

	// The tenant deploys and calls in its own namespace, without naming it.
	fn := writeFile(t, "hello.js", `(s, p) => "hello " + p.text()`)
	if code, stdout, stderr = run(t, "", "deploy", fn, "--trigger", "hello", "-s", url, "--creds", credsA); code != 0 || !strings.HasPrefix(stdout, "deployed team-a/hello") {
		t.Fatalf("tenant deploy: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ = run(t, "", "invoke", "hello", "you", "-s", url, "--creds", credsA); code != 0 || stdout != "hello you" {
		t.Errorf("tenant invoke: %d %q", code, stdout)
	}
	// The administrator sees it by naming the namespace.
	if code, stdout, _ = run(t, "", "ls", "-n", "team-a", "-s", url, "--creds", admin); code != 0 || !strings.Contains(stdout, "hello") {
		t.Errorf("admin ls -n team-a: %d %q", code, stdout)
	}
	// Anyone else's namespace, and the administrator's commands, are refused.
	code, _, stderr = run(t, "", "ls", "-n", "default", "-s", url, "--creds", credsA)
	oneLine("tenant ls -n default", code, stderr)
	code, _, stderr = run(t, "", "ns", "ls", "-s", url, "--creds", credsA)
	oneLine("tenant ns ls", code, stderr)
	code, _, stderr = run(t, "", "nodes", "-s", url, "--creds", credsA)
	oneLine("tenant nodes", code, stderr)
	// Nor does the default namespace see the tenant's function.
	if code, stdout, _ = run(t, "", "ls", "-s", url, "--creds", admin); code != 0 || strings.Contains(stdout, "hello") {
		t.Errorf("admin ls: %d %q", code, stdout)
	}

	// Removed, the namespace takes its functions and credentials along.
	if code, stdout, stderr = run(t, "", "ns", "rm", "team-a", "-s", url, "--creds", admin); code != 0 {
		t.Fatalf("ns rm: %d %q %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, "", "ls", "-s", url, "--creds", credsA)
	oneLine("ls after ns rm", code, stderr)
	code, _, stderr = run(t, "", "ns", "rm", "default", "-s", url, "--creds", admin)
	oneLine("ns rm default", code, stderr)

	// Usage mistakes are caught before anything is sent.
	for _, args := range [][]string{{"ns"}, {"ns", "frob"}, {"ns", "add"}, {"ns", "add", "Bad"}, {"ns", "set", "x"},
		{"ns", "add", "x", "--max-storage", "1KiB"}, {"ns", "ls", "--out", "f"}, {"ns", "add", "x", "--account", "A"}} {
		code, _, stderr := run(t, "", append(args, "-s", url, "--creds", admin)...)
		if code != 2 || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}

// On the machine of a node with the default data directory, the CLI uses
// that node's administrator credentials without being told.
func TestLocalAdminCredsFound(t *testing.T) {
	dir := filepath.Join(os.Getenv("XDG_DATA_HOME"), "natsfn")
	t.Cleanup(func() { os.RemoveAll(dir) })
	n, err := node.Start(context.Background(), node.Config{Listen: "127.0.0.1:-1", DataDir: dir, Sandbox: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	fn := writeFile(t, "hi.js", `(s, p) => "hi " + p.text()`)
	if code, stdout, stderr := run(t, "", "deploy", fn, "--trigger", "hi", "-s", n.ClientURL()); code != 0 || !strings.HasPrefix(stdout, "deployed default/hi") {
		t.Fatalf("deploy without --creds: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := run(t, "", "ns", "ls", "-s", n.ClientURL()); code != 0 || !strings.Contains(stdout, "default") {
		t.Fatalf("ns ls without --creds: %d %q %q", code, stdout, stderr)
	}
}
