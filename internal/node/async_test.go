package node

import (
	"testing"

	"github.com/natsfn/natsfn/api"
)

// asyncFunction uses hostServices.promises and timers against the real
// services: its answers name what the synchronous forms give alongside.
const asyncFunction = `async (s) => {
	const hs = hostServices, hp = hostServices.promises;
	const code = async (f) => { try { await f(); return 'ok' } catch (e) { return e.name + ':' + e.code } };
	switch (s) {
	case 'async.all': {
		const revs = await Promise.all(['a', 'b', 'c'].map((k) => hp.kv.set(k, k + '!')));
		const [a, keys, missing] = await Promise.all([hp.kv.get('a'), hp.kv.keys(), hp.kv.get('nope')]);
		await new Promise((r) => setTimeout(r, 1));
		await hp.kv.delete('a');
		return {
			revs: revs.every((r) => r > 0), a: a.text(), keys, missing, gone: await hp.kv.get('a'), b: hs.kv.get('b').text(),
			badKey: [await code(() => hp.kv.get('bad key')), await code(() => hs.kv.get('bad key'))],
			request: [await code(() => hp.messaging.request('async.nobody', 'x')), await code(() => hs.messaging.request('async.nobody', 'x'))],
		};
	}
	case 'async.arm':
		setTimeout(() => hs.kv.set('late', 'ran'), 0);
		return 'armed';
	case 'async.check':
		await new Promise((r) => setTimeout(r, 20));
		return String(hs.kv.get('late'));
	}
}`

// TestAsyncHostServices runs hostServices.promises and timers end to end,
// with real JetStream buckets, in the node's own process and in a
// sandboxed worker.
func TestAsyncHostServices(t *testing.T) {
	for _, sandbox := range []string{"none", "process"} {
		t.Run(sandbox, func(t *testing.T) {
			if sandbox == "process" {
				requireSandbox(t)
			}
			n := startNode(t, Config{Sandbox: sandbox})
			_, nc := newClient(t, n)
			// One isolate, so that the check runs where the timer was armed.
			deployIn(t, n, api.DefaultNamespace, api.FunctionSpec{Name: "asyncfn", Concurrency: 1,
				Triggers: []string{"async.all", "async.arm", "async.check"}}, asyncFunction)

			m := invoke(t, nc, "async.all", nil)
			want := `{"revs":true,"a":"a!","keys":["a","b","c"],"missing":null,"gone":null,"b":"b!",` +
				`"badKey":["TypeError:KV_INVALID_KEY","TypeError:KV_INVALID_KEY"],"request":["Error:NO_RESPONDERS","Error:NO_RESPONDERS"]}`
			if string(m.Data) != want {
				t.Fatalf("got  %s %v\nwant %s", m.Data, m.Header, want)
			}

			// A timer still armed at the reply never runs: the next call
			// waits for a later timer of its own and finds no trace.
			if m := invoke(t, nc, "async.arm", nil); string(m.Data) != "armed" {
				t.Fatalf("arm: %s %v", m.Data, m.Header)
			}
			if m := invoke(t, nc, "async.check", nil); string(m.Data) != "null" {
				t.Fatalf("check: %s %v", m.Data, m.Header)
			}
		})
	}
}
