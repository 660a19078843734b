package control

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
	"github.com/natsfn/natsfn/internal/testenv"
)

// fuzzServer is a server backed by a real store; the fuzz targets call its
// handler directly, which is all that a request's body reaches.
func fuzzServer(f *testing.F) *Server {
	nc := testenv.Conn(f, testenv.NATS(f))
	js := testenv.JetStream(f, nc)
	st, err := store.Open(f.Context(), js)
	if err != nil {
		f.Fatal(err)
	}
	uploads, err := js.ObjectStore(f.Context(), api.UploadsBucket)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := uploads.PutBytes(f.Context(), "default.f.1", []byte("() => 1")); err != nil {
		f.Fatal(err)
	}
	if _, err := st.Put(f.Context(), api.FunctionInfo{Spec: api.FunctionSpec{Namespace: "default", Name: "f", Triggers: []string{"f"}}}, []byte("() => 1")); err != nil {
		f.Fatal(err)
	}
	return &Server{nc: nc, st: st, opts: options{logger: slog.New(slog.DiscardHandler), uploads: st.Uploads()}}
}

// fuzzOp feeds arbitrary bodies to op and checks that each reply is a
// well-formed envelope and that no body makes the server fail internally.
func fuzzOp(f *testing.F, op string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		out, apiErr := s.handle(t.Context(), api.ControlSubject("default", op), body)
		var r api.Response[json.RawMessage]
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("reply is not JSON: %q", out)
		}
		if (r.Data == nil) == (r.Error == nil) || (apiErr == nil) != (r.Error == nil) {
			t.Fatalf("malformed envelope %s", out)
		}
		if apiErr != nil && apiErr.Code >= 500 {
			t.Fatalf("body %q caused %v", body, apiErr)
		}
	})
}

func FuzzDeploy(f *testing.F) {
	fuzzOp(f, api.OpDeploy,
		`{"spec":{"name":"f","triggers":["f.>"],"env":{"A":"1"},"timeout":"1s","heap_bytes":33554432,"concurrency":2,"http_allow":["10.0.0.0/8"]},"upload":"default.f.1"}`,
		`{"spec":{"name":"g","triggers":["$SYS.x"]},"upload":"default.g.1"}`,
		`{"spec":null,"upload":null}`,
		`{"spec":{"timeout":"-1s","triggers":[""]},"upload":"default."}`,
		``, `null`, `[]`, `{"upload":"x"}`, "\xff",
		`{"spec":{"name":"h","triggers":["h"]},"upload":"default.h.1","keep_data":true}`)
}

func FuzzInfo(f *testing.F) {
	fuzzOp(f, api.OpInfo, `{"name":"f"}`, `{"name":"nope"}`, `{"name":""}`, `{"name":null}`, ``, `{}`, `"f"`)
}

func FuzzRemove(f *testing.F) {
	fuzzOp(f, api.OpRemove, `{"name":"nope"}`, `{"name":"a.b"}`, ``, `{"name":"f","x":1}`, `{"name":"nope","purge":true}`, `{"name":"f","purge":1}`)
}

func FuzzList(f *testing.F) {
	fuzzOp(f, api.OpList, ``, `{}`, `null`, `{"x":1}`, `[]`, ` {} `)
}
