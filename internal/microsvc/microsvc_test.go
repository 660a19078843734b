package microsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/internal/stats"
	"github.com/natsfn/natsfn/internal/testenv"
)

func service(name string, counts *stats.Function) Service {
	return Service{Name: name, Version: "0.0.1", Metadata: map[string]string{"k": "v"}, Stats: counts,
		Endpoints: []Endpoint{{Name: name, Subject: name + ".in", QueueGroup: "q"}, {Name: name + "-2", Subject: name + ".other", QueueGroup: "q"}}}
}

// request gathers want replies to subject.
func request(t *testing.T, nc *nats.Conn, subject string, want int) [][]byte {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for range want {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("%s: %d of %d replies: %v", subject, len(out), want, err)
		}
		out = append(out, m.Data)
	}
	return out
}

func TestResponder(t *testing.T) {
	url := testenv.NATS(t)
	nc, client := testenv.Conn(t, url), testenv.Conn(t, url)
	r, err := Start(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var a, b stats.Function
	a.Call(time.Millisecond, 0)
	a.CallFailed(time.Millisecond, 408, "before") // counted before it started: not its own
	r.Set("ns/a", service("a", &a))
	r.Set("ns/b", service("b", &b))
	nc.Flush()

	var pings []micro.Ping
	for _, data := range request(t, client, "$SRV.PING", 2) {
		var p micro.Ping
		json.Unmarshal(data, &p)
		pings = append(pings, p)
	}
	if pings[0].Type != micro.PingResponseType || pings[0].Name == pings[1].Name || pings[0].Metadata["k"] != "v" {
		t.Fatalf("pings %+v", pings)
	}
	var aID string
	for _, p := range pings {
		if p.Name == "a" {
			aID = p.ID
		}
	}

	a.Call(3*time.Millisecond, 0)
	a.CallFailed(time.Millisecond, 500, "function failed")
	var s micro.Stats
	json.Unmarshal(request(t, client, "$SRV.STATS.a."+aID, 1)[0], &s)
	first := s.Endpoints[0]
	if s.Type != micro.StatsResponseType || s.ID != aID || len(s.Endpoints) != 2 || first.NumRequests != 2 || first.NumErrors != 1 ||
		first.LastError != "500:function failed" || first.ProcessingTime != 4*time.Millisecond || first.AverageProcessingTime != 2*time.Millisecond ||
		s.Endpoints[1].NumRequests != 0 || s.Endpoints[1].Subject != "a.other" {
		t.Errorf("stats %+v %+v", s, first)
	}
	var data endpointData
	if err := json.Unmarshal(first.Data, &data); err != nil || data.ServerErrors != 1 || data.LastErrorCode != 500 {
		t.Errorf("data %s: %v", first.Data, err)
	}
	json.Unmarshal(request(t, client, "$SRV.STATS.b", 1)[0], &s)
	if s.Endpoints[0].LastError != "" || s.Endpoints[0].NumRequests != 0 {
		t.Errorf("b: %+v", s.Endpoints[0])
	}

	// A new version of a: the same instance, its counts go on.
	changed := service("a", &a)
	changed.Version = "0.0.2"
	changed.Endpoints = changed.Endpoints[:1]
	r.Set("ns/a", changed)
	var info micro.Info
	json.Unmarshal(request(t, client, "$SRV.INFO.a", 1)[0], &info)
	if info.ID != aID || info.Version != "0.0.2" || fmt.Sprint(info.Endpoints) != "[{a a.in q map[]}]" || info.Type != micro.InfoResponseType {
		t.Errorf("info %+v", info)
	}

	// A reply subject on $ is never answered: the connection would act
	// in its account for whoever chose it.
	dollar, _ := client.SubscribeSync("$NOT.AN.INBOX")
	client.Flush()
	if err := client.PublishRequest("$SRV.PING", "$NOT.AN.INBOX", nil); err != nil {
		t.Fatal(err)
	}
	// Nor are subjects past $SRV.VERB.NAME.ID, or unknown verbs; the
	// request after them is answered, in order, first.
	inbox := client.NewRespInbox()
	sub, _ := client.SubscribeSync(inbox)
	client.PublishRequest("$SRV.PING.a."+aID+".extra", inbox, nil)
	client.PublishRequest("$SRV.HELLO", inbox, nil)
	client.PublishRequest("$SRV.PING.b", inbox, nil)
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || !json.Valid(m.Data) {
		t.Fatal(err)
	}
	var p micro.Ping
	json.Unmarshal(m.Data, &p)
	if p.Name != "b" {
		t.Errorf("answered %+v", p)
	}
	if n, _, _ := dollar.Pending(); n != 0 {
		t.Errorf("%d replies on a $ subject", n)
	}

	if r.Remove("ns/a") {
		t.Error("empty with b left")
	}
	if !r.Remove("ns/b") || !r.Remove("ns/none") {
		t.Error("not empty")
	}
	r.Close()
	r.Close()
	nc.Flush() // the server has the unsubscribe
	if _, err := client.Request("$SRV.PING", nil, 10*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("after Close: %v", err)
	}
}

// BenchmarkPing10k is `nats micro ls` against a node serving 10,000
// functions on one connection: 10,000 replies.
func BenchmarkPing10k(b *testing.B) {
	url := testenv.NATS(b)
	nc, client := testenv.Conn(b, url), testenv.Conn(b, url)
	r, err := Start(nc, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const functions = 10_000
	for i := range functions {
		name := fmt.Sprintf("f%d", i)
		r.Set("ns/"+name, service(name, &stats.Function{}))
	}
	nc.Flush()
	inbox := client.NewRespInbox()
	sub, _ := client.SubscribeSync(inbox)
	sub.SetPendingLimits(-1, -1)
	b.ResetTimer()
	for range b.N {
		client.PublishRequest("$SRV.PING", inbox, nil)
		for range functions {
			if _, err := sub.NextMsg(10 * time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
}
