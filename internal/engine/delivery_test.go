package engine

import (
	"context"
	"testing"
	"time"
)

// TestDeliveryMsg: a consumer delivery's meta reaches msg, and the
// function's first decision comes back in the Result.
func TestDeliveryMsg(t *testing.T) {
	iso := newIsolate(t, `(s, p, msg) => {
		if (p.text() === "ack") { msg.ack(); msg.nak(5); throw new Error("x") }
		if (p.text() === "nak") { msg.nak(1500.7); return }
		if (p.text() === "term") { msg.term("bad " + msg.key); return "body" }
		return msg.kind + " " + msg.deliveries + " " + typeof msg.inProgress + " " + msg.reply
	}`, Options{})
	cases := []struct {
		payload string
		want    Disposition
		body    string
	}{
		{"plain", Disposition{}, "stream 2 function "},
		{"ack", Disposition{Kind: DispositionAck}, ""},
		{"nak", Disposition{Kind: DispositionNak, Delay: 1500 * time.Millisecond}, ""},
		{"term", Disposition{Kind: DispositionTerm, Reason: "bad k1"}, "body"},
	}
	for _, c := range cases {
		res := iso.Invoke(context.Background(), &Invocation{Subject: "s", Payload: []byte(c.payload),
			Meta: []byte(`{"kind":"stream","deliveries":2,"key":"k1"}`)})
		if res.Disposition != c.want || string(res.Body) != c.body {
			t.Errorf("%s: %+v %q %v", c.payload, res.Disposition, res.Body, res.Err)
		}
	}
	// A subject invocation has no decisions.
	res := iso.Invoke(context.Background(), &Invocation{Subject: "s", Payload: []byte("plain")})
	if string(res.Body) != "undefined undefined undefined " {
		t.Errorf("subject msg: %q %v", res.Body, res.Err)
	}
}
