package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/control/controltest"
	"github.com/natsfn/natsfn/internal/testenv"
)

func publishLogs(t *testing.T, js jetstream.JetStream, ns, name string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		b, _ := json.Marshal(api.LogEntry{Time: time.Now().UTC(), Namespace: ns, Function: name, Level: "info", Message: fmt.Sprint("line ", i)})
		if _, err := js.Publish(t.Context(), api.LogSubject(ns, name), b); err != nil {
			t.Fatal(err)
		}
	}
}

func messages(entries []api.LogEntry) string {
	var s []string
	for _, e := range entries {
		s = append(s, e.Message)
	}
	return fmt.Sprint(s)
}

func TestLogsHistory(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	publishLogs(t, js, "default", "f", 0, 5)
	publishLogs(t, js, "default", "other", 0, 3)
	publishLogs(t, js, "team", "f", 0, 3)
	if _, err := js.Publish(t.Context(), api.LogSubject("default", "f"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, url)

	for _, tc := range []struct {
		last int
		want string
	}{
		{-1, "[line 0 line 1 line 2 line 3 line 4 not json]"},
		{2, "[line 4 not json]"},
		{100, "[line 0 line 1 line 2 line 3 line 4 not json]"},
		{0, "[]"},
	} {
		var got []api.LogEntry
		if err := c.Logs(t.Context(), "f", false, tc.last, func(e api.LogEntry) { got = append(got, e) }); err != nil {
			t.Fatal(err)
		}
		if messages(got) != tc.want {
			t.Errorf("last %d: %s, want %s", tc.last, messages(got), tc.want)
		}
	}
	var none []api.LogEntry
	if err := c.Logs(t.Context(), "never-logged", false, 10, func(e api.LogEntry) { none = append(none, e) }); err != nil || len(none) != 0 {
		t.Errorf("logs of a silent function: %v, %v", none, err)
	}
}

func TestLogsFollow(t *testing.T) {
	url := controltest.Start(t)
	js := testenv.JetStream(t, testenv.Conn(t, url))
	publishLogs(t, js, "default", "f", 0, 3)
	c, _ := newClient(t, url)

	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan api.LogEntry, 100)
	done := make(chan error, 1)
	go func() { done <- c.Logs(ctx, "f", true, 1, func(e api.LogEntry) { got <- e }) }()

	want := []string{"line 2", "line 3", "line 4"}
	for i, w := range want {
		select {
		case e := <-got:
			if e.Message != w {
				t.Fatalf("entry %d = %q, want %q", i, e.Message, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no entry %d (%s) within 5s", i, w)
		}
		if i == 0 {
			publishLogs(t, js, "default", "f", 3, 5)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs after cancel: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Logs did not return after cancel")
	}
}
