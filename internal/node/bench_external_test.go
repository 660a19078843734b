package node

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/bench"
	"github.com/natsfn/natsfn/internal/sandbox"
)

// BenchmarkWarmEchoExternal is BenchmarkWarmEcho on an external NATS server
// in operator mode: natsfn's node is a user of its own account, namespace
// "a" is an account of the operator's, and the worker takes its calls
// directly, as the worker user natsfn minted in that account. The plain Go
// responder and the requester are users of the same account, so both
// targets are measured on the same server, in the same run; the responder
// runs in a process of its own, as the worker does (the server runs in
// this one).
//
//	go test -run - -bench WarmEchoExternal ./internal/node/
func BenchmarkWarmEchoExternal(b *testing.B) {
	if err := sandbox.Check(); err != nil {
		b.Logf("workers run as plain processes: %v", err)
	} else {
		b.Log("workers run sandboxed")
	}
	sys := startOperatorSystem(b, "a")
	n := startNode(b, Config{ServerURL: sys.url, Creds: sys.nodeCreds})
	c, nc := sys.adopt(b, n, "a")
	deploy(b, c, "echo", `(s, p) => p`, "bench.js")

	// More connections with the credentials adopt got from natsfn.
	connect := func(name string) *nats.Conn {
		opts := nc.Opts
		opts.Name = b.Name() + "-" + name
		conn, err := opts.Connect()
		if err != nil {
			b.Fatalf("connect %s as namespace a: %v", name, err)
		}
		b.Cleanup(conn.Close)
		return conn
	}
	cmd, err := responderCommand(sys.url, "", "")
	if err != nil {
		b.Fatal(err)
	}
	cmd.Env = append(cmd.Env, envResponderCreds+"="+sys.creds["a"])
	startResponderCmd(b, cmd, "bench.go")
	requester := connect("requester")
	payload := []byte(strings.Repeat("x", 65))
	if m := invoke(b, requester, "bench.js", payload); string(m.Data) != string(payload) {
		b.Fatalf("echo replied %q %v", m.Data, m.Header)
	}
	requireWorkerConn(b, sys, "a")

	benchEchoPair(b, requester, payload)
	// Still direct at the end: the numbers are the direct path's.
	requireWorkerConn(b, sys, "a")
}

// benchEchoPair measures the plain Go responder (bench.go) and the
// function (bench.js) one after the other, 1 and then 32 calls in flight.
func benchEchoPair(b *testing.B, requester *nats.Conn, payload []byte) {
	for _, inFlight := range []int{1, 32} {
		for _, target := range []string{"go", "js"} {
			b.Run(target+"/inflight="+strconv.Itoa(inFlight), func(b *testing.B) {
				r, err := bench.Run(context.Background(), requester, bench.Options{
					Subject: "bench." + target, Payload: payload, Requests: max(b.N, inFlight), InFlight: inFlight,
				})
				if err != nil || r.Errors > 0 {
					b.Fatalf("%v %v", err, r.FirstError)
				}
				b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
				b.ReportMetric(r.Throughput, "req/s")
			})
		}
	}
}

// requireWorkerConn fails unless the namespace's worker has a connection of
// its own in the namespace's account, so that calls skip the node.
func requireWorkerConn(b *testing.B, sys *operatorSystem, namespace string) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		connz, err := sys.srv.Connz(&server.ConnzOptions{Account: sys.accounts[namespace], Username: true})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range connz.Conns {
			if c.Name == "natsfn-worker "+namespace {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("no worker connection in namespace %s's account: the direct path was not measured", namespace)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
