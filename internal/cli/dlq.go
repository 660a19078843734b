package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/trigger"
)

// dlqTimeout bounds one dlq command.
const dlqTimeout = 30 * time.Second

// deadLetter is one message a function's stream or watch trigger gave up
// on, as `dlq ls` shows it.
type deadLetter struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Stream     string    `json:"stream"`
	Subject    string    `json:"subject"`
	Sequence   string    `json:"stream_seq"`
	Deliveries string    `json:"deliveries"`
	Error      string    `json:"error"`
	Size       int       `json:"size"`
}

// runDLQ lists a function's dead letters, or puts them back on the
// subjects they came from. It works on the namespace's own JetStream, as
// `kv` does, so it needs the namespace's credentials.
func runDLQ(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("dlq")
	var seq uint64
	fs.Uint64Var(&seq, "seq", 0, "replay only the dead letter of this `SEQ` (as `dlq ls` shows it)")
	pos, err := e.parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	op, name := pos[0], pos[1]
	if op != "ls" && op != "replay" {
		return usageErrorf("unknown dlq operation %q; want ls or replay", op)
	}
	if err := api.ValidateName("name", name); err != nil {
		return usageErrorf("%v", err)
	}
	if seq != 0 && op != "replay" {
		return usageErrorf("--seq is for dlq replay")
	}
	js, closeConn, err := e.jetStream()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, dlqTimeout)
	defer cancel()
	letters, err := readDeadLetters(ctx, js, api.DeadLetterSubject(e.global.namespace, name))
	if err != nil {
		return err
	}
	if op == "ls" {
		return e.printDeadLetters(letters)
	}
	replayed := 0
	for _, l := range letters {
		if seq != 0 && l.Seq != seq {
			continue
		}
		if err := replay(ctx, js, l.Seq); err != nil {
			return fmt.Errorf("replay dead letter %d: %w (%d replayed before it)", l.Seq, err, replayed)
		}
		replayed++
	}
	if seq != 0 && replayed == 0 {
		return fmt.Errorf("%s/%s has no dead letter %d", e.global.namespace, name, seq)
	}
	fmt.Fprintf(e.stdout, "replayed %d dead letters of %s/%s\n", replayed, e.global.namespace, name)
	return nil
}

// readDeadLetters reads the dead letters on subject, oldest first.
func readDeadLetters(ctx context.Context, js jetstream.JetStream, subject string) ([]deadLetter, error) {
	stream, err := js.Stream(ctx, api.DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // nothing was ever given up on
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", api.DeadLetterStream, err)
	}
	var letters []deadLetter
	next := uint64(1)
	for {
		m, err := stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return letters, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		letters = append(letters, deadLetter{
			Seq: m.Sequence, Time: m.Time, Size: len(m.Data),
			Stream: m.Header.Get(api.HeaderDLQStream), Subject: m.Header.Get(api.HeaderDLQSubject),
			Sequence: m.Header.Get(api.HeaderDLQSequence), Deliveries: m.Header.Get(api.HeaderDLQDeliveries),
			Error: m.Header.Get(api.HeaderDLQError),
		})
		next = m.Sequence + 1
	}
}

// replay publishes a dead letter again on the subject it came from, where
// its stream takes it in anew, and then deletes it from the dead letters.
func replay(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	stream, err := js.Stream(ctx, api.DeadLetterStream)
	if err != nil {
		return err
	}
	m, err := stream.GetMsg(ctx, seq)
	if err != nil {
		return err
	}
	subject := m.Header.Get(api.HeaderDLQSubject)
	if subject == "" {
		return errors.New("it does not say where it came from")
	}
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	for _, k := range []string{api.HeaderDLQStream, api.HeaderDLQSubject, api.HeaderDLQSequence, api.HeaderDLQDeliveries, api.HeaderDLQError} {
		h.Del(k)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: m.Data}); err != nil {
		return fmt.Errorf("publish to %s: %w", subject, err)
	}
	return stream.DeleteMsg(ctx, seq)
}

func (e *env) printDeadLetters(letters []deadLetter) error {
	if e.global.json {
		if letters == nil {
			letters = []deadLetter{}
		}
		return e.printJSON(letters)
	}
	if len(letters) == 0 {
		fmt.Fprintln(e.stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tFROM\tDELIVERIES\tSIZE\tERROR")
	for _, l := range letters {
		from := fmt.Sprintf("%s #%s (%s)", l.Stream, l.Sequence, l.Subject)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", l.Seq, timestamp(l.Time), printable(from), printable(l.Deliveries),
			formatBytes(int64(l.Size)), printable(shorten(l.Error, 80)))
	}
	return tw.Flush()
}

// consumerState is where a consumer trigger of a function stands, as
// `info` shows it.
type consumerState struct {
	Kind        string `json:"kind"`
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
	Error       string `json:"error,omitempty"`
}

// consumerStates looks up the consumers of a function's consumer
// triggers on the namespace's JetStream. It needs the namespace's
// credentials; without them each state says why it is missing.
func (e *env) consumerStates(ctx context.Context, spec api.FunctionSpec) []consumerState {
	cs := trigger.Consumers(spec, 0)
	if len(cs) == 0 {
		return nil
	}
	out := make([]consumerState, 0, len(cs))
	js, closeConn, err := e.jetStream()
	if err == nil {
		defer closeConn()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, c := range cs {
		s := consumerState{Kind: c.Kind, Stream: c.Stream, Consumer: c.Config.Durable}
		if err != nil {
			s.Error = err.Error()
			out = append(out, s)
			continue
		}
		cons, cerr := js.Consumer(ctx, c.Stream, c.Config.Durable)
		var ci *jetstream.ConsumerInfo
		if cerr == nil {
			ci, cerr = cons.Info(ctx)
		}
		if cerr != nil {
			s.Error = cerr.Error()
		} else {
			s.Pending, s.AckPending, s.Redelivered = ci.NumPending, ci.NumAckPending, ci.NumRedelivered
		}
		out = append(out, s)
	}
	return out
}

// printConsumerStates adds the consumers' rows to `info`.
func (e *env) printConsumerStates(states []consumerState) {
	if len(states) == 0 {
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, s := range states {
		v := "pending " + strconv.FormatUint(s.Pending, 10) + ", in flight " + strconv.Itoa(s.AckPending) +
			", redelivered " + strconv.Itoa(s.Redelivered)
		if s.Error != "" {
			v = "unknown: " + s.Error
		}
		fmt.Fprintf(tw, "%s consumer:\t%s\n", s.Kind, printable(s.Stream+"/"+s.Consumer+": "+v))
	}
	tw.Flush()
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
