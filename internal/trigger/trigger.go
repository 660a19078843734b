// Package trigger holds the JetStream side of the consumer-based triggers
// (stream, schedule and KV watch): which durable consumer each uses, the
// schedule and dead-letter streams, and removing them. The node's executor
// runs the consumers (internal/executor/consumer.go); the control API
// removes them with the function; the CLI reads their counts and the
// dead letters. docs/triggers.md is the contract.
package trigger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
)

// Consumer is one durable consumer a function's triggers use.
type Consumer struct {
	// Kind is the trigger kind: stream, schedule or watch.
	Kind   string
	Stream string
	Config jetstream.ConsumerConfig
	// MaxDeliver and Backoff rule the retries of a failed delivery;
	// DeadLetter says whether a delivery that failed its last try goes
	// to the dead-letter stream.
	MaxDeliver int
	Backoff    func(deliveries uint64) time.Duration
	DeadLetter bool
}

// InFlightPerIsolate is how many messages a node takes per isolate of
// the function: the pool runs concurrency at once and queues the rest, so
// the next message is there when an isolate is free.
const InFlightPerIsolate = 4

// ackWaitMargin is added to the consumers' ack wait. A message waits in a
// node's pull buffer and the pool's queue behind at most
// 2*InFlightPerIsolate messages per isolate, each running at most one
// timeout, and must not be redelivered meanwhile.
const ackWaitMargin = 30 * time.Second

// Consumers are the durable consumers spec's triggers use, with
// concurrency the messages each node runs at once.
func Consumers(spec api.FunctionSpec, concurrency int) []Consumer {
	ackWait := time.Duration(2*InFlightPerIsolate)*spec.EffectiveTimeout() + ackWaitMargin
	var out []Consumer
	if t := spec.Stream; t != nil {
		c := Consumer{Kind: "stream", Stream: t.Stream, MaxDeliver: t.EffectiveMaxDeliver(), Backoff: t.BackoffFor, DeadLetter: true}
		c.Config = jetstream.ConsumerConfig{
			Durable:       api.ConsumerName(spec.Namespace, spec.Name, c.Kind),
			Description:   "natsfn stream trigger of " + spec.Name,
			FilterSubject: t.Filter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    c.MaxDeliver,
			MaxAckPending: maxAckPending(concurrency),
		}
		out = append(out, c)
	}
	if spec.Schedule != nil {
		// One tick at a time across the cluster (no overlapping runs),
		// tried once: a failed tick waits for the next.
		c := Consumer{Kind: "schedule", Stream: api.ScheduleStream, MaxDeliver: 1, Backoff: func(uint64) time.Duration { return 0 }}
		c.Config = jetstream.ConsumerConfig{
			Durable:       api.ConsumerName(spec.Namespace, spec.Name, c.Kind),
			Description:   "natsfn schedule of " + spec.Name,
			FilterSubject: api.TickSubject(spec.Namespace, spec.Name),
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    1,
			MaxAckPending: 1,
		}
		out = append(out, c)
	}
	if t := spec.Watch; t != nil {
		bucket := WatchedBucket(spec)
		keys := t.Keys
		if keys == "" {
			keys = ">"
		}
		c := Consumer{Kind: "watch", Stream: "KV_" + bucket, MaxDeliver: api.DefaultMaxDeliver, Backoff: func(uint64) time.Duration { return time.Second }, DeadLetter: true}
		c.Config = jetstream.ConsumerConfig{
			Durable:       api.ConsumerName(spec.Namespace, spec.Name, c.Kind),
			Description:   "natsfn KV watch of " + spec.Name,
			FilterSubject: "$KV." + bucket + "." + keys,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    c.MaxDeliver,
			MaxAckPending: maxAckPending(concurrency),
		}
		out = append(out, c)
	}
	return out
}

// maxAckPending lets every node of a cluster run and buffer its share.
func maxAckPending(concurrency int) int { return max(1000, 16*InFlightPerIsolate*concurrency) }

// WatchedBucket is the KV bucket a watch trigger follows: the one named,
// else the function's own.
func WatchedBucket(spec api.FunctionSpec) string {
	if spec.Watch != nil && spec.Watch.Bucket != "" {
		return spec.Watch.Bucket
	}
	return hostsvc.KVBucketName(spec.Namespace, spec.Name)
}

// Remove deletes the consumers of every kind a function of this name may
// have, and stops its schedule. Consumers of streams that are gone are
// gone too: that is no error.
func Remove(ctx context.Context, js jetstream.JetStream, spec api.FunctionSpec) error {
	var errs []error
	for _, c := range Consumers(spec, 1) {
		err := js.DeleteConsumer(ctx, c.Stream, c.Config.Durable)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("delete the %s trigger's consumer: %w", c.Kind, err))
		}
	}
	if s, err := js.Stream(ctx, api.ScheduleStream); err == nil {
		if err := s.Purge(ctx, jetstream.WithPurgeSubject(api.ScheduleSubject(spec.Namespace, spec.Name))); err != nil {
			errs = append(errs, fmt.Errorf("stop the schedule: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ScheduleStreamConfig is the stream of a namespace's schedules and their
// ticks. One message per subject: a schedule replaces the one before, and
// a tick no node took yet is replaced by the next, so ticks missed while
// no node ran are not replayed in a burst.
func ScheduleStreamConfig(replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              api.ScheduleStream,
		Description:       "natsfn: functions' schedules and their ticks",
		Subjects:          []string{api.ScheduleSubject("*", "*"), api.TickSubject("*", "*")},
		MaxMsgsPerSubject: 1,
		AllowMsgSchedules: true,
		Replicas:          max(replicas, 1),
	}
}

// ErrNoSchedules is returned when the server does not run message
// schedules (nats-server before 2.12).
var ErrNoSchedules = errors.New("natsfn: this NATS server does not run message schedules (nats-server 2.12 or later does); --schedule cannot work here")

// EnsureSchedule makes the namespace's schedule stream and stores the
// function's schedule there, unless the same one is stored already (so
// that every node's load does not restart it).
func EnsureSchedule(ctx context.Context, js jetstream.JetStream, spec api.FunctionSpec) error {
	s, err := js.CreateOrUpdateStream(ctx, ScheduleStreamConfig(1))
	if err != nil {
		return fmt.Errorf("schedule stream: %w", err)
	}
	if !s.CachedInfo().Config.AllowMsgSchedules {
		return ErrNoSchedules
	}
	want := nats.Header{}
	want.Set("Nats-Schedule", spec.Schedule.Pattern())
	want.Set("Nats-Schedule-Target", api.TickSubject(spec.Namespace, spec.Name))
	if spec.Schedule.TimeZone != "" {
		want.Set("Nats-Schedule-Time-Zone", spec.Schedule.TimeZone)
	}
	var lastSeq uint64
	last, err := s.GetLastMsgForSubject(ctx, api.ScheduleSubject(spec.Namespace, spec.Name))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return fmt.Errorf("read the schedule: %w", err)
	default:
		lastSeq = last.Sequence
		same := true
		for k := range want {
			if last.Header.Get(k) != want.Get(k) {
				same = false
			}
		}
		if same && last.Header.Get("Nats-Schedule-Time-Zone") == want.Get("Nats-Schedule-Time-Zone") {
			return nil
		}
	}
	msg := &nats.Msg{Subject: api.ScheduleSubject(spec.Namespace, spec.Name), Header: want}
	_, err = js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(lastSeq))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return nil // another node stored it meanwhile
	}
	if err != nil {
		return fmt.Errorf("store the schedule %q: %w", spec.Schedule.Cron, err)
	}
	return nil
}

// DeadLetterStreamConfig is the namespace's dead-letter stream.
func DeadLetterStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        api.DeadLetterStream,
		Description: "natsfn: messages stream and watch triggers gave up on",
		Subjects:    []string{api.DeadLetterSubject("*", "*")},
		MaxAge:      30 * 24 * time.Hour,
	}
}

// DeadLetter stores msg, which function namespace/name failed to handle in
// the last delivery allowed, in the dead-letter stream.
func DeadLetter(ctx context.Context, js jetstream.JetStream, namespace, name string, msg jetstream.Msg, deliveries uint64, cause string) error {
	md, err := msg.Metadata()
	if err != nil {
		return err
	}
	h := nats.Header{}
	for k, v := range msg.Headers() {
		h[k] = append([]string(nil), v...)
	}
	h.Set(api.HeaderDLQStream, md.Stream)
	h.Set(api.HeaderDLQSubject, msg.Subject())
	h.Set(api.HeaderDLQSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	h.Set(api.HeaderDLQDeliveries, strconv.FormatUint(deliveries, 10))
	h.Set(api.HeaderDLQError, cause)
	out := &nats.Msg{Subject: api.DeadLetterSubject(namespace, name), Header: h, Data: msg.Data()}
	_, err = js.PublishMsg(ctx, out)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		if _, cerr := js.CreateOrUpdateStream(ctx, DeadLetterStreamConfig()); cerr != nil {
			return fmt.Errorf("dead-letter stream: %w", cerr)
		}
		_, err = js.PublishMsg(ctx, out)
	}
	return err
}

// RemoveChanged deletes what a function's old triggers used and its new
// ones do not: a consumer whose kind is gone or moved to another stream,
// the schedule when there is none any more. Consumers that stay keep
// their position.
func RemoveChanged(ctx context.Context, js jetstream.JetStream, old, spec api.FunctionSpec) error {
	kept := map[string]string{}
	for _, c := range Consumers(spec, 1) {
		kept[c.Kind] = c.Stream
	}
	var errs []error
	for _, c := range Consumers(old, 1) {
		if kept[c.Kind] == c.Stream {
			continue
		}
		err := js.DeleteConsumer(ctx, c.Stream, c.Config.Durable)
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("delete the old %s trigger's consumer: %w", c.Kind, err))
		}
	}
	if old.Schedule != nil && spec.Schedule == nil {
		if s, err := js.Stream(ctx, api.ScheduleStream); err == nil {
			errs = append(errs, s.Purge(ctx, jetstream.WithPurgeSubject(api.ScheduleSubject(spec.Namespace, spec.Name))))
		}
	}
	return errors.Join(errs...)
}
