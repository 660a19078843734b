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
	// The three run in turn, call by call, so that the machine's noise
	// falls on each alike.
	kinds := []struct{ name, subject string }{{"fetch", "bench.fetch"}, {"http.get", "bench.get"}, {"promises.http.get", "bench.promise"}}
	spent := make([]time.Duration, len(kinds))
	calls := 0
	for b.Loop() {
		for k, kind := range kinds {
			start := time.Now()
			m, err := nc.Request(kind.subject, nil, 10*time.Second)
			spent[k] += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if string(m.Data) != "200 pong" {
				b.Fatalf("%s: %q %v", kind.name, m.Data, m.Header.Get(api.HeaderError))
			}
		}
		calls++
	}
	for k, kind := range kinds {
		b.ReportMetric(float64(spent[k].Microseconds())/float64(calls), kind.name+"-µs")
	}
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "fetch/get-ratio")
	b.ReportMetric(0, "ns/op")
}
