package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control/controltest"
	"github.com/natsfn/natsfn/internal/testenv"
)

func TestDeployListInfoRemove(t *testing.T) {
	url := controltest.Start(t)
	fn := writeFile(t, "hello.js", "(subject, payload) => ({ subject, text: payload.text() })")

	// Flags after the file, as users type them.
	code, stdout, stderr := run(t, "", "deploy", fn, "--trigger", "hello.>", "--trigger", "hi", "--env", "GREETING=hey", "--memory", "64MiB", "--timeout", "2s", "--concurrency", "3", "--http-allow", "10.0.0.0/8", "-s", url)
	if code != 0 || stderr != "" {
		t.Fatalf("deploy: %d %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "deployed default/hello (version 1, revision ") || !strings.Contains(stdout, "hello.>, hi") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("deploy printed %q", stdout)
	}

	code, stdout, stderr = run(t, "", "info", "hello", "--json", "-s", url)
	if code != 0 {
		t.Fatalf("info: %d %q", code, stderr)
	}
	var info api.FunctionInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatalf("info --json: %v in %q", err, stdout)
	}
	s := info.Spec
	if s.HeapBytes != 64<<20 || s.Timeout.D() != 2*time.Second || s.Concurrency != 3 || s.Env["GREETING"] != "hey" || s.HTTPAllow[0] != "10.0.0.0/8" || s.Source != "hello.js" {
		t.Errorf("deployed spec = %+v", s)
	}

	code, stdout, _ = run(t, "", "info", "hello", "-s", url)
	for _, want := range []string{"name:", "hello", "triggers:", "hello.>, hi", "memory:", "64 MiB", "timeout:", "2s", "env:", "GREETING", "sha256:"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("info output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "hey") {
		t.Errorf("info shows env values:\n%s", stdout)
	}

	// The name defaults to the file's without its extension, as is.
	other := writeFile(t, "my-other-func.js", "() => 1")
	code, stdout, stderr = run(t, "", "-s", url, "deploy", "--json", other, "--trigger", "other")
	if code != 0 {
		t.Fatalf("deploy --json: %d %q", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &info); err != nil || info.Spec.Name != "my-other-func" {
		t.Errorf("deploy --json = %q, %v", stdout, err)
	}

	code, stdout, _ = run(t, "", "ls", "-s", url)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "TRIGGERS") ||
		!strings.HasPrefix(lines[1], "hello ") || !strings.Contains(lines[1], "hello.>,hi") || !strings.HasPrefix(lines[2], "my-other-func ") {
		t.Errorf("ls printed:\n%s", stdout)
	}
	code, stdout, _ = run(t, "", "ls", "--json", "-s", url)
	var list []api.FunctionInfo
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 2 {
		t.Errorf("ls --json printed %q", stdout)
	}
	code, stdout, _ = run(t, "", "ls", "-n", "team-b", "-s", url)
	if code != 0 || !strings.Contains(stdout, "no functions in namespace team-b") {
		t.Errorf("ls of an empty namespace printed %q", stdout)
	}
	code, stdout, _ = run(t, "", "ls", "--json", "-n", "team-b", "-s", url)
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("ls --json of an empty namespace printed %q", stdout)
	}

	code, stdout, stderr = run(t, "", "rm", "hello", "-s", url)
	if code != 0 || stdout != "removed default/hello (it had no data)\n" {
		t.Errorf("rm: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "", "rm", "hello", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "not found")
	code, stdout, stderr = run(t, "", "info", "hello", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "(404)")
}

func TestDeployModule(t *testing.T) {
	url := controltest.Start(t)
	dir := t.TempDir()
	for name, src := range map[string]string{
		"lib.ts": "export const greet = (s: string): string => 'hi ' + s\n",
		"mod.ts": "import { greet } from './lib'\nexport default function (subject: string) { return greet(subject) }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := run(t, "", "deploy", filepath.Join(dir, "mod.ts"), "--trigger", "mod", "-s", url, "--json")
	if code != 0 {
		t.Fatalf("deploy of a TypeScript module: %d %q", code, stderr)
	}
	var info api.FunctionInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil || info.Spec.Name != "mod" || info.Spec.Source != "mod.ts" || info.BundleSize == 0 {
		t.Errorf("deploy --json = %q", stdout)
	}
}

func TestNoNodeOnRunningNATS(t *testing.T) {
	url := testenv.NATS(t)
	fn := writeFile(t, "f.js", "() => 1")
	for _, args := range [][]string{{"ls"}, {"info", "x"}, {"rm", "x"}, {"deploy", fn, "--trigger", "x"}, {"logs", "x"}} {
		code, stdout, stderr := run(t, "", append(args, "-s", url)...)
		wantFailure(t, code, stdout, stderr, 1, "no natsfn node is running on "+url+" (start one with `natsfn up`)")
	}
}

func TestInvoke(t *testing.T) {
	url := testenv.NATS(t)
	nc := testenv.Conn(t, url)
	// A plain responder stands in for a function.
	sub, err := nc.Subscribe("echo.>", func(m *nats.Msg) {
		reply := nats.NewMsg("")
		switch m.Subject {
		case "echo.fail":
			reply.Header.Set(api.HeaderError, "the function threw")
			reply.Header.Set(api.HeaderErrorCode, "500")
		case "echo.headers":
			reply.Data = []byte(m.Header.Get("X-A") + "|" + m.Header.Get("X-B"))
		default:
			reply.Data = m.Data
		}
		m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run(t, "", "invoke", "echo.x", `{"a":1}`, "-s", url)
	if code != 0 || stdout != `{"a":1}` || stderr != "" {
		t.Errorf("invoke: %d %q %q", code, stdout, stderr)
	}
	binary := "\x00\x01\xff\xfe\n"
	code, stdout, _ = run(t, binary, "invoke", "-s", url, "echo.bin", "-")
	if code != 0 || stdout != binary {
		t.Errorf("invoke from stdin: %d %q", code, stdout)
	}
	code, stdout, _ = run(t, "", "invoke", "echo.empty", "-s", url)
	if code != 0 || stdout != "" {
		t.Errorf("invoke without payload: %d %q", code, stdout)
	}
	code, stdout, _ = run(t, "", "invoke", "echo.headers", "--header", "X-A: one", "--header", "X-B:two:2", "-s", url)
	if code != 0 || stdout != "one|two:2" {
		t.Errorf("invoke with headers: %d %q", code, stdout)
	}
	code, stdout, stderr = run(t, "", "invoke", "echo.fail", "-s", url)
	if code != 1 || stdout != "" || stderr != "error: the function threw (500)\n" {
		t.Errorf("invoke of a failing function: %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "", "invoke", "nobody.here", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "no function listens on the subject: nobody.here")
	// A payload that looks like a flag goes after "--".
	code, stdout, _ = run(t, "", "invoke", "-s", url, "echo.x", "--", "-5")
	if code != 0 || stdout != "-5" {
		t.Errorf("invoke -- -5: %d %q", code, stdout)
	}
}

func TestLogs(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i, level := range []string{"info", "warn", "error"} {
		b, _ := json.Marshal(api.LogEntry{Time: at.Add(time.Duration(i) * time.Second), Namespace: "default", Function: "f", Level: level, Message: fmt.Sprintf("line %d\n", i)})
		if _, err := js.Publish(t.Context(), api.LogSubject("default", "f"), b); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := run(t, "", "logs", "f", "--last", "2", "-s", url)
	want := "2026-11-24T10:00:01Z WARN  line 1\n2026-11-24T10:00:02Z ERROR line 2\n"
	if code != 0 || stdout != want {
		t.Errorf("logs: %d %q %q, want %q", code, stdout, stderr, want)
	}
	code, stdout, _ = run(t, "", "logs", "f", "--json", "-s", url)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var e api.LogEntry
	if code != 0 || len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Message != "line 0\n" || e.Level != "info" {
		t.Errorf("logs --json: %d %q", code, stdout)
	}
	code, stdout, _ = run(t, "", "logs", "quiet", "-s", url)
	if code != 0 || stdout != "" {
		t.Errorf("logs of a silent function: %d %q", code, stdout)
	}
}

func TestKV(t *testing.T) {
	url := testenv.NATS(t)
	code, stdout, stderr := run(t, "", "kv", "counter", "get", "k", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "default/counter has no KV bucket yet")

	if code, stdout, stderr = run(t, "", "kv", "counter", "put", "k", "v1", "-s", url); code != 0 || !strings.Contains(stdout, "put k (revision 1)") {
		t.Fatalf("kv put: %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr = run(t, "\x00bytes", "kv", "counter", "put", "bin", "-", "-s", url); code != 0 {
		t.Fatalf("kv put from stdin: %d %q", code, stderr)
	}
	if code, stdout, _ = run(t, "", "kv", "counter", "get", "k", "-s", url); code != 0 || stdout != "v1" {
		t.Errorf("kv get: %d %q", code, stdout)
	}
	if code, stdout, _ = run(t, "", "kv", "counter", "get", "bin", "-s", url); code != 0 || stdout != "\x00bytes" {
		t.Errorf("kv get of bytes: %d %q", code, stdout)
	}
	if code, stdout, _ = run(t, "", "kv", "counter", "ls", "-s", url); code != 0 || stdout != "bin\nk\n" {
		t.Errorf("kv ls: %d %q", code, stdout)
	}
	code, stdout, stderr = run(t, "", "kv", "counter", "get", "a..b", "-s", url)
	wantFailure(t, code, stdout, stderr, 2, "invalid key")
	if code, _, stderr = run(t, "", "kv", "counter", "del", "k", "-s", url); code != 0 {
		t.Errorf("kv del: %d %q", code, stderr)
	}
	code, stdout, stderr = run(t, "", "kv", "counter", "get", "k", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, `key "k" not found`)
	// Another namespace, another bucket.
	code, stdout, stderr = run(t, "", "kv", "counter", "ls", "-n", "other", "-s", url)
	wantFailure(t, code, stdout, stderr, 1, "other/counter has no KV bucket yet")
}
