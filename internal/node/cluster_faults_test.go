package node

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/internal/testenv"
)

// TestClusterFaultsMeasure measures, on a 3-server cluster with two nodes
// and a steady load of a kv-using function, the calls answered during each
// fault and the time until every call is answered again. It reports, it
// does not assert: run it with
//
//	NATSFN_MEASURE_FAULTS=1 go test -run TestClusterFaultsMeasure -v ./internal/node/
func TestClusterFaultsMeasure(t *testing.T) {
	if os.Getenv("NATSFN_MEASURE_FAULTS") == "" {
		t.Skip("a measurement: set NATSFN_MEASURE_FAULTS=1 to run it")
	}
	const (
		rate   = 200 // calls per second
		window = 20 * time.Second
	)
	c := testenv.NewCluster(t, 3)
	clusterNode(t, c.URL(0), "a", 0, nil)
	clusterNode(t, c.URL(1), "b", 0, nil)
	cl, nc, js := clusterClient(t, c)
	// Each call writes and reads back a key of its own (of 1000, reused
	// long after), so concurrent calls do not read each other's values.
	deploy(t, cl, "rw", `(s, p) => { const k = "k" + (Number(p.text()) % 1000); hostServices.kv.set(k, p); return hostServices.kv.get(k) }`, "rw")
	callUntil(t, nc, "rw", "1", "1")

	load := startPacedLoad(nc, "rw", rate)
	defer load.stop()
	measure := func(name string, fault func()) {
		time.Sleep(2 * time.Second) // a quiet stretch before the fault: measured, not waited on
		at := time.Now()
		fault()
		// Calls are counted once they have had their 5 s.
		time.Sleep(window - time.Since(at))
		ok, failed, lastFail, reasons := load.between(at, at.Add(window-callTimeout))
		recover := time.Duration(0)
		if !lastFail.IsZero() {
			recover = lastFail.Sub(at)
		}
		t.Logf("%-34s calls %5d  answered %6.2f%%  failed %4d  all answered again after %v",
			name, ok+failed, 100*float64(ok)/float64(max(1, ok+failed)), failed, recover.Round(10*time.Millisecond))
		for reason, n := range reasons {
			t.Logf("    %4d failed: %s", n, reason)
		}
	}

	measure("baseline (no fault)", func() {})
	measure("one server killed (s3)", func() { c.Kill(2) })
	measure("s3 restarted", func() { c.Restart(2) })
	waitStreamsLed(t, c, js)
	leader := c.MetaLeader()
	measure(fmt.Sprintf("meta leader killed (%s)", c.Name(leader)), func() { c.Kill(leader) })
	measure("meta leader restarted", func() { c.Restart(leader) })
	waitStreamsLed(t, c, js)
	measure("s3's disk wiped, s3 restarted", func() { c.WipeAndRestart(2) })
	waitStreamsLed(t, c, js)
	measure("s1 killed (node a's server)", func() { c.Kill(0) })
	measure("s1 restarted", func() { c.Restart(0) })
	waitStreamsLed(t, c, js)
	waitStreamsLed(t, c, js)

	streams := natsfnStreams(t, js)
	names := make([]string, 0, len(streams))
	for name := range streams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Logf("stream %-40s replicas %d", name, streams[name])
	}
}

// pacedLoad calls a subject at a steady rate, each call on its own, and records
// when each began and whether it was answered.
type pacedLoad struct {
	mu    sync.Mutex
	calls []loadCall
	quit  chan struct{}
	wg    sync.WaitGroup
}

type loadCall struct {
	at     time.Time
	ok     bool
	reason string // why a call failed
}

func startPacedLoad(nc *nats.Conn, subject string, rate int) *pacedLoad {
	l := &pacedLoad{quit: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.quit:
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go func(payload string) {
				defer l.wg.Done()
				at := time.Now()
				m, err := nc.Request(subject, []byte(payload), callTimeout)
				ok := err == nil && string(m.Data) == payload
				reason := ""
				switch {
				case err != nil:
					reason = err.Error()
				case !ok:
					reason = m.Header.Get("Nats-Service-Error-Code") + " " + m.Header.Get("Nats-Service-Error")
				}
				l.mu.Lock()
				l.calls = append(l.calls, loadCall{at: at, ok: ok, reason: reason})
				l.mu.Unlock()
			}(fmt.Sprint(i))
		}
	}()
	return l
}

func (l *pacedLoad) stop() {
	close(l.quit)
	l.wg.Wait()
}

// callTimeout is how long a call of the load waits for its reply.
const callTimeout = 5 * time.Second

// between counts the calls begun from `from` until `until`, and says when
// the last failed one began.
func (l *pacedLoad) between(from, until time.Time) (ok, failed int, lastFail time.Time, reasons map[string]int) {
	reasons = map[string]int{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		if c.at.Before(from) || c.at.After(until) {
			continue
		}
		if c.ok {
			ok++
		} else {
			failed++
			reasons[c.reason]++
			if c.at.After(lastFail) {
				lastFail = c.at
			}
		}
	}
	return ok, failed, lastFail, reasons
}
