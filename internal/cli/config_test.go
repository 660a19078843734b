package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control/controltest"
)

// writeFiles writes files (name -> content) into a new directory and
// returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func infoJSON(t *testing.T, url, name string) api.FunctionInfo {
	t.Helper()
	code, stdout, stderr := run(t, "", "info", name, "--json", "-s", url)
	if code != 0 {
		t.Fatalf("info %s: %d %q", name, code, stderr)
	}
	var info api.FunctionInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatalf("info --json: %v in %q", err, stdout)
	}
	return info
}

func TestDeployConfigFile(t *testing.T) {
	url := controltest.Start(t)
	dir := writeFiles(t, map[string]string{
		"hello.js": "() => 'hi'",
		"natsfn.json": `{"trigger": ["hello.>", "hi"], "env": {"GREETING": "hey", "TOKEN": "t"}, "timeout": "2s",
			"memory": "64MiB", "concurrency": 3, "http-allow": "10.0.0.0/8"}`,
	})
	fn := filepath.Join(dir, "hello.js")

	// The file alone.
	if code, _, stderr := run(t, "", "deploy", fn, "-s", url); code != 0 {
		t.Fatalf("deploy: %d %q", code, stderr)
	}
	s := infoJSON(t, url, "hello").Spec
	if strings.Join(s.Triggers, ",") != "hello.>,hi" || s.Env["GREETING"] != "hey" || s.Timeout.D() != 2*time.Second ||
		s.HeapBytes != 64<<20 || s.Concurrency != 3 || strings.Join(s.HTTPAllow, ",") != "10.0.0.0/8" {
		t.Errorf("deployed from the file: %+v", s)
	}

	// Flags win; a list flag replaces the file's list; the rest is the file's.
	if code, _, stderr := run(t, "", "deploy", fn, "--timeout", "3s", "--trigger", "other", "-s", url); code != 0 {
		t.Fatalf("deploy with flags: %d %q", code, stderr)
	}
	s = infoJSON(t, url, "hello").Spec
	if strings.Join(s.Triggers, ",") != "other" || s.Timeout.D() != 3*time.Second || s.Env["GREETING"] != "hey" || s.Concurrency != 3 {
		t.Errorf("deployed from file and flags: %+v", s)
	}

	// A redeploy from the file keeps the env (a redeploy without --env
	// once dropped it), and is what the file says: no "kept" notice.
	code, stdout, stderr := run(t, "", "deploy", fn, "-s", url)
	if code != 0 || strings.Contains(stdout, "kept") || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("redeploy: %d %q %q", code, stdout, stderr)
	}
	if s = infoJSON(t, url, "hello").Spec; len(s.Env) != 2 || s.Timeout.D() != 2*time.Second {
		t.Errorf("redeployed from the file: %+v", s)
	}

	// --config names another file, whose paths are relative to it.
	other := writeFiles(t, map[string]string{"cfg/fn.json": `{"name": "named", "file": "../src/f.js", "trigger": "named"}`, "src/f.js": "() => 1"})
	if code, _, stderr := run(t, "", "deploy", "--config", filepath.Join(other, "cfg/fn.json"), "-s", url); code != 0 {
		t.Fatalf("deploy --config: %d %q", code, stderr)
	}
	if s = infoJSON(t, url, "named").Spec; s.Source != "f.js" || s.Triggers[0] != "named" {
		t.Errorf("deployed with --config: %+v", s)
	}
}

// One config file, several functions, one command.
func TestDeployConfigSeveralFunctions(t *testing.T) {
	url := controltest.Start(t)
	dir := writeFiles(t, map[string]string{
		"a.js":     "() => 'a'",
		"lib/b.ts": "export default () => 'b'",
		"natsfn.json": `{"$schema": "x", "functions": {
			"a": {"file": "a.js", "trigger": "a", "env": {"N": "1"}},
			"b": {"file": "lib/b.ts", "trigger": ["b.*"], "timeout": "1s"}}}`,
	})
	cfg := filepath.Join(dir, "natsfn.json")
	code, stdout, stderr := run(t, "", "deploy", "--config", cfg, "--env", "N=2", "-s", url)
	if code != 0 || strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, "deployed default/a ") || !strings.Contains(stdout, "deployed default/b ") {
		t.Fatalf("deploy all: %d %q %q", code, stdout, stderr)
	}
	// A flag applies to every function deployed.
	if a, b := infoJSON(t, url, "a").Spec, infoJSON(t, url, "b").Spec; a.Env["N"] != "2" || b.Env["N"] != "2" || b.Timeout.D() != time.Second || b.Triggers[0] != "b.*" {
		t.Errorf("deployed a %+v, b %+v", a, b)
	}
	// --name picks one; FILE finds its own entry.
	code, stdout, _ = run(t, "", "deploy", "--config", cfg, "--name", "b", "-s", url, "--json")
	var infos []api.FunctionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &infos) != nil || len(infos) != 1 || infos[0].Spec.Name != "b" || infos[0].Version != 2 {
		t.Errorf("deploy --name b: %d %q", code, stdout)
	}
	if code, _, stderr := run(t, "", "deploy", filepath.Join(dir, "a.js"), "-s", url); code != 0 {
		t.Fatalf("deploy a.js: %d %q", code, stderr)
	}
	if a := infoJSON(t, url, "a"); a.Spec.Env["N"] != "1" || a.Version != 2 {
		t.Errorf("a.js from its entry: %+v", a)
	}
	code, stdout, stderr = run(t, "", "deploy", "--config", cfg, "--name", "c", "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "has no function c")
}

func TestDeployConfigErrors(t *testing.T) {
	url := controltest.Start(t)
	for _, tc := range []struct{ config, want string }{
		{`{"trigers": ["x"]}`, `natsfn.json: unknown key "trigers"`},
		{`{"functions": {"f": {"file": "f.js", "envv": {}}}}`, `natsfn.json: functions.f: unknown key "envv"`},
		{`{"trigger": "x", "timeout": 5}`, "natsfn.json: timeout: want a string"},
		{`{"trigger": "x", "timeout": "soon"}`, `natsfn.json: timeout: invalid value "soon"`},
		{`{"trigger": "x", "concurrency": "3"}`, "concurrency: want an integer"},
		{`{"trigger": "x", "env": ["A=1"]}`, "env: want an object of strings"},
		{`{"functions": {"f": {"trigger": "x"}}}`, "functions.f: file is missing"},
		{`{"functions": {"f": {"file": "f.js", "name": "g"}}}`, `"name" is not allowed`},
		{`{"trigger": "x",}`, "want a JSON object"},
		{`{"functions": {}, "env": {}}`, `"env" is not allowed beside "functions"`},
	} {
		dir := writeFiles(t, map[string]string{"f.js": "() => 1", "natsfn.json": tc.config})
		code, stdout, stderr := run(t, "", "deploy", filepath.Join(dir, "f.js"), "-s", url)
		wantFailure(t, code, stdout, stderr, 1, tc.want)
	}
	// --config that does not exist, or has no entry for FILE.
	dir := writeFiles(t, map[string]string{"f.js": "() => 1", "other.json": `{"functions": {"g": {"file": "g.js", "trigger": "g"}}}`})
	code, stdout, stderr := run(t, "", "deploy", filepath.Join(dir, "f.js"), "--config", filepath.Join(dir, "nope.json"), "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "nope.json: no such file")
	code, stdout, stderr = run(t, "", "deploy", filepath.Join(dir, "f.js"), "--config", filepath.Join(dir, "other.json"), "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "has no function of")
}

// Without a config file, a redeploy keeps what its flags do not say, and
// says so; --reset starts from the defaults.
func TestRedeployKeepsSettings(t *testing.T) {
	url := controltest.Start(t)
	fn := writeFile(t, "keep.js", "() => 1")
	if code, _, stderr := run(t, "", "deploy", fn, "--trigger", "keep", "--env", "A=1", "--env", "B=2", "--timeout", "7s", "-s", url); code != 0 {
		t.Fatalf("deploy: %d %q", code, stderr)
	}
	code, stdout, stderr := run(t, "", "deploy", fn, "-s", url)
	if code != 0 || !strings.HasPrefix(stdout, "kept from version 1: triggers (keep), env (A, B), timeout 7s (--reset starts from the defaults)\n") {
		t.Fatalf("redeploy: %d %q %q", code, stdout, stderr)
	}
	if s := infoJSON(t, url, "keep").Spec; s.Env["A"] != "1" || s.Env["B"] != "2" || s.Timeout.D() != 7*time.Second || s.Triggers[0] != "keep" {
		t.Errorf("redeployed: %+v", s)
	}
	// A flag replaces its setting only.
	if code, stdout, _ = run(t, "", "deploy", fn, "--env", "C=3", "-s", url); code != 0 || !strings.Contains(stdout, "kept from version 2: triggers (keep), timeout 7s") {
		t.Fatalf("redeploy --env: %d %q", code, stdout)
	}
	if s := infoJSON(t, url, "keep").Spec; len(s.Env) != 1 || s.Env["C"] != "3" || s.Timeout.D() != 7*time.Second {
		t.Errorf("redeployed with --env: %+v", s)
	}
	// --reset keeps nothing, so the triggers must be given again.
	code, stdout, stderr = run(t, "", "deploy", fn, "--reset", "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "at least one trigger is needed")
	if code, stdout, _ = run(t, "", "deploy", fn, "--reset", "--trigger", "keep2", "-s", url); code != 0 || strings.Contains(stdout, "kept") {
		t.Fatalf("redeploy --reset: %d %q", code, stdout)
	}
	if s := infoJSON(t, url, "keep").Spec; s.Env != nil || s.Timeout != 0 || s.Triggers[0] != "keep2" {
		t.Errorf("redeployed with --reset: %+v", s)
	}
	// A new function gives its triggers.
	code, stdout, stderr = run(t, "", "deploy", writeFile(t, "fresh.js", "() => 1"), "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "at least one trigger is needed")
}

func TestDeploySharedTrigger(t *testing.T) {
	url := controltest.Start(t)
	fn := writeFile(t, "f.js", "() => 1")
	if code, _, stderr := run(t, "", "deploy", fn, "--name", "orders", "--trigger", "orders.new", "-s", url); code != 0 {
		t.Fatalf("deploy: %d %q", code, stderr)
	}
	code, stdout, stderr := run(t, "", "deploy", fn, "--name", "audit", "--trigger", "orders.*", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "trigger orders.* overlaps orders.new, which function orders serves: both functions would get every message")
	code, stdout, stderr = run(t, "", "deploy", fn, "--name", "audit", "--trigger", "orders.*", "--force", "-s", url)
	if code != 0 || !strings.HasPrefix(stdout, "deployed default/audit") ||
		stderr != "natsfn: warning: trigger orders.* overlaps orders.new, which function orders serves: both functions get every message on it, and a request takes whichever reply comes first\n" {
		t.Errorf("deploy --force: %d %q %q", code, stdout, stderr)
	}
	// Its own subject is no conflict on a redeploy.
	if code, _, stderr = run(t, "", "deploy", fn, "--name", "orders", "-s", url); code != 0 {
		t.Errorf("redeploy on its own subject: %d %q", code, stderr)
	}
}

func TestVersionsRollback(t *testing.T) {
	url := controltest.Start(t)
	fn := writeFile(t, "v.js", "")
	var digests []string
	for _, v := range []string{"1", "2", "3"} {
		if err := os.WriteFile(fn, []byte("() => "+v), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := run(t, "", "deploy", fn, "--trigger", "v", "-s", url); code != 0 {
			t.Fatalf("deploy %s: %d %q", v, code, stderr)
		}
		digests = append(digests, infoJSON(t, url, "v").BundleDigest)
	}
	code, stdout, _ := run(t, "", "versions", "v", "-s", url)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "VERSION") || !strings.HasPrefix(lines[1], "3 ") ||
		!strings.HasSuffix(lines[1], "current") || !strings.HasPrefix(lines[3], "1 ") || !strings.Contains(lines[3], digests[0][:19]) {
		t.Fatalf("versions:\n%s", stdout)
	}

	code, stdout, stderr := run(t, "", "rollback", "v", "-s", url)
	if code != 0 || !strings.HasPrefix(stdout, "deployed default/v (version 4, the code and settings of version 2, ") {
		t.Fatalf("rollback: %d %q %q", code, stdout, stderr)
	}
	if got := infoJSON(t, url, "v"); got.BundleDigest != digests[1] || got.Version != 4 {
		t.Errorf("after rollback: %+v", got)
	}
	if code, _, stderr = run(t, "", "rollback", "v", "--to", "1", "-s", url); code != 0 {
		t.Fatalf("rollback --to 1: %d %q", code, stderr)
	}
	if got := infoJSON(t, url, "v"); got.BundleDigest != digests[0] || got.Version != 5 || got.RollbackOf != 1 {
		t.Errorf("after rollback --to 1: %+v", got)
	}
	code, stdout, _ = run(t, "", "versions", "v", "--json", "-s", url)
	var versions []api.FunctionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &versions) != nil || len(versions) != 5 || versions[0].Version != 5 || versions[1].RollbackOf != 2 {
		t.Errorf("versions --json: %q", stdout)
	}

	code, stdout, stderr = run(t, "", "rollback", "v", "--to", "42", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "version 42 of default/v is not kept (kept: 5, 4, 3, 2, 1;")
	code, stdout, stderr = run(t, "", "rollback", "v", "--to", "two", "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "want a version number")
	code, stdout, stderr = run(t, "", "versions", "nope", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "not found")
}
