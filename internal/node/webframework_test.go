package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/bundle"
	"github.com/natsfn/natsfn/internal/testenv"
)

// honoApp is a function written as for any WinterTC runtime: a Hono router
// answers a Request built from the NATS message, and the function replies
// with the Response's body, its status in a header.
const honoApp = `import { Hono } from 'hono';

const app = new Hono();
app.use('*', async (c, next) => {
  await next();
  c.header('X-Served-By', 'hono');
});
app.get('/users/:id', (c) => c.json({ id: c.req.param('id'), q: c.req.query('q') ?? null }));
app.post('/echo', async (c) => {
  const body = await c.req.json();
  return c.json({ got: body, type: c.req.header('content-type') });
});
app.get('/boom', () => { throw new Error('router failure'); });
app.onError((err, c) => c.text('handled: ' + err.message, 500));

// The subject after "web." is the path: web.users.42 is GET /users/42. A
// payload makes it a POST of that payload as JSON.
export default async function (subject: string, payload: Uint8Array, msg: { headers: Record<string, string[]> }) {
  const path = subject.slice('web.'.length);
  const url = 'http://fn/' + path.split('.').join('/') + (msg.headers['Query'] ? '?' + msg.headers['Query'][0] : '');
  const init: RequestInit = payload.length
    ? { method: 'POST', body: payload, headers: { 'content-type': 'application/json' } }
    : { method: 'GET' };
  const res = await app.fetch(new Request(url, init));
  return { status: res.status, served: res.headers.get('x-served-by'), body: await res.text() };
}
`

// An npm web framework's router answers through Request and Response in a
// function, in a sandboxed worker as deployed functions run.
func TestWebFrameworkRouter(t *testing.T) {
	modules := testenv.NodeModules(t)
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.ts"), []byte(honoApp), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Build(filepath.Join(dir, "app.ts"))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{})
	_, nc := newClient(t, n)
	deployIn(t, n, api.DefaultNamespace, api.FunctionSpec{Name: "web", Triggers: []string{"web.>"}}, b.Script)

	type reply struct {
		Status int    `json:"status"`
		Served string `json:"served"`
		Body   string `json:"body"`
	}
	ask := func(subject, payload string, headers nats.Header) reply {
		t.Helper()
		m, err := nc.RequestMsg(&nats.Msg{Subject: subject, Data: []byte(payload), Header: headers}, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		var r reply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("%s: %q %v: %v", subject, m.Data, m.Header, err)
		}
		return r
	}
	tests := []struct {
		subject, payload string
		headers          nats.Header
		want             reply
	}{
		{"web.users.42", "", nil, reply{200, "hono", `{"id":"42","q":null}`}},
		{"web.users.7", "", nats.Header{"Query": {"q=a%20b"}}, reply{200, "hono", `{"id":"7","q":"a b"}`}},
		{"web.echo", `{"n":1}`, nil, reply{200, "hono", `{"got":{"n":1},"type":"application/json"}`}},
		{"web.nowhere", "", nil, reply{404, "hono", "404 Not Found"}},
		{"web.boom", "", nil, reply{500, "hono", "handled: router failure"}},
	}
	for _, tt := range tests {
		if got := ask(tt.subject, tt.payload, tt.headers); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.subject, got, tt.want)
		}
	}
}
