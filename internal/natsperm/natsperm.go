// Package natsperm tells whoever acted on a NATS connection that the server
// refused it. A server answers a publish or a subscription that the
// connection's permissions do not allow only with an asynchronous
// `-ERR 'Permissions Violation for ...'`: nats.go hands it to the
// connection's error handler, and a request whose publish was refused
// simply never hears back. A Violations, fed by that handler, fails the
// waiting request at once and lets a subscriber check its subscription.
package natsperm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Op is what the server refused.
type Op string

const (
	Publish   Op = "publish"
	Subscribe Op = "subscribe"
)

// Error is one refusal, parsed from the server's message.
type Error struct {
	Op      Op
	Subject string
	Queue   string // of a refused queue subscription
	Err     error  // as nats.go reported it (wraps nats.ErrPermissionViolation)
}

func (e *Error) Error() string {
	if e.Queue != "" {
		return fmt.Sprintf("NATS permissions refuse to %s to %q in queue group %q", e.Op, e.Subject, e.Queue)
	}
	return fmt.Sprintf("NATS permissions refuse to %s to %q", e.Op, e.Subject)
}

func (e *Error) Unwrap() error { return e.Err }

var (
	subRe   = regexp.MustCompile(`(?i)permissions violation for subscription to "([^"]+)"(?: using queue "([^"]+)")?`)
	pubRe   = regexp.MustCompile(`(?i)permissions violation for publish to "([^"]+)"`)
	replyRe = regexp.MustCompile(`(?i)permissions violation for publish with reply of "([^"]+)"`)
)

// Parse reads a refusal out of an error from nats.go; nil when err is not
// one.
func Parse(err error) *Error {
	if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
		return nil
	}
	msg := err.Error()
	if m := subRe.FindStringSubmatch(msg); m != nil {
		return &Error{Op: Subscribe, Subject: m[1], Queue: m[2], Err: err}
	}
	if m := replyRe.FindStringSubmatch(msg); m != nil {
		// The reply subject is the connection's own inbox: whatever was
		// published with it went nowhere.
		return &Error{Op: Publish, Subject: m[1], Err: err}
	}
	if m := pubRe.FindStringSubmatch(msg); m != nil {
		return &Error{Op: Publish, Subject: m[1], Err: err}
	}
	return nil
}

// history bounds the refusals a Violations remembers for Subscribed, and
// the errors it remembers having been told of.
const history = 256

// recentDenial is how long a refused publish subject is remembered, so
// that publishes to it, which expect no answer, fail at once.
const recentDenial = 30 * time.Second

// Violations hears one connection's permission errors. Its methods are
// safe for concurrent use; the zero value is not: use New.
type Violations struct {
	now func() time.Time

	mu       sync.Mutex
	seq      uint64 // refusals heard so far
	recent   []heard
	told     []error // the last errors Report was given, oldest first
	told1    chan struct{}
	watchers map[*watcher]struct{}
	denied   map[string]time.Time // publish subject -> when refused
}

type heard struct {
	seq uint64
	e   *Error
}

type watcher struct {
	match  func(*Error) bool
	cancel context.CancelCauseFunc
}

// New returns an empty Violations.
func New() *Violations {
	return &Violations{now: time.Now, told1: make(chan struct{}), watchers: map[*watcher]struct{}{}, denied: map[string]time.Time{}}
}

// Report is given every error the connection's error handler receives.
func (v *Violations) Report(err error) {
	e := Parse(err)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.told = append(v.told, err)
	if len(v.told) > history {
		v.told = v.told[len(v.told)-history:]
	}
	close(v.told1)
	v.told1 = make(chan struct{})
	if e == nil {
		return
	}
	v.seq++
	v.recent = append(v.recent, heard{seq: v.seq, e: e})
	if len(v.recent) > history {
		v.recent = v.recent[len(v.recent)-history:]
	}
	if e.Op == Publish {
		now := v.now()
		if len(v.denied) >= history {
			for s, t := range v.denied {
				if now.Sub(t) > recentDenial {
					delete(v.denied, s)
				}
			}
		}
		if len(v.denied) < history {
			v.denied[e.Subject] = now
		}
	}
	for w := range v.watchers {
		if w.match(e) {
			w.cancel(e)
		}
	}
}

// Watch returns a context that ends with the refusal as its cause
// (context.Cause) when the server refuses something match accepts, and the
// function that stops watching. Start watching before acting.
func (v *Violations) Watch(ctx context.Context, match func(*Error) bool) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watcher{match: match, cancel: cancel}
	v.mu.Lock()
	v.watchers[w] = struct{}{}
	v.mu.Unlock()
	return ctx, func() {
		v.mu.Lock()
		delete(v.watchers, w)
		v.mu.Unlock()
		cancel(nil)
	}
}

// Refusal is the refusal that ended ctx, a context from Watch; nil when
// none did.
func Refusal(ctx context.Context) *Error {
	var e *Error
	if errors.As(context.Cause(ctx), &e) {
		return e
	}
	return nil
}

// RecentlyDenied is the refusal of a publish to subject heard in the last
// 30 seconds, if any: a plain publish expects no answer, so this is how its
// refusal reaches the next one.
func (v *Violations) RecentlyDenied(subject string) *Error {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.denied[subject]
	if !ok {
		return nil
	}
	if v.now().Sub(t) > recentDenial {
		delete(v.denied, subject)
		return nil
	}
	return &Error{Op: Publish, Subject: subject, Err: nats.ErrPermissionViolation}
}

// Mark is a point in a connection's life: the refusals heard so far and
// its last error.
type Mark struct {
	seq  uint64
	last error
}

// Mark marks now, for Subscribed.
func (v *Violations) Mark(nc *nats.Conn) Mark {
	last := nc.LastError()
	v.mu.Lock()
	defer v.mu.Unlock()
	return Mark{seq: v.seq, last: last}
}

// Subscribed says whether the server refused the subscription to subject
// in queue (empty: none) that nc made after mark, once nc has flushed it.
//
// nats.go reads the server's -ERR before the PONG that ends the flush and
// keeps it as the connection's last error, so a refusal is the last error
// or came before it; the error handler hears errors in the order they
// came, so once it has heard the last error it has heard the refusal. ctx
// bounds that wait.
func (v *Violations) Subscribed(ctx context.Context, nc *nats.Conn, mark Mark, subject, queue string) error {
	last := nc.LastError()
	if sameError(last, mark.last) {
		return nil // no error at all came since the mark
	}
	if e := Parse(last); e != nil && e.Op == Subscribe && e.Subject == subject && e.Queue == queue {
		return e
	}
	if Parse(last) != nil {
		// Another refusal came last: wait until the handler has heard it.
		if err := v.waitTold(ctx, last); err != nil {
			return nil // unknown: not refused as far as we can tell
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, h := range v.recent {
		if h.seq > mark.seq && h.e.Op == Subscribe && h.e.Subject == subject && h.e.Queue == queue {
			return h.e
		}
	}
	return nil
}

// waitTold returns once Report has been given err, or ctx ends.
func (v *Violations) waitTold(ctx context.Context, err error) error {
	for {
		v.mu.Lock()
		for _, told := range v.told {
			if sameError(told, err) {
				v.mu.Unlock()
				return nil
			}
		}
		ch := v.told1
		v.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sameError says whether a and b are the same error value (not merely
// equal text): errors of types that cannot be compared never are.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}
