package tstest

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DefaultLeakTimeout is how long a leak check waits by default for the
// goroutines a test started to end: many stop a moment after the Close
// that told them to.
const DefaultLeakTimeout = 10 * time.Second

// defaultIgnore are goroutines the runtime and standard library start once
// per process, on first use, and never end.
var defaultIgnore = []string{
	"os/signal.loop(",     // the first signal.Notify
	"runtime.ensureSigM.", // the same
}

// A LeakOption tunes a goroutine leak check.
type LeakOption func(*leakOptions)

type leakOptions struct {
	timeout time.Duration
	ignore  []string
}

// LeakTimeout sets how long the check waits for the goroutines started
// since the baseline to end (DefaultLeakTimeout without it).
func LeakTimeout(d time.Duration) LeakOption {
	return func(o *leakOptions) { o.timeout = d }
}

// IgnoreGoroutines tolerates new goroutines whose stack trace (as
// runtime.Stack prints it) contains any of substrs: a function such as
// "github.com/some/lib.(*worker).run(" of a library that starts a global
// goroutine on first use and never stops it.
func IgnoreGoroutines(substrs ...string) LeakOption {
	return func(o *leakOptions) { o.ignore = append(o.ignore, substrs...) }
}

// A Baseline is the set of goroutines running at one moment.
type Baseline struct {
	ids map[uint64]bool
}

// Goroutines records the goroutines running now, for Leaked to compare
// with later.
func Goroutines() Baseline {
	b := Baseline{ids: map[uint64]bool{}}
	for _, g := range goroutineStacks() {
		b.ids[g.id] = true
	}
	return b
}

// Leaked waits for every goroutine started since b was taken to end, and
// returns nil once none is left, or an error with the stacks of those
// still running after the timeout. It is for code without a testing.TB,
// such as a child process; tests call CheckGoroutines.
func (b Baseline) Leaked(opts ...LeakOption) error {
	o := leakOptions{timeout: DefaultLeakTimeout, ignore: defaultIgnore}
	for _, opt := range opts {
		opt(&o)
	}
	var leaked []goroutine
	if poll(o.timeout, func() bool { leaked = b.since(o.ignore); return len(leaked) == 0 }) {
		return nil
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "goroutine leak: %d started since the baseline still running after %v:", len(leaked), o.timeout)
	for _, g := range leaked {
		msg.WriteString("\n\n")
		msg.Write(g.stack)
	}
	return fmt.Errorf("%s", msg.String())
}

// since returns the goroutines not in b, less the ignored ones.
func (b Baseline) since(ignore []string) []goroutine {
	var out []goroutine
	for _, g := range goroutineStacks() {
		if g.self || b.ids[g.id] || slices.ContainsFunc(ignore, func(s string) bool { return bytes.Contains(g.stack, []byte(s)) }) {
			continue
		}
		out = append(out, g)
	}
	return out
}

// CheckGoroutines fails the test if goroutines it started are still
// running when it ends. It takes its baseline now (goroutines running
// already are tolerated, whenever they end) and checks in a Cleanup, which
// runs after the test's deferred calls and after every Cleanup registered
// later: call it first thing, before the test starts what it will close.
// Goroutines take a moment to end after a Close, so the check waits for
// them (see LeakTimeout) before it fails the test with their stacks.
//
// Goroutines of tests running in parallel look like leaks: do not use it
// in a test that calls t.Parallel or whose siblings run while it does.
func CheckGoroutines(tb testing.TB, opts ...LeakOption) {
	tb.Helper()
	base := Goroutines()
	tb.Cleanup(func() {
		if tb.Skipped() {
			return
		}
		if err := base.Leaked(opts...); err != nil {
			tb.Error(err)
		}
	})
}

// goroutine is one goroutine of a runtime.Stack dump.
type goroutine struct {
	id    uint64
	self  bool // the caller's
	stack []byte
}

// goroutineStacks returns every goroutine's stack, the caller's first.
func goroutineStacks() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []goroutine
	for i, block := range bytes.Split(buf, []byte("\n\n")) {
		// "goroutine 42 [chan receive]:"
		f := bytes.Fields(block)
		if len(f) < 2 || string(f[0]) != "goroutine" {
			continue
		}
		id, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, goroutine{id: id, self: i == 0, stack: block})
	}
	return out
}
