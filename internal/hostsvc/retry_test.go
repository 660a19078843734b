package hostsvc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A brief outage is waited out within the deadline; anything else, and no
// responders before the bucket is bound (JetStream off), fail at once.
func TestWhileUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		bound    bool
		attempts int
	}{
		{"stream electing", jetstream.ErrNoStreamResponse, true, 3},
		{"no leader for a bound bucket", nats.ErrNoResponders, true, 3},
		{"reconnecting", nats.ErrConnectionReconnecting, true, 3},
		{"meta leader elected", &jetstream.APIError{ErrorCode: codeClusterNotAvailable}, false, 3},
		{"JetStream off", nats.ErrNoResponders, false, 1},
		{"key not found", jetstream.ErrKeyNotFound, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n := 0
			err := whileUnavailable(ctx, tc.bound, func() error {
				n++
				if n < 3 {
					return tc.err
				}
				return nil
			})
			if n != tc.attempts {
				t.Fatalf("%d attempts, want %d (err %v)", n, tc.attempts, err)
			}
			if (tc.attempts == 1) != errors.Is(err, tc.err) && tc.attempts == 1 {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
		})
	}
	// The deadline ends the waiting, with the cause.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := whileUnavailable(ctx, true, func() error { return jetstream.ErrNoStreamResponse })
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("after the deadline: %v", err)
	}
}
