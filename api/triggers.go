package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bounds of the consumer-based triggers (docs/triggers.md).
const (
	DefaultMaxDeliver = 5
	MaxMaxDeliver     = 1000
	MaxBackoffSteps   = 20
	// DeadLetterStream holds, in each namespace's account, the messages a
	// stream or watch trigger gave up on.
	DeadLetterStream = "NATSFN_DLQ"
	// ScheduleStream holds, in each namespace's account, the functions'
	// schedules and their ticks (JetStream message schedules).
	ScheduleStream = "NATSFN_SCHEDULES"
)

// StreamTrigger runs the function for every message of a JetStream stream,
// at least once, through a durable consumer all nodes share.
type StreamTrigger struct {
	Stream string `json:"stream"`
	// Filter narrows the stream's subjects; empty takes them all.
	Filter string `json:"filter,omitempty"`
	// MaxDeliver is how often a message is tried before it goes to the
	// dead-letter stream; zero means DefaultMaxDeliver.
	MaxDeliver int `json:"max_deliver,omitempty"`
	// Backoff is the pause before each redelivery after a failure; the
	// last one repeats. Empty: redeliver at once.
	Backoff []Duration `json:"backoff,omitempty"`
}

// ScheduleTrigger runs the function once per tick across all nodes.
type ScheduleTrigger struct {
	// Cron is a cron expression (5 fields, or 6 with seconds first), a
	// predefined one (@hourly, @daily, ...) or "@every DURATION".
	Cron string `json:"cron"`
	// TimeZone is an IANA zone for cron expressions; empty means UTC.
	TimeZone string `json:"time_zone,omitempty"`
}

// WatchTrigger runs the function for every change of a KV bucket of the
// function's namespace.
type WatchTrigger struct {
	// Bucket is the bucket's name; empty means the function's own.
	Bucket string `json:"bucket,omitempty"`
	// Keys filters the keys (NATS wildcards); empty means every key.
	Keys string `json:"keys,omitempty"`
}

// EffectiveMaxDeliver returns MaxDeliver with the default applied.
func (t *StreamTrigger) EffectiveMaxDeliver() int {
	if t.MaxDeliver == 0 {
		return DefaultMaxDeliver
	}
	return t.MaxDeliver
}

// BackoffFor is the pause before delivery number deliveries+1, after
// delivery number deliveries (from 1) failed.
func (t *StreamTrigger) BackoffFor(deliveries uint64) time.Duration {
	if len(t.Backoff) == 0 {
		return 0
	}
	i := int(min(deliveries, uint64(len(t.Backoff)))) - 1
	return t.Backoff[max(i, 0)].D()
}

// Validate checks the trigger.
func (t *StreamTrigger) Validate() error {
	if err := ValidateStreamName(t.Stream); err != nil {
		return err
	}
	if strings.HasPrefix(t.Stream, "NATSFN_") || strings.HasPrefix(t.Stream, "KV_") || strings.HasPrefix(t.Stream, "OBJ_") {
		return fmt.Errorf("stream %q is not for --consume (natsfn's own, a KV bucket's or an object store's; use --watch for buckets)", t.Stream)
	}
	if t.Filter != "" {
		if err := ValidateSubject(t.Filter, true); err != nil {
			return fmt.Errorf("stream filter: %w", err)
		}
	}
	if t.MaxDeliver < 0 || t.MaxDeliver > MaxMaxDeliver {
		return fmt.Errorf("max-deliver must be between 1 and %d", MaxMaxDeliver)
	}
	if len(t.Backoff) > MaxBackoffSteps {
		return fmt.Errorf("backoff has more than %d steps", MaxBackoffSteps)
	}
	for _, b := range t.Backoff {
		if b < 0 || b.D() > 24*time.Hour {
			return fmt.Errorf("backoff steps must be between 0 and 24h")
		}
	}
	return nil
}

// Validate checks the schedule's form; the server checks the expression
// itself when the schedule is stored.
func (t *ScheduleTrigger) Validate() error {
	c := strings.TrimSpace(t.Cron)
	if c == "" {
		return errors.New("schedule must not be empty")
	}
	if every, ok := strings.CutPrefix(c, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil || d < time.Second {
			return fmt.Errorf("schedule %q: @every wants a duration of at least 1s", t.Cron)
		}
		if t.TimeZone != "" {
			return errors.New("a time zone applies to cron expressions, not to @every")
		}
		return nil
	}
	if !strings.HasPrefix(c, "@") {
		if n := len(strings.Fields(c)); n != 5 && n != 6 {
			return fmt.Errorf("schedule %q: a cron expression has 5 fields (or 6 with seconds first)", t.Cron)
		}
	}
	if t.TimeZone != "" {
		if _, err := time.LoadLocation(t.TimeZone); err != nil {
			return fmt.Errorf("unknown time zone %q", t.TimeZone)
		}
	}
	return nil
}

// Pattern is the schedule as the server's Nats-Schedule header wants it:
// cron with seconds.
func (t *ScheduleTrigger) Pattern() string {
	c := strings.Join(strings.Fields(t.Cron), " ")
	if !strings.HasPrefix(c, "@") && len(strings.Fields(c)) == 5 {
		return "0 " + c
	}
	return c
}

// Validate checks the watch.
func (t *WatchTrigger) Validate() error {
	if t.Bucket != "" {
		if err := ValidateBucketName(t.Bucket); err != nil {
			return err
		}
	}
	if t.Keys != "" {
		if err := ValidateSubject(t.Keys, true); err != nil {
			return fmt.Errorf("watched keys: %w", err)
		}
	}
	return nil
}

// ValidateStreamName checks a JetStream stream name.
func ValidateStreamName(s string) error {
	if s == "" || len(s) > 255 || strings.ContainsAny(s, " \t\r\n.*>/\\") {
		return fmt.Errorf("invalid stream name %q", s)
	}
	return nil
}

// ValidateBucketName checks a KV bucket name.
func ValidateBucketName(s string) error {
	if s == "" || len(s) > 255 {
		return fmt.Errorf("invalid bucket name %q", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("invalid bucket name %q", s)
		}
	}
	return nil
}

// TriggerKinds names the kinds of trigger a spec asks for, in a fixed
// order: subject, stream, schedule, watch.
func (s *FunctionSpec) TriggerKinds() []string {
	var out []string
	if len(s.Triggers) > 0 {
		out = append(out, "subject")
	}
	if s.Stream != nil {
		out = append(out, "stream")
	}
	if s.Schedule != nil {
		out = append(out, "schedule")
	}
	if s.Watch != nil {
		out = append(out, "watch")
	}
	return out
}

// ConsumerName is the durable consumer a consumer-based trigger of a
// function uses, shared by every node (kind: stream, schedule, watch). The
// namespace is in the name, its length first, because namespaces that share
// an account (a NATS system without accounts for them) share its streams.
func ConsumerName(namespace, name, kind string) string {
	return "natsfn_" + kind + "_" + strconv.Itoa(len(namespace)) + "_" + namespace + "_" + name
}

// ScheduleSubject is where a function's schedule is stored, and
// TickSubject where the server puts its ticks; "*" for both parts matches
// every function's.
func ScheduleSubject(namespace, name string) string {
	return "$NATSFN.schedule." + namespace + "." + name
}
func TickSubject(namespace, name string) string { return "$NATSFN.tick." + namespace + "." + name }

// DeadLetterSubject is where a function's dead letters go.
func DeadLetterSubject(namespace, name string) string {
	return "$NATSFN.dlq." + namespace + "." + name
}

// Headers of a dead letter: where it came from and why it was given up.
const (
	HeaderDLQStream     = "Natsfn-Dlq-Stream"
	HeaderDLQSubject    = "Natsfn-Dlq-Subject"
	HeaderDLQSequence   = "Natsfn-Dlq-Sequence"
	HeaderDLQDeliveries = "Natsfn-Dlq-Deliveries"
	HeaderDLQError      = "Natsfn-Dlq-Error"
)
