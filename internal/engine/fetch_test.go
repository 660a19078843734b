package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/testenv"
)

// servicesHost answers host calls with real hostsvc.Services, their errors
// made the HostErrors JavaScript sees (as the executor's ServicesHost does).
type servicesHost struct{ s *hostsvc.Services }

func (h servicesHost) Call(ctx context.Context, op string, args, body []byte) (any, []byte, error) {
	res, rb, err := h.s.Call(ctx, op, args, body)
	var he *hostsvc.Error
	if errors.As(err, &he) {
		return nil, nil, &HostError{Type: he.Type, Code: he.Code, Message: he.Message}
	}
	return res, rb, err
}

// fetchServer answers the routes the fetch tests call, on 127.0.0.1.
func fetchServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("X-Seen-Header", r.Header.Get("X-Custom"))
		io.WriteString(w, `{"hello":"world"}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/json", http.StatusFound)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func fetchHost(t *testing.T, cfg hostsvc.HTTPConfig) Options {
	t.Helper()
	nc := testenv.Conn(t, testenv.NATS(t))
	s, err := hostsvc.New(nc, hostsvc.Identity{Namespace: "default", Name: "fetcher"}, hostsvc.Config{HTTP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return Options{Host: servicesHost{s}}
}

func TestFetch(t *testing.T) {
	srv := fetchServer(t)
	opts := fetchHost(t, hostsvc.HTTPConfig{Allow: []string{"127.0.0.1"}})
	base := "const base = " + "'" + srv.URL + "';\n" + errHelpers
	runWebCases(t, []webCase{
		{"GET json, headers", base + `
			const r = await fetch(base + '/json', { headers: { 'X-Custom': 'sent' } });
			return [r.status, r.ok, r.statusText, r.url === base + '/json', r.redirected, r.type, r.headers.get('content-type'),
				r.headers.get('x-seen-header'), r.headers.getSetCookie(), await r.json()];`,
			`[200,true,"OK",true,false,"basic","application/json","sent",["a=1","b=2"],{"hello":"world"}]`},
		{"text, arrayBuffer and stream", base + `
			const t = await (await fetch(base + '/json')).text();
			const ab = await (await fetch(base + '/json')).arrayBuffer();
			const chunks = await collect((await fetch(new Request(base + '/json'))).body);
			const n = chunks.reduce((a, c) => a + c.length, 0);
			return [t, ab.byteLength, n, chunks[0] instanceof Uint8Array];`,
			`["{\"hello\":\"world\"}",17,17,true]`},
		{"POST sends body and content type", base + `
			const r = await fetch(base + '/echo', { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
			const f = new FormData(); f.append('k', 'v');
			const m = await fetch(base + '/echo', { method: 'PUT', body: f });
			const mt = m.headers.get('x-content-type');
			const back = await new Response(await m.text(), { headers: { 'content-type': mt } }).formData();
			const s = await fetch(base + '/echo', { method: 'POST', body: ReadableStream.from([new Uint8Array([65]), new Uint8Array([66])]), duplex: 'half' });
			const u = await fetch(base + '/echo', { method: 'POST', body: new URLSearchParams('x=1') });
			return [r.status, r.headers.get('x-method'), r.headers.get('x-content-type'), await r.text(), mt.startsWith('multipart/form-data; boundary='),
				back.get('k'), await s.text(), u.headers.get('x-content-type')];`,
			`[201,"POST","application/json","{\"a\":1}",true,"v","AB","application/x-www-form-urlencoded;charset=UTF-8"]`},
		{"status without exception; HEAD and 204 have no body", base + `
			const r = await fetch(base + '/missing');
			const h = await fetch(base + '/json', { method: 'HEAD' });
			const e = await fetch(base + '/empty');
			return [r.status, r.ok, r.statusText, (await r.text()).trim(), h.status, h.body, e.status, e.body];`,
			`[404,false,"Not Found","no such thing",200,null,204,null]`},
		{"redirects", base + `
			const f = await fetch(base + '/redirect');
			const m = await fetch(base + '/redirect', { redirect: 'manual' });
			return [f.status, f.redirected, f.url === base + '/json', m.status, m.redirected, m.headers.get('location'),
				await thrown(() => fetch(base + '/redirect', { redirect: 'error' }))];`,
			`[200,true,true,302,false,"/json","TypeError"]`},
		{"abort", base + `
			const already = await thrown(() => fetch(base + '/json', { signal: AbortSignal.abort() }));
			const reason = await fetch(base + '/json', { signal: AbortSignal.abort('mine') }).catch((e) => e);
			const ac = new AbortController();
			const p = fetch(base + '/json', { signal: ac.signal });
			ac.abort();
			return [already, reason, await thrown(() => p)];`,
			`["AbortError(20)","mine","AbortError(20)"]`},
		{"bad input rejects", base + `
			return [await thrown(() => fetch('/relative')), await thrown(() => fetch('ftp://x/')), await thrown(() => fetch(base, { method: 'GET', body: 'x' }))];`,
			`["TypeError","TypeError","TypeError"]`},
	}, opts)
}

// TestFetchEgressRefused: without an allow list loopback is refused, and
// the rejection is the host's coded Error.
func TestFetchEgressRefused(t *testing.T) {
	srv := fetchServer(t)
	opts := fetchHost(t, hostsvc.HTTPConfig{})
	runWebCases(t, []webCase{
		{"loopback", "const e = await fetch('" + srv.URL + "/json').then(() => null, (e) => e);\n" +
			"return [e instanceof Error, e.name === 'Error', e.code, /not allowed/.test(e.message)];",
			`[true,true,"EGRESS_DENIED",true]`},
	}, opts)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s, not loopback", srv.URL)
	}
}

// BenchmarkFetch and BenchmarkHTTPGet make the same request to a local
// server, through fetch and through hostServices.http.get.
func BenchmarkFetch(b *testing.B) {
	benchHTTP(b, `async (s) => (await fetch(s)).text()`)
}

func BenchmarkHTTPGet(b *testing.B) {
	benchHTTP(b, `(s) => hostServices.http.get(s).response`)
}

func benchHTTP(b *testing.B, src string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"hello":"world"}`)
	}))
	b.Cleanup(srv.Close)
	nc := testenv.Conn(b, testenv.NATS(b))
	s, err := hostsvc.New(nc, hostsvc.Identity{Namespace: "default", Name: "bench"}, hostsvc.Config{HTTP: hostsvc.HTTPConfig{Allow: []string{"127.0.0.1"}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	iso := newIsolate(b, src, Options{Host: servicesHost{s}})
	inv := &Invocation{Subject: srv.URL + "/x"}
	b.ReportAllocs()
	for b.Loop() {
		res := iso.Invoke(context.Background(), inv)
		if res.Err != nil || string(res.Body) != `{"hello":"world"}` {
			b.Fatalf("%v %s %q", res.Err, res.Detail, res.Body)
		}
	}
}

func BenchmarkHTTPGetPromise(b *testing.B) {
	benchHTTP(b, `async (s) => (await hostServices.promises.http.get(s)).response`)
}
