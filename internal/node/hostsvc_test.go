package node

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// The seed's examples, unchanged, end to end.
func TestSeedKVExample(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	deploy(t, c, "seedkv", `(subject, payload) => {
  this.hostServices.kv.set('hello', payload);
  this.hostServices.kv.delete('hello');

  this.hostServices.kv.set('hello2', payload);
  return {
    keys: this.hostServices.kv.keys(),
    hello2: this.hostServices.kv.get('hello2')
  }
};`, "seed.kv")
	if m := invoke(t, nc, "seed.kv", []byte("the payload")); string(m.Data) != `{"keys":["hello2"],"hello2":"the payload"}` {
		t.Fatalf("reply %q %v", m.Data, m.Header)
	}
}

func TestSeedMessagingExample(t *testing.T) {
	n := startNode(t, Config{})
	c, nc := newClient(t, n)
	published, err := nc.SubscribeSync("hello.world")
	if err != nil {
		t.Fatal(err)
	}
	nc.Subscribe("hello.world.request", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	for i := 0; i < 3; i++ {
		nc.Subscribe("hello.world.request.many", func(m *nats.Msg) { m.Respond([]byte("many")) })
	}
	nc.Flush()
	deploy(t, c, "seedmsg", `(subject, payload) => {
  this.hostServices.messaging.publish('hello.world', payload);

  req = this.hostServices.messaging.request('hello.world.request', payload);

  reqMany = this.hostServices.messaging.requestMany('hello.world.request.many', payload);
  return { req, many: reqMany.length, first: reqMany[0] };
};`, "seed.msg")
	m := invoke(t, nc, "seed.msg", []byte("ping"))
	if string(m.Data) != `{"req":"re:ping","many":3,"first":"many"}` {
		t.Fatalf("reply %q %v", m.Data, m.Header)
	}
	if pm, err := published.NextMsg(time.Second); err != nil || string(pm.Data) != "ping" {
		t.Fatalf("publish: %v %v", pm, err)
	}
}

func TestHostServicesEndToEnd(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method)
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
		}
		w.Write([]byte("web says hi"))
	}))
	t.Cleanup(web.Close)

	// The namespace may open the loopback; only the function that asks for
	// it reaches it.
	n := startNode(t, Config{Services: Services{HTTPAllow: map[string][]string{"default": {"127.0.0.1"}}}})
	c, nc := newClient(t, n)
	src := `(subject, payload) => {
		const out = {};
		const hs = hostServices;
		out.obj = hs.objectStore.put("a.bin", new Uint8Array([0, 1, 255])).size;
		out.objGet = Array.from(hs.objectStore.get("a.bin"));
		out.objList = hs.objectStore.list().map((i) => i.name);
		hs.objectStore.delete("a.bin");
		out.objMissing = hs.objectStore.get("a.bin");
		try { hs.kv.get("bad key!") } catch (e) { out.badKey = [e.name, e.code] }
		try { hs.messaging.publish("$SYS.x", "no") } catch (e) { out.sys = e.code }
		try { hs.messaging.request("nobody.home", "x") } catch (e) { out.noResp = e.code }
		const r = hs.http.get(payload.text() + "/missing");
		out.http = [r.status, r.response, r.headers["x-seen"]];
		try { hs.http.get("http://169.254.169.254/latest/meta-data") } catch (e) { out.metadata = e.code }
		return out;
	}`
	// Loopback is closed by default: the function sees EGRESS_DENIED.
	deploy(t, c, "closed", `(s, p) => { try { return hostServices.http.get(p.text()).status } catch (e) { return e.code } }`, "closed")
	if m := invoke(t, nc, "closed", []byte(web.URL)); string(m.Data) != "EGRESS_DENIED" {
		t.Fatalf("loopback not refused: %q", m.Data)
	}
	if m := invoke(t, nc, "closed", []byte(strings.Replace(web.URL, "127.0.0.1", "localhost", 1))); string(m.Data) != "EGRESS_DENIED" {
		t.Fatalf("localhost not refused: %q", m.Data)
	}

	_, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "all", Triggers: []string{"all"}, HTTPAllow: []string{"127.0.0.1"}}, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m := invoke(t, nc, "all", []byte(web.URL))
	want := `{"obj":3,"objGet":[0,1,255],"objList":["a.bin"],"objMissing":null,"badKey":["TypeError","KV_INVALID_KEY"],"sys":"SUBJECT_DENIED","noResp":"NO_RESPONDERS","http":[404,"web says hi",["GET"]],"metadata":"EGRESS_DENIED"}`
	if string(m.Data) != want {
		t.Fatalf("got  %s\nwant %s", m.Data, want)
	}
}

// Two functions whose names would collide in a naive "ns_name" bucket
// never see each other's keys.
func TestKVIsolation(t *testing.T) {
	n := startNode(t, Config{})
	src := `(s, p) => { if (p.length) hostServices.kv.set("k", p); return hostServices.kv.get("k") }`
	conns := map[string]*nats.Conn{}
	for _, ns := range []struct{ namespace, name string }{{"a_b", "c"}, {"a", "b_c"}} {
		c, nc := nsClient(t, n, ns.namespace)
		conns[ns.namespace] = nc
		if _, err := c.Deploy(context.Background(), api.FunctionSpec{Name: ns.name, Triggers: []string{"iso"}}, []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	invoke(t, conns["a_b"], "iso", []byte("secret of a_b/c"))
	if m := invoke(t, conns["a"], "iso", nil); string(m.Data) != "" {
		t.Fatalf("a/b_c sees %q", m.Data)
	}
	if m := invoke(t, conns["a_b"], "iso", nil); string(m.Data) != "secret of a_b/c" {
		t.Fatalf("a_b/c lost its value: %q", m.Data)
	}
	if hostsvc.KVBucketName("a_b", "c") == hostsvc.KVBucketName("a", "b_c") {
		t.Fatal("bucket names collide")
	}
}

func TestBadHTTPAllowRefused(t *testing.T) {
	n := startNode(t, Config{})
	c, _ := newClient(t, n)
	_, err := c.Deploy(context.Background(), api.FunctionSpec{Name: "x", Triggers: []string{"x"}, HTTPAllow: []string{"*.example.com"}}, []byte(`() => 1`))
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeBadRequest {
		t.Fatalf("got %v, want 400", err)
	}
}
