package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// Reads through a consumer (a key's history, a namespace's listing) are
// answered by whichever replica JetStream placed the consumer on, and a
// replica whose server has just come back replays what it had until it
// has caught up: a removed function is listed again, a new version is
// missing, and a deploy reading such a history would delete the bundle of
// a version still kept. A read of one message is answered by the
// stream's leader, so each consumer read is checked against the last
// sequence the leader holds for its keys, and taken again until it has
// caught up.

// Pauses between the takes of a consumer read that was behind.
const (
	behindPauseMin = 20 * time.Millisecond
	behindPauseMax = 500 * time.Millisecond
)

// leaderLast returns the sequence of the last message on the functions
// bucket's keys (one key, or a wildcard) as the stream's leader has it, or
// 0 when there is none.
func (s *Store) leaderLast(ctx context.Context, keys string) (uint64, error) {
	m, err := s.functionsStream.GetLastMsgForSubject(ctx, "$KV."+api.FunctionsBucket+"."+keys)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// readCurrent runs read, which returns the highest revision it saw
// (delete markers included), until that reaches what the leader holds for
// keys, or ctx ends.
func (s *Store) readCurrent(ctx context.Context, keys string, read func() (uint64, error)) error {
	want, err := s.leaderLast(ctx, keys)
	if err != nil {
		return err
	}
	pause := behindPauseMin
	for {
		seen, err := read()
		if err != nil || seen >= want {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsfn: a replica of %s is still catching up with its leader (revision %d of %d): %w",
				api.FunctionsBucket, seen, want, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, behindPauseMax)
	}
}
