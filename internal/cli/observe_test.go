package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

func runCmd(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestVersion(t *testing.T) {
	out, errOut, code := runCmd("version")
	if code != 0 || !strings.HasPrefix(out, "natsfn devel ") || strings.Count(out, "\n") != 1 {
		t.Errorf("version: %d %q %q", code, out, errOut)
	}
	out, _, code = runCmd("version", "--json")
	var v struct{ Version, Go string }
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version != "devel" || v.Go == "" {
		t.Errorf("version --json: %d %q %v", code, out, err)
	}
}

// A --metrics address that is not HOST:PORT, or that cannot be listened
// on, is a one-line error before anything starts.
func TestUpMetricsBadAddress(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, tc := range []struct {
		addr, want string
		code       int
	}{
		{"nope", `--metrics "nope": want HOST:PORT`, exitUsage},
		{"127.0.0.1:99999", "bad port", exitError},
		{held.Addr().String(), "address already in use", exitError},
	} {
		_, errOut, code := runCmd("up", "--listen", "127.0.0.1:-1", "--data", t.TempDir(), "--metrics", tc.addr)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("up --metrics %s: %d %q, want %d mentioning %q", tc.addr, code, errOut, tc.code, tc.want)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// `natsfn up --metrics` serves /readyz and /metrics, and `natsfn nodes`
// lists the node with its version, calls and errors.
func TestUpMetricsAndNodes(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr syncBuffer
	done := make(chan int, 1)
	data := t.TempDir()
	go func() {
		done <- Run(ctx, []string{"up", "--listen", addr, "--data", data, "--sandbox", "none", "--name", "watched",
			"--metrics", metricsAddr}, strings.NewReader(""), &upOut, &upErr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d: %s", code, upErr.String())
		}
	})
	testenv.Eventually(t, "/readyz to say ready", func() bool {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	server := "nats://" + addr
	creds := filepath.Join(data, "admin.creds")
	run := func(args ...string) (string, string, int) {
		return runCmd(append([]string{"-s", server, "--creds", creds}, args...)...)
	}
	file := filepath.Join(t.TempDir(), "fails.js")
	os.WriteFile(file, []byte(`(s, p) => { if (p.text() === "boom") throw new Error("boom"); return p }`), 0o644)
	if _, errOut, code := run("deploy", file, "--name", "fails", "--trigger", "fails"); code != 0 {
		t.Fatalf("deploy: %d %s", code, errOut)
	}
	run("invoke", "fails", "ok")
	run("invoke", "fails", "boom")

	out, errOut, code := run("nodes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("nodes: %d %q %s", code, out, errOut)
	}
	if !strings.Contains(lines[0], "VERSION") || !strings.Contains(lines[0], "CALLS") || !strings.Contains(lines[0], "ERRORS") {
		t.Errorf("nodes header: %q", lines[0])
	}
	if f := strings.Fields(lines[1]); f[0] != "watched" || f[1] != "devel" || f[len(f)-2] != "2" || f[len(f)-1] != "1" {
		t.Errorf("nodes row: %q", lines[1])
	}
	out, _, _ = run("nodes", "--json")
	var nodes []api.NodeInfo
	if err := json.Unmarshal([]byte(out), &nodes); err != nil || len(nodes) != 1 || nodes[0].Calls != 2 || nodes[0].Errors != 1 {
		t.Errorf("nodes --json: %q %v", out, err)
	}

	code, body := httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `natsfn_calls_total{function="fails",namespace="default"} 2`) ||
		!strings.Contains(body, `natsfn_call_errors_total{class="5xx",function="fails",namespace="default"} 1`) {
		t.Errorf("metrics: %d\n%s", code, body)
	}
}
