package engine

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/testenv"
)

// invokeJSON runs subject with a generous deadline and decodes the reply.
func invokeJSON(t *testing.T, iso *Isolate, subject string, out any) {
	t.Helper()
	res := call(iso, subject, "")
	if res.Err != nil {
		t.Fatalf("%s: %v: %s", subject, res.Err, res.Detail)
	}
	if err := json.Unmarshal(res.Body, out); err != nil {
		t.Fatalf("%s: %v in %q", subject, err, res.Body)
	}
}

func TestTimers(t *testing.T) {
	src := `(s) => {
		const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
		switch (s) {
		case 'order': return new Promise((resolve) => {
			const out = [];
			setTimeout((a, b) => out.push('late:' + a + b), 20, 'x', 'y');
			setTimeout(function () { out.push('zero:' + (this === globalThis)) }, 0);
			setTimeout(() => out.push('negative'), -5);
			setTimeout(() => out.push('undefined delay'));
			setTimeout(() => out.push('NaN delay'), 'soon');
			setTimeout(() => { out.push('last'); resolve(out) }, 30);
		});
		case 'clear': return (async () => {
			const out = [];
			const a = setTimeout(() => out.push('a'), 0);
			const b = setTimeout(() => out.push('b'), 0);
			const i = setInterval(() => out.push('i'), 0);
			clearTimeout(a);
			clearInterval(i);
			clearTimeout(12345678);
			clearTimeout('nonsense');
			await sleep(5);
			return { out, ids: [a, b, i].every((id) => Number.isInteger(id) && id > 0) && new Set([a, b, i]).size === 3 };
		})();
		case 'interval': return new Promise((resolve) => {
			let n = 0;
			const out = [];
			const id = setInterval((tag) => {
				out.push(tag + ++n);
				if (n === 5) { clearInterval(id); setTimeout(() => resolve(out), 10); }
			}, 1, 'tick');
		});
		case 'clear inside': return new Promise((resolve) => {
			const out = [];
			let second;
			setTimeout(() => { out.push('first'); clearTimeout(second); }, 0);
			second = setTimeout(() => out.push('second'), 0);
			setTimeout(() => resolve(out), 5);
		});
		case 'errors': return (async () => {
			const out = {};
			try { setTimeout('globalThis.x = 1', 0) } catch (e) { out.string = e.name }
			try { setInterval(undefined) } catch (e) { out.undef = e.name }
			setTimeout(() => { throw new Error('from a timer') }, 0);
			await sleep(2);
			out.after = 'went on';
			return out;
		})();
		}
	}`
	var lines []string
	var mu sync.Mutex
	iso := newIsolate(t, src, Options{Console: func(level, line string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, level+" "+line)
	}})
	var order []string
	invokeJSON(t, iso, "order", &order)
	if got := strings.Join(order, ","); got != "zero:true,negative,undefined delay,NaN delay,late:xy,last" {
		t.Errorf("order: %s", got)
	}
	var clr struct {
		Out []string
		IDs bool
	}
	invokeJSON(t, iso, "clear", &clr)
	if strings.Join(clr.Out, ",") != "b" || !clr.IDs {
		t.Errorf("clear: %+v", clr)
	}
	var ticks []string
	invokeJSON(t, iso, "interval", &ticks)
	if got := strings.Join(ticks, ","); got != "tick1,tick2,tick3,tick4,tick5" {
		t.Errorf("interval: %s", got)
	}
	var inside []string
	invokeJSON(t, iso, "clear inside", &inside)
	if got := strings.Join(inside, ","); got != "first" {
		t.Errorf("clear inside: %s", got)
	}
	var errs map[string]string
	invokeJSON(t, iso, "errors", &errs)
	if errs["string"] != "TypeError" || errs["undef"] != "TypeError" || errs["after"] != "went on" {
		t.Errorf("errors: %v", errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error Error: from a timer") {
		t.Errorf("the timer's exception was logged as %q", lines)
	}
}

// TestTimersEndWithReply: a timer still armed when the reply is decided
// never runs, whether the function returned a value or its promise
// settled first. The next invocation waits for a later timer of its own:
// a timer left over, due earlier, would run before it.
func TestTimersEndWithReply(t *testing.T) {
	src := `(s) => {
		switch (s) {
		case 'sync': setTimeout(() => { globalThis.ran = 'sync' }, 0); setInterval(() => { globalThis.ran = 'interval' }, 0); return 'armed';
		case 'async': return (async () => { setTimeout(() => { globalThis.ran = 'async' }, 0); await null; return 'armed'; })();
		case 'check': return new Promise((r) => setTimeout(() => r(String(globalThis.ran)), 20));
		}
	}`
	var lines []string
	iso := newIsolate(t, src, Options{Console: func(level, line string) { lines = append(lines, line) }})
	for _, s := range []string{"sync", "async"} {
		if res := call(iso, s, ""); res.Err != nil || string(res.Body) != "armed" {
			t.Fatalf("%s: %v %s %q", s, res.Err, res.Detail, res.Body)
		}
		if res := call(iso, "check", ""); res.Err != nil || string(res.Body) != "undefined" {
			t.Fatalf("after %s: %v %s %q", s, res.Err, res.Detail, res.Body)
		}
	}
}

func TestAwaitingLongTimerTimesOut(t *testing.T) {
	iso := newIsolate(t, `(s) => s === 'wait' ? new Promise((r) => setTimeout(r, 3600e3)) : 'fine'`, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	res := iso.Invoke(ctx, &Invocation{Subject: "wait"})
	if res.Err == nil || res.Err.Code != api.CodeTimeout {
		t.Fatalf("got %v (%s), want a timeout", res.Err, res.Detail)
	}
	for n := 0; n < 3; n++ {
		if res := call(iso, "again", ""); res.Err != nil || string(res.Body) != "fine" {
			t.Fatalf("after the timeout: %v %q", res.Err, res.Body)
		}
	}
}

func TestNeverSettled(t *testing.T) {
	iso := newIsolate(t, `() => new Promise(() => {})`, Options{})
	res := invoke(iso, "")
	if res.Err == nil || !strings.Contains(res.Detail, "no timer or host call") {
		t.Fatalf("got %v (%s)", res.Err, res.Detail)
	}
}

// funcHost is a Host made of a function.
type funcHost func(ctx context.Context, op string, args, body []byte) (any, []byte, error)

func (f funcHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	return f(ctx, op, args, body)
}

// TestHostCallsOverlap: each call waits until all four have arrived, so
// the function can only finish if the four run at the same time.
func TestHostCallsOverlap(t *testing.T) {
	const n = 4
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	host := funcHost(func(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return map[string]bool{"found": true}, append([]byte("v"), args...), nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	})
	iso := newIsolate(t, `async () => {
		const vals = await Promise.all([1, 2, 3, 4].map((k) => hostServices.promises.kv.get('k' + k)));
		return vals.map((v) => v.text());
	}`, Options{Host: host})
	var got []string
	invokeJSON(t, iso, "go", &got)
	if strings.Join(got, ",") != `v["k1"],v["k2"],v["k3"],v["k4"]` {
		t.Fatalf("got %q", got)
	}
}

// TestInFlightBound: of many calls started at once, at most maxOpsInFlight
// run at a time; the others wait their turn and all complete.
func TestInFlightBound(t *testing.T) {
	const calls = maxOpsInFlight + 40
	var mu sync.Mutex
	running, most, total := 0, 0, 0
	release := make(chan struct{})
	host := funcHost(func(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
		mu.Lock()
		running++
		total++
		most = max(most, running)
		mu.Unlock()
		defer func() {
			mu.Lock()
			running--
			mu.Unlock()
		}()
		select {
		case <-release:
			return []string{"x"}, nil, nil
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	})
	iso := newIsolate(t, `async () => {
		const all = [];
		for (let k = 0; k < `+itoa(calls)+`; k++) all.push(hostServices.promises.kv.keys());
		return (await Promise.all(all)).length;
	}`, Options{Host: host})
	done := make(chan Result, 1)
	go func() { done <- call(iso, "go", "") }()
	testenv.Eventually(t, "the first calls to arrive", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return running == maxOpsInFlight
	})
	close(release)
	res := <-done
	if res.Err != nil || string(res.Body) != itoa(calls) {
		t.Fatalf("got %v (%s) %q", res.Err, res.Detail, res.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != maxOpsInFlight || total != calls {
		t.Fatalf("%d calls ran, at most %d at once; want %d and %d", total, most, calls, maxOpsInFlight)
	}
}

// TestQueueBound: calls past maxOpsQueued reject with RATE_LIMITED while
// the others wait; the function's reply cancels those. No call finishes
// before the reply, so no queued one may start: at most maxOpsInFlight
// ever reach the host.
func TestQueueBound(t *testing.T) {
	var mu sync.Mutex
	arrived, cancelled := 0, 0
	host := funcHost(func(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
		mu.Lock()
		arrived++
		mu.Unlock()
		<-ctx.Done()
		mu.Lock()
		cancelled++
		mu.Unlock()
		return nil, nil, ctx.Err()
	})
	iso := newIsolate(t, `async () => {
		const all = [];
		for (let k = 0; k < `+itoa(maxOpsInFlight+maxOpsQueued+3)+`; k++) all.push(hostServices.promises.kv.keys());
		const over = await Promise.allSettled(all.slice(-3));
		return over.map((r) => r.status + ':' + r.reason.name + ':' + r.reason.code);
	}`, Options{Host: host})
	var got []string
	invokeJSON(t, iso, "go", &got)
	if strings.Join(got, ",") != "rejected:Error:RATE_LIMITED,rejected:Error:RATE_LIMITED,rejected:Error:RATE_LIMITED" {
		t.Fatalf("got %q", got)
	}
	iso.Dispose() // waits for the calls' goroutines
	mu.Lock()
	defer mu.Unlock()
	if arrived > maxOpsInFlight || cancelled != arrived {
		t.Fatalf("%d calls reached the host, %d were cancelled; want at most %d, all cancelled", arrived, cancelled, maxOpsInFlight)
	}
}

// TestHostCallsEndWithReply: a call still running when the reply is
// decided is cancelled, and its answer does not reach the next invocation.
func TestHostCallsEndWithReply(t *testing.T) {
	arrived := make(chan struct{})
	cancelled := make(chan struct{})
	host := funcHost(func(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
		switch string(args) {
		case `["block"]`:
			close(arrived)
			<-ctx.Done()
			close(cancelled)
			return map[string]bool{"found": true}, []byte("stale"), nil
		case `["arrived"]`: // the synchronous call waits for the other to be running
			<-arrived
		}
		return map[string]bool{"found": true}, []byte("fresh"), nil
	})
	iso := newIsolate(t, `async (s) => {
		if (s === 'leave') {
			hostServices.promises.kv.get('block').then((v) => { globalThis.leaked = v.text() });
			hostServices.kv.get('arrived');
			return 'left';
		}
		const v = await hostServices.promises.kv.get('k');
		await new Promise((r) => setTimeout(r, 5));
		return v.text() + ':' + globalThis.leaked;
	}`, Options{Host: host})
	if res := call(iso, "leave", ""); res.Err != nil || string(res.Body) != "left" {
		t.Fatalf("leave: %v %s %q", res.Err, res.Detail, res.Body)
	}
	select {
	case <-cancelled:
	case <-time.After(time.Minute):
		t.Fatal("the call left running was not cancelled")
	}
	for n := 0; n < 3; n++ {
		if res := call(iso, "next", ""); res.Err != nil || string(res.Body) != "fresh:undefined" {
			t.Fatalf("next: %v %s %q", res.Err, res.Detail, res.Body)
		}
	}
}

// TestPromisesMatchSync: hostServices.promises gives what the synchronous
// forms give, values and error codes alike, and a bad argument rejects.
func TestPromisesMatchSync(t *testing.T) {
	body := func(form string) string {
		return `async () => {
			const hs = ` + form + `;
			const out = {};
			out.get = (await hs.kv.get("k")).text();
			out.missing = await hs.kv.get("missing");
			out.set = await hs.kv.set("k", new Uint8Array(5));
			out.put = await hs.kv.put("k", {a: 1});
			out.keys = await hs.kv.keys();
			const r = await hs.http.post("http://x", "body!", {headers: {a: "b"}});
			out.http = [r.status, r.response, r.headers.A, r.body instanceof Uint8Array];
			out.get404 = (await hs.http.get("http://x")).status;
			out.many = (await hs.messaging.requestMany("s", "x")).map((b) => b.text());
			const code = async (f) => { try { await f(); return 'ok' } catch (e) { return e.code } };
			out.request = await code(() => hs.messaging.request("s", "x"));
			out.publish = await code(() => hs.messaging.publish("s", "x"));
			out.obj = await code(() => hs.objectStore.put("n", "d"));
			try { await hs.kv.delete("bad key") } catch (e) { out.del = [e.name, e.code, e.message, e instanceof Error] }
			try { await hs.objectStore.list() } catch (e) { out.list = [e.name, e.code, e.message] }
			try { await hs.kv.get(42) } catch (e) { out.badArg = [e.name, e.message] }
			return out;
		}`
	}
	syncIso := newIsolate(t, body("hostServices"), Options{Host: echoHost{}})
	asyncIso := newIsolate(t, body("hostServices.promises"), Options{Host: echoHost{}})
	want := call(syncIso, "s", "")
	got := call(asyncIso, "s", "")
	if want.Err != nil || got.Err != nil {
		t.Fatalf("sync %v %s; promises %v %s", want.Err, want.Detail, got.Err, got.Detail)
	}
	if string(got.Body) != string(want.Body) {
		t.Fatalf("promises %s\nsync     %s", got.Body, want.Body)
	}
	if !strings.Contains(string(got.Body), `"del":["TypeError","KV_INVALID_KEY","invalid key",true]`) {
		t.Fatalf("unexpected results %s", got.Body)
	}

	iso := newIsolate(t, `() => {
		let threw = false, p;
		try { p = hostServices.promises.kv.get(42) } catch (e) { threw = true }
		return p.then(() => 'resolved', (e) => [threw, e.name, e.message]);
	}`, Options{Host: echoHost{}})
	if res := invoke(iso, ""); string(res.Body) != `[false,"TypeError","key must be a string"]` {
		t.Fatalf("bad argument: %v %q", res.Err, res.Body)
	}
}

func TestQueueMicrotask(t *testing.T) {
	var lines []string
	iso := newIsolate(t, `async () => {
		const out = [];
		queueMicrotask(() => out.push(1));
		Promise.resolve().then(() => out.push(2));
		queueMicrotask(() => { out.push(3); queueMicrotask(() => out.push(5)); });
		queueMicrotask(() => { throw new Error('from a microtask') });
		Promise.resolve().then(() => out.push(4));
		out.push(0);
		let bad;
		try { queueMicrotask(42) } catch (e) { bad = e.name }
		await new Promise((r) => setTimeout(r, 0));
		return [out.join(''), bad];
	}`, Options{Console: func(level, line string) { lines = append(lines, level+" "+line) }})
	res := invoke(iso, "")
	if res.Err != nil || string(res.Body) != `["012345","TypeError"]` {
		t.Fatalf("got %v %s %q", res.Err, res.Detail, res.Body)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error Error: from a microtask") {
		t.Fatalf("logged %q", lines)
	}
}

func TestPerformanceAndFriends(t *testing.T) {
	var lines []string
	iso := newIsolate(t, `async () => {
		let last = performance.now(), monotonic = true;
		for (let k = 0; k < 10000; k++) { const now = performance.now(); if (now < last) monotonic = false; last = now; }
		const before = performance.now();
		await new Promise((r) => setTimeout(r, 5));
		const waited = performance.now() - before;
		reportError(new Error('reported'));
		let noArg;
		try { reportError() } catch (e) { noArg = e.name }
		return {
			monotonic, waited: waited >= 4.9,
			origin: Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 1000,
			ua: navigator.userAgent.startsWith('natsfn/'), noArg,
		};
	}`, Options{Console: func(level, line string) { lines = append(lines, level+" "+line) }})
	res := invoke(iso, "")
	if res.Err != nil || string(res.Body) != `{"monotonic":true,"waited":true,"origin":true,"ua":true,"noArg":"TypeError"}` {
		t.Fatalf("got %v %s %q", res.Err, res.Detail, res.Body)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error Error: reported") {
		t.Fatalf("logged %q", lines)
	}
}

// TestTopLevelLoop: what the top-level code leaves pending runs before the
// first call, within the start timeout.
func TestTopLevelLoop(t *testing.T) {
	iso := newIsolate(t, `
		let state = 'started';
		setTimeout(() => { state += ',timer' }, 1);
		hostServices.promises.kv.get('k').then((v) => { state += ',' + v.text() });
		() => state;
	`, Options{Host: echoHost{}})
	if res := invoke(iso, ""); string(res.Body) != `started,value-of-["k"],timer` && string(res.Body) != `started,timer,value-of-["k"]` {
		t.Fatalf("got %v %q", res.Err, res.Body)
	}
	_, err := Check("interval.js", `setInterval(() => {}, 1); () => 1`, Options{StartTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "top-level code ran longer than 50ms") {
		t.Fatalf("a top-level interval: %v", err)
	}
}

// TestLoopLeaksNoValues: the loop's calls into V8 release what they make.
func TestLoopLeaksNoValues(t *testing.T) {
	iso := newIsolate(t, `async () => {
		await new Promise((r) => setTimeout(r, 0));
		performance.now();
		return (await hostServices.promises.kv.get('k')).text();
	}`, Options{Host: echoHost{}})
	invoke(iso, "warm")
	before := iso.ctx.RetainedValueCount()
	for n := 0; n < 300; n++ {
		if res := invoke(iso, "x"); res.Err != nil {
			t.Fatal(res.Err, res.Detail)
		}
	}
	if after := iso.ctx.RetainedValueCount(); after != before {
		t.Fatalf("retained values grew from %d to %d over 300 calls", before, after)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
