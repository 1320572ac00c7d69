package tstest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The environment of a child: the helper Main runs, and its configuration.
const (
	childModeEnv   = "TSTEST_CHILD_MODE"
	childConfigEnv = "TSTEST_CHILD_CONFIG"
)

// DefaultChildTimeout is a child's Timeout when its ChildConfig has none.
const DefaultChildTimeout = 20 * time.Second

// outputGrace is how long a child's output is read after it exited: a
// process it started may hold its standard output or error open.
const outputGrace = 5 * time.Second

// Main is the body of TestMain in a package whose test binary doubles as
// the program its child processes run (see StartChild). In a child it runs
// helper with the child's mode and configuration and exits: 0 if helper
// returned nil, 1 after printing the error on standard error if not. In
// the test process it runs the tests.
//
// A child inherits its parent's environment, so a child that runs this
// binary again runs the same helper unless its ChildConfig says otherwise.
func Main(m *testing.M, helper func(mode, config string) error) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		if err := helper(mode, os.Getenv(childConfigEnv)); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// RequireRoot skips the test unless it runs as root, as creating or
// entering a network namespace needs.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root for network namespaces")
	}
}

// ChildConfig describes a child process: this test binary run again, with
// Main running the helper of Mode in it.
type ChildConfig struct {
	// Mode picks the helper (required); Config is handed to it, as text
	// (JSON, an address…).
	Mode   string
	Config string
	// Args are the child's command-line arguments. Without them it gets
	// "-test.run=^$", so that it runs no test even if it never reaches
	// Main; a helper that reads os.Args (a command's main) gets its own.
	Args []string
	// Netns, if set, makes the command that runs a program with its
	// arguments in a network namespace, a netlab lab's host say:
	//
	//	Netns: func(name string, arg ...string) *exec.Cmd { return lab.Command("consumer", name, arg...) },
	//
	// Namespaces need root: without it the test is skipped.
	Netns func(name string, arg ...string) *exec.Cmd
	// Env is added to the child's environment (which is the test's).
	Env []string
	// MergeStderr makes the child's standard error part of its lines, in
	// order with its standard output. Without it the standard error goes
	// to the test log, prefixed with the child's name.
	MergeStderr bool
	// Timeout bounds every wait for a line (Next, NextKey, Do), how long
	// Stop waits for the child to exit once its standard input is closed
	// before it kills it, and all of RunChild. DefaultChildTimeout if zero.
	Timeout time.Duration
	// KillOnStop makes Stop (and so the end of the test) kill the child at
	// once, for a program that does not end when its standard input does.
	KillOnStop bool
}

// A Child is a child process the test talks to: it writes lines to its
// standard input and reads the lines of its standard output, which are
// all kept (a child never blocks on output nobody reads yet). The test's
// Cleanup stops it, and logs its output if the test failed.
//
// Next, NextKey and Do consume lines in order; Match and Output look at
// all of them.
type Child struct {
	tb      testing.TB
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	timeout time.Duration
	kill    bool

	mu     sync.Mutex
	lines  []string
	next   int           // the first line Next has not returned
	grew   chan struct{} // closed and replaced when lines grow, closed when the child has exited
	exited bool
	err    error // cmd.Wait's

	done     chan struct{} // closed once the child has exited and its output is read
	stopOnce sync.Once
}

// StartChild starts a child, named name in messages, and registers its
// Stop with tb.Cleanup. It fails the test if the child cannot start.
func StartChild(tb testing.TB, name string, cfg ChildConfig) *Child {
	tb.Helper()
	c := &Child{tb: tb, name: name, timeout: cfg.Timeout, kill: cfg.KillOnStop,
		grew: make(chan struct{}), done: make(chan struct{})}
	if c.timeout <= 0 {
		c.timeout = DefaultChildTimeout
	}
	c.cmd = childCommand(tb, cfg)
	pr, pw, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	c.cmd.Stdout = pw
	if cfg.MergeStderr {
		c.cmd.Stderr = pw
	} else {
		c.cmd.Stderr = &logWriter{tb: tb, name: name}
	}
	// Wait waits that long for a process the child left holding its
	// standard error (copied to the log by a goroutine of exec's).
	c.cmd.WaitDelay = outputGrace
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		pr.Close()
		pw.Close()
		tb.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		tb.Fatalf("starting child %s: %v", name, err)
	}
	pw.Close() // the child has its own copy
	read := make(chan struct{})
	go func() {
		defer close(read)
		c.read(pr)
	}()
	go func() {
		err := c.cmd.Wait()
		t := time.NewTimer(outputGrace)
		select {
		case <-read:
		case <-t.C:
			// Something the child started still holds its output.
		}
		t.Stop()
		pr.Close()
		<-read
		c.mu.Lock()
		c.exited, c.err = true, err
		close(c.grew)
		c.mu.Unlock()
		close(c.done)
	}()
	tb.Cleanup(func() {
		c.Stop()
		if tb.Failed() {
			tb.Logf("--- child %s output:\n%s", name, c.Output())
		}
	})
	return c
}

// RunChild runs a child to its end, with its standard input closed, and
// returns its output (lines joined by "\n") and how it exited: nil, an
// *exec.ExitError, or an error saying it was killed after cfg.Timeout.
func RunChild(tb testing.TB, name string, cfg ChildConfig) (string, error) {
	tb.Helper()
	c := StartChild(tb, name, cfg)
	c.stdin.Close()
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.Output(), c.err
	case <-t.C:
		c.Kill()
		return c.Output(), fmt.Errorf("child %s still running after %v: killed", name, c.timeout)
	}
}

// Command returns the command that runs this test binary as the child cfg
// describes, not started, for code under test that runs commands itself.
// Only cfg's Mode, Config, Args, Netns and Env apply: the rest is
// StartChild's.
func Command(tb testing.TB, cfg ChildConfig) *exec.Cmd {
	tb.Helper()
	return childCommand(tb, cfg)
}

// childCommand is the command that runs this test binary as cfg says.
func childCommand(tb testing.TB, cfg ChildConfig) *exec.Cmd {
	tb.Helper()
	if cfg.Mode == "" {
		tb.Fatal("tstest: a child needs a Mode")
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	args := cfg.Args
	if args == nil {
		args = []string{"-test.run=^$"}
	}
	var cmd *exec.Cmd
	if cfg.Netns != nil {
		RequireRoot(tb)
		cmd = cfg.Netns(self, args...)
	} else {
		cmd = exec.Command(self, args...)
	}
	// Under -race a process sleeps a second at exit unless told not to.
	race := "atexit_sleep_ms=0"
	if v := os.Getenv("GORACE"); v != "" {
		race = v + " " + race
	}
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.Env = append(cmd.Env, childModeEnv+"="+cfg.Mode, childConfigEnv+"="+cfg.Config, "GORACE="+race)
	return cmd
}

// read keeps every line of r until it ends.
func (c *Child) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.mu.Lock()
			c.lines = append(c.lines, strings.TrimSuffix(line, "\n"))
			close(c.grew)
			c.grew = make(chan struct{})
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

type awaitResult int

const (
	found awaitResult = iota
	exited
	timedOut
)

// await calls cond with c.mu held, now and whenever a line comes, until
// it returns true, the child has exited or within has passed.
func (c *Child) await(within time.Duration, cond func() bool) awaitResult {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		c.mu.Lock()
		ok, gone, grew := cond(), c.exited, c.grew
		c.mu.Unlock()
		switch {
		case ok:
			return found
		case gone:
			return exited
		}
		select {
		case <-grew:
		case <-t.C:
			return timedOut
		}
	}
}

// fail fails the test for a line that did not come.
func (c *Child) fail(r awaitResult, within time.Duration, what string) {
	c.tb.Helper()
	if r == exited {
		c.tb.Fatalf("child %s exited (%v) while the test waited for %s", c.name, c.exitErr(), what)
	}
	c.tb.Fatalf("child %s: waited %v for %s in vain", c.name, within, what)
}

func (c *Child) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return fmt.Errorf("exit status 0")
	}
	return c.err
}

// Name is the child's name in messages.
func (c *Child) Name() string { return c.name }

// Next returns the child's next line, and fails the test if it exits or
// says nothing more within its Timeout.
func (c *Child) Next() string {
	c.tb.Helper()
	var line string
	if r := c.await(c.timeout, func() bool {
		if c.next == len(c.lines) {
			return false
		}
		line = c.lines[c.next]
		c.next++
		return true
	}); r != found {
		c.fail(r, c.timeout, "its next line")
	}
	return line
}

// NextKey returns the rest of the child's next line whose first word is
// key, trimmed, and logs the lines before it. It fails the test as Next
// does.
func (c *Child) NextKey(key string) string {
	c.tb.Helper()
	var rest string
	var skipped []string
	r := c.await(c.timeout, func() bool {
		for c.next < len(c.lines) {
			l := c.lines[c.next]
			c.next++
			if v, ok := strings.CutPrefix(l, key); ok && (v == "" || v[0] == ' ') {
				rest = strings.TrimSpace(v)
				return true
			}
			skipped = append(skipped, l)
		}
		return false
	})
	for _, l := range skipped {
		c.tb.Logf("%s: %s", c.name, l)
	}
	if r != found {
		c.fail(r, c.timeout, fmt.Sprintf("a %q line", key))
	}
	return rest
}

// Match waits up to within for a line at index from or later that matches
// the regular expression re, and returns its submatches and the index
// after it (from for the next Match). It fails the test if the child
// exits or within passes first. It does not move Next along.
func (c *Child) Match(from int, re string, within time.Duration) ([]string, int) {
	c.tb.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	if r := c.await(within, func() bool {
		for ; from < len(c.lines); from++ {
			if m = rx.FindStringSubmatch(c.lines[from]); m != nil {
				from++
				return true
			}
		}
		return false
	}); r != found {
		c.fail(r, within, fmt.Sprintf("a line matching %q", re))
	}
	return m, from
}

// Send writes line and a newline to the child's standard input.
func (c *Child) Send(line string) {
	c.tb.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.tb.Fatalf("child %s: %v", c.name, err)
	}
}

// Do sends a line and returns the next line the child says.
func (c *Child) Do(line string) string {
	c.tb.Helper()
	c.Send(line)
	return c.Next()
}

// Lines returns every line the child has said so far.
func (c *Child) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// Output returns every line the child has said so far, joined by "\n".
func (c *Child) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// Done is closed once the child has exited and its output is read.
func (c *Child) Done() <-chan struct{} { return c.done }

// Err is how the child exited, once Done is closed: nil for status 0.
func (c *Child) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Signal sends sig to the child.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Kill kills the child and waits until it has exited.
func (c *Child) Kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// Wait waits up to within for the child to exit, and fails the test if it
// does not, or exits with an error.
func (c *Child) Wait(within time.Duration) {
	c.tb.Helper()
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.tb.Fatalf("child %s still running after %v", c.name, within)
	}
	if err := c.Err(); err != nil {
		c.tb.Fatalf("child %s: %v", c.name, err)
	}
}

// Stop ends the child and waits until it has: it closes the child's
// standard input and, if it has not exited within its Timeout, kills it
// (at once with KillOnStop). Stop is idempotent; the test's Cleanup calls it.
func (c *Child) Stop() {
	c.stopOnce.Do(func() {
		c.stdin.Close()
		if c.kill {
			c.Kill()
			return
		}
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			c.Kill()
		}
	})
}

// logWriter logs a child's standard error through the test.
type logWriter struct {
	tb   testing.TB
	name string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
