package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/api"
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
	// Ratios against the plain Go responder at the same in-flight count.
	P50Ratio float64 `json:"p50_ratio,omitempty"`
	TputRate float64 `json:"throughput_ratio,omitempty"`
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

	// The plain Go responder runs here, on its own connection to the same
	// server: the baseline every ratio is against.
	baselineConn, err := e.connect()
	if err != nil {
		return err
	}
	defer baselineConn.Close()
	goSubject := "natsfn.bench.go." + token
	if _, err := bench.Responder(baselineConn, goSubject); err != nil {
		return err
	}

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
				r, err := bench.Run(ctx, nc, bench.Options{
					Subject: target.subject, Payload: payload, Requests: requests, InFlight: n,
					Progress: func(done int) { fmt.Fprintf(e.stderr, "\r%-36s %d/%d", label, done, requests) },
				})
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
				if target.name == "go" {
					goRuns = append(goRuns, row)
				} else {
					jsRuns = append(jsRuns, row)
				}
			}
		}
		goRow, jsRow := medianRow(goRuns), medianRow(jsRuns)
		var p50Ratios, tputRatios []float64
		for i := range jsRuns {
			p50Ratios = append(p50Ratios, jsRuns[i].P50us/goRuns[i].P50us)
			tputRatios = append(tputRatios, jsRuns[i].ReqPerS/goRuns[i].ReqPerS)
		}
		jsRow.P50Ratio, jsRow.TputRate = median(p50Ratios), median(tputRatios)
		rows = append(rows, goRow, jsRow)
	}
	if e.global.json {
		return e.printJSON(rows)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TARGET\tIN FLIGHT\tP50\tP90\tP99\tREQ/S\tMB/S\tP50 RATIO\tREQ/S RATIO\t")
	for _, r := range rows {
		ratios := "\t\t"
		if r.Target == "js" {
			ratios = fmt.Sprintf("%.2fx\t%.2fx\t", r.P50Ratio, r.TputRate)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0fµs\t%.0fµs\t%.0fµs\t%.0f\t%.1f\t%s\n", r.Target, r.InFlight, r.P50us, r.P90us, r.P99us, r.ReqPerS, r.MBPerS, ratios)
	}
	return tw.Flush()
}

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
