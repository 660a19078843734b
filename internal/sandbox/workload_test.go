package sandbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/natsfn/natsfn/internal/engine"
)

// v8Source exercises what a tenant's function can make V8 do: JIT-hot
// loops, allocation and GC, typed arrays, SharedArrayBuffer, Date, JSON.
const v8Source = `(s, p) => {
	const mode = p.text();
	if (mode === "loop") { let x = 0; for (let i = 0; i < 5e7; i++) x = (x + i * 31) % 1000003; return x }
	if (mode === "alloc") {
		let keep = [];
		for (let i = 0; i < 2e5; i++) { keep.push({i, s: "v" + i, a: new Array(8).fill(i)}); if (keep.length > 5e4) keep = [] }
		const bufs = []; for (let i = 0; i < 64; i++) bufs.push(new Uint8Array(1 << 20).fill(i));
		return bufs.length + keep.length
	}
	if (mode === "sab") { const sab = new SharedArrayBuffer(1 << 16); const v = new Int32Array(sab); Atomics.add(v, 0, 5); return Atomics.load(v, 0) }
	if (mode === "misc") { return JSON.stringify({d: new Date(0).toString(), i: new Intl.DateTimeFormat("en-US", {timeZone: "UTC"}).format(0), l: (1234.5).toLocaleString("de-DE"), n: Date.now() > 0, r: Math.random() < 1, u: crypto.randomUUID().length, re: /a(b+)c/.exec("xabbbc")[1], big: (2n ** 200n).toString().length}) }
	if (mode === "spin") { for (;;) {} }
	return "?"
}`

// runV8Workload compiles and runs v8Source in several isolates on several
// goroutines, with a timeout and disposal, and says what went wrong.
func runV8Workload() error {
	prog, err := engine.Compile("workload.js", v8Source)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iso, err := engine.NewIsolate(prog, engine.Options{HeapBytes: 64 << 20})
			if err != nil {
				errs <- fmt.Errorf("isolate: %w", err)
				return
			}
			defer iso.Dispose()
			for _, mode := range []string{"loop", "alloc", "sab", "misc", "alloc"} {
				res := iso.Invoke(context.Background(), &engine.Invocation{Subject: "s", Payload: []byte(mode)})
				if res.Err != nil {
					errs <- fmt.Errorf("%s: %v %s", mode, res.Err, res.Detail)
					return
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			res := iso.Invoke(ctx, &engine.Invocation{Subject: "s", Payload: []byte("spin")})
			cancel()
			if res.Err == nil || res.Err.Code != 408 {
				errs <- fmt.Errorf("spin: got %v, want a timeout", res.Err)
				return
			}
			if res := iso.Invoke(context.Background(), &engine.Invocation{Subject: "s", Payload: []byte("sab")}); string(res.Body) != "5" {
				errs <- fmt.Errorf("after timeout: %q %v", res.Body, res.Err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
