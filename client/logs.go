package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
)

// Logs calls fn with a function's log entries, oldest first: the last
// `last` entries kept in the log stream (all of them when last < 0, none
// when last is 0), then, when follow is set, new entries until ctx ends.
// Without follow the default timeout applies; with it, Logs returns nil when
// ctx ends.
func (c *Client) Logs(ctx context.Context, name string, follow bool, last int, fn func(api.LogEntry)) error {
	if err := api.ValidateName("name", name); err != nil {
		return api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if !follow {
		if last == 0 {
			return nil
		}
		var cancel context.CancelFunc
		ctx, cancel = c.withTimeout(ctx)
		defer cancel()
	}
	err := c.logs(ctx, api.LogSubject(c.namespace, name), follow, last, fn)
	if follow && ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Client) logs(ctx context.Context, subject string, follow bool, last int, fn func(api.LogEntry)) error {
	stream, err := c.js.Stream(ctx, api.LogStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return c.noNode()
	}
	if err != nil {
		return fmt.Errorf("natsfn: logs: %w", err)
	}
	// History ends at the entry that is last now; later ones are new.
	var end uint64
	if last != 0 {
		m, err := stream.GetLastMsgForSubject(ctx, subject)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
		case err != nil:
			return fmt.Errorf("natsfn: logs: %w", err)
		default:
			end = m.Sequence
		}
	}
	if end == 0 && !follow {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if end == 0 {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("natsfn: logs: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("natsfn: logs: %w", err)
	}
	defer it.Stop()

	// The stream keeps at most store.LogMaxMsgsPerFunc entries per function,
	// so reading them all to keep the last few is cheap.
	history := newRing(last)
	inHistory := end > 0
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("natsfn: logs: %w", err)
		}
		entry := decodeEntry(m.Data())
		if !inHistory {
			fn(entry)
			continue
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("natsfn: logs: %w", err)
		}
		history.add(entry)
		if meta.Sequence.Stream >= end {
			inHistory = false
			history.each(fn)
			if !follow {
				return nil
			}
		}
	}
}

// decodeEntry reads a log entry; anything else on the subject is shown as
// its text rather than dropped.
func decodeEntry(data []byte) api.LogEntry {
	var e api.LogEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return api.LogEntry{Time: time.Now().UTC(), Level: "?", Message: string(data)}
	}
	return e
}

// ring keeps the last n entries added (all of them when n < 0).
type ring struct {
	n       int
	entries []api.LogEntry
}

func newRing(n int) *ring { return &ring{n: n} }

func (r *ring) add(e api.LogEntry) {
	if r.n >= 0 && len(r.entries) == r.n {
		if r.n == 0 {
			return
		}
		r.entries = append(r.entries[:0], r.entries[1:]...)
	}
	r.entries = append(r.entries, e)
}

func (r *ring) each(fn func(api.LogEntry)) {
	for _, e := range r.entries {
		fn(e)
	}
	r.entries = nil
}
