package hostsvc

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pauses between the attempts of an operation JetStream could not serve
// for a moment.
const (
	retryWaitMin = 50 * time.Millisecond
	retryWaitMax = time.Second
)

// codeClusterNotAvailable is JetStream's "JetStream system temporarily
// unavailable" (no meta leader yet).
const codeClusterNotAvailable = 10008

// whileUnavailable runs op again while JetStream is briefly unable to serve
// it (a stream electing a new leader after a server's loss, the node's
// connection failing over to another server), until it succeeds, fails
// otherwise, or ctx (the invocation's deadline) ends. A fault of a second
// on a cluster is then not a failed kv call. Every operation it runs is
// safe to repeat: a get, a set of the same value, a delete.
//
// Before the bucket is bound, no responders means JetStream is not enabled
// (it would answer "temporarily unavailable" while electing), which is not
// brief: opening says bound false.
func whileUnavailable(ctx context.Context, bound bool, op func() error) error {
	wait := retryWaitMin
	for {
		err := op()
		if err == nil || !briefOutage(err, bound) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, retryWaitMax)
	}
}

// briefOutage reports whether err says JetStream or NATS cannot serve a
// request right now, as during a leader election or a reconnect.
func briefOutage(err error, bound bool) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.Is(err, nats.ErrNoResponders):
		return bound // a bound bucket's stream has no leader for a moment
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode == codeClusterNotAvailable
	}
	return false
}
