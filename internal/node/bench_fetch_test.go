package node

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// BenchmarkFetchVsHTTPGet compares a call that makes one HTTP request with
// fetch() against the same call with hostServices.http.get, in the same
// run, against a server on loopback (allowed for the benchmark). Both go
// through the same host service; the difference is the web layer: Request,
// Response, Headers and the promise of an asynchronous host call.
func BenchmarkFetchVsHTTPGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("pong"))
	}))
	defer srv.Close()
	n := startNode(b, Config{Services: Services{Config: hostsvc.Config{HTTP: hostsvc.HTTPConfig{Allow: []string{"127.0.0.1"}}}}})
	c, nc := newClient(b, n)
	url := srv.URL + "/ping"
	deploy(b, c, "viafetch", `async () => { const r = await fetch(`+"`"+url+"`"+`); return r.status + ' ' + await r.text(); }`, "bench.fetch")
	deploy(b, c, "viaget", `() => { const r = hostServices.http.get(`+"`"+url+"`"+`); return r.status + ' ' + r.response; }`, "bench.get")
	deploy(b, c, "viapromise", `async () => { const r = await hostServices.promises.http.get(`+"`"+url+"`"+`); return r.status + ' ' + r.response; }`, "bench.promise")
	for _, tt := range []struct{ name, subject string }{{"fetch", "bench.fetch"}, {"http.get", "bench.get"}, {"promises.http.get", "bench.promise"}} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				m, err := nc.Request(tt.subject, nil, 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				if string(m.Data) != "200 pong" {
					b.Fatalf("%q %v", m.Data, m.Header.Get(api.HeaderError))
				}
			}
		})
	}
}
