package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/testenv"
)

// adminConn connects to n's NATS system as natsfn's administrator.
func adminConn(t *testing.T, n *Node) *nats.Conn {
	t.Helper()
	if n.server == nil {
		return testenv.Conn(t, n.ClientURL())
	}
	nc, err := nats.Connect(n.ClientURL(), nats.UserCredentials(n.AdminCreds()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// gather sends a request to subject and returns the first want replies.
func gather(t *testing.T, nc *nats.Conn, subject string, want int) []*nats.Msg {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out []*nats.Msg
	for len(out) < want {
		m, err := sub.NextMsg(30 * time.Second)
		if err != nil {
			t.Fatalf("%s: %d of %d replies: %v", subject, len(out), want, err)
		}
		out = append(out, m)
	}
	return out
}

// Each node is an instance of the natsfn-node micro service in natsfn's
// account: the stock $SRV.PING and $SRV.INFO requests find both nodes of
// a NATS system, with their metadata and the roll call as their endpoint;
// $SRV.STATS shows a node's calls. A tenant sees no node.
func TestNodesAreMicroServices(t *testing.T) {
	a := startNode(t, Config{Name: "node-a"})
	startNode(t, Config{ServerURL: a.ClientURL(), Creds: a.AdminCreds(), Name: "node-b"})
	nc := adminConn(t, a)

	var pinged []string
	for _, m := range gather(t, nc, "$SRV.PING", 2) {
		var p micro.Ping
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Name != api.NodeService || p.Version != "0.0.0-devel" {
			t.Errorf("ping: %+v", p)
		}
		pinged = append(pinged, p.Metadata["node"])
	}
	slices.Sort(pinged)
	if !slices.Equal(pinged, []string{"node-a", "node-b"}) {
		t.Errorf("ping answered by %v", pinged)
	}

	ids := map[string]string{}
	for _, m := range gather(t, nc, "$SRV.INFO."+api.NodeService, 2) {
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		md := info.Metadata
		if md["version"] != "devel" || md["sandbox"] == "" || md["server"] == "" {
			t.Errorf("metadata: %v", md)
		}
		if len(info.Endpoints) != 1 || info.Endpoints[0].Subject != api.NodesSubject || info.Endpoints[0].QueueGroup != "" {
			t.Errorf("endpoints: %+v", info.Endpoints)
		}
		ids[md["node"]] = info.ID
	}
	if len(ids) != 2 || ids["node-a"] == "" || ids["node-b"] == "" {
		t.Fatalf("infos: %v", ids)
	}

	// The roll call through the micro service names each node's instance.
	admin, _ := client.NewAdmin(nc)
	nodes, err := admin.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range nodes {
		if node.ServiceID != ids[node.Name] || node.Version != "devel" {
			t.Errorf("node %s: service %q version %q, want service %q", node.Name, node.ServiceID, node.Version, ids[node.Name])
		}
	}

	c, tenantNC := newClient(t, a)
	deploy(t, c, "echo", `(s, p) => p`, "echo")
	invoke(t, tenantNC, "echo", []byte("hi"))
	// One of the nodes served the call; a worker reports it within a
	// second.
	testenv.Eventually(t, "$SRV.STATS to show the call", func() bool {
		calls := uint64(0)
		for _, m := range gather(t, nc, "$SRV.STATS."+api.NodeService, 2) {
			var st struct {
				Endpoints []struct {
					Data struct {
						Calls uint64 `json:"calls"`
					} `json:"data"`
				} `json:"endpoints"`
			}
			if err := json.Unmarshal(m.Data, &st); err != nil || len(st.Endpoints) != 1 {
				t.Fatalf("stats: %s (%v)", m.Data, err)
			}
			calls += st.Endpoints[0].Data.Calls
		}
		return calls == 1
	})

	if _, err := tenantNC.Request("$SRV.PING."+api.NodeService, nil, 5*time.Second); err == nil {
		t.Error("a tenant pinged the nodes")
	}
}

// scrape reads a node's metrics.
func scrape(t *testing.T, n *Node) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + n.metrics.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// sample is the value of the series of a family whose labels include
// labels ("k=v"); -1 when there is none.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for _, want := range labels {
			k, v, _ := strings.Cut(want, "=")
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == v }) {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// countingSrc throws on "boom" and otherwise uses kv once.
const countingSrc = `(s, p) => { if (p.text() === "boom") throw new Error("boom"); hostServices.kv.set("k", p); return p }`

// On every call path, `natsfn nodes` and /metrics count the calls made:
// calls, errors (a function that throws is a 5xx), the latency histogram,
// host calls per service, and the node's gauges.
func TestCallsCounted(t *testing.T) {
	const ok, failed = 5, 2
	for _, path := range callPaths {
		t.Run(path.name, func(t *testing.T) {
			cfg := path.cfg(t)
			cfg.Metrics = "127.0.0.1:0"
			n := startNode(t, cfg)
			c, nc := newClient(t, n)
			deploy(t, c, "count", countingSrc, "count")
			for range ok {
				if m := invoke(t, nc, "count", []byte("hi")); string(m.Data) != "hi" {
					t.Fatalf("reply %q %v", m.Data, m.Header)
				}
			}
			for range failed {
				if m := invoke(t, nc, "count", []byte("boom")); m.Header.Get(api.HeaderErrorCode) != "500" {
					t.Fatalf("reply %q %v", m.Data, m.Header)
				}
			}

			// A worker that answers its calls itself reports them within
			// a second: wait for the counts, then check they stay exact.
			admin, _ := client.NewAdmin(adminConn(t, n))
			var node api.NodeInfo
			testenv.Eventually(t, "natsfn nodes to count the calls", func() bool {
				nodes, err := admin.Nodes(context.Background())
				if err != nil || len(nodes) != 1 {
					t.Fatalf("nodes: %v %v", nodes, err)
				}
				node = nodes[0]
				return node.Calls >= ok+failed
			})
			if node.Calls != ok+failed || node.Errors != failed || node.Functions != 1 || node.Version != "devel" {
				t.Errorf("node: %+v", node)
			}
			if len(node.ByNamespace) != 1 || node.ByNamespace[0].Namespace != api.DefaultNamespace ||
				node.ByNamespace[0].Calls != ok+failed || node.ByNamespace[0].Errors != failed {
				t.Errorf("by namespace: %+v", node.ByNamespace)
			}

			var families map[string]*dto.MetricFamily
			testenv.Eventually(t, "the worker to report its isolates", func() bool {
				families = scrape(t, n)
				return sample(families, "natsfn_isolates", "namespace=default") >= 1
			})
			fn := []string{"namespace=default", "function=count"}
			for _, want := range []struct {
				name   string
				labels []string
				value  float64
			}{
				{"natsfn_calls_total", fn, ok + failed},
				{"natsfn_call_errors_total", append(fn, "class=5xx"), failed},
				{"natsfn_call_errors_total", append(fn, "class=4xx"), -1},
				{"natsfn_call_duration_seconds", fn, ok + failed},
				{"natsfn_host_calls_total", append(fn, "service=kv"), ok},
				{"natsfn_host_calls_total", append(fn, "service=http"), -1},
				{"natsfn_functions", []string{"namespace=default"}, 1},
				{"natsfn_ready", nil, 1},
			} {
				if got := sample(families, want.name, want.labels...); got != want.value {
					t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.value)
				}
			}
			workers := sample(families, "natsfn_workers")
			if (cfg.Sandbox == "none") != (workers == 0) {
				t.Errorf("natsfn_workers = %v with sandbox %q", workers, n.sandbox)
			}
			if sample(families, "natsfn_namespaces") < 1 || sample(families, "natsfn_build_info", "version=devel") != 1 {
				t.Errorf("node gauges: namespaces %v, build %v", sample(families, "natsfn_namespaces"), families["natsfn_build_info"])
			}
		})
	}
}

// Past --metrics-functions functions in a namespace, calls are counted
// under function="_other": deploying many functions adds one series, not
// one per function.
func TestMetricsFunctionLabelsCapped(t *testing.T) {
	const maxFunctions, deployed = 2, 5
	n := startNode(t, Config{Sandbox: "none", Metrics: "127.0.0.1:0", MetricsFunctions: maxFunctions})
	c, nc := newClient(t, n)
	for i := range deployed {
		name := fmt.Sprintf("f%d", i)
		deploy(t, c, name, `(s, p) => p`, name)
		invoke(t, nc, name, nil)
	}
	families := scrape(t, n)
	var labels []string
	for _, m := range families["natsfn_calls_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "function" {
				labels = append(labels, l.GetValue())
			}
		}
	}
	slices.Sort(labels)
	if want := []string{"_other", "f0", "f1"}; !slices.Equal(labels, want) {
		t.Errorf("function labels %v, want %v", labels, want)
	}
	if got := sample(families, "natsfn_calls_total", "function=_other"); got != deployed-maxFunctions {
		t.Errorf("_other counted %v calls, want %d", got, deployed-maxFunctions)
	}
	if got := sample(families, "natsfn_functions", "namespace=default"); got != deployed {
		t.Errorf("natsfn_functions = %v, want %d", got, deployed)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// /readyz says 503, with the reason, until the node serves its functions,
// and 200 from then on; /healthz answers 200 all along.
func TestReadyzOnceServing(t *testing.T) {
	held := make(chan *Node)
	release := make(chan struct{})
	cfg := Config{Sandbox: "none", Metrics: "127.0.0.1:0", Listen: "127.0.0.1:-1", DataDir: t.TempDir(),
		testHookStarting: func(n *Node) {
			held <- n
			<-release
		}}
	started := make(chan error, 1)
	go func() {
		n, err := Start(context.Background(), cfg)
		if err == nil {
			t.Cleanup(func() { n.Close() })
		}
		started <- err
	}()
	n := <-held
	base := "http://" + n.metrics.Addr()
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") {
		t.Errorf("readyz while starting: %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz while starting: %d", code)
	}
	close(release)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("readyz once started: %d %q", code, body)
	}
}
