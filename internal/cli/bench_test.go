package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/node"
)

// bench deploys its echo, measures it against the Go responder in
// alternating rounds, reports medians, and removes the echo again.
func TestBench(t *testing.T) {
	n, err := node.Start(context.Background(), node.Config{Listen: "127.0.0.1:-1", DataDir: t.TempDir(), Sandbox: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	url := n.ClientURL()

	code, stdout, stderr := run(t, "", "bench", "--requests", "50", "--inflight", "4", "--rounds", "3", "--json", "-s", url, "--creds", n.AdminCreds())
	if code != 0 {
		t.Fatalf("bench: %d %q", code, stderr)
	}
	var rows []struct {
		Target     string   `json:"target"`
		InFlight   int      `json:"in_flight"`
		Requests   int      `json:"requests"`
		P50us      float64  `json:"p50_us"`
		ReqPerS    float64  `json:"req_per_s"`
		P50Ratio   float64  `json:"p50_ratio"`
		Throughput float64  `json:"throughput_ratio"`
		NodeCPU    *float64 `json:"node_cpu_us"`
		Responder  *float64 `json:"responder_cpu_us"`
		Own        *float64 `json:"own_cpu_us"`
		CPURatio   *float64 `json:"cpu_ratio"`
	}
	if err := json.Unmarshal([]byte(stdout), &rows); err != nil {
		t.Fatalf("bench --json: %v in %q", err, stdout)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows: %s", len(rows), stdout)
	}
	for i, r := range rows {
		wantTarget, wantInFlight := []string{"go", "js"}[i%2], []int{1, 4}[i/2]
		if r.Target != wantTarget || r.InFlight != wantInFlight || r.Requests != 150 || r.P50us <= 0 || r.ReqPerS <= 0 {
			t.Errorf("row %d: %+v", i, r)
		}
		if (r.Target == "js") != (r.P50Ratio > 0 && r.Throughput > 0) {
			t.Errorf("row %d ratios: %+v", i, r)
		}
		// The node runs in this process and the Go responder in one of
		// its own (this binary again): both are visible here.
		if r.NodeCPU == nil || *r.NodeCPU <= 0 {
			t.Errorf("row %d: no node CPU: %+v", i, r)
		}
		if r.Target == "go" && (r.Responder == nil || *r.Responder <= 0) {
			t.Errorf("row %d: no responder CPU: %+v", i, r)
		}
		if r.Target == "js" && (r.Own == nil || r.CPURatio == nil) {
			t.Errorf("row %d: no CPU ratio: %+v", i, r)
		}
	}
	// The echo it deployed is gone.
	if code, stdout, _ := run(t, "", "ls", "-s", url, "--creds", n.AdminCreds()); code != 0 || strings.Contains(stdout, "natsfn-bench") {
		t.Errorf("after bench, ls: %d %q", code, stdout)
	}
}
