package cli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/internal/cli"
)

// run runs the CLI in process and returns its exit status and output.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// deadURL is a NATS URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "nats://" + addr
}

// writeFile writes a file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantFailure checks a failed run: the status, nothing on stdout and one
// line on stderr that starts as it should and contains want.
func wantFailure(t *testing.T, code int, stdout, stderr string, wantCode int, want string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit status %d, want %d (stderr %q)", code, wantCode, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr %q, want exactly one line", stderr)
	}
	if !strings.HasPrefix(stderr, "natsfn: ") && !strings.HasPrefix(stderr, "error: ") {
		t.Errorf("stderr %q does not start with natsfn: or error:", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "deploy"}, {"deploy", "--help"}, {"ls", "-h"},
		{"invoke", "--help"}, {"logs", "--help"}, {"kv", "--help"}, {"up", "--help"}, {"dev", "--help"},
		{"info", "x", "--help"}, {"-s", "nats://x:1", "rm", "--help"},
	} {
		code, stdout, stderr := run(t, "", args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage: natsfn") {
			t.Errorf("%v: status %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	_, stdout, _ := run(t, "", "--help")
	for _, cmd := range []string{"up", "dev", "deploy", "invoke", "ls", "info", "rm", "logs", "kv", "--server", "--namespace", "--creds", "--json"} {
		if !strings.Contains(stdout, cmd) {
			t.Errorf("natsfn --help does not mention %s", cmd)
		}
	}
	_, stdout, _ = run(t, "", "deploy", "--help")
	for _, flag := range []string{"--name", "--trigger", "--env", "--timeout", "--memory", "--concurrency", "--http-allow", "-s, --server"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("natsfn deploy --help does not mention %s:\n%s", flag, stdout)
		}
	}
}

func TestBadInput(t *testing.T) {
	dead := deadURL(t)
	fn := writeFile(t, "fn.js", "(subject, payload) => payload")
	missing := filepath.Join(t.TempDir(), "missing.js")
	dotted := writeFile(t, "my.func.js", "(subject, payload) => payload")
	spaced := writeFile(t, "My Func.js", "(subject, payload) => payload")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "no command given"},
		{"unknown command", []string{"deplyo"}, 2, `unknown command "deplyo"`},
		{"unknown global flag", []string{"--bogus", "ls"}, 2, "not defined: -bogus"},
		{"bad namespace", []string{"ls", "-n", "Bad"}, 2, "namespace"},
		{"bench no rounds", []string{"bench", "--rounds", "0"}, 2, "--rounds must be positive"},
		{"bench bad subject", []string{"bench", "a..b"}, 2, "subject"},

		{"deploy no file", []string{"deploy", "--trigger", "x"}, 2, "deploy needs FILE"},
		// Without --reset a deploy without triggers may be a redeploy, which
		// keeps them: TestRedeployKeepsSettings.
		{"deploy no trigger", []string{"deploy", fn, "--reset"}, 2, "--trigger"},
		{"deploy bad disable", []string{"deploy", fn, "--trigger", "x", "--disable", "ftp"}, 2, "unknown host service"},
		{"up bad disable", []string{"up", "--disable", "ftp"}, 2, "unknown host service"},
		{"up bad http-allow", []string{"up", "--http-allow", "*.x.com"}, 2, "HTTP.Allow"},
		{"up missing services file", []string{"up", "--services", "/nonexistent.json"}, 2, "--services"},
		{"deploy bad name", []string{"deploy", fn, "--name", "Bad.Name", "--trigger", "x"}, 2, "may only contain"},
		{"deploy long name", []string{"deploy", fn, "--name", strings.Repeat("x", 65), "--trigger", "x"}, 2, "longer than 64"},
		{"deploy trigger $SYS", []string{"deploy", fn, "--trigger", "$SYS.x"}, 2, "reserved"},
		{"deploy trigger $JS.API", []string{"deploy", fn, "--trigger", "$JS.API.x"}, 2, "reserved"},
		{"deploy trigger _R_", []string{"deploy", fn, "--trigger", "_R_.>"}, 2, "reserved"},
		{"deploy trigger ESC", []string{"deploy", fn, "--trigger", "a\x1b[2Jb"}, 2, `control characters`},
		{"deploy trigger >", []string{"deploy", fn, "--trigger", ">"}, 2, "literal token"},
		{"deploy trigger *.x", []string{"deploy", fn, "--trigger", "*.x"}, 2, "literal token"},
		{"deploy trigger a..b", []string{"deploy", fn, "--trigger", "a..b"}, 2, "empty token"},
		{"deploy memory unit", []string{"deploy", fn, "--trigger", "x", "--memory", "12XB"}, 2, "--memory"},
		{"deploy memory negative", []string{"deploy", fn, "--trigger", "x", "--memory", "-5MiB"}, 2, "--memory"},
		{"deploy memory too small", []string{"deploy", fn, "--trigger", "x", "--memory", "1KiB"}, 2, "memory must be between"},
		{"deploy memory fraction", []string{"deploy", fn, "--trigger", "x", "--memory", "1.5"}, 2, "whole number"},
		{"deploy bad timeout", []string{"deploy", fn, "--trigger", "x", "--timeout", "soon"}, 2, "invalid value"},
		{"deploy long timeout", []string{"deploy", fn, "--trigger", "x", "--timeout", "1h"}, 2, "timeout must be between"},
		{"deploy bad concurrency", []string{"deploy", fn, "--trigger", "x", "--concurrency", "-1"}, 2, "concurrency"},
		{"deploy bad env", []string{"deploy", fn, "--trigger", "x", "--env", "NOVALUE"}, 2, "NAME=VALUE"},
		{"deploy env twice", []string{"deploy", fn, "--trigger", "x", "--env", "A=1", "--env", "A=2"}, 2, "twice"},
		{"deploy bad http-allow", []string{"deploy", fn, "--trigger", "x", "--http-allow", "10.0.0.0/33"}, 2, "CIDR"},
		{"deploy bad http-allow host", []string{"deploy", fn, "--trigger", "x", "--http-allow", "http://x"}, 2, "host name"},
		{"deploy unknown flag", []string{"deploy", fn, "--trigger", "x", "--bogus"}, 2, "not defined: -bogus"},
		{"deploy two files", []string{"deploy", fn, fn, "--trigger", "x"}, 2, "unexpected argument"},
		{"deploy missing file", []string{"deploy", missing, "--trigger", "x"}, 1, "no such file"},
		{"deploy no node", []string{"deploy", fn, "--trigger", "x", "-s", dead}, 1, "cannot connect to NATS at " + dead},
		// A file name that is not a valid function name is refused, not
		// rewritten: both of these would have become my-func.
		{"deploy dotted file name", []string{"deploy", dotted, "--trigger", "x"}, 2, `"my.func.js" does not make a function name (1 to 64 of a-z, 0-9, '-' and '_'): pass --name, e.g. --name my-func`},
		{"dev spaced file name", []string{"dev", spaced, "--trigger", "x"}, 2, `"My Func.js" does not make a function name`},
		{"deploy capital file name", []string{"deploy", writeFile(t, "Hello.ts", "export default () => 1"), "--trigger", "x"}, 2, "--name hello"},
		{"deploy dotted file with --name", []string{"deploy", dotted, "--name", "my-func", "--trigger", "x", "-s", dead}, 1, "cannot connect"},

		{"invoke no subject", []string{"invoke"}, 2, "invoke needs SUBJECT"},
		{"invoke wildcard", []string{"invoke", "a.*"}, 2, "wildcards"},
		{"invoke bad header", []string{"invoke", "a", "--header", "nocolon"}, 2, "NAME:VALUE"},
		{"invoke extra", []string{"invoke", "a", "b", "c"}, 2, `unexpected argument "c"`},
		{"invoke bad timeout", []string{"invoke", "a", "--timeout", "0s"}, 2, "--timeout"},
		{"invoke no node", []string{"invoke", "a", "-s", dead}, 1, "cannot connect"},

		{"ls extra", []string{"ls", "x"}, 2, `unexpected argument "x"`},
		{"ls no node", []string{"ls", "-s", dead}, 1, "natsfn up"},
		{"info no name", []string{"info"}, 2, "info needs NAME"},
		{"info bad name", []string{"info", "a.b"}, 2, "may only contain"},
		{"info no node", []string{"info", "x", "-s", dead}, 1, "cannot connect"},
		{"rm no name", []string{"rm"}, 2, "rm needs NAME"},
		{"rm bad name", []string{"rm", "X"}, 2, "may only contain"},
		{"rm no node", []string{"rm", "x", "--server", dead}, 1, "cannot connect"},
		{"logs no name", []string{"logs", "-f"}, 2, "logs needs NAME"},
		{"logs bad name", []string{"logs", ">"}, 2, "may only contain"},
		{"logs bad last", []string{"logs", "x", "--last", "-5"}, 2, "--last"},
		{"logs unknown flag", []string{"logs", "x", "--tail"}, 2, "not defined: -tail"},
		{"logs no node", []string{"logs", "x", "-s", dead}, 1, "cannot connect"},
		{"kv no op", []string{"kv", "x"}, 2, "kv needs NAME"},
		{"kv bad op", []string{"kv", "x", "drop"}, 2, `unknown kv operation "drop"`},
		{"kv bad name", []string{"kv", "X", "ls"}, 2, "may only contain"},
		{"kv get no key", []string{"kv", "x", "get"}, 2, "needs a KEY"},
		{"kv ls extra", []string{"kv", "x", "ls", "k"}, 2, "unexpected argument"},
		{"kv no node", []string{"kv", "x", "ls", "-s", dead}, 1, "cannot connect"},

		{"up bad sandbox", []string{"up", "--sandbox", "docker"}, 2, "--sandbox"},
		{"up negative max isolates", []string{"up", "--max-isolates", "-1"}, 2, "--max-isolates"},
		{"up bad worker memory", []string{"up", "--worker-memory", "1KiB"}, 2, "--worker-memory"},
		{"up unparsable worker memory", []string{"up", "--worker-memory", "lots"}, 2, "--worker-memory"},
		{"up extra", []string{"up", "now"}, 2, "unexpected argument"},
		{"up too many replicas", []string{"up", "--replicas", "6"}, 2, "--replicas"},
		{"up negative replicas", []string{"up", "--replicas", "-1"}, 2, "--replicas"},
		{"up bad listen", []string{"up", "--listen", "localhost"}, 2, "HOST:PORT"},
		{"up listen with server", []string{"up", "--server", dead, "--listen", "127.0.0.1:1"}, 2, "not with --server"},
		{"dev no file", []string{"dev", "--trigger", "x"}, 2, "dev needs FILE"},
		{"dev no trigger", []string{"dev", fn}, 2, "--trigger"},
		{"dev bad trigger", []string{"dev", fn, "--trigger", "$JS.x"}, 2, "reserved"},
		{"dev bad sandbox", []string{"dev", fn, "--trigger", "x", "--sandbox", "vm"}, 2, "--sandbox"},
		{"dev unknown flag", []string{"dev", fn, "--trigger", "x", "--memory", "1"}, 2, "not defined: -memory"},
		{"dev missing file", []string{"dev", missing, "--trigger", "x"}, 1, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			wantFailure(t, code, stdout, stderr, tc.code, tc.want)
			if tc.code == 2 && !strings.Contains(stderr, "--help") {
				t.Errorf("usage error %q does not point at --help", stderr)
			}
		})
	}
}

func TestBundleErrorIsOneLine(t *testing.T) {
	broken := writeFile(t, "broken.ts", "export default function (s: string {\n  return 1\n}\n")
	code, stdout, stderr := run(t, "", "deploy", broken, "--trigger", "x", "-s", deadURL(t))
	wantFailure(t, code, stdout, stderr, 1, "broken.ts")
}
