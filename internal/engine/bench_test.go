package engine

import (
	"context"
	"testing"
	"time"
)

func BenchmarkInvokeEcho(b *testing.B) {
	iso := newIsolate(b, `(s, p) => p`, Options{})
	inv := &Invocation{Subject: "bench.echo", Reply: "_INBOX.abc", Payload: make([]byte, 65)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if res := iso.Invoke(ctx, inv); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func BenchmarkInvokeJSON(b *testing.B) {
	iso := newIsolate(b, `(s, p) => ({ triggered_on: s, payload: p.text() })`, Options{})
	inv := &Invocation{Subject: "bench.echo", Payload: []byte(`{"hello":"world"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if res := iso.Invoke(context.Background(), inv); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func BenchmarkInvokeHostCall(b *testing.B) {
	iso := newIsolate(b, `(s, p) => hostServices.kv.get("k")`, Options{Host: echoHost{}})
	inv := &Invocation{Subject: "bench.host"}
	b.ReportAllocs()
	for b.Loop() {
		if res := iso.Invoke(context.Background(), inv); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkInvokeAsyncHostCall is BenchmarkInvokeHostCall through
// hostServices.promises: a goroutine and a turn of the event loop.
func BenchmarkInvokeAsyncHostCall(b *testing.B) {
	iso := newIsolate(b, `async (s, p) => await hostServices.promises.kv.get("k")`, Options{Host: echoHost{}})
	inv := &Invocation{Subject: "bench.host"}
	b.ReportAllocs()
	for b.Loop() {
		if res := iso.Invoke(context.Background(), inv); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkInvokeTimer awaits a timer of 0 ms.
func BenchmarkInvokeTimer(b *testing.B) {
	iso := newIsolate(b, `(s, p) => new Promise((r) => setTimeout(() => r(p), 0))`, Options{})
	inv := &Invocation{Subject: "bench.timer", Payload: make([]byte, 65)}
	b.ReportAllocs()
	for b.Loop() {
		if res := iso.Invoke(context.Background(), inv); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

func BenchmarkNewIsolate(b *testing.B) {
	p, err := Compile("echo.js", `(s, p) => p`)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		iso, err := NewIsolate(p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		iso.Dispose()
	}
}

// TestNoValueLeak checks that an invocation leaves no V8 values behind:
// a leak here is what killed Nex's worker.
func TestNoValueLeak(t *testing.T) {
	iso := newIsolate(t, `(s, p) => hostServices.kv.get("k")`, Options{Host: echoHost{}})
	invoke(iso, "warm")
	before := iso.ctx.RetainedValueCount()
	for n := 0; n < 1000; n++ {
		invoke(iso, "x")
	}
	if after := iso.ctx.RetainedValueCount(); after != before {
		t.Fatalf("retained values grew from %d to %d over 1000 calls", before, after)
	}
}
