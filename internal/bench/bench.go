// Package bench measures request/reply latency and throughput over NATS,
// and runs the plain Go responder natsfn compares itself against.
package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Options describe one measurement.
type Options struct {
	Subject  string
	Payload  []byte
	Requests int           // total requests; 0 means 10,000
	InFlight int           // concurrent requesters; 0 means 1
	Timeout  time.Duration // per request; 0 means 5s
	// Progress, when set, is called about every 200 ms with the requests
	// done so far.
	Progress func(done int)
}

// Result summarises a measurement.
type Result struct {
	Requests   int
	Errors     int
	Elapsed    time.Duration
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Throughput float64 // successful requests per second
	FirstError error
}

// Run sends the requests and measures each round trip. A reply carrying a
// Nats-Service-Error header counts as an error.
func Run(ctx context.Context, nc *nats.Conn, o Options) (Result, error) {
	if o.Requests == 0 {
		o.Requests = 10000
	}
	if o.InFlight <= 0 {
		o.InFlight = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Subject == "" {
		return Result{}, errors.New("bench: subject is required")
	}
	latencies := make([]time.Duration, o.Requests)
	var next, done, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if o.Progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					o.Progress(int(done.Load()))
				case <-stopProgress:
					return
				}
			}
		}()
	}
	start := time.Now()
	for w := 0; w < o.InFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(o.Requests) {
					return
				}
				t0 := time.Now()
				msg, err := nc.Request(o.Subject, o.Payload, o.Timeout)
				latencies[i] = time.Since(t0)
				if err == nil && msg.Header != nil && msg.Header.Get("Nats-Service-Error-Code") != "" {
					err = fmt.Errorf("error reply %s: %s", msg.Header.Get("Nats-Service-Error-Code"), msg.Header.Get("Nats-Service-Error"))
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	progressDone.Wait()

	n := int(done.Load())
	lat := slices.Clone(latencies[:n])
	slices.Sort(lat)
	r := Result{Requests: n, Errors: int(failed.Load()), Elapsed: elapsed}
	if n > 0 {
		r.P50, r.P90, r.P99 = lat[n*50/100], lat[n*90/100], lat[min(n*99/100, n-1)]
		r.Throughput = float64(n-r.Errors) / elapsed.Seconds()
	}
	if e := firstErr.Load(); e != nil {
		r.FirstError = *e
	}
	return r, ctx.Err()
}

// Responder answers every request on subject with its payload: the plain Go
// nats.go service natsfn measures itself against. Stop it with Unsubscribe.
func Responder(nc *nats.Conn, subject string) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(subject, "natsfn-bench-baseline", func(m *nats.Msg) {
		m.Respond(m.Data)
	})
	if err != nil {
		return nil, err
	}
	return sub, nc.Flush()
}
