package hostsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testServer serves a few fixed routes on 127.0.0.1.
func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header()["X-Many"] = r.Header.Values("X-Many")
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-UA", r.UserAgent())
		w.Write(body)
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound)
	})
	mux.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/size/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		w.Write(bytes.Repeat([]byte("x"), n))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// noDial fails the test if the client ever connects: refused destinations
// must be refused before any connection, and private ones must never be
// dialled from a test.
func noDial(t *testing.T) func(context.Context, string, string) (net.Conn, error) {
	return func(_ context.Context, _, addr string) (net.Conn, error) {
		t.Errorf("dialled %s", addr)
		return nil, fmt.Errorf("no dialling in this test")
	}
}

// offline resolves from /etc/hosts only: tests never reach a real DNS server.
var offline = &net.Resolver{
	PreferGo: true,
	Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	},
}

func httpServices(t *testing.T, cfg HTTPConfig) *Services {
	t.Helper()
	if cfg.Resolver == nil {
		cfg.Resolver = offline
	}
	return newServices(t, testConn(t), "default", "web", Config{HTTP: cfg})
}

func TestHTTP(t *testing.T) {
	srv := testServer(t)
	s := httpServices(t, HTTPConfig{Allow: []string{"127.0.0.1"}})

	res, rb := mustCall(t, s, "http.request", allBytes(), "POST", srv.URL+"/echo",
		map[string]any{"headers": map[string]any{"X-Many": []string{"a", "b"}, "Host": "example.org"}})
	var r httpResult
	if err := json.Unmarshal([]byte(res), &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || !bytes.Equal(rb, allBytes()) || r.Headers["x-method"][0] != "POST" ||
		strings.Join(r.Headers["x-many"], ",") != "a,b" || r.Headers["x-host"][0] != "example.org" || r.Headers["x-ua"][0] != "natsfn" {
		t.Fatalf("POST echo = %s %q", res, rb)
	}

	for _, m := range []string{"GET", "put", "PATCH", "DELETE"} {
		res, _ := mustCall(t, s, "http.request", nil, m, srv.URL+"/echo")
		if !strings.Contains(res, `"x-method":["`+strings.ToUpper(m)+`"]`) {
			t.Errorf("%s = %s", m, res)
		}
	}
	res, rb = mustCall(t, s, "http.request", nil, "HEAD", srv.URL+"/size/10")
	if !strings.Contains(res, `"status":200`) || !strings.Contains(res, `"content-length":["10"]`) || len(rb) != 0 {
		t.Fatalf("HEAD = %s %q", res, rb)
	}

	// 4xx and 5xx are answers, not exceptions.
	res, rb = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/missing")
	if !strings.Contains(res, `"status":404`) || !strings.Contains(string(rb), "no such thing") {
		t.Fatalf("404 = %s %q", res, rb)
	}
	res, _ = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/boom")
	if !strings.Contains(res, `"status":500`) {
		t.Fatalf("500 = %s", res)
	}

	// Redirects to allowed places are followed.
	res, rb = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/redirect?to=/size/3")
	if !strings.Contains(res, `"status":200`) || string(rb) != "xxx" {
		t.Fatalf("redirect = %s %q", res, rb)
	}
	_, _, e := call(t, s, "http.request", nil, "GET", srv.URL+"/loop")
	wantError(t, e, CodeHTTPError, "Error")
	if !strings.Contains(e.Message, "5 redirects") {
		t.Errorf("loop message %q", e.Message)
	}
}

func TestHTTPEgressRefused(t *testing.T) {
	srv := testServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s := httpServices(t, HTTPConfig{connect: noDial(t)})
	for _, u := range []string{
		srv.URL + "/echo",
		fmt.Sprintf("http://localhost:%d/echo", port),
		fmt.Sprintf("http://localhost.:%d/echo", port),
		fmt.Sprintf("http://[::1]:%d/", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", port),
		fmt.Sprintf("http://[::ffff:7f00:1]:%d/", port),
		"http://127.1/", "http://2130706433/", "http://0x7f.0.0.1/", "http://0.0.0.0/",
		"http://10.1.2.3/", "https://10.1.2.3/", "http://172.16.5.4/", "http://192.168.0.1/",
		"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
		"http://[fe80::1]/", "http://224.0.0.1/", "http://[::]/",
	} {
		_, _, e := call(t, s, "http.request", nil, "GET", u)
		if e == nil || (e.Code != CodeEgressDenied && e.Code != CodeHTTPError) {
			t.Errorf("GET %s: %v, want EGRESS_DENIED", u, e)
			continue
		}
		if e.Code == CodeHTTPError {
			// Forms Go does not take as an address are a name that does
			// not resolve: refused as well, still without a dial.
			t.Logf("GET %s: %v", u, e)
		}
		if strings.Contains(e.Message, "127.0.0.1") && !strings.Contains(u, "127.0.0.1") {
			t.Errorf("message %q shows what %s resolved to", e.Message, u)
		}
	}
}

func TestHTTPAllowList(t *testing.T) {
	srv := testServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byName := httpServices(t, HTTPConfig{Allow: []string{"LocalHost"}})
	if res, _ := mustCall(t, byName, "http.request", nil, "GET", fmt.Sprintf("http://localhost:%d/size/1", port)); !strings.Contains(res, `"status":200`) {
		t.Fatalf("allowed name = %s", res)
	}
	// Allowing a name does not allow the address it resolves to.
	_, _, e := call(t, byName, "http.request", nil, "GET", srv.URL+"/size/1")
	wantError(t, e, CodeEgressDenied, "Error")

	byNet := httpServices(t, HTTPConfig{Allow: []string{"127.0.0.0/8"}})
	if res, _ := mustCall(t, byNet, "http.request", nil, "GET", fmt.Sprintf("http://localhost:%d/size/1", port)); !strings.Contains(res, `"status":200`) {
		t.Fatalf("allowed network via a name = %s", res)
	}

	open := httpServices(t, HTTPConfig{AllowPrivate: true})
	mustCall(t, open, "http.request", nil, "GET", srv.URL+"/size/1")

	if _, err := New(testConn(t), Identity{Namespace: "a", Name: "b"}, Config{HTTP: HTTPConfig{Allow: []string{"*.example.com"}}}); err == nil {
		t.Fatal("New accepted a wildcard allow entry")
	}
}

// TestHTTPRedirectRefused follows a redirect from an allowed server to
// private addresses: the redirect is dialled through the same check.
func TestHTTPRedirectRefused(t *testing.T) {
	srv := testServer(t)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	allowed := fmt.Sprintf("http://localhost:%d", port)
	s := httpServices(t, HTTPConfig{Allow: []string{"localhost"}})
	for _, to := range []string{
		srv.URL + "/size/1", // the same server by address, which is not allowed
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/",
		"http://[::1]:1/",
	} {
		_, _, e := call(t, s, "http.request", nil, "GET", allowed+"/redirect?to="+to)
		wantError(t, e, CodeEgressDenied, "Error")
	}
	_, _, e := call(t, s, "http.request", nil, "GET", allowed+"/redirect?to=file:///etc/passwd")
	wantError(t, e, CodeHTTPError, "Error")

	// With redirects off, the 3xx itself is the answer.
	none := httpServices(t, HTTPConfig{Allow: []string{"localhost"}, MaxRedirects: -1})
	res, _ := mustCall(t, none, "http.request", nil, "GET", allowed+"/redirect?to=http://10.0.0.1/")
	if !strings.Contains(res, `"status":302`) || !strings.Contains(res, `"location":["http://10.0.0.1/"]`) {
		t.Fatalf("unfollowed redirect = %s", res)
	}
}

// TestHTTPRedirectModes: a followed redirect names the URL it ended at;
// opts.redirect "manual" returns the 3xx itself, whatever the node allows.
func TestHTTPRedirectModes(t *testing.T) {
	srv := testServer(t)
	s := httpServices(t, HTTPConfig{Allow: []string{"127.0.0.1"}})

	res, _ := mustCall(t, s, "http.request", nil, "GET", srv.URL+"/redirect?to=/size/3")
	if !strings.Contains(res, `"url":"`+srv.URL+`/size/3"`) || !strings.Contains(res, `"status_text":"OK"`) {
		t.Fatalf("followed redirect = %s", res)
	}
	res, _ = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/size/3")
	if strings.Contains(res, `"url"`) {
		t.Fatalf("no redirect, yet a url: %s", res)
	}
	res, _ = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/missing")
	if !strings.Contains(res, `"status_text":"Not Found"`) {
		t.Fatalf("404 = %s", res)
	}

	res, rb := mustCall(t, s, "http.request", nil, "GET", srv.URL+"/redirect?to=/size/3", map[string]any{"redirect": "manual"})
	if !strings.Contains(res, `"status":302`) || !strings.Contains(res, `"location":["/size/3"]`) || strings.Contains(res, `"url"`) || string(rb) == "xxx" {
		t.Fatalf("manual redirect = %s %q", res, rb)
	}
	res, _ = mustCall(t, s, "http.request", nil, "GET", srv.URL+"/redirect?to=/size/3", map[string]any{"redirect": "follow"})
	if !strings.Contains(res, `"status":200`) {
		t.Fatalf("follow = %s", res)
	}
	_, _, e := call(t, s, "http.request", nil, "GET", srv.URL+"/size/3", map[string]any{"redirect": "error"})
	wantError(t, e, CodeInvalidArgument, "TypeError")
}

func TestHTTPLimits(t *testing.T) {
	srv := testServer(t)
	s := httpServices(t, HTTPConfig{Allow: []string{"127.0.0.1"}, MaxResponseBytes: 1000, Timeout: 5 * time.Second})
	if _, rb := mustCall(t, s, "http.request", nil, "GET", srv.URL+"/size/1000"); len(rb) != 1000 {
		t.Fatalf("got %d bytes", len(rb))
	}
	_, _, e := call(t, s, "http.request", nil, "GET", srv.URL+"/size/1001")
	wantError(t, e, CodeTooLarge, "Error")

	start := time.Now()
	_, _, e = call(t, s, "http.request", nil, "GET", srv.URL+"/slow", map[string]any{"timeout_ms": 100})
	wantError(t, e, CodeTimeout, "Error")
	// The invocation's deadline bounds a longer timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, _, e = callCtx(t, ctx, s, "http.request", nil, "GET", srv.URL+"/slow", map[string]any{"timeout_ms": 60000})
	wantError(t, e, CodeTimeout, "Error")
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("two short timeouts took %v", d)
	}
}

func TestHTTPArguments(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	srv := testServer(t)
	s := httpServices(t, HTTPConfig{Allow: []string{"127.0.0.1"}})
	// The environment's proxy is ignored: the request goes straight there.
	mustCall(t, s, "http.request", nil, "GET", srv.URL+"/echo")

	bad := [][]any{
		{}, {"GET"}, {1, srv.URL}, {"GET", 1}, {"TRACE", srv.URL}, {"CONNECT", srv.URL}, {"G ET", srv.URL},
		{"GET", "ftp://example.com/"}, {"GET", "file:///etc/passwd"}, {"GET", "/relative"}, {"GET", "http://"},
		{"GET", "http:///x"}, {"GET", "example.com"}, {"GET", "http://a b/"}, {"GET", "http://x/" + strings.Repeat("a", maxURLLen)},
		{"GET", srv.URL, "opts"}, {"GET", srv.URL, []int{1}},
		{"GET", srv.URL, map[string]any{"timeout_ms": "5"}},
		{"GET", srv.URL, map[string]any{"headers": []string{"a"}}},
		{"GET", srv.URL, map[string]any{"headers": map[string]any{"Bad Name": "v"}}},
		{"GET", srv.URL, map[string]any{"headers": map[string]any{"X": "a\r\nInjected: 1"}}},
		{"GET", srv.URL, map[string]any{"headers": map[string]any{"X": map[string]any{}}}},
	}
	for _, a := range bad {
		_, _, e := call(t, s, "http.request", nil, a...)
		if e == nil || e.Code != CodeInvalidArgument || e.Type != "TypeError" {
			t.Errorf("%v: %v, want INVALID_ARGUMENT", a, e)
		}
	}

	off := httpServices(t, HTTPConfig{Disabled: true})
	_, _, e := call(t, off, "http.request", nil, "GET", srv.URL)
	wantError(t, e, CodeDisabled, "Error")
}
