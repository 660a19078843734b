package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/api"
)

// TestMalformedExchange writes impossible values where the engine reads
// lengths and checks that each gives an error, not a panic.
func TestMalformedExchange(t *testing.T) {
	iso := newIsolate(t, `(s, p) => p`, Options{Host: echoHost{}})
	if res := invoke(iso, "x"); res.Err != nil {
		t.Fatal(res.Err)
	}
	size := len(iso.exchange)
	for _, slots := range [][2]int{
		{statusBytes, size}, {statusBytes, -1}, {statusBytes, 1 << 30}, {statusBytes, -1 << 31},
		{statusThrown, size - headerBytes + 1}, {statusThrown, -5}, {7, 0}, {-1, 0},
	} {
		iso.setSlot(0, slots[0])
		iso.setSlot(1, slots[1])
		res := iso.reply()
		if res.Err == nil || res.Err.Code != api.CodeInternal {
			t.Errorf("slots %v: got %v, want an internal error", slots, res.Err)
		}
	}
	iso.setSlot(0, statusBytes)
	iso.setSlot(1, size-headerBytes)
	if res := iso.reply(); res.Err != nil || len(res.Body) != size-headerBytes {
		t.Errorf("the largest reply: %v, %d bytes", res.Err, len(res.Body))
	}

	for _, slots := range [][3]int{
		{-1, 0, -1}, {0, -1, -1}, {0, 0, -2}, {size, 0, -1}, {0, size, -1}, {0, 0, size},
		{size / 2, size / 2, size / 2}, {1 << 30, 1 << 30, 1 << 30}, {-1 << 31, 0, 0},
	} {
		for k, v := range slots {
			iso.setSlot(k, v)
		}
		if _, err := iso.nativeHost(nil); err == nil {
			t.Errorf("host slots %v: no error", slots)
		}
	}
	if iso.Broken() {
		t.Fatal("isolate broken")
	}
	if res := invoke(iso, "again"); res.Err != nil || string(res.Body) != "again" {
		t.Fatalf("after: %v %q", res.Err, res.Body)
	}
}

// panicHost panics on every call.
type panicHost struct{}

func (panicHost) Call(context.Context, string, []byte, []byte) (any, []byte, error) {
	panic("host bug")
}

// deadlineBomb is a context whose Deadline panics, as a buggy caller's might.
type deadlineBomb struct{ context.Context }

func (deadlineBomb) Deadline() (time.Time, bool) { panic("deadline bug") }

// TestGoPanics checks that a panic in Go code an isolate runs ends at most
// that isolate: a Host's panic is an error in JavaScript, a panic in a
// callback or in Invoke marks the isolate broken with an internal error.
func TestGoPanics(t *testing.T) {
	t.Run("host", func(t *testing.T) {
		iso := newIsolate(t, `() => { try { hostServices.kv.get("k") } catch (e) { return e.code } }`, Options{Host: panicHost{}})
		if res := invoke(iso, ""); res.Err != nil || string(res.Body) != "INTERNAL" || iso.Broken() {
			t.Fatalf("got %v %q broken=%v", res.Err, res.Body, iso.Broken())
		}
	})
	t.Run("console callback", func(t *testing.T) {
		iso := newIsolate(t, `() => { try { console.log("x") } catch (e) {} return "caught" }`,
			Options{Console: func(string, string) { panic("console bug") }})
		res := invoke(iso, "")
		if res.Err == nil || res.Err.Code != api.CodeInternal || !strings.Contains(res.Detail, "console bug") || !iso.Broken() {
			t.Fatalf("got %v (%s) broken=%v", res.Err, res.Detail, iso.Broken())
		}
		if res := invoke(iso, ""); res.Err == nil || res.Err.Code != api.CodeUnavailable {
			t.Fatalf("a broken isolate answered %v", res.Err)
		}
	})
	t.Run("console at start", func(t *testing.T) {
		p, err := Compile("start.js", `console.log("top"); () => 1`)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewIsolate(p, Options{Console: func(string, string) { panic("console bug") }})
		if err == nil || !strings.Contains(err.Error(), "console bug") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("invoke", func(t *testing.T) {
		iso := newIsolate(t, `() => 1`, Options{})
		res := iso.Invoke(deadlineBomb{context.Background()}, &Invocation{Subject: "s"})
		if res.Err == nil || res.Err.Code != api.CodeInternal || !strings.Contains(res.Detail, "deadline bug") || !iso.Broken() {
			t.Fatalf("got %v (%s) broken=%v", res.Err, res.Detail, iso.Broken())
		}
	})
}
