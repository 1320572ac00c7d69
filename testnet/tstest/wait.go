package tstest

import (
	"testing"
	"time"
)

// maxPoll is the longest pause between two evaluations of a condition.
const maxPoll = 50 * time.Millisecond

// WaitFor evaluates cond until it returns true, and fails the test (from
// the test's goroutine: cond may call tb.Fatal too) with what it waited
// for if that does not happen within timeout. cond runs at once, then
// with growing pauses of at most 50 ms between calls.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !poll(timeout, cond) {
		tb.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// WaitForNoError is WaitFor for a check that says why it does not hold yet:
// it calls check until it returns nil, and on timeout fails the test with
// what and the last error.
func WaitForNoError(tb testing.TB, timeout time.Duration, what string, check func() error) {
	tb.Helper()
	var last error
	if !poll(timeout, func() bool { last = check(); return last == nil }) {
		tb.Fatalf("timed out after %v waiting for %s: %v", timeout, what, last)
	}
}

// poll calls cond until it returns true (true) or timeout has passed
// (false), pausing 1 ms after the first call and twice as long after each
// further one, up to maxPoll.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	var t *time.Timer
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if t == nil {
			t = time.NewTimer(min(pause, left))
			defer t.Stop()
		} else {
			t.Reset(min(pause, left))
		}
		<-t.C
		pause = min(2*pause, maxPoll)
	}
	return true
}
