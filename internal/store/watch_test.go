package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/store"
)

func next(t *testing.T, w *store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatal("watcher closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	panic("unreachable")
}

func TestWatch(t *testing.T) {
	st, js := open(t)
	ctx := t.Context()
	for _, f := range [][2]string{{"a", "one"}, {"b", "two"}, {"a", "gone"}} {
		if _, err := st.Put(ctx, info(f[0], f[1], "t"), []byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "a", "gone"); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, api.FunctionsBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a.broken", []byte("{not json")); err != nil {
		t.Fatal(err)
	}

	w, err := st.Watch(ctx, ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	initial := map[string]store.Event{}
	for {
		ev := next(t, w)
		if ev.Kind == store.EventReady {
			break
		}
		initial[ev.Namespace+"/"+ev.Name] = ev
	}
	if len(initial) != 3 {
		t.Errorf("initial events = %v, want a/one, b/two, a/broken (no deleted a/gone)", initial)
	}
	if ev := initial["a/one"]; ev.Kind != store.EventPut || ev.Info == nil || ev.Info.Spec.Name != "one" || ev.Err != nil {
		t.Errorf("a/one event = %+v", ev)
	}
	if ev := initial["a/broken"]; ev.Kind != store.EventPut || ev.Err == nil || ev.Info != nil {
		t.Errorf("a/broken event = %+v, want an error", ev)
	}

	put, err := st.Put(ctx, info("c", "three", "t"), []byte("3"))
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Kind != store.EventPut || ev.Namespace != "c" || ev.Name != "three" || ev.Revision != put.Revision || ev.Info.BundleDigest != put.BundleDigest {
		t.Errorf("put event = %+v", ev)
	}
	if err := st.Delete(ctx, "a", "one"); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Kind != store.EventDelete || ev.Namespace != "a" || ev.Name != "one" || ev.Info != nil {
		t.Errorf("delete event = %+v", ev)
	}
	w.Stop()
	w.Stop()
	if _, ok := <-w.Events(); ok {
		t.Error("events still open after Stop")
	}
}

func TestWatchEmptyIsReady(t *testing.T) {
	st, _ := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := st.Watch(ctx, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(t, w); ev.Kind != store.EventReady {
		t.Errorf("first event on an empty store = %v, want ready", ev.Kind)
	}
	cancel()
	select {
	case _, ok := <-w.Events():
		if ok {
			t.Error("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("events not closed after the context ended")
	}
	w.Stop()
}
