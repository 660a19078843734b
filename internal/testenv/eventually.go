package testenv

import (
	"testing"
	"time"
)

// EventuallyWithin is how long Eventually waits: long, because a loaded
// two-core machine is slow, and a condition that holds returns at once.
const EventuallyWithin = time.Minute

// Eventually polls cond until it holds, failing the test after
// EventuallyWithin. For state nothing signals (a process gone, a count
// settled); where a channel or a reply can say it, wait on that instead.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(EventuallyWithin)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
