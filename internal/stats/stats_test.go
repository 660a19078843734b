package stats

import (
	"fmt"
	"testing"
	"time"
)

func TestCallBuckets(t *testing.T) {
	var f Function
	f.Call(50*time.Microsecond, 0)
	f.Call(100*time.Microsecond, 0) // on a bound: that bucket
	f.Call(3*time.Millisecond, 429)
	f.Call(time.Minute, 500)
	f.Call(-time.Second, 0) // a clock step back counts as 0
	c := f.Snapshot()
	if c.Calls != 5 || c.ClientErrors != 1 || c.ServerErrors != 1 || c.Errors() != 2 {
		t.Errorf("counts: %+v", c)
	}
	if c.Buckets[0] != 3 || c.Buckets[5] != 1 /* 2.5ms < 3ms <= 5ms */ || c.Buckets[NumBuckets-1] != 1 {
		t.Errorf("buckets: %v", c.Buckets)
	}
	if want := uint64(150*time.Microsecond + 3*time.Millisecond + time.Minute); c.LatencyNanos != want {
		t.Errorf("latency sum %d, want %d", c.LatencyNanos, want)
	}
}

func TestHostCalls(t *testing.T) {
	var f Function
	for op, service := range map[string]int{"kv.get": ServiceKV, "obj.put": ServiceObjectStore, "msg.request": ServiceMessaging, "http.request": ServiceHTTP, "kv": -1, "bogus.x": -1, "": -1} {
		if got := ServiceOf(op); got != service {
			t.Errorf("ServiceOf(%q) = %d, want %d", op, got, service)
		}
		f.HostCall(ServiceOf(op), op == "kv.get")
	}
	c := f.Snapshot()
	if c.HostCalls != [NumServices]uint64{1, 1, 1, 1} || c.HostErrors != [NumServices]uint64{1, 0, 0, 0} {
		t.Errorf("host calls %v, errors %v", c.HostCalls, c.HostErrors)
	}
	var none *Function // counting into nil is a no-op
	none.Call(time.Second, 500)
	none.HostCall(ServiceKV, true)
	none.Add(&c)
	if s := none.Snapshot(); !s.IsZero() {
		t.Errorf("nil counted %+v", s)
	}
}

// A worker's report: Take empties the counters, Append and Parse carry
// them, Add adds them up in the node.
func TestTakeAppendParseAdd(t *testing.T) {
	var worker, node Function
	worker.Call(time.Millisecond, 0)
	worker.Call(time.Second, 500)
	worker.HostCall(ServiceHTTP, true)
	want := worker.Snapshot()
	b := want.Append([]byte{0xff})
	got, rest, ok := Parse(b[1:])
	if !ok || len(rest) != 0 || got != want {
		t.Fatalf("parsed %+v (ok %v, %d left), want %+v", got, ok, len(rest), want)
	}
	if taken := worker.Take(); taken != want {
		t.Errorf("took %+v", taken)
	}
	if s := worker.Snapshot(); !s.IsZero() {
		t.Errorf("left after Take: %+v", s)
	}
	node.Add(&got)
	node.Add(&got)
	want.Merge(&want)
	if s := node.Snapshot(); s != want {
		t.Errorf("added %+v, want %+v", s, want)
	}
	if _, _, ok := Parse(b[1 : len(b)-1]); ok {
		t.Error("parsed a truncated record")
	}
}

// Past maxFunctions a namespace's functions share the Other series; a
// function named like it shares it too; other namespaces keep their own.
func TestRegistryCapsFunctions(t *testing.T) {
	r := NewRegistry(2)
	a, b := r.For("ns", "a"), r.For("ns", "b")
	c, d := r.For("ns", "c"), r.For("ns", "d")
	if a == b || c == d || c == a || r.For("ns", "a") != a || r.For("ns", "c") != c {
		t.Fatal("counters not one per function")
	}
	named := r.For("ns", Other)
	if r.For("other-ns", "c") == c {
		t.Error("namespaces share a cap")
	}
	a.Call(0, 0)
	c.Call(0, 0)
	d.CallFailed(0, 500, "boom")
	named.Call(0, 0)
	// Past the cap a function still has exact counters of its own.
	if s := c.Snapshot(); s.Calls != 1 || s.Errors() != 0 {
		t.Errorf("c: %+v", s)
	}
	if s := d.Snapshot(); s.Calls != 1 || s.ServerErrors != 1 {
		t.Errorf("d: %+v", s)
	}
	if e := d.LastError(); e == nil || e.Code != 500 || e.Message != "boom" || r.For("ns", "_other").LastError() != nil {
		t.Errorf("d's last error %+v", e)
	}
	var got []string
	for _, s := range r.Snapshot() {
		got = append(got, s.Namespace+"/"+s.Function)
		if s.Function == Other && (s.Counts.Calls != 3 || s.Counts.ServerErrors != 1) {
			t.Errorf("_other: %+v", s.Counts)
		}
	}
	if want := "[ns/_other ns/a ns/b other-ns/c]"; fmt.Sprint(got) != want {
		t.Errorf("series %v, want %s", got, want)
	}
}

// BenchmarkCall is what counting adds to each call on the hot path.
func BenchmarkCall(b *testing.B) {
	var f Function
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Call(40*time.Microsecond, 0)
		}
	})
}

// A worker reports its last error with its counts; the node reads it
// within the record's bounds, whatever the worker wrote.
func TestLastErrorRecord(t *testing.T) {
	var worker, node Function
	if b := AppendLastError(nil, worker.TakeLastError()); len(b) != 8 {
		t.Fatalf("no error: %d bytes", len(b))
	}
	worker.CallFailed(time.Millisecond, 408, "function timed out")
	b := AppendLastError([]byte{0xff}, worker.TakeLastError())
	if worker.LastError() != nil {
		t.Error("TakeLastError kept it")
	}
	e, rest, ok := ParseLastError(b[1:])
	if !ok || len(rest) != 0 || e == nil || e.Code != 408 || e.Message != "function timed out" {
		t.Fatalf("parsed %+v (ok %v, %d left)", e, ok, len(rest))
	}
	node.AddLastError(e)
	if got := node.LastError(); got == nil || *got != *e {
		t.Errorf("node's last error %+v", got)
	}
	none, rest, ok := ParseLastError(AppendLastError(nil, nil))
	if !ok || none != nil || len(rest) != 0 {
		t.Errorf("nil: %+v %v", none, ok)
	}
	for _, bad := range [][]byte{b[1:7], b[1 : len(b)-1], {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}} {
		if _, _, ok := ParseLastError(bad); ok {
			t.Errorf("parsed % x", bad)
		}
	}
	long := &LastError{Code: 500, Message: string(make([]byte, 2*MaxErrorMessage))}
	if e, _, ok := ParseLastError(AppendLastError(nil, long)); !ok || len(e.Message) != MaxErrorMessage {
		t.Errorf("long message: ok %v", ok)
	}
}
