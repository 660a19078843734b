package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/client"
	"github.com/natsfn/natsfn/internal/control"
	"github.com/natsfn/natsfn/internal/control/controltest"
	"github.com/natsfn/natsfn/internal/testenv"
)

func newClient(t *testing.T, url string, opts ...client.Option) (*client.Client, *nats.Conn) {
	t.Helper()
	nc := testenv.Conn(t, url)
	c, err := client.New(nc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, nc
}

func spec(name string, triggers ...string) api.FunctionSpec {
	return api.FunctionSpec{Name: name, Triggers: triggers}
}

func TestOptions(t *testing.T) {
	nc := testenv.Conn(t, testenv.NATS(t))
	for _, opt := range []client.Option{client.WithNamespace("Bad"), client.WithNamespace(""), client.WithTimeout(0), client.WithTimeout(-time.Second)} {
		if _, err := client.New(nc, opt); err == nil {
			t.Error("New accepted an invalid option")
		}
	}
	if _, err := client.New(nil); err == nil {
		t.Error("New accepted a nil connection")
	}
	c, err := client.New(nc, client.WithNamespace("team-a"))
	if err != nil || c.Namespace() != "team-a" {
		t.Errorf("New = %v, %v", c, err)
	}
}

func TestFunctionsLifecycle(t *testing.T) {
	url := controltest.Start(t, control.WithCheck(func(_ context.Context, _ api.FunctionSpec, script []byte) error {
		if strings.Contains(string(script), "{{") {
			return errors.New("SyntaxError: Unexpected token '{'")
		}
		return nil
	}))
	c, _ := newClient(t, url)
	ctx := t.Context()

	if list, err := c.List(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("List of nothing = %#v, %v", list, err)
	}
	info, err := c.Deploy(ctx, spec("hello", "hello.>"), []byte("() => 'hi'"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Spec.Namespace != "default" || info.BundleDigest != api.Digest([]byte("() => 'hi'")) {
		t.Errorf("Deploy = %+v", info)
	}
	if got, err := c.Info(ctx, "hello"); err != nil || got.Revision != info.Revision {
		t.Errorf("Info = %+v, %v", got, err)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 1 || list[0].Spec.Name != "hello" {
		t.Errorf("List = %+v, %v", list, err)
	}

	var apiErr *api.Error
	_, err = c.Deploy(ctx, spec("broken", "b"), []byte("{{"))
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(apiErr.Message, "does not compile: SyntaxError") {
		t.Errorf("Deploy of broken code: %v", err)
	}
	_, err = c.Info(ctx, "nope")
	if !errors.As(err, &apiErr) || apiErr.Code != 404 {
		t.Errorf("Info of an unknown function: %v", err)
	}

	other, _ := newClient(t, url, client.WithNamespace("other"))
	if list, _ := other.List(ctx); len(list) != 0 {
		t.Errorf("other namespace sees %+v", list)
	}
	if _, err := other.Remove(ctx, "hello"); !errors.As(err, &apiErr) || apiErr.Code != 404 {
		t.Errorf("Remove from another namespace: %v", err)
	}

	if removed, err := c.Remove(ctx, "hello"); err != nil || removed.Spec.Name != "hello" {
		t.Errorf("Remove = %+v, %v", removed, err)
	}
	if _, err := c.Info(ctx, "hello"); !errors.As(err, &apiErr) || apiErr.Code != 404 {
		t.Errorf("Info after Remove: %v", err)
	}
}

func TestClientSideValidation(t *testing.T) {
	c, _ := newClient(t, controltest.Start(t))
	ctx := t.Context()
	var apiErr *api.Error
	for _, s := range []api.FunctionSpec{spec("Bad", "x"), spec("x"), spec("x", "$SYS.x"), {Namespace: "other", Name: "x", Triggers: []string{"x"}}} {
		if _, err := c.Deploy(ctx, s, []byte("1")); !errors.As(err, &apiErr) || apiErr.Code != 400 {
			t.Errorf("Deploy %+v: %v, want a 400", s, err)
		}
	}
	if _, err := c.Deploy(ctx, spec("x", "x"), make([]byte, api.MaxBundleBytes+1)); !errors.As(err, &apiErr) || apiErr.Code != 413 {
		t.Errorf("Deploy of a huge bundle: %v, want a 413", err)
	}
	if _, err := c.Info(ctx, "a.b"); !errors.As(err, &apiErr) || apiErr.Code != 400 {
		t.Errorf("Info of a bad name: %v", err)
	}
	if _, err := c.Invoke(ctx, "a.*", nil, nil); err == nil {
		t.Error("Invoke on a wildcard subject succeeded")
	}
}

func TestNoNode(t *testing.T) {
	url := testenv.NATS(t)
	c, _ := newClient(t, url)
	ctx := t.Context()
	checks := map[string]func() error{
		"List":   func() error { _, err := c.List(ctx); return err },
		"Info":   func() error { _, err := c.Info(ctx, "x"); return err },
		"Remove": func() error { _, err := c.Remove(ctx, "x"); return err },
		"Deploy": func() error { _, err := c.Deploy(ctx, spec("x", "x"), []byte("1")); return err },
		"Logs":   func() error { return c.Logs(ctx, "x", false, 10, func(api.LogEntry) {}) },
	}
	for name, call := range checks {
		err := call()
		if !errors.Is(err, client.ErrNoNode) || !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "natsfn up") {
			t.Errorf("%s without a node: %v", name, err)
		}
	}
}

// A node ran once (the buckets exist) but none runs now: the deploy is
// refused and its upload removed.
func TestNoNodeAfterBucketsExist(t *testing.T) {
	url := testenv.NATS(t)
	nc := testenv.Conn(t, url)
	js := testenv.JetStream(t, nc)
	uploads, err := js.CreateObjectStore(t.Context(), jetstream.ObjectStoreConfig{Bucket: api.UploadsBucket})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, url)
	if _, err := c.Deploy(t.Context(), spec("x", "x"), []byte("1")); !errors.Is(err, client.ErrNoNode) {
		t.Fatalf("Deploy without a node: %v", err)
	}
	if list, _ := uploads.List(t.Context()); len(list) != 0 {
		t.Errorf("uploads left behind: %d", len(list))
	}
}

func TestInvoke(t *testing.T) {
	url := testenv.NATS(t)
	c, nc := newClient(t, url)
	ctx := t.Context()
	sub, err := nc.Subscribe("echo.>", func(m *nats.Msg) {
		reply := nats.NewMsg("")
		switch m.Subject {
		case "echo.fail":
			reply.Header.Set(api.HeaderError, "the function threw")
			reply.Header.Set(api.HeaderErrorCode, "500")
		case "echo.slow":
			time.Sleep(300 * time.Millisecond)
		default:
			b, _ := json.Marshal(map[string]any{"subject": m.Subject, "payload": m.Data, "header": m.Header.Get("X-Test")})
			reply.Data = b
		}
		m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	payload := []byte{0, 1, 2, 0xff, '\n'}
	reply, err := c.Invoke(ctx, "echo.a", payload, nats.Header{"X-Test": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Subject string
		Payload []byte
		Header  string
	}
	if err := json.Unmarshal(reply.Data, &got); err != nil || got.Subject != "echo.a" || string(got.Payload) != string(payload) || got.Header != "yes" {
		t.Errorf("echo = %s, %v", reply.Data, err)
	}

	var apiErr *api.Error
	reply, err = c.Invoke(ctx, "echo.fail", nil, nil)
	if !errors.As(err, &apiErr) || apiErr.Code != 500 || apiErr.Message != "the function threw" || reply == nil {
		t.Errorf("error reply: %v, %v", reply, err)
	}
	if _, err := c.Invoke(ctx, "nobody.home", nil, nil); !errors.Is(err, client.ErrNoResponders) {
		t.Errorf("no responders: %v", err)
	}

	// The default timeout applies only when the context has none.
	short, _ := newClient(t, url, client.WithTimeout(100*time.Millisecond))
	if _, err := short.Invoke(ctx, "echo.slow", nil, nil); err == nil || !strings.Contains(err.Error(), "no reply") {
		t.Errorf("slow reply with a 100ms default: %v", err)
	}
	longCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := short.Invoke(longCtx, "echo.slow", nil, nil); err != nil {
		t.Errorf("slow reply with a 5s context deadline: %v", err)
	}
}

// TestHammer deploys, lists and removes from many goroutines at once.
func TestHammer(t *testing.T) {
	url := controltest.Start(t)
	c, _ := newClient(t, url)
	ctx := t.Context()
	const n = 16
	errs := make(chan error, 3*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("f-%d", i)
			if _, err := c.Deploy(ctx, spec(name, name), fmt.Appendf(nil, "() => %d", i)); err != nil {
				errs <- err
			}
			// Everyone redeploys one shared function; a conflict may be refused.
			_, err := c.Deploy(ctx, spec("shared", "shared"), fmt.Appendf(nil, "() => 'shared %d'", i))
			var apiErr *api.Error
			if err != nil && !(errors.As(err, &apiErr) && apiErr.Code == api.CodeConflict) {
				errs <- err
			}
			if _, err := c.List(ctx); err != nil {
				errs <- err
			}
			if i%2 == 0 {
				if _, err := c.Remove(ctx, name); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n/2+1 {
		t.Errorf("%d functions left, want %d", len(list), n/2+1)
	}
}
