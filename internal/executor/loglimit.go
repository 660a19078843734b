package executor

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits on one function version's log lines, console output and natsfn's
// own lines about it alike, so that a chatty function cannot flood the
// node's log or evict older entries from its namespace's log stream.
const (
	// MaxLogLine is the longest line kept; the rest is cut off.
	MaxLogLine = 16 << 10
	// LogRate lines per second are kept on average, LogBurst at once;
	// past that lines are dropped and counted, and the count is logged
	// with the next line kept (or when the function stops).
	LogRate  = 100
	LogBurst = 200
)

// logLimiter is a token bucket.
type logLimiter struct {
	now func() time.Time

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{now: now, tokens: LogBurst, last: now()}
}

// take says whether a line may go out, and how many were dropped before
// it (to be reported first).
func (l *logLimiter) take() (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(LogBurst, l.tokens+d.Seconds()*LogRate)
		l.last = now
	}
	if l.tokens < 1 {
		l.dropped++
		return false, 0
	}
	l.tokens--
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// takeDropped returns and clears the count of lines dropped and not yet
// reported.
func (l *logLimiter) takeDropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.dropped
	l.dropped = 0
	return n
}

func droppedNotice(n int) string {
	return strconv.Itoa(n) + " log lines dropped: the function logged more than " +
		strconv.Itoa(LogRate) + " lines a second"
}

// clipLine cuts line to MaxLogLine bytes, on a character boundary, and
// says how much was cut.
func clipLine(line string) string {
	if len(line) <= MaxLogLine {
		return line
	}
	i := MaxLogLine
	for i > 0 && !utf8.RuneStart(line[i]) {
		i--
	}
	return line[:i] + "… [" + strconv.Itoa(len(line)-i) + " more bytes cut]"
}
