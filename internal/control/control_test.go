package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

type env struct {
	nc      *nats.Conn
	uploads jetstream.ObjectStore
	srv     *control.Server
}

// check refuses scripts that say so, as the node's compile check would.
func check(_ context.Context, spec api.FunctionSpec, script []byte) error {
	switch {
	case strings.Contains(string(script), "syntax error"):
		return errors.New("SyntaxError: Unexpected token\n    at line 1")
	case strings.Contains(string(script), "no worker"):
		return api.Errorf(api.CodeUnavailable, "no worker for namespace %s", spec.Namespace)
	}
	return nil
}

func start(t *testing.T) *env {
	t.Helper()
	nc := testenv.Conn(t, testenv.NATS(t))
	js := testenv.JetStream(t, nc)
	st, err := store.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := control.Start(t.Context(), nc, st, control.WithCheck(check))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	uploads, err := js.ObjectStore(t.Context(), api.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return &env{nc: nc, uploads: uploads, srv: srv}
}

func (e *env) stage(t *testing.T, name string, script []byte) string {
	t.Helper()
	if _, err := e.uploads.PutBytes(t.Context(), name, script); err != nil {
		t.Fatal(err)
	}
	return name
}

type reply struct {
	api.Response[json.RawMessage]
	header nats.Header
}

// request sends body to subject and checks that the envelope and the error
// headers agree.
func (e *env) request(t *testing.T, subject string, body any) reply {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case string:
		data = []byte(b)
	case nil:
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := e.nc.Request(subject, data, 10*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	var r reply
	if err := json.Unmarshal(msg.Data, &r.Response); err != nil {
		t.Fatalf("reply is not a JSON envelope: %q", msg.Data)
	}
	r.header = msg.Header
	if (r.Data == nil) == (r.Error == nil) {
		t.Fatalf("reply %s has both or neither of data and error", msg.Data)
	}
	if r.Error != nil {
		if got := msg.Header.Get(api.HeaderErrorCode); got != strconv.Itoa(r.Error.Code) {
			t.Errorf("error code header %q, body %d", got, r.Error.Code)
		}
		if msg.Header.Get(api.HeaderError) == "" {
			t.Error("error reply without the error header")
		}
	} else if msg.Header.Get(api.HeaderError) != "" {
		t.Errorf("success reply with error header %q", msg.Header.Get(api.HeaderError))
	}
	return r
}

func (r reply) info(t *testing.T) api.FunctionInfo {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("error reply: %v", r.Error)
	}
	var info api.FunctionInfo
	if err := json.Unmarshal(*r.Data, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func (r reply) wantError(t *testing.T, code int, contains string) {
	t.Helper()
	if r.Error == nil {
		t.Fatalf("want error %d, got data %s", code, *r.Data)
	}
	if r.Error.Code != code || !strings.Contains(r.Error.Message, contains) {
		t.Errorf("error = %v, want code %d containing %q", r.Error, code, contains)
	}
}

func deployReq(name, upload string, triggers ...string) api.DeployRequest {
	return api.DeployRequest{Spec: api.FunctionSpec{Name: name, Triggers: triggers}, Upload: upload}
}

func TestDeployInfoListRemove(t *testing.T) {
	e := start(t)
	script := []byte("(subject, payload) => payload")
	up := e.stage(t, "default.hello.1", script)
	spec := api.FunctionSpec{Name: "hello", Triggers: []string{"hello.>"}, Env: map[string]string{"A": "1"}, Timeout: api.Duration(2 * time.Second)}
	info := e.request(t, api.ControlSubject("default", api.OpDeploy), api.DeployRequest{Spec: spec, Upload: up}).info(t)
	if info.Spec.Namespace != "default" || info.Spec.Name != "hello" || info.Spec.Env["A"] != "1" || info.Spec.Timeout.D() != 2*time.Second {
		t.Errorf("deployed spec = %+v", info.Spec)
	}
	if info.BundleDigest != api.Digest(script) || info.BundleSize != int64(len(script)) || info.Revision == 0 || info.DeployedAt.IsZero() {
		t.Errorf("deployed info = %+v", info)
	}
	if _, err := e.uploads.GetInfo(t.Context(), up); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("upload still there after deploy: %v", err)
	}

	got := e.request(t, api.ControlSubject("default", api.OpInfo), api.NameRequest{Name: "hello"}).info(t)
	if got.Revision != info.Revision || got.BundleDigest != info.BundleDigest {
		t.Errorf("info = %+v, want %+v", got, info)
	}

	// Same name, other namespace: a different function.
	e.request(t, api.ControlSubject("team-b", api.OpDeploy), deployReq("hello", e.stage(t, "team-b.hello.1", script), "b.hello")).info(t)
	e.request(t, api.ControlSubject("default", api.OpDeploy), deployReq("another", e.stage(t, "default.another.1", script), "another")).info(t)

	for _, body := range []any{nil, "{}", " "} {
		r := e.request(t, api.ControlSubject("default", api.OpList), body)
		var list api.ListResponse
		if r.Error != nil || json.Unmarshal(*r.Data, &list) != nil {
			t.Fatalf("ls %q: %+v", body, r)
		}
		if len(list.Functions) != 2 || list.Functions[0].Spec.Name != "another" || list.Functions[1].Spec.Name != "hello" {
			t.Errorf("ls = %+v", list.Functions)
		}
	}
	r := e.request(t, api.ControlSubject("empty", api.OpList), nil)
	if string(*r.Data) != `{"functions":[]}` {
		t.Errorf("ls of an empty namespace = %s", *r.Data)
	}

	removed := e.request(t, api.ControlSubject("default", api.OpRemove), api.NameRequest{Name: "hello"}).info(t)
	if removed.Revision != info.Revision {
		t.Errorf("rm returned %+v", removed)
	}
	e.request(t, api.ControlSubject("default", api.OpInfo), api.NameRequest{Name: "hello"}).wantError(t, api.CodeNotFound, "not found")
	e.request(t, api.ControlSubject("default", api.OpRemove), api.NameRequest{Name: "hello"}).wantError(t, api.CodeNotFound, "not found")
	if e.request(t, api.ControlSubject("team-b", api.OpInfo), api.NameRequest{Name: "hello"}).info(t).Spec.Namespace != "team-b" {
		t.Error("rm in default removed team-b's function")
	}
}

func TestDeployErrors(t *testing.T) {
	e := start(t)
	good := []byte("() => 1")
	tests := []struct {
		name     string
		ns       string
		body     func() any // staged lazily, so each case has its own upload
		code     int
		contains string
	}{
		{"bad JSON", "default", func() any { return `{"spec":` }, 400, "malformed JSON"},
		{"not an object", "default", func() any { return `[1,2]` }, 400, "must be an object"},
		{"empty body", "default", func() any { return "" }, 400, "empty"},
		{"unknown field", "default", func() any { return `{"spec":{"name":"x","triggers":["x"]},"upload":"default.x.1","forse":true}` }, 400, `unknown field "forse"`},
		{"unknown spec field", "default", func() any { return `{"spec":{"name":"x","trigger":["x"]},"upload":"default.x.1"}` }, 400, `unknown field "trigger"`},
		{"trailing data", "default", func() any { return `{"upload":"default.x.1"} {}` }, 400, "after the JSON"},
		{"wrong type", "default", func() any { return `{"spec":{"name":"x","triggers":"x"},"upload":"default.x.1"}` }, 400, "spec.triggers must be an array"},
		{"bad timeout", "default", func() any { return `{"spec":{"name":"x","triggers":["x"],"timeout":"soon"},"upload":"default.x.1"}` }, 400, "duration"},
		{"no upload", "default", func() any { return deployReq("x", "", "x") }, 400, "upload"},
		{"upload in another namespace", "default", func() any { return deployReq("x", "other.x.1", "x") }, 400, "must start with the namespace"},
		{"upload missing", "default", func() any { return deployReq("x", "default.x.missing", "x") }, 400, "not found"},
		{"no name", "default", func() any { return deployReq("", e.stage(t, "default.x.a", good), "x") }, 400, "name must not be empty"},
		{"bad name", "default", func() any { return deployReq("Hello.World", e.stage(t, "default.x.b", good), "x") }, 400, "may only contain"},
		{"long name", "default", func() any { return deployReq(strings.Repeat("a", 65), e.stage(t, "default.x.c", good), "x") }, 400, "longer than 64"},
		{"no trigger", "default", func() any { return deployReq("x", e.stage(t, "default.x.d", good)) }, 400, "at least one trigger"},
		{"trigger $SYS", "default", func() any { return deployReq("x", e.stage(t, "default.x.e", good), "$SYS.x") }, 400, "reserved"},
		{"trigger $JS.API", "default", func() any { return deployReq("x", e.stage(t, "default.x.f", good), "$JS.API.x") }, 400, "reserved"},
		{"trigger control API", "default", func() any { return deployReq("x", e.stage(t, "default.x.g", good), "$NATSFN.v1.default.ls") }, 400, "reserved"},
		{"trigger >", "default", func() any { return deployReq("x", e.stage(t, "default.x.h", good), ">") }, 400, "literal token"},
		{"trigger *.x", "default", func() any { return deployReq("x", e.stage(t, "default.x.i", good), "*.x") }, 400, "literal token"},
		{"trigger empty token", "default", func() any { return deployReq("x", e.stage(t, "default.x.j", good), "a..b") }, 400, "empty token"},
		{"trigger twice", "default", func() any { return deployReq("x", e.stage(t, "default.x.k", good), "a", "a") }, 400, "twice"},
		{"namespace mismatch", "default", func() any {
			r := deployReq("x", e.stage(t, "default.x.l", good), "x")
			r.Spec.Namespace = "other"
			return r
		}, 400, "not the request's namespace"},
		{"memory too small", "default", func() any {
			r := deployReq("x", e.stage(t, "default.x.m", good), "x")
			r.Spec.HeapBytes = 1024
			return r
		}, 400, "memory"},
		{"too large", "default", func() any {
			return deployReq("x", e.stage(t, "default.x.n", make([]byte, api.MaxBundleBytes+1)), "x")
		}, 413, "larger than 10 MiB"},
		{"does not compile", "default", func() any { return deployReq("x", e.stage(t, "default.x.o", []byte("syntax error")), "x") }, 400, "bundle does not compile: SyntaxError: Unexpected token ; at line 1"},
		{"check error passes through", "default", func() any { return deployReq("x", e.stage(t, "default.x.p", []byte("no worker")), "x") }, 503, "no worker for namespace default"},
		{"bad namespace in subject", "Default", func() any { return deployReq("x", "Default.x.1", "x") }, 400, "namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body()
			e.request(t, api.ControlSubject(tc.ns, api.OpDeploy), body).wantError(t, tc.code, tc.contains)
			if r, ok := body.(api.DeployRequest); ok && strings.HasPrefix(r.Upload, tc.ns+".") {
				if _, err := e.uploads.GetInfo(t.Context(), r.Upload); !errors.Is(err, jetstream.ErrObjectNotFound) {
					t.Errorf("upload %s kept after a failed deploy", r.Upload)
				}
			}
		})
	}
	e.request(t, api.ControlSubject("default", api.OpInfo), api.NameRequest{Name: "x"}).wantError(t, api.CodeNotFound, "not found")
}

func TestFailedRedeployKeepsOldVersion(t *testing.T) {
	e := start(t)
	first := e.request(t, api.ControlSubject("default", api.OpDeploy), deployReq("f", e.stage(t, "default.f.1", []byte("() => 1")), "f")).info(t)
	e.request(t, api.ControlSubject("default", api.OpDeploy), deployReq("f", e.stage(t, "default.f.2", []byte("syntax error")), "g")).wantError(t, 400, "does not compile")
	now := e.request(t, api.ControlSubject("default", api.OpInfo), api.NameRequest{Name: "f"}).info(t)
	if now.Revision != first.Revision || now.Spec.Triggers[0] != "f" {
		t.Errorf("after a failed redeploy: %+v, want %+v", now, first)
	}
}

func TestNameRequestErrors(t *testing.T) {
	e := start(t)
	for _, op := range []string{api.OpInfo, api.OpRemove} {
		for body, want := range map[string]string{
			``:                       "empty",
			`{`:                      "malformed JSON",
			`{"name":1}`:             "name must be a string",
			`{"name":"x","extra":1}`: `unknown field "extra"`,
			`{}`:                     "name must not be empty",
			`{"name":"a.b"}`:         "may only contain",
			`{"name":">"}`:           "may only contain",
		} {
			e.request(t, api.ControlSubject("default", op), body).wantError(t, 400, want)
		}
	}
	e.request(t, api.ControlSubject("default", api.OpInfo), `{"name":"x","purge":true}`).wantError(t, 400, "purge is for rm only")
	e.request(t, api.ControlSubject("default", api.OpRemove), `{"name":"x","purge":"yes"}`).wantError(t, 400, "purge must be")
	e.request(t, api.ControlSubject("default", api.OpList), `{"all":true}`).wantError(t, 400, `unknown field "all"`)
	e.request(t, api.ControlSubject("default", api.OpList), `nope`).wantError(t, 400, "malformed JSON")
}

func TestUnknownOp(t *testing.T) {
	e := start(t)
	for _, subject := range []string{api.ControlSubject("default", "nope"), api.ControlSubject("default", "ls.extra"), api.ControlPrefix + ".default.deploy.x.y"} {
		e.request(t, subject, "{}").wantError(t, api.CodeNotFound, "unknown operation")
	}
	e.request(t, api.ControlSubject("a*b", api.OpList), "").wantError(t, 400, "namespace")
}

func TestClose(t *testing.T) {
	e := start(t)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := e.nc.Request(api.ControlSubject("default", api.OpList), nil, time.Second)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("request after Close: %v, want no responders", err)
	}
}

func TestDeployedHook(t *testing.T) {
	nc := testenv.Conn(t, testenv.NATS(t))
	js := testenv.JetStream(t, nc)
	st, err := store.Open(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan api.FunctionInfo, 1)
	srv, err := control.Start(t.Context(), nc, st, control.WithDeployed(func(_ context.Context, info api.FunctionInfo) error {
		seen <- info
		return errors.New("not served yet")
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	uploads, err := js.ObjectStore(t.Context(), api.UploadsBucket)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{nc: nc, uploads: uploads, srv: srv}
	info := e.request(t, api.ControlSubject("default", api.OpDeploy), deployReq("f", e.stage(t, "default.f.1", []byte("1")), "f")).info(t)
	select {
	case got := <-seen:
		if got.Revision != info.Revision || got.BundleDigest != info.BundleDigest {
			t.Errorf("hook saw %+v, reply %+v", got, info)
		}
	default:
		t.Error("the reply came before the deployed hook ran")
	}
}
