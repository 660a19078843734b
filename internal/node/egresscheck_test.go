package node

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// A deploy's --http-allow may only name what the operator opened, node-wide
// or for the function's namespace, or what is public anyway.
func TestCheckHTTPAllow(t *testing.T) {
	n := &Node{cfg: Config{Services: Services{
		Config:    hostsvc.Config{HTTP: hostsvc.HTTPConfig{Allow: []string{"10.20.0.0/16", "api.internal.example"}}},
		HTTPAllow: map[string][]string{"acme": {"127.0.0.0/8", "DB.acme.internal."}},
	}}}
	cases := []struct {
		namespace string
		allow     []string
		want      string // "" for accepted, else part of the message
	}{
		{"acme", nil, ""},
		{"acme", []string{"10.20.1.0/24", "10.20.1.5", "api.internal.example"}, ""},
		{"acme", []string{"127.0.0.1", "127.0.0.0/8", "db.acme.internal"}, ""},
		{"acme", []string{"8.8.8.8", "2606:4700::/32"}, ""}, // public: open anyway
		{"other", []string{"10.20.0.0/16", "API.internal.example."}, ""},
		{"other", []string{"127.0.0.1"}, `--http-allow "127.0.0.1": not allowed for namespace "other"`},
		{"other", []string{"db.acme.internal"}, "not allowed"},
		{"acme", []string{"0.0.0.0/0"}, `--http-allow "0.0.0.0/0": not allowed for namespace "acme"; the operator opens destinations with ` + "`natsfn up --http-allow`" + ` or the services file's namespaces.acme.http_allow`},
		{"acme", []string{"::/0"}, "not allowed"},
		{"acme", []string{"::1"}, "not allowed"},
		{"acme", []string{"10.0.0.0/8"}, "not allowed"},
		{"acme", []string{"169.254.169.254"}, "not allowed"},
		{"acme", []string{"example.com"}, "not allowed"},
		{"acme", []string{"127.0.0.1", "192.168.0.1"}, `"192.168.0.1": not allowed`},
		{"acme", []string{"*.example.com"}, `--http-allow "*.example.com": egress:`},
		{"acme", []string{"10.0.0.0/33"}, "not a valid CIDR"},
	}
	for _, c := range cases {
		err := n.checkHTTPAllow(api.FunctionSpec{Namespace: c.namespace, Name: "f", HTTPAllow: c.allow})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s %q: %v", c.namespace, c.allow, err)
			}
			continue
		}
		var apiErr *api.Error
		if !errors.As(err, &apiErr) || apiErr.Code != api.CodeBadRequest || !strings.Contains(apiErr.Message, c.want) {
			t.Errorf("%s %q: got %v, want a 400 with %q", c.namespace, c.allow, err, c.want)
		}
	}

	// An open policy (tests, natsfn dev) already reaches everything.
	open := &Node{cfg: Config{Services: Services{Config: hostsvc.Config{HTTP: hostsvc.HTTPConfig{AllowPrivate: true}}}}}
	if err := open.checkHTTPAllow(api.FunctionSpec{Namespace: "x", HTTPAllow: []string{"0.0.0.0/0"}}); err != nil {
		t.Errorf("open policy: %v", err)
	}
	if err := open.checkHTTPAllow(api.FunctionSpec{Namespace: "x", HTTPAllow: []string{"a b"}}); err == nil {
		t.Error("open policy: a bad entry passed")
	}
}

func TestServicesFileNamespaceHTTPAllow(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "services.json")
	os.WriteFile(file, []byte(`{
		"messaging": {"allowed_subjects": ["shared.>"]},
		"http": {"allow": ["10.20.0.0/16"]},
		"namespaces": {
			"acme": {"http_allow": ["127.0.0.1", "db.acme.internal"]},
			"globex": {"allowed_subjects": ["globex.>"]}
		}
	}`), 0o644)
	svc, err := LoadServicesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.HTTPAllow["acme"]; !slices.Equal(got, []string{"127.0.0.1", "db.acme.internal"}) {
		t.Errorf("acme http_allow: %q", got)
	}
	if _, ok := svc.HTTPAllow["globex"]; ok {
		t.Error("globex has an http_allow entry")
	}
	if !slices.Equal(svc.Config.HTTP.Allow, []string{"10.20.0.0/16"}) {
		t.Errorf("node-wide allow: %q", svc.Config.HTTP.Allow)
	}
	// Listing acme for http_allow alone must not lift messaging.allowed_subjects.
	if _, ok := svc.AllowedSubjects["acme"]; ok {
		t.Error("acme's subjects overridden by an http_allow-only entry")
	}
	if got := svc.AllowedSubjects["globex"]; !slices.Equal(got, []string{"globex.>"}) {
		t.Errorf("globex subjects: %q", got)
	}

	for body, want := range map[string]string{
		`{"namespaces": {"acme": {"http_allow": ["*.example.com"]}}}`: "namespace acme: http_allow: egress",
		`{"namespaces": {"acme": {"http_allow": ["10.0.0.0/33"]}}}`:   "namespace acme: http_allow: egress",
		`{"namespaces": {"acme": {"http_allow": [""]}}}`:              "namespace acme: http_allow: egress",
		`{"namespaces": {"acme": {"http_allow": "127.0.0.1"}}}`:       "cannot unmarshal",
		`{"namespaces": {"acme": {"http_alow": ["127.0.0.1"]}}}`:      "unknown field",
		`{"namespaces": {"Acme": {"http_allow": ["127.0.0.1"]}}}`:     "namespace",
	} {
		os.WriteFile(file, []byte(body), 0o644)
		_, err := LoadServicesFile(file)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), file+": ") {
			t.Errorf("%s: got %v, want %q after the file name", body, err, want)
		}
	}
}

// A namespace's http_allow lets its functions open loopback, and only the
// functions that ask for it with --http-allow reach it; another namespace
// may not even ask.
func TestNamespaceHTTPAllow(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hi"))
	}))
	t.Cleanup(web.Close)
	file := filepath.Join(t.TempDir(), "services.json")
	os.WriteFile(file, []byte(`{"namespaces": {"acme": {"http_allow": ["127.0.0.1"]}}}`), 0o644)
	services, err := LoadServicesFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, Config{Services: services})
	src := `(s, p) => { try { return hostServices.http.get(p.text()).response } catch (e) { return e.code } }`
	deployIn(t, n, "acme", api.FunctionSpec{Name: "get", Triggers: []string{"acme.get"}, HTTPAllow: []string{"127.0.0.1"}}, src)
	deployIn(t, n, "acme", api.FunctionSpec{Name: "plain", Triggers: []string{"acme.plain"}}, src)
	deployIn(t, n, "other", api.FunctionSpec{Name: "get", Triggers: []string{"other.get"}}, src)
	c, _ := nsClient(t, n, "other")
	_, err = c.Deploy(context.Background(), api.FunctionSpec{Name: "open", Triggers: []string{"other.open"}, HTTPAllow: []string{"127.0.0.1"}}, []byte(src))
	if api.CodeOf(err) != api.CodeBadRequest || !strings.Contains(err.Error(), "not allowed for namespace") {
		t.Errorf("other namespace opening loopback: %v", err)
	}
	for trigger, want := range map[string]string{"acme.get": "hi", "acme.plain": "EGRESS_DENIED", "other.get": "EGRESS_DENIED"} {
		ns, _, _ := strings.Cut(trigger, ".")
		if m := invoke(t, nsConn(t, n, ns), trigger, []byte(web.URL)); string(m.Data) != want {
			t.Errorf("%s: %q, want %q", trigger, m.Data, want)
		}
	}
}
