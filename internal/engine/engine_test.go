package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

func newIsolate(t testing.TB, src string, opts Options) *Isolate {
	t.Helper()
	p, err := Compile("test.js", src)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	iso, err := NewIsolate(p, opts)
	if err != nil {
		t.Fatalf("new isolate: %v", err)
	}
	t.Cleanup(iso.Dispose)
	return iso
}

func invoke(iso *Isolate, payload string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return iso.Invoke(ctx, &Invocation{Subject: "test.subject", Reply: "_INBOX.x", Payload: []byte(payload)})
}

func TestReplyTable(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"undefined", `() => undefined`, ""},
		{"null", `() => null`, ""},
		{"string", `() => "héllo"`, "héllo"},
		{"empty string", `() => ""`, ""},
		{"Uint8Array", `() => new Uint8Array([0, 255, 1])`, "\x00\xff\x01"},
		{"ArrayBuffer", `() => new Uint8Array([7, 8]).buffer`, "\x07\x08"},
		{"Int16Array", `() => new Int16Array([1])`, "\x01\x00"},
		{"subarray", `() => new Uint8Array([1, 2, 3, 4]).subarray(1, 3)`, "\x02\x03"},
		{"object", `() => ({a: 1, b: [true, null]})`, `{"a":1,"b":[true,null]}`},
		{"number", `() => 42`, "42"},
		{"boolean", `() => false`, "false"},
		{"payload in object", `(s, p) => ({triggered_on: s, payload: p})`, `{"triggered_on":"test.subject","payload":"hi"}`},
		{"payload text", `(s, p) => p.text() + "!"`, "hi!"},
		{"payload json", `(s, p) => p.length`, "2"},
		{"promise", `async (s, p) => { await null; return "later"; }`, "later"},
		{"promise of bytes", `(s, p) => Promise.resolve(p)`, "hi"},
		{"function form", `(function (s, p) { return typeof this.hostServices.kv.get; })`, "function"},
		{"arrow this", `(s, p) => typeof this.hostServices.messaging.publish`, "function"},
		{"msg arg", `(s, p, m) => m.reply`, "_INBOX.x"},
		{"module default", "var __natsfn_module = (() => ({ default: (s) => 'mod:' + s }))();\n__natsfn_module.default;", "mod:test.subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iso := newIsolate(t, tt.src, Options{})
			res := invoke(iso, "hi")
			if res.Err != nil {
				t.Fatalf("error %v: %s", res.Err, res.Detail)
			}
			if string(res.Body) != tt.want {
				t.Fatalf("got %q, want %q", res.Body, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, src  string
		code       int
		detailPart string
	}{
		{"throw", `() => { throw new Error("boom") }`, api.CodeInternal, "boom"},
		{"throw string", `() => { throw "plain" }`, api.CodeInternal, "plain"},
		{"reject", `async () => { throw new TypeError("nope") }`, api.CodeInternal, "nope"},
		{"never settles", `() => new Promise(() => {})`, api.CodeInternal, "never settled"},
		{"unserializable", `() => { const a = {}; a.a = a; return a }`, api.CodeInternal, "circular"},
		{"bigint", `() => 10n`, api.CodeInternal, "BigInt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iso := newIsolate(t, tt.src, Options{})
			res := invoke(iso, "")
			if res.Err == nil || res.Err.Code != tt.code {
				t.Fatalf("got %v (%s), want code %d", res.Err, res.Detail, tt.code)
			}
			if !strings.Contains(res.Detail, tt.detailPart) {
				t.Fatalf("detail %q lacks %q", res.Detail, tt.detailPart)
			}
			// The isolate keeps serving after an error.
			if res := invoke(iso, ""); res.Err == nil {
				t.Fatalf("second call succeeded unexpectedly")
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"not a function", `42`, "evaluated to number"},
		{"top-level throw", `throw new Error("at load")`, "at load"},
		{"syntax", `(s) => {`, "SyntaxError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check("bad.js", tt.src, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to mention %q", err, tt.want)
			}
		})
	}
	_, err := Check("loop.js", `for(;;){}`, Options{StartTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("endless top level: %v", err)
	}
}

func TestTimeoutKeepsIsolate(t *testing.T) {
	iso := newIsolate(t, `(s, p) => { if (p.text() === "loop") for(;;){} return "ok" }`, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// Without the watchdog the loop never ends, and neither does the test.
	res := iso.Invoke(ctx, &Invocation{Subject: "s", Payload: []byte("loop")})
	if res.Err == nil || res.Err.Code != api.CodeTimeout {
		t.Fatalf("got %v, want timeout", res.Err)
	}
	for n := 0; n < 3; n++ {
		if res := invoke(iso, "fine"); res.Err != nil || string(res.Body) != "ok" {
			t.Fatalf("after timeout: %v %q", res.Err, res.Body)
		}
	}
}

func TestHeapLimitBreaksIsolate(t *testing.T) {
	iso := newIsolate(t, `() => { const a = []; for (;;) a.push({x: a.length, s: "y".repeat(64)}) }`, Options{HeapBytes: 32 << 20})
	// No deadline: only the heap limit may end this call, however slow the machine.
	res := iso.Invoke(context.Background(), &Invocation{Subject: "s"})
	if res.Err == nil || res.Err.Code != api.CodeInternal || !strings.Contains(res.Err.Message, "memory") {
		t.Fatalf("got %v (%s), want a memory error", res.Err, res.Detail)
	}
	if !iso.Broken() {
		t.Fatal("isolate not marked broken")
	}
}

func TestBinaryPayloadRoundTrip(t *testing.T) {
	iso := newIsolate(t, `(s, p) => p`, Options{})
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat(all, 8<<10) // 2 MiB: forces the exchange to grow
	for _, payload := range [][]byte{all, big, {}, all} {
		ctx := context.Background()
		res := iso.Invoke(ctx, &Invocation{Subject: "s", Payload: payload})
		if res.Err != nil || !bytes.Equal(res.Body, payload) {
			t.Fatalf("len %d: got %d bytes, err %v", len(payload), len(res.Body), res.Err)
		}
	}
}

func TestHeadersAndEnv(t *testing.T) {
	iso := newIsolate(t, `(s, p, m) => ({h: m.headers["X-Id"], env: env.GREETING, frozen: Object.isFrozen(env)})`,
		Options{Env: map[string]string{"GREETING": "hej"}})
	res := iso.Invoke(context.Background(), &Invocation{Subject: "s", Headers: map[string][]string{"X-Id": {"1", "2"}}})
	if res.Err != nil || string(res.Body) != `{"h":["1","2"],"env":"hej","frozen":true}` {
		t.Fatalf("got %s %v", res.Body, res.Err)
	}
}

func TestConsole(t *testing.T) {
	var lines []string
	iso := newIsolate(t, `() => { console.log("a", 1, {b: 2}); console.error(new Error("e")); console.debug("d") }`,
		Options{Console: func(level, line string) { lines = append(lines, level+" "+line) }})
	if res := invoke(iso, ""); res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(lines) != 3 || lines[0] != `info a 1 {"b":2}` || !strings.HasPrefix(lines[1], "error Error: e") || lines[2] != "debug d" {
		t.Fatalf("lines %q", lines)
	}
}

func TestGlobals(t *testing.T) {
	src := `() => {
		const enc = new TextEncoder().encode("é€😀");
		const dec = new TextDecoder().decode(enc);
		let fatal = "no";
		try { new TextDecoder("utf-8", {fatal: true}).decode(new Uint8Array([0xff])) } catch (e) { fatal = e.name }
		const r = crypto.getRandomValues(new Uint8Array(16));
		return {
			enc: Array.from(enc), dec, lossy: new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])), fatal,
			b64: btoa("hello"), un: atob("aGVsbG8="),
			uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
			random: r.length === 16 && r.some((x) => x !== 0),
			clone: structuredClone({a: [1, {b: 2}]}),
			require: typeof require, process: typeof process, natives: typeof natives,
		};
	}`
	iso := newIsolate(t, src, Options{})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"b64":"aGVsbG8=","clone":{"a":[1,{"b":2}]},"dec":"é€😀","enc":[195,169,226,130,172,240,159,152,128],"fatal":"TypeError","lossy":"a�b","natives":"undefined","process":"undefined","random":true,"require":"undefined","un":"hello","uuid":true}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// echoHost answers every op with its inputs, so the bridge is tested on
// its own; the real services are tested in internal/hostsvc and end to end.
type echoHost struct{}

func (echoHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	switch op {
	case "kv.get":
		if string(args) == `["missing"]` {
			return map[string]bool{"found": false}, nil, nil
		}
		return map[string]bool{"found": true}, []byte("value-of-" + string(args)), nil
	case "kv.set":
		return len(body), nil, nil
	case "kv.keys":
		return []string{"a", "b"}, nil, nil
	case "http.request":
		return map[string]any{"status": 404, "headers": map[string][]string{"A": {"b"}}}, body, nil
	case "msg.requestMany":
		return map[string]any{"sizes": []int{1, 2}}, []byte("abc"), nil
	case "kv.delete":
		return nil, nil, &HostError{Type: "TypeError", Code: "KV_INVALID_KEY", Message: "invalid key"}
	case "obj.list":
		return nil, nil, errors.New("secret internal cause")
	}
	return nil, nil, &HostError{Type: "Error", Code: "NOPE", Message: op}
}

func TestHostBridge(t *testing.T) {
	src := `() => {
		const hs = hostServices;
		const out = {};
		out.get = hs.kv.get("k").text();
		out.missing = hs.kv.get("missing");
		out.set = hs.kv.set("k", new Uint8Array(5));
		out.setObj = hs.kv.set("k", {a: 1});
		out.keys = hs.kv.keys();
		const r = hs.http.post("http://x", "body!", {headers: {a: "b"}});
		out.http = [r.status, r.response, r.headers.A, r.body instanceof Uint8Array];
		out.many = hs.messaging.requestMany("s", "x").map((b) => b.text());
		try { hs.kv.delete("bad key") } catch (e) { out.del = [e.name, e.code, e.message] }
		try { hs.objectStore.list() } catch (e) { out.list = [e.name, e.code, e.message] }
		try { hs.kv.get(42) } catch (e) { out.badArg = [e.name, e.message] }
		return out;
	}`
	iso := newIsolate(t, src, Options{Host: echoHost{}})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	want := `{"get":"value-of-[\"k\"]","missing":null,"set":5,"setObj":7,"keys":["a","b"],"http":[404,"body!",["b"],true],"many":["a","bc"],"del":["TypeError","KV_INVALID_KEY","invalid key"],"list":["Error","INTERNAL","host service failed"],"badArg":["TypeError","key must be a string"]}`
	if string(res.Body) != want {
		t.Fatalf("got  %s\nwant %s", res.Body, want)
	}
}

func TestURL(t *testing.T) {
	src := `() => {
		const u = new URL("https://User:pw@Example.com:443/a/./b/../c?x=1&y=two+words#frag");
		const rel = new URL("../d?z=3", "http://h.example:8080/a/b/c");
		u.searchParams.append("k", "v w");
		const p = new URLSearchParams({ a: "1", b: "é" });
		let bad = "";
		try { new URL("not a url") } catch (e) { bad = e.name }
		return [u.protocol, u.host, u.hostname, u.port, u.pathname, u.searchParams.get("y"), u.hash, u.origin, u.href,
			rel.href, p.toString(), bad, URL.canParse("/x"), JSON.stringify({ u: new URL("http://a.b/") })];
	}`
	iso := newIsolate(t, src, Options{})
	res := invoke(iso, "")
	if res.Err != nil {
		t.Fatalf("%v: %s", res.Err, res.Detail)
	}
	want := `["https:","example.com","example.com","","/a/c","two words","#frag","https://example.com","https://User:pw@example.com/a/c?x=1&y=two+words&k=v+w#frag","http://h.example:8080/a/d?z=3","a=1&b=%C3%A9","TypeError",false,"{\"u\":\"http://a.b/\"}"]`
	if string(res.Body) != want {
		t.Fatalf("got  %s\nwant %s", res.Body, want)
	}
}

// One large call does not keep its buffer for the isolate's life: Trim
// gives it back, and the isolate serves large and small calls after.
func TestTrimGivesLargeExchangeBack(t *testing.T) {
	iso := newIsolate(t, `(s, p) => p`, Options{})
	big := make([]byte, 16<<20)
	big[len(big)-1] = 7
	for range 2 {
		res := iso.Invoke(context.Background(), &Invocation{Subject: "s", Payload: big})
		if res.Err != nil || len(res.Body) != len(big) || res.Body[len(big)-1] != 7 {
			t.Fatalf("large echo: %v, %d bytes", res.Err, len(res.Body))
		}
		if len(iso.exchange) < len(big) {
			t.Fatalf("exchange %d bytes during a %d-byte call", len(iso.exchange), len(big))
		}
		iso.Trim()
		if len(iso.exchange) > trimAbove {
			t.Fatalf("exchange %d bytes after Trim", len(iso.exchange))
		}
		if res := iso.Invoke(context.Background(), &Invocation{Subject: "s", Payload: []byte("small")}); res.Err != nil || string(res.Body) != "small" {
			t.Fatalf("small echo after Trim: %v %q", res.Err, res.Body)
		}
	}
}
