package executor

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

// The rate limit on a clock the test moves: a burst of LogBurst lines, then
// LogRate a second, and the lines dropped are counted in one notice.
func TestLogRateLimited(t *testing.T) {
	var lines []string
	f := NewFunction(FunctionConfig{Info: api.FunctionInfo{Spec: api.FunctionSpec{Namespace: "default", Name: "chatty"}},
		Log: func(level, line string) { lines = append(lines, level+":"+line) }})
	clock := time.Unix(1000, 0)
	f.logLimit = newLogLimiter(func() time.Time { return clock })

	for i := 0; i < 1000; i++ {
		f.log("info", strconv.Itoa(i))
	}
	if len(lines) != LogBurst || lines[LogBurst-1] != "info:"+strconv.Itoa(LogBurst-1) {
		t.Fatalf("%d lines kept of a burst of 1000, the last %q; want the first %d", len(lines), lines[len(lines)-1], LogBurst)
	}
	lines = nil
	clock = clock.Add(time.Second)
	for i := 0; i < 1000; i++ {
		f.log("info", "later "+strconv.Itoa(i))
	}
	want := "warn:" + droppedNotice(1000-LogBurst)
	if len(lines) != LogRate+1 || lines[0] != want || lines[1] != "info:later 0" {
		t.Fatalf("a second later: %d lines, starting %q; want the notice %q and %d lines", len(lines), lines[:2], want, LogRate)
	}
	// What is dropped last is reported when the function stops.
	lines = nil
	f.Stop()
	if want := "warn:" + droppedNotice(1000-LogRate); len(lines) != 1 || lines[0] != want {
		t.Fatalf("at stop: %q, want %q", lines, want)
	}
}

// A real function logging 1,000 lines of 20 KiB at once: what reaches the
// node's log and the function's log subject is within the line size and
// the burst, and every line is either kept or counted as dropped.
func TestLogLinesLimited(t *testing.T) {
	records := &recordSizes{}
	e, nc := newExecutor(t, Config{Logger: slog.New(records)}, nil)
	sub, err := nc.SubscribeSync(api.LogSubject("default", "flood"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	load(t, e, "flood", `() => { const s = "x".repeat(20 << 10); for (let i = 0; i < 1000; i++) console.log(s); return "ok" }`, "flood")
	if m := request(t, nc, "flood", ""); string(m.Data) != "ok" {
		t.Fatalf("reply %q %v", m.Data, m.Header)
	}
	e.Unload("default", "flood")
	// The log entries and this one travel on one connection, in order.
	e.cfg.Conn.Publish(api.LogSubject("default", "flood"), []byte(`{"message":"end"}`))
	e.cfg.Conn.Flush()

	kept, dropped, notices := 0, 0, 0
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var entry api.LogEntry
		if err := json.Unmarshal(m.Data, &entry); err != nil {
			t.Fatal(err)
		}
		if entry.Message == "end" {
			break
		}
		if n, ok := strings.CutSuffix(entry.Message, droppedNotice(0)[1:]); ok {
			d, _ := strconv.Atoi(n)
			dropped += d
			notices++
			continue
		}
		kept++
		if len(entry.Message) > MaxLogLine+64 || !strings.Contains(entry.Message, "more bytes cut]") {
			t.Fatalf("a line of %d bytes: %q...", len(entry.Message), entry.Message[:32])
		}
	}
	if kept+dropped != 1000 || dropped == 0 || kept < LogBurst {
		t.Fatalf("%d lines kept and %d dropped of 1000", kept, dropped)
	}
	// The node's own log got the same lines.
	records.mu.Lock()
	defer records.mu.Unlock()
	if records.n != kept+notices || records.longest > MaxLogLine+64 {
		t.Fatalf("the node's log: %d lines, the longest %d bytes; want %d within %d", records.n, records.longest, kept+notices, MaxLogLine)
	}
}

// recordSizes is an slog.Handler that counts the records of function logs.
type recordSizes struct {
	mu      sync.Mutex
	n       int
	longest int
}

func (r *recordSizes) Enabled(context.Context, slog.Level) bool { return true }
func (r *recordSizes) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recordSizes) WithGroup(string) slog.Handler            { return r }
func (r *recordSizes) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.longest = max(r.longest, len(rec.Message))
	return nil
}
