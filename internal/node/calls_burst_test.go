package node

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

// callPaths are the ways a call can reach a function: in the node's
// process, in a worker that takes its calls from NATS, and in a worker the
// node relays them to (a NATS system whose accounts natsfn does not own).
var callPaths = []struct {
	name string
	cfg  func(t *testing.T) Config
}{
	{"in-process", func(*testing.T) Config { return Config{Sandbox: "none"} }},
	{"worker", func(*testing.T) Config { return Config{} }},
	{"relay", func(t *testing.T) Config { return Config{ServerURL: testenv.NATS(t)} }},
}

// burstSize is the burst of the hardening issue: 5,000 requests at once.
const burstSize = 5000

// Every one of a burst of 5,000 concurrent requests to one function gets a
// reply, on every path a call can take: the function's result, or an
// error reply with a code (429 past the queue). None is dropped by NATS
// as a slow consumer.
func TestCallsBurstAllAnswered(t *testing.T) {
	for _, path := range callPaths {
		t.Run(path.name, func(t *testing.T) {
			n := startNode(t, path.cfg(t))
			c, nc := newClient(t, n)
			// A few milliseconds per call on two isolates: the burst
			// fills the queue, and what does not fit is answered 429.
			_, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "slowish", Triggers: []string{"slowish"}, Concurrency: 2},
				[]byte(`() => { const end = Date.now() + 2; while (Date.now() < end) {} return "ok" }`))
			if err != nil {
				t.Fatal(err)
			}
			got := burst(t, nc, "slowish", burstSize)
			t.Logf("%s: %d of %d answered: %v", path.name, got.answered(), burstSize, got.byCode)
			if got.answered() != burstSize {
				t.Fatalf("%d of %d requests answered (%v)", got.answered(), burstSize, got.byCode)
			}
			if got.byCode["ok"] == 0 {
				t.Fatalf("no call was served: %v", got.byCode)
			}
			for code := range got.byCode {
				if code != "ok" && code != "429" {
					t.Errorf("unexpected reply %q: %v", code, got.byCode)
				}
			}
		})
	}
}

type burstResult struct {
	byCode map[string]int // "ok" for results, else the error code
}

func (r burstResult) answered() int {
	n := 0
	for _, c := range r.byCode {
		n += c
	}
	return n
}

// burst publishes n requests to subject at once, each with its own reply
// subject under one inbox, and collects the replies until every request
// is answered or the replies stop coming (no reply for a minute: the
// missing ones are lost, as a caller would see it).
func burst(t *testing.T, nc *nats.Conn, subject string, n int) burstResult {
	t.Helper()
	inbox := nats.NewInbox()
	var mu sync.Mutex
	seen := make([]bool, n)
	res := burstResult{byCode: map[string]int{}}
	progress := make(chan struct{}, 1)
	sub, err := nc.Subscribe(inbox+".*", func(m *nats.Msg) {
		i, err := strconv.Atoi(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
		code := "ok"
		switch {
		case m.Header.Get(api.HeaderErrorCode) != "":
			code = m.Header.Get(api.HeaderErrorCode)
		case string(m.Data) != "ok":
			code = "bad body " + strconv.Quote(string(m.Data))
		}
		mu.Lock()
		if err == nil && i < n && !seen[i] {
			seen[i] = true
			res.byCode[code]++
		}
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1) // the caller's side is not under test
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := nc.PublishRequest(subject, inbox+"."+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		mu.Lock()
		done := res.answered() == n
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-progress:
		case <-time.After(time.Minute):
			mu.Lock()
			defer mu.Unlock()
			return burstResult{byCode: copyCounts(res.byCode)}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return burstResult{byCode: copyCounts(res.byCode)}
}

func copyCounts(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
