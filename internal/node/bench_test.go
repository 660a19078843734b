package node

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/internal/bench"
	"github.com/natsfn/natsfn/internal/testenv"
)

// BenchmarkWarmEcho compares a JavaScript echo with a plain Go nats.go
// responder on the same embedded server, in one run: the ratio is what
// counts on a shared machine.
//
//	go test -run - -bench WarmEcho ./internal/node/
func BenchmarkWarmEcho(b *testing.B) {
	n := startNode(b, Config{})
	c, _ := newClient(b, n.ClientURL())
	deploy(b, c, "echo", `(s, p) => p`, "bench.js")
	responder := testenv.Conn(b, n.ClientURL())
	if _, err := bench.Responder(responder, "bench.go"); err != nil {
		b.Fatal(err)
	}
	requester := testenv.Conn(b, n.ClientURL())
	payload := []byte(strings.Repeat("x", 65))
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

// BenchmarkRSSGrowth reports how much the process's resident memory grows
// over 100,000 warm calls after a warm-up of 20,000.
func BenchmarkRSSGrowth(b *testing.B) {
	n := startNode(b, Config{})
	c, _ := newClient(b, n.ClientURL())
	deploy(b, c, "echo", `(s, p) => ({ s, p: p.text() })`, "rss")
	requester := testenv.Conn(b, n.ClientURL())
	run := func(calls int) {
		r, err := bench.Run(context.Background(), requester, bench.Options{Subject: "rss", Payload: []byte("hello"), Requests: calls, InFlight: 8})
		if err != nil || r.Errors > 0 {
			b.Fatalf("%v %v", err, r.FirstError)
		}
	}
	for b.Loop() {
		run(20000)
		debug.FreeOSMemory()
		before := rss(b)
		start := time.Now()
		run(100000)
		debug.FreeOSMemory()
		after := rss(b)
		b.ReportMetric(float64(after-before)/float64(before)*100, "rss-growth-%")
		b.ReportMetric(float64(after)/(1<<20), "rss-MiB")
		b.ReportMetric(100000/time.Since(start).Seconds(), "req/s")
	}
}

// rss reads the resident set size of this process from /proc.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	b.Skip("no VmRSS")
	return 0
}

// BenchmarkKV compares kv.get and kv.set from JavaScript (in the node's
// process and through a worker process) with the same calls from plain Go
// on the same server, in one run.
//
//	go test -run - -bench KV ./internal/node/
func BenchmarkKV(b *testing.B) {
	const src = `(s, p) => {
		const [op, n] = p.text().split(" ");
		const kv = hostServices.kv;
		const v = new Uint8Array(128);
		if (op === "set") for (let i = 0; i < +n; i++) kv.set("k", v);
		else { kv.set("k", v); for (let i = 0; i < +n; i++) kv.get("k"); }
	}`
	for _, sandbox := range []string{"none", "process"} {
		n := startNode(b, Config{Sandbox: sandbox})
		c, nc := newClient(b, n.ClientURL())
		deploy(b, c, "kvbench", src, "kvbench")
		for _, op := range []string{"get", "set"} {
			b.Run("js-"+sandbox+"/"+op, func(b *testing.B) {
				msg, err := nc.Request("kvbench", []byte(op+" "+strconv.Itoa(b.N)), time.Minute)
				if err != nil || msg.Header.Get("Nats-Service-Error") != "" {
					b.Fatalf("%v %v", err, msg.Header)
				}
			})
		}
		if sandbox != "none" {
			continue
		}
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "plain_go_bench"})
		if err != nil {
			b.Fatal(err)
		}
		v := make([]byte, 128)
		b.Run("go/get", func(b *testing.B) {
			kv.Put(ctx, "k", v)
			for b.Loop() {
				if _, err := kv.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("go/set", func(b *testing.B) {
			for b.Loop() {
				if _, err := kv.Put(ctx, "k", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
