package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/engine"
	"github.com/natsfn/natsfn/internal/pool"
	"github.com/natsfn/natsfn/internal/trigger"
)

// consumerSource is a consumer-based trigger (stream, schedule, KV watch):
// a durable pull consumer every node shares, so each message runs once
// across the cluster, at least once. It runs in the node, on the
// namespace's connection, whether the JavaScript runs here or in a worker.
// A message is acked when the function returns, nakked with the backoff
// when it throws or times out, and sent to the dead-letter stream after
// its last delivery; msg.ack/nak/term in JavaScript decide instead.
type consumerSource struct {
	f     *Function
	c     trigger.Consumer
	js    jetstream.JetStream
	slots chan struct{} // one per message this node runs or queues
	quit  chan struct{}
	iter  jetstream.MessagesContext
	loop  sync.WaitGroup // the loop goroutine
	// running counts the messages handed out and not finished yet.
	running sync.WaitGroup
}

func newConsumerSource(f *Function, kind string) Source {
	spec := f.cfg.Info.Spec
	concurrency := spec.Concurrency
	if concurrency == 0 {
		concurrency = runtime.NumCPU()
	}
	for _, c := range trigger.Consumers(spec, concurrency) {
		if c.Kind == kind {
			return &consumerSource{f: f, c: c, slots: make(chan struct{}, trigger.InFlightPerIsolate*concurrency), quit: make(chan struct{})}
		}
	}
	return nil
}

// consumerStartTimeout bounds making the consumer at a load.
const consumerStartTimeout = 30 * time.Second

// Start makes (or updates, keeping its position) the durable consumer
// and starts pulling.
func (s *consumerSource) Start() error {
	spec := s.f.cfg.Info.Spec
	ctx, cancel := context.WithTimeout(context.Background(), consumerStartTimeout)
	defer cancel()
	js, err := jetstream.New(s.f.cfg.Conn)
	if err != nil {
		return err
	}
	s.js = js
	if s.c.Kind == "schedule" {
		if err := trigger.EnsureSchedule(ctx, js, spec); err != nil {
			return err
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, s.c.Stream, s.c.Config)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		what := "stream " + s.c.Stream
		if s.c.Kind == "watch" {
			what = "KV bucket " + strings.TrimPrefix(s.c.Stream, "KV_")
		}
		return fmt.Errorf("%s trigger: %s does not exist in namespace %s", s.c.Kind, what, spec.Namespace)
	}
	if err != nil {
		return fmt.Errorf("%s trigger: consumer on %s: %w", s.c.Kind, s.c.Stream, err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(cap(s.slots)))
	if err != nil {
		return fmt.Errorf("%s trigger: pull from %s: %w", s.c.Kind, s.c.Stream, err)
	}
	s.iter = iter
	s.loop.Add(1)
	go s.run()
	return nil
}

// run takes a message whenever a slot is free, until Retire drains the
// iterator.
func (s *consumerSource) run() {
	defer s.loop.Done()
	for {
		s.slots <- struct{}{}
		msg, err := s.iter.Next()
		if err != nil {
			<-s.slots
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// Missed heartbeats, a consumer being recreated: the
			// iterator carries on; pause so a lasting fault does not spin.
			s.f.logger.Warn("trigger consumer", "kind", s.c.Kind, "err", err)
			select {
			case <-s.quit:
			case <-time.After(time.Second):
			}
			continue
		}
		s.deliver(msg)
	}
}

// deliveryMeta is what a consumer delivery tells the function in msg.
type deliveryMeta struct {
	Kind       string `json:"kind"`
	Stream     string `json:"stream,omitempty"`
	Seq        uint64 `json:"seq"`
	Deliveries uint64 `json:"deliveries"`
	Time       string `json:"time"`
	// A watch's change.
	Bucket    string `json:"bucket,omitempty"`
	Key       string `json:"key,omitempty"`
	Operation string `json:"operation,omitempty"`
	Revision  uint64 `json:"revision,omitempty"`
}

func (s *consumerSource) deliver(msg jetstream.Msg) {
	meta := deliveryMeta{Kind: s.c.Kind, Stream: s.c.Stream}
	if md, err := msg.Metadata(); err == nil {
		meta.Seq, meta.Deliveries, meta.Time = md.Sequence.Stream, md.NumDelivered, md.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	if s.c.Kind == "watch" {
		meta.Bucket = strings.TrimPrefix(s.c.Stream, "KV_")
		meta.Key = strings.TrimPrefix(msg.Subject(), "$KV."+meta.Bucket+".")
		meta.Operation = "PUT"
		if op := msg.Headers().Get("KV-Operation"); op != "" {
			meta.Operation = op
		}
		meta.Revision = meta.Seq
	}
	metaJSON, _ := json.Marshal(meta)
	job := &pool.Job{Subject: msg.Subject(), Headers: msg.Headers(), Payload: msg.Data(), Meta: metaJSON,
		Ref: msg, Received: time.Now(), Finish: s}
	s.running.Add(1)
	if !s.f.submit(job) {
		// The runner's queue is full: let the server offer it again.
		msg.NakWithDelay(time.Second)
		s.running.Done()
		<-s.slots
		return
	}
	s.f.runner.Flush()
}

// Finish acks, naks or gives up on a delivery, as the function's outcome
// or its own decision (msg.ack, msg.nak, msg.term) says.
func (s *consumerSource) Finish(job *pool.Job, res engine.Result) {
	release := true
	defer func() {
		if release {
			<-s.slots
			s.running.Done()
		}
	}()
	msg := job.Ref.(jetstream.Msg)
	deliveries := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		deliveries = md.NumDelivered
	}
	if res.Err == nil {
		s.f.cfg.Stats.Call(time.Since(job.Received), 0)
	}
	d := res.Disposition
	switch {
	case d.Kind == engine.DispositionAck, d.Kind == engine.DispositionNone && res.Err == nil:
		msg.Ack()
	case d.Kind == engine.DispositionTerm:
		s.f.log("warn", fmt.Sprintf("message on %s of %s terminated by the function: %s", job.Subject, s.c.Stream, d.Reason))
		msg.TermWithReason(d.Reason)
	default:
		cause, delay := "the function asked for a retry (msg.nak)", d.Delay
		if d.Kind == engine.DispositionNone {
			cause, delay = res.Err.Message, s.c.Backoff(deliveries)
		}
		if int(deliveries) < s.c.MaxDeliver {
			msg.NakWithDelay(delay)
			return
		}
		// The last delivery failed: give up, off the caller's goroutine
		// (a worker's read loop), which must not wait for JetStream.
		release = false
		go func() {
			defer func() { <-s.slots; s.running.Done() }()
			s.giveUp(msg, deliveries, cause)
		}()
	}
}

// giveUp ends a message's deliveries: to the dead-letter stream where the
// kind has one.
func (s *consumerSource) giveUp(msg jetstream.Msg, deliveries uint64, cause string) {
	name := s.f.cfg.Info.Spec.Name
	seq := uint64(0)
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	if !s.c.DeadLetter {
		msg.Term()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := trigger.DeadLetter(ctx, s.js, s.f.cfg.Info.Spec.Namespace, name, msg, deliveries, cause); err != nil {
		s.f.logger.Error("dead letter not stored; the message is left to the server", "stream", s.c.Stream, "seq", seq, "err", err)
		msg.Term()
		return
	}
	msg.Term()
	s.f.log("warn", fmt.Sprintf("message %d of %s failed %d deliveries: moved to %s (natsfn dlq ls %s)", seq, s.c.Stream, deliveries, api.DeadLetterStream, name))
}

// Retire stops pulling; the messages already pulled are still delivered.
func (s *consumerSource) Retire() {
	close(s.quit)
	if s.iter != nil {
		s.iter.Drain()
	}
}

// Stop waits until the pulled messages are handed to the runner.
func (s *consumerSource) Stop() { s.loop.Wait() }

// Wait waits until every message handed out is finished (after the
// runner has answered what it had).
func (s *consumerSource) Wait() { s.running.Wait() }
