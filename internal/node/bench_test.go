package node

import (
	"bufio"
	"cmp"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/bench"
)

// BenchmarkWarmEcho compares a JavaScript echo with a plain Go nats.go
// responder on the same embedded server, in one run: the ratio is what
// counts on a shared machine. The responder runs in a process of its own,
// as the worker does. Besides latency and throughput it reports the CPU
// time per call: this process (the node, its embedded server and the
// requester), the worker and the responder; the JavaScript run reports
// its own cost (this process's and the worker's, less this process's
// during the Go run: the server and the requester, which both pay) and
// the ratios against the Go run before it.
//
//	go test -run - -bench WarmEcho ./internal/node/
func BenchmarkWarmEcho(b *testing.B) {
	n := startNode(b, Config{})
	c, _ := newClient(b, n)
	deploy(b, c, "echo", `(s, p) => p`, "bench.js")
	responder := startResponder(b, n, api.DefaultNamespace, "bench.go")
	requester := nsConn(b, n, api.DefaultNamespace)
	workerPid := 0
	if w, ok := n.backend.(interface{ Pid(string) int }); ok {
		workerPid = w.Pid(api.DefaultNamespace)
	}
	cpu := bench.NewCPUSampler(os.Getpid(), workerPid, responder.Pid())
	// Unloading the echo ends the worker's CPU profile, if it writes one
	// (NATSFN_WORKER_CPUPROFILE): the node kills its workers when it stops.
	b.Cleanup(func() { c.Remove(context.Background(), "echo") })
	payload := []byte(strings.Repeat("x", 65))
	for _, inFlight := range []int{1, 32} {
		var goRun struct {
			r               bench.Result
			node, responder float64
		}
		for _, target := range []string{"go", "js"} {
			b.Run(target+"/inflight="+strconv.Itoa(inFlight), func(b *testing.B) {
				before := cpu.Sample()
				r, err := bench.Run(context.Background(), requester, bench.Options{
					Subject: "bench." + target, Payload: payload, Requests: max(b.N, inFlight), InFlight: inFlight,
				})
				used := cpu.Sample().Since(before)
				if err != nil || r.Errors > 0 {
					b.Fatalf("%v %v", err, r.FirstError)
				}
				perCall := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(r.Requests) }
				b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
				b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
				b.ReportMetric(r.Throughput, "req/s")
				b.ReportMetric(perCall(used[0]), "node-cpu-µs")
				if target == "go" {
					goRun.r, goRun.node, goRun.responder = r, perCall(used[0]), perCall(used[2])
					b.ReportMetric(goRun.responder, "own-cpu-µs")
					return
				}
				own := perCall(used[0]) - goRun.node
				if used[1] >= 0 {
					own += perCall(used[1])
					b.ReportMetric(perCall(used[1]), "worker-cpu-µs")
				}
				b.ReportMetric(own, "own-cpu-µs")
				if goRun.r.Requests > 0 {
					b.ReportMetric(float64(r.P50)/float64(goRun.r.P50), "p50-ratio")
					b.ReportMetric(r.Throughput/goRun.r.Throughput, "req/s-ratio")
					b.ReportMetric(own/goRun.responder, "cpu-ratio")
				}
			})
		}
	}
}

// startResponder starts the plain Go responder on subject in a process of
// its own, connected as the owner of namespace.
func startResponder(b *testing.B, n *Node, namespace, subject string) *bench.ResponderProcess {
	var jwt, seed string
	if n.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		creds, err := n.DevCreds(ctx, namespace)
		if err != nil {
			b.Fatal(err)
		}
		jwt, seed = creds.JWT, string(creds.Seed)
	}
	cmd, err := responderCommand(n.ClientURL(), jwt, seed)
	if err != nil {
		b.Fatal(err)
	}
	return startResponderCmd(b, cmd, subject)
}

// startResponderCmd starts cmd (from responderCommand) as the plain Go
// responder on subject, stopped when b ends.
func startResponderCmd(b *testing.B, cmd *exec.Cmd, subject string) *bench.ResponderProcess {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := bench.StartResponder(ctx, cmd, subject)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	return p
}

// BenchmarkRSSGrowth reports how much resident memory grows over 100,000
// warm calls (NATSFN_BENCH_CALLS to change) after a warm-up of 20,000: the
// node's process, functions in it (NATSFN_BENCH_SANDBOX=none, the default),
// or the node and its worker (=process).
func BenchmarkRSSGrowth(b *testing.B) {
	calls := 100000
	if v, err := strconv.Atoi(os.Getenv("NATSFN_BENCH_CALLS")); err == nil && v > 0 {
		calls = v
	}
	n := startNode(b, Config{Sandbox: cmp.Or(os.Getenv("NATSFN_BENCH_SANDBOX"), "none")})
	c, _ := newClient(b, n)
	deploy(b, c, "echo", `(s, p) => ({ s, p: p.text() })`, "rss")
	requester := nsConn(b, n, api.DefaultNamespace)
	run := func(calls int) {
		r, err := bench.Run(context.Background(), requester, bench.Options{Subject: "rss", Payload: []byte("hello"), Requests: calls, InFlight: 8})
		if err != nil || r.Errors > 0 {
			b.Fatalf("%v %v", err, r.FirstError)
		}
	}
	for b.Loop() {
		run(20000)
		debug.FreeOSMemory()
		before := rssWithWorkers(b)
		start := time.Now()
		run(calls)
		debug.FreeOSMemory()
		after := rssWithWorkers(b)
		b.ReportMetric(float64(after-before)/float64(before)*100, "rss-growth-%")
		b.ReportMetric(float64(after)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(calls)/time.Since(start).Seconds(), "req/s")
	}
}

// rss reads the resident set size of this process from /proc.
func rss(b *testing.B) int64 {
	n := rssOf(os.Getpid())
	if n == 0 {
		b.Skip("no VmRSS in /proc")
	}
	return n
}

// rssWithWorkers is this process's resident set plus its workers'.
func rssWithWorkers(b *testing.B) int64 {
	total := rss(b)
	for _, pid := range childPids() {
		total += rssOf(pid)
	}
	return total
}

// rssOf reads a process's resident set size, 0 when unknown.
func rssOf(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPids lists this process's children (the workers).
func childPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// BenchmarkKV compares kv.get and kv.set from JavaScript (in the node's
// process, and in a sandboxed worker, which runs them on its own
// connection) with the same calls from plain Go on the same server, in
// one run, each JavaScript target next to its Go baseline. One invocation
// makes all b.N calls, so the warm echo around them is spread over b.N:
// ns/op is the cost of one call. NATSFN_BENCH_SANDBOX=process (or none)
// measures one of the two only.
//
//	go test -run - -bench KV -benchtime 3000x -count 3 ./internal/node/
func BenchmarkKV(b *testing.B) {
	const src = `(s, p) => {
		const [op, n] = p.text().split(" ");
		const kv = hostServices.kv;
		const v = new Uint8Array(128);
		if (op === "set") for (let i = 0; i < +n; i++) kv.set("k", v);
		else { kv.set("k", v); for (let i = 0; i < +n; i++) kv.get("k"); }
	}`
	sandboxes := []string{"none", "process"}
	if s := os.Getenv("NATSFN_BENCH_SANDBOX"); s != "" {
		sandboxes = []string{s}
	}
	for _, sandbox := range sandboxes {
		n := startNode(b, Config{Sandbox: sandbox})
		c, nc := newClient(b, n)
		deploy(b, c, "kvbench", src, "kvbench")
		invoke(b, nc, "kvbench", []byte("get 1")) // the worker is up, the bucket made
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
		kv.Put(ctx, "k", v)
		for _, op := range []string{"get", "set"} {
			b.Run("go-"+sandbox+"/"+op, func(b *testing.B) {
				for b.Loop() {
					var err error
					if op == "get" {
						_, err = kv.Get(ctx, "k")
					} else {
						_, err = kv.Put(ctx, "k", v)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("go-own-"+sandbox+"/"+op, func(b *testing.B) {
				kvClient(b, n, "plain_go_bench", op)
			})
			b.Run("js-"+sandbox+"/"+op, func(b *testing.B) {
				msg, err := nc.Request("kvbench", []byte(op+" "+strconv.Itoa(b.N)), time.Minute)
				if err != nil || msg.Header.Get("Nats-Service-Error") != "" {
					b.Fatalf("%v %v", err, msg.Header)
				}
			})
		}
	}
}

// kvClient times b.N calls of op from a plain Go client in a process of its
// own (the test binary again), connected as the default namespace's owner.
func kvClient(b *testing.B, n *Node, bucket, op string) {
	b.StopTimer()
	cmd, err := responderCommand(n.ClientURL(), "", "")
	if err != nil {
		b.Fatal(err)
	}
	if n.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		creds, err := n.DevCreds(ctx, api.DefaultNamespace)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Env = append(cmd.Env, envResponderJWT+"="+creds.JWT, envResponderSeed+"="+string(creds.Seed))
	}
	cmd.Env = append(cmd.Env, envKVClientOp+"="+op, envKVClientN+"="+strconv.Itoa(b.N), envKVClientBucket+"="+bucket)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		b.Fatalf("kv client did not start: %q %v", lines.Text(), lines.Err())
	}
	b.StartTimer()
	stdin.Write([]byte("go\n"))
	if !lines.Scan() || lines.Text() != "done" {
		b.Fatalf("kv client failed: %q %v", lines.Text(), lines.Err())
	}
	b.StopTimer()
}

// BenchmarkDeployToFirstReply measures a deploy of a new function through
// the client until its first successful reply (a cold isolate included),
// and reports the first call and a warm call separately.
//
//	go test -run - -bench DeployToFirstReply ./internal/node/
func BenchmarkDeployToFirstReply(b *testing.B) {
	for _, sandbox := range []string{"none", "process"} {
		b.Run(sandbox, func(b *testing.B) {
			n := startNode(b, Config{Sandbox: sandbox})
			c, nc := newClient(b, n)
			deploy(b, c, "warmup", `() => 1`, "warmup") // starts the worker
			invoke(b, nc, "warmup", nil)
			var deployTotal, coldTotal, warmTotal time.Duration
			i := 0
			for b.Loop() {
				i++
				name := "fn" + strconv.Itoa(i)
				start := time.Now()
				deploy(b, c, name, `(s, p) => p`, name)
				deployed := time.Now()
				invoke(b, nc, name, []byte("x"))
				cold := time.Now()
				invoke(b, nc, name, []byte("x"))
				deployTotal += deployed.Sub(start)
				coldTotal += cold.Sub(deployed)
				warmTotal += time.Since(cold)
			}
			per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(i) / 1000 }
			b.ReportMetric(per(deployTotal+coldTotal), "deploy-to-reply-ms")
			b.ReportMetric(per(coldTotal), "cold-call-ms")
			b.ReportMetric(per(warmTotal), "warm-call-ms")
		})
	}
}

// BenchmarkMemoryPerFunction deploys functions, calls each once, and
// reports the resident memory each costs while its isolate is alive, and
// after the idle timeout has disposed the isolates. In-process (sandbox
// none), so that one RSS covers everything.
//
//	go test -run - -bench MemoryPerFunction -benchtime 1x ./internal/node/
func BenchmarkMemoryPerFunction(b *testing.B) {
	const count = 300
	for b.Loop() {
		n := startNode(b, Config{Sandbox: "none", IdleTimeout: 2 * time.Second})
		c, nc := newClient(b, n)
		deploy(b, c, "warmup", `() => 1`, "warmup")
		invoke(b, nc, "warmup", nil)
		debug.FreeOSMemory()
		before := rss(b)
		for i := 0; i < count; i++ {
			name := "m" + strconv.Itoa(i)
			deploy(b, c, name, `(s, p) => ({ s, n: p.length })`, name)
			invoke(b, nc, name, []byte("x"))
		}
		debug.FreeOSMemory()
		served := rss(b)
		time.Sleep(4 * time.Second)
		debug.FreeOSMemory()
		idle := rss(b)
		b.ReportMetric(float64(served-before)/count/(1<<20), "MiB/fn-served")
		b.ReportMetric(float64(idle-before)/count/(1<<20), "MiB/fn-idle")
	}
}

// BenchmarkManyFunctions deploys 10,000 functions on one node, calls 100
// of them, and reports the resident memory of the node and its workers
// and the deploy rate. NATSFN_BENCH_SANDBOX=process runs them in a worker.
//
//	go test -run - -bench ManyFunctions -benchtime 1x -timeout 30m ./internal/node/
func BenchmarkManyFunctions(b *testing.B) {
	const count = 10000
	sandbox := cmp.Or(os.Getenv("NATSFN_BENCH_SANDBOX"), "none")
	for b.Loop() {
		n := startNode(b, Config{Sandbox: sandbox})
		c, nc := newClient(b, n)
		start := time.Now()
		for i := 0; i < count; i++ {
			name := "f" + strconv.Itoa(i)
			deploy(b, c, name, `(s, p) => s`, "many."+name)
		}
		deployed := time.Since(start)
		for i := 0; i < count; i += count / 100 {
			subject := "many.f" + strconv.Itoa(i)
			if m := invoke(b, nc, subject, nil); string(m.Data) != subject {
				b.Fatalf("reply %q", m.Data)
			}
		}
		debug.FreeOSMemory()
		total := rss(b)
		for _, pid := range childPids() {
			total += rssOf(pid)
		}
		b.ReportMetric(float64(total)/(1<<20), "rss-MiB")
		b.ReportMetric(count/deployed.Seconds(), "deploys/s")
	}
}

// BenchmarkKVLockedThread is the plain Go kv.get from a goroutine free to
// move between threads and from one locked to its thread, as an isolate's
// goroutine is while JavaScript waits on a host call (it is inside a cgo
// callback): each wait hands the P to another thread and back, which is
// most of what a host call from JavaScript costs over the Go call
// (docs/performance.md).
//
//	go test -run - -bench KVLockedThread -benchtime 10000x ./internal/node/
func BenchmarkKVLockedThread(b *testing.B) {
	n := startNode(b, Config{Sandbox: "none"})
	_, nc := newClient(b, n)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "locked_thread_bench"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", make([]byte, 128)); err != nil {
		b.Fatal(err)
	}
	for _, locked := range []bool{false, true} {
		b.Run(map[bool]string{false: "free", true: "locked"}[locked], func(b *testing.B) {
			errs := make(chan error, 1)
			go func() {
				if locked {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				for range b.N {
					if _, err := kv.Get(ctx, "k"); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		})
	}
}
