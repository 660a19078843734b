package natsperm

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

func violation(text string) error {
	return fmt.Errorf("%w: %s", nats.ErrPermissionViolation, text)
}

func TestParse(t *testing.T) {
	for text, want := range map[string]Error{
		`Permissions Violation for Publish to "$JS.API.STREAM.INFO.KV_x"`:               {Op: Publish, Subject: "$JS.API.STREAM.INFO.KV_x"},
		`Permissions Violation for Subscription to "orders.>"`:                          {Op: Subscribe, Subject: "orders.>"},
		`Permissions Violation for Subscription to "a.b" using queue "q.1"`:             {Op: Subscribe, Subject: "a.b", Queue: "q.1"},
		`Permissions Violation for Publish with Reply of "_INBOX.abc.def"`:              {Op: Publish, Subject: "_INBOX.abc.def"},
		`permissions violation for subscription to "a" using queue "natsfn.default.fn"`: {Op: Subscribe, Subject: "a", Queue: "natsfn.default.fn"},
	} {
		got := Parse(violation(text))
		if got == nil || got.Op != want.Op || got.Subject != want.Subject || got.Queue != want.Queue {
			t.Errorf("Parse(%q) = %+v, want %+v", text, got, want)
		}
	}
	if Parse(errors.New(`Permissions Violation for Publish to "x"`)) != nil || Parse(nats.ErrTimeout) != nil || Parse(nil) != nil {
		t.Error("parsed an error that is not nats.ErrPermissionViolation")
	}
}

func TestWatchEndsOnMatchingRefusal(t *testing.T) {
	v := New()
	ctx, stop := v.Watch(context.Background(), func(e *Error) bool { return e.Op == Publish && e.Subject == "mine" })
	defer stop()
	v.Report(violation(`Permissions Violation for Publish to "other"`))
	if ctx.Err() != nil {
		t.Fatal("ended by another subject's refusal")
	}
	v.Report(violation(`Permissions Violation for Publish to "mine"`))
	<-ctx.Done()
	if r := Refusal(ctx); r == nil || r.Subject != "mine" {
		t.Fatalf("refusal: %v", r)
	}
	if v.RecentlyDenied("mine") == nil || v.RecentlyDenied("never") != nil {
		t.Error("RecentlyDenied")
	}
}
