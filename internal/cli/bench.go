package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/bench"
)

// benchEcho is the function `natsfn bench` deploys when given no subject.
const benchEcho = "(subject, payload) => payload;\n"

// benchRow is one measurement, for the table and for --json.
type benchRow struct {
	Target   string  `json:"target"`
	Subject  string  `json:"subject"`
	InFlight int     `json:"in_flight"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	ReqPerS  float64 `json:"req_per_s"`
	MBPerS   float64 `json:"mb_per_s"`
	// CPU time per call, in µs, where the processes are visible here
	// (omitted where not): the node's process (with the embedded server,
	// if it runs one) during this measurement; the namespace's worker
	// (js) or the Go responder's process (go); and the target's own cost:
	// the responder's, or the node's and worker's less the node's during
	// the Go measurement (the server's share, which both pay).
	NodeCPUus      *float64 `json:"node_cpu_us,omitempty"`
	WorkerCPUus    *float64 `json:"worker_cpu_us,omitempty"`
	ResponderCPUus *float64 `json:"responder_cpu_us,omitempty"`
	OwnCPUus       *float64 `json:"own_cpu_us,omitempty"`
	// Ratios against the plain Go responder at the same in-flight count.
	P50Ratio float64 `json:"p50_ratio,omitempty"`
	TputRate float64 `json:"throughput_ratio,omitempty"`
	// CPURatio is own_cpu_us over the responder's; CPURatioAll the node's
	// and worker's over the node's and responder's, the server counted
	// on both sides.
	CPURatio    *float64 `json:"cpu_ratio,omitempty"`
	CPURatioAll *float64 `json:"cpu_ratio_with_server,omitempty"`
}

func runBench(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("bench")
	requests, inFlight, rounds := 10000, 32, 1
	size := "65"
	fs.IntVar(&requests, "requests", requests, "`N` requests per measurement")
	fs.IntVar(&rounds, "rounds", rounds, "measure `N` times, alternating Go and JavaScript, and report medians (steadier ratios on a noisy machine)")
	fs.IntVar(&inFlight, "inflight", inFlight, "`N` concurrent requests in the second round (the first is sequential)")
	fs.StringVar(&size, "size", size, "payload `SIZE` (bytes, or with KiB/MiB)")
	pos, err := e.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if requests <= 0 || inFlight <= 0 || rounds <= 0 {
		return usageErrorf("--requests, --inflight and --rounds must be positive")
	}
	payloadSize, err := parseBytes(size)
	if err != nil {
		return usageErrorf("--size: %v", err)
	}
	if len(pos) == 1 {
		if err := api.ValidateSubject(pos[0], false); err != nil {
			return usageErrorf("%v", err)
		}
	}
	nc, err := e.connect()
	if err != nil {
		return err
	}
	defer nc.Close()

	token := randomToken()
	subject := ""
	if len(pos) == 1 {
		subject = pos[0]
	} else {
		c, closeClient, err := e.client()
		if err != nil {
			return err
		}
		defer closeClient()
		name := "natsfn-bench-" + token
		subject = "natsfn.bench.js." + token
		if _, err := c.Deploy(ctx, api.FunctionSpec{Name: name, Triggers: []string{subject}}, []byte(benchEcho)); err != nil {
			return fmt.Errorf("deploy the echo function: %w", err)
		}
		defer c.Remove(context.WithoutCancel(ctx), name)
		fmt.Fprintf(e.stderr, "deployed the echo function %s on %s\n", name, subject)
	}

	// The plain Go responder runs in a process of its own, as a
	// function's worker does, connected the way this command is: the
	// baseline every ratio is against.
	goSubject := "natsfn.bench.go." + token
	responder, err := e.startResponder(ctx, goSubject)
	if err != nil {
		return err
	}
	defer responder.Stop()
	procs := e.benchProcesses(ctx, responder.Pid())

	payload := make([]byte, payloadSize)
	rand.Read(payload)
	var rows []benchRow
	for _, n := range []int{1, inFlight} {
		// Each round measures both; the order alternates, so a machine
		// that speeds up or slows down favours neither.
		var goRuns, jsRuns []benchRow
		for round := range rounds {
			targets := []struct{ name, subject string }{{"go", goSubject}, {"js", subject}}
			if round%2 == 1 {
				targets[0], targets[1] = targets[1], targets[0]
			}
			for _, target := range targets {
				label := fmt.Sprintf("%s, %d in flight", target.name, n)
				if rounds > 1 {
					label += fmt.Sprintf(", round %d/%d", round+1, rounds)
				}
				before := procs.sampler.Sample()
				r, err := bench.Run(ctx, nc, bench.Options{
					Subject: target.subject, Payload: payload, Requests: requests, InFlight: n,
					Progress: func(done int) { fmt.Fprintf(e.stderr, "\r%-36s %d/%d", label, done, requests) },
				})
				used := procs.sampler.Sample().Since(before)
				fmt.Fprintf(e.stderr, "\r%-36s %d/%d\n", label, r.Requests, requests)
				if err != nil {
					return err
				}
				if r.Errors > 0 {
					return fmt.Errorf("%s: %d of %d requests failed, the first with: %v", label, r.Errors, r.Requests, r.FirstError)
				}
				row := benchRow{
					Target: target.name, Subject: target.subject, InFlight: n, Requests: r.Requests,
					P50us: us(r.P50), P90us: us(r.P90), P99us: us(r.P99), ReqPerS: r.Throughput,
					MBPerS: r.Throughput * float64(payloadSize) / 1e6,
				}
				procs.setCPU(&row, used)
				if target.name == "go" {
					goRuns = append(goRuns, row)
				} else {
					jsRuns = append(jsRuns, row)
				}
			}
		}
		// A round's JavaScript costs are set against the same round's Go.
		var p50Ratios, tputRatios, cpuRatios, cpuAllRatios []float64
		for i := range jsRuns {
			p50Ratios = append(p50Ratios, jsRuns[i].P50us/goRuns[i].P50us)
			tputRatios = append(tputRatios, jsRuns[i].ReqPerS/goRuns[i].ReqPerS)
			if js, g := jsRuns[i], goRuns[i]; js.NodeCPUus != nil && js.WorkerCPUus != nil && g.NodeCPUus != nil && g.ResponderCPUus != nil {
				own := *js.NodeCPUus + *js.WorkerCPUus - *g.NodeCPUus
				jsRuns[i].OwnCPUus = &own
				cpuRatios = append(cpuRatios, own / *g.ResponderCPUus)
				cpuAllRatios = append(cpuAllRatios, (*js.NodeCPUus+*js.WorkerCPUus)/(*g.NodeCPUus+*g.ResponderCPUus))
			}
		}
		goRow, jsRow := medianRow(goRuns), medianRow(jsRuns)
		jsRow.P50Ratio, jsRow.TputRate = median(p50Ratios), median(tputRatios)
		if len(cpuRatios) == len(jsRuns) {
			jsRow.CPURatio, jsRow.CPURatioAll = ptr(median(cpuRatios)), ptr(median(cpuAllRatios))
		}
		rows = append(rows, goRow, jsRow)
	}
	if procs.missing != "" {
		fmt.Fprintf(e.stderr, "CPU time per call: n/a (%s)\n", procs.missing)
	}
	if e.global.json {
		return e.printJSON(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TARGET\tIN FLIGHT\tP50\tP90\tP99\tREQ/S\tMB/S\tNODE CPU\tOWN CPU\tP50 RATIO\tREQ/S RATIO\tCPU RATIO\tWITH SERVER\t")
	for _, r := range rows {
		own := r.ResponderCPUus
		ratios := "\t\t\t\t"
		if r.Target == "js" {
			own = r.OwnCPUus
			ratios = fmt.Sprintf("%.2fx\t%.2fx\t%s\t%s\t", r.P50Ratio, r.TputRate, orNA(r.CPURatio, "%.2fx"), orNA(r.CPURatioAll, "%.2fx"))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0fµs\t%.0fµs\t%.0fµs\t%.0f\t%.1f\t%s\t%s\t%s\n", r.Target, r.InFlight, r.P50us, r.P90us, r.P99us, r.ReqPerS, r.MBPerS,
			orNA(r.NodeCPUus, "%.1fµs"), orNA(own, "%.1fµs"), ratios)
	}
	return tw.Flush()
}

// orNA formats v, or says it is not known.
func orNA(v *float64, format string) string {
	if v == nil {
		return "n/a"
	}
	return fmt.Sprintf(format, *v)
}

func ptr(v float64) *float64 { return &v }

// startResponder starts the plain Go responder: this program again, in its
// hidden responder mode, with the connection flags this command has.
func (e *env) startResponder(ctx context.Context, subject string) (*bench.ResponderProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start the Go responder: %w", err)
	}
	args := append(e.global.connectArgs(), benchResponderCommand)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return bench.StartResponder(ctx, exec.Command(self, args...), subject)
}

// benchResponderCommand is the hidden command a responder process runs;
// only a process bench.StartResponder started takes it.
const benchResponderCommand = "bench-responder"

// runBenchResponder is the responder process: it connects as the bench
// does and answers until the bench closes its stdin.
func runBenchResponder(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet(benchResponderCommand)
	if _, err := e.parse(fs, args, 0, 0); err != nil {
		return err
	}
	nc, err := e.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return bench.ServeResponder(nc, e.stdin, e.stdout)
}

// IsBenchResponder reports whether this process was started as `natsfn
// bench`'s Go responder; test binaries that run bench in process then run
// Run with their arguments instead of the tests.
func IsBenchResponder() bool { return bench.IsResponder() }

// benchProcs are the processes whose CPU time a bench measures: the nodes
// (hosting the embedded server, if any), the namespace's workers and the
// Go responder.
type benchProcs struct {
	sampler        *bench.CPUSampler
	nodes, workers int // how many of the sampled pids, in this order
	missing        string
}

// benchProcesses finds the pids of the nodes serving the namespace and of
// its workers with the administrator's roll call. Where the nodes are not
// all on this machine, or the roll call is not allowed, only the
// responder is sampled and missing says why.
func (e *env) benchProcesses(ctx context.Context, responder int) *benchProcs {
	p := &benchProcs{sampler: bench.NewCPUSampler(responder)}
	nodes, err := e.benchNodes(ctx)
	if err != nil {
		p.missing = err.Error()
		return p
	}
	var nodePids, workerPids []int
	for _, n := range nodes {
		if n.Pid == 0 || n.Machine == "" || n.Machine != bench.MachineID() {
			p.missing = "node " + n.Name + " runs on another machine"
			return p
		}
		nodePids = append(nodePids, n.Pid)
		for _, u := range n.ByNamespace {
			if u.Namespace == e.global.namespace && u.WorkerPid > 0 {
				workerPids = append(workerPids, u.WorkerPid)
			}
		}
	}
	pids := append(append(nodePids, workerPids...), responder)
	p.sampler, p.nodes, p.workers = bench.NewCPUSampler(pids...), len(nodePids), len(workerPids)
	return p
}

// benchNodes asks every node who it is, as the administrator.
func (e *env) benchNodes(ctx context.Context) ([]api.NodeInfo, error) {
	nc, err := e.connectAdmin()
	if err != nil {
		return nil, fmt.Errorf("the nodes' pids need the administrator's credentials: %v", err)
	}
	defer nc.Close()
	admin, err := client.NewAdmin(nc)
	if err != nil {
		return nil, err
	}
	nodes, err := admin.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("the nodes did not say their pids: %v", err)
	}
	return nodes, nil
}

// setCPU puts what the processes used during a measurement of row's
// target into it, per call.
func (p *benchProcs) setCPU(row *benchRow, used []time.Duration) {
	if p.missing != "" || row.Requests == 0 {
		if d := used[len(used)-1]; row.Target == "go" && d >= 0 && row.Requests > 0 {
			row.ResponderCPUus = ptr(perCall(d, row.Requests))
		}
		return
	}
	sum := func(ds []time.Duration) *float64 {
		var total time.Duration
		for _, d := range ds {
			if d < 0 {
				return nil // gone, or not visible after all
			}
			total += d
		}
		return ptr(perCall(total, row.Requests))
	}
	row.NodeCPUus = sum(used[:p.nodes])
	if row.Target == "go" {
		row.ResponderCPUus = sum(used[len(used)-1:])
	} else {
		row.WorkerCPUus = sum(used[p.nodes : p.nodes+p.workers])
	}
}

func perCall(d time.Duration, calls int) float64 { return us(d) / float64(calls) }

// medianRow is one target's rounds as one row: the median of each figure,
// the requests summed.
func medianRow(runs []benchRow) benchRow {
	row := runs[0]
	pick := func(f func(benchRow) float64) float64 {
		var v []float64
		for _, r := range runs {
			v = append(v, f(r))
		}
		return median(v)
	}
	row.P50us = pick(func(r benchRow) float64 { return r.P50us })
	row.P90us = pick(func(r benchRow) float64 { return r.P90us })
	row.P99us = pick(func(r benchRow) float64 { return r.P99us })
	row.ReqPerS = pick(func(r benchRow) float64 { return r.ReqPerS })
	row.MBPerS = pick(func(r benchRow) float64 { return r.MBPerS })
	pickCPU := func(f func(benchRow) *float64) *float64 {
		var v []float64
		for _, r := range runs {
			if f(r) == nil {
				return nil
			}
			v = append(v, *f(r))
		}
		return ptr(median(v))
	}
	row.NodeCPUus = pickCPU(func(r benchRow) *float64 { return r.NodeCPUus })
	row.WorkerCPUus = pickCPU(func(r benchRow) *float64 { return r.WorkerCPUus })
	row.ResponderCPUus = pickCPU(func(r benchRow) *float64 { return r.ResponderCPUus })
	row.OwnCPUus = pickCPU(func(r benchRow) *float64 { return r.OwnCPUus })
	row.Requests = 0
	for _, r := range runs {
		row.Requests += r.Requests
	}
	return row
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

func randomToken() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
