// Package metrics serves a node's Prometheus metrics and health over HTTP:
// /metrics, /healthz (the process answers) and /readyz (the node serves its
// functions). docs/metrics.md lists the series.
//
// The counts come from a stats.Registry rather than from client_golang's
// own counter types: calls answered inside a worker process reach the node
// as batched deltas, which a prometheus.Histogram cannot take, so the
// collector reads the registry at scrape time and exports const metrics.
package metrics

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/natsfn/natsfn/internal/stats"
	"github.com/natsfn/natsfn/internal/version"
)

// Source is what a node reports.
type Source interface {
	// Series are the counts of each function's series.
	Series() []stats.Series
	// Gauges are the node's current state.
	Gauges() Gauges
	// Ready is nil once the node serves its functions, else the reason it
	// does not.
	Ready() error
}

// Gauges are a node's current state.
type Gauges struct {
	Namespaces int // served by this node
	Workers    int // worker processes of namespaces alive
	// LogLinesLost counts function log lines the log stream did not store.
	LogLinesLost uint64
	// ByNamespace are the functions served and the isolates alive in each
	// namespace that has any.
	ByNamespace []NamespaceGauges
}

// NamespaceGauges are one namespace's functions served and isolates alive.
type NamespaceGauges struct {
	Namespace           string
	Functions, Isolates int
}

var (
	fnLabels = []string{"namespace", "function"}

	callsDesc = prometheus.NewDesc("natsfn_calls_total",
		"Calls of a function answered by this node, errors included.", fnLabels, nil)
	errorsDesc = prometheus.NewDesc("natsfn_call_errors_total",
		"Calls of a function answered with an error, by class of the Nats-Service-Error-Code (4xx, 5xx).",
		append(fnLabels, "class"), nil)
	durationDesc = prometheus.NewDesc("natsfn_call_duration_seconds",
		"Time from a call's arrival at the node (or its worker) to its answer.", fnLabels, nil)
	hostCallsDesc = prometheus.NewDesc("natsfn_host_calls_total",
		"Host-service calls of a function, by service (kv, objectStore, messaging, http).",
		append(fnLabels, "service"), nil)
	hostErrorsDesc = prometheus.NewDesc("natsfn_host_call_errors_total",
		"Host-service calls of a function that threw, by service.", append(fnLabels, "service"), nil)
	functionsDesc = prometheus.NewDesc("natsfn_functions",
		"Functions this node serves, by namespace.", []string{"namespace"}, nil)
	isolatesDesc = prometheus.NewDesc("natsfn_isolates",
		"V8 isolates alive on this node, by namespace.", []string{"namespace"}, nil)
	namespacesDesc = prometheus.NewDesc("natsfn_namespaces",
		"Namespaces this node serves.", nil, nil)
	workersDesc = prometheus.NewDesc("natsfn_workers",
		"Worker processes alive on this node (one per namespace with functions; 0 with --sandbox none).", nil, nil)
	logLinesLostDesc = prometheus.NewDesc("natsfn_log_lines_lost_total",
		"Function log lines the log stream did not store (no stream, storage full, refused).", nil, nil)
	readyDesc = prometheus.NewDesc("natsfn_ready",
		"1 when the node serves its functions and is connected to NATS (what /readyz says).", nil, nil)
	buildDesc = prometheus.NewDesc("natsfn_build_info",
		"Always 1; the labels say which build of natsfn runs.", []string{"version", "commit", "goversion"}, nil)
)

// bucketBounds are the histogram's upper bounds in seconds.
var bucketBounds = func() []float64 {
	b := make([]float64, stats.NumBuckets-1)
	for i := range b {
		b[i] = stats.BucketBound(i).Seconds()
	}
	return b
}()

// collector exports a Source.
type collector struct {
	src   Source
	build version.Info
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{callsDesc, errorsDesc, durationDesc, hostCallsDesc, hostErrorsDesc,
		functionsDesc, isolatesDesc, namespacesDesc, workersDesc, logLinesLostDesc, readyDesc, buildDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	for _, s := range c.src.Series() {
		ns, fn, n := s.Namespace, s.Function, &s.Counts
		counter(callsDesc, n.Calls, ns, fn)
		// Like a counter vector's children, an error class or a service
		// appears once it has counted something.
		if n.ClientErrors > 0 {
			counter(errorsDesc, n.ClientErrors, ns, fn, "4xx")
		}
		if n.ServerErrors > 0 {
			counter(errorsDesc, n.ServerErrors, ns, fn, "5xx")
		}
		buckets := make(map[float64]uint64, len(bucketBounds))
		var count uint64
		for i, bound := range bucketBounds {
			count += n.Buckets[i]
			buckets[bound] = count
		}
		count += n.Buckets[len(bucketBounds)]
		ch <- prometheus.MustNewConstHistogram(durationDesc, count, float64(n.LatencyNanos)/1e9, buckets, ns, fn)
		for i := range stats.NumServices {
			if n.HostCalls[i] > 0 {
				counter(hostCallsDesc, n.HostCalls[i], ns, fn, stats.ServiceName(i))
			}
			if n.HostErrors[i] > 0 {
				counter(hostErrorsDesc, n.HostErrors[i], ns, fn, stats.ServiceName(i))
			}
		}
	}
	g := c.src.Gauges()
	for _, ns := range g.ByNamespace {
		gauge(functionsDesc, ns.Functions, ns.Namespace)
		gauge(isolatesDesc, ns.Isolates, ns.Namespace)
	}
	gauge(namespacesDesc, g.Namespaces)
	gauge(workersDesc, g.Workers)
	counter(logLinesLostDesc, g.LogLinesLost)
	ready := 0
	if c.src.Ready() == nil {
		ready = 1
	}
	gauge(readyDesc, ready)
	gauge(buildDesc, 1, c.build.Version, c.build.Commit, c.build.Go)
}

// Server serves a node's metrics and health endpoints.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Start listens on addr (HOST:PORT) and serves src until Close.
func Start(addr string, src Source) (*Server, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return nil, fmt.Errorf("natsfn: metrics address %q: want HOST:PORT, such as 127.0.0.1:9090", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("natsfn: metrics address %q: bad port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("natsfn: metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		&collector{src: src, build: version.Get()},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := src.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	s := &Server{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(s.done)
		// Serve ends with ErrServerClosed on Close; any other error is a
		// listener that failed, with nothing left to serve on.
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops serving and waits until the server has stopped.
func (s *Server) Close() {
	s.srv.Close()
	<-s.done
}
