package tstest

import (
	"bufio"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m, helper) }

// helper is what this package's children run.
func helper(mode, config string) error {
	switch mode {
	case "echo": // answer every line with "echo LINE"
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println("echo", sc.Text())
		}
		return nil
	case "burst": // print config lines, then wait for standard input to close
		n, err := strconv.Atoi(config)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(os.Stdout)
		for i := range n {
			fmt.Fprintf(w, "line %d\n", i)
		}
		w.Flush()
		fmt.Fprintln(os.Stderr, "burst done")
		bufio.NewReader(os.Stdin).ReadString(0)
		return nil
	case "fail":
		fmt.Println("about to fail")
		return errors.New(config)
	case "hang": // ignore standard input; exit on an interrupt
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		fmt.Println("waiting")
		<-sig
		return nil
	case "args":
		fmt.Println(strings.Join(os.Args[1:], " "))
		fmt.Println(os.Getenv("TSTEST_EXTRA"))
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// fakeTB records a failure instead of failing the test; Fatal ends the
// goroutine it is called on, as testing's does.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = append(f.failed, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

// run runs fn with f on a goroutine of its own and returns its failures.
func (f *fakeTB) run(fn func()) []string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func TestWaitFor(t *testing.T) {
	var n atomic.Int32
	WaitFor(t, 10*time.Second, "the third call", func() bool { return n.Add(1) == 3 })

	f := &fakeTB{TB: t}
	start := time.Now()
	failed := f.run(func() { WaitFor(f, 50*time.Millisecond, "godot", func() bool { return false }) })
	if len(failed) != 1 || !strings.Contains(failed[0], "godot") {
		t.Fatalf("failures %q, want one naming what it waited for", failed)
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("WaitFor gave up after %v, want 50 ms", d)
	}
}

func TestWaitForNoError(t *testing.T) {
	var n atomic.Int32
	WaitForNoError(t, 10*time.Second, "the second call", func() error {
		if n.Add(1) < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	f := &fakeTB{TB: t}
	failed := f.run(func() {
		WaitForNoError(f, 20*time.Millisecond, "the port", func() error { return errors.New("connection refused") })
	})
	if len(failed) != 1 || !strings.Contains(failed[0], "the port") || !strings.Contains(failed[0], "connection refused") {
		t.Fatalf("failures %q, want one with what and the last error", failed)
	}
}

func TestGoroutines(t *testing.T) {
	stop := make(chan struct{})
	running := make(chan struct{})
	go func() { // running before the baseline: tolerated
		close(running)
		<-stop
	}()
	<-running
	base := Goroutines()
	if err := base.Leaked(LeakTimeout(time.Second)); err != nil {
		t.Fatalf("nothing started, and: %v", err)
	}

	// One that ends a moment later is waited for.
	release := make(chan struct{})
	go func() { <-release }()
	time.AfterFunc(20*time.Millisecond, func() { close(release) })
	if err := base.Leaked(LeakTimeout(10 * time.Second)); err != nil {
		t.Fatalf("a goroutine that ended: %v", err)
	}

	// One that does not is reported with its stack.
	go leakyWorker(stop)
	err := base.Leaked(LeakTimeout(50 * time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "leakyWorker") {
		t.Fatalf("leak not reported with its stack: %v", err)
	}
	if err := base.Leaked(LeakTimeout(50*time.Millisecond), IgnoreGoroutines("tstest.leakyWorker(")); err != nil {
		t.Fatalf("an ignored goroutine reported: %v", err)
	}
	close(stop)
	if err := base.Leaked(); err != nil {
		t.Fatal(err)
	}
}

func leakyWorker(stop chan struct{}) { <-stop }

func TestCheckGoroutines(t *testing.T) {
	// Its Cleanup runs after the ones registered later: those stop what
	// the test started.
	CheckGoroutines(t)
	stop := make(chan struct{})
	go leakyWorker(stop)
	t.Cleanup(func() { close(stop) })

	// A leak fails the test with the leaked stack.
	f := &cleanupTB{TB: t}
	CheckGoroutines(f, LeakTimeout(50*time.Millisecond))
	leak := make(chan struct{})
	go leakyWorker(leak)
	defer close(leak)
	f.cleanup()
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "tstest.leakyWorker(") {
		t.Fatalf("errors %q, want the leaked goroutine's stack", f.errors)
	}
}

// cleanupTB keeps its Cleanup functions for the test to run, and records
// errors.
type cleanupTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (c *cleanupTB) Helper()           {}
func (c *cleanupTB) Cleanup(f func())  { c.cleanups = append(c.cleanups, f) }
func (c *cleanupTB) Error(args ...any) { c.errors = append(c.errors, fmt.Sprint(args...)) }
func (c *cleanupTB) Skipped() bool     { return false }
func (c *cleanupTB) cleanup() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
}

func TestChildLines(t *testing.T) {
	CheckGoroutines(t)
	c := StartChild(t, "echo", ChildConfig{Mode: "echo"})
	if got := c.Do("hello"); got != "echo hello" {
		t.Fatalf("Do: %q", got)
	}
	c.Send("a")
	c.Send("b")
	c.Send("key value  ")
	if got := c.NextKey("echo"); got != "a" {
		t.Fatalf("NextKey: %q", got)
	}
	if got := c.NextKey("echo key"); got != "value" {
		t.Fatalf("NextKey skipping a line: %q", got)
	}
	// Match looks at every line, whatever Next has consumed.
	m, at := c.Match(0, `^echo (h\w+)$`, 10*time.Second)
	if m[1] != "hello" || at != 1 {
		t.Fatalf("Match: %q, next at %d", m, at)
	}
	c.Stop()
	select {
	case <-c.Done():
	default:
		t.Fatal("Stop returned before the child exited")
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Lines(), []string{"echo hello", "echo a", "echo b", "echo key value  "}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Lines %q, want %q", got, want)
	}
}

// A child that says far more than a pipe holds, with nobody reading, is
// not blocked: everything it said is there to read afterwards.
func TestChildOutputNobodyReads(t *testing.T) {
	CheckGoroutines(t)
	const n = 20000 // ~200 KB, beyond the 64 KiB of a pipe
	c := StartChild(t, "burst", ChildConfig{Mode: "burst", Config: strconv.Itoa(n), MergeStderr: true})
	c.Match(0, "^burst done$", 30*time.Second)
	c.Stop()
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := c.Next(); got != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d: %q", i, got)
		}
	}
}

func TestChildFails(t *testing.T) {
	c := StartChild(t, "fail", ChildConfig{Mode: "fail", Config: "on purpose", MergeStderr: true})
	<-c.Done()
	if c.Err() == nil {
		t.Fatal("a failing child exited 0")
	}
	if out := c.Output(); !strings.Contains(out, "about to fail") || !strings.Contains(out, "child fail: on purpose") {
		t.Fatalf("output %q", out)
	}
	f := &fakeTB{TB: t}
	c.tb = f
	failed := f.run(func() { c.Next(); c.Next(); c.Next() })
	if len(failed) != 1 || !strings.Contains(failed[0], "exited (exit status 1) while the test waited for its next line") {
		t.Fatalf("Next past the end: %q", failed)
	}
}

func TestRunChild(t *testing.T) {
	out, err := RunChild(t, "args", ChildConfig{Mode: "args", Args: []string{"testnet", "up"}, Env: []string{"TSTEST_EXTRA=extra"}})
	if err != nil {
		t.Fatal(err)
	}
	if out != "testnet up\nextra" {
		t.Fatalf("output %q", out)
	}
	out, err = RunChild(t, "echo", ChildConfig{Mode: "echo", Args: []string{"-test.run=^$"}})
	if err != nil || out != "" {
		t.Fatalf("echo with its input closed: %q, %v", out, err)
	}
	out, err = RunChild(t, "hang", ChildConfig{Mode: "hang", Timeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("a child that outlives its Timeout: %q, %v", out, err)
	}
}

func TestChildStopAndSignal(t *testing.T) {
	CheckGoroutines(t)
	// Stop kills a child that ignores its closed input: at once with
	// KillOnStop, after Timeout without.
	for _, cfg := range []ChildConfig{
		{Mode: "hang", KillOnStop: true},
		{Mode: "hang", Timeout: 200 * time.Millisecond},
	} {
		c := StartChild(t, "hang", cfg)
		c.Stop()
		if c.Err() == nil {
			t.Fatalf("%+v: a killed child exited 0", cfg)
		}
	}
	c := StartChild(t, "hang", ChildConfig{Mode: "hang"})
	if got := c.Next(); got != "waiting" {
		t.Fatalf("first line %q", got)
	}
	if runtime.GOOS == "windows" {
		t.Skip("no interrupt signal on Windows")
	}
	if err := c.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	c.Wait(10 * time.Second)
}

func TestCommand(t *testing.T) {
	cmd := Command(t, ChildConfig{Mode: "args", Args: []string{"x"}, Env: []string{"TSTEST_EXTRA=y"}})
	out, err := cmd.Output()
	if err != nil || string(out) != "x\ny\n" {
		t.Fatalf("output %q, %v", out, err)
	}
}

func TestRequireRoot(t *testing.T) {
	f := &skipTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		RequireRoot(f)
	}()
	<-done
	if root := os.Geteuid() == 0; f.skipped == root {
		t.Fatalf("root %v, skipped %v", root, f.skipped)
	}
	if f.skipped && f.msg != "needs root for network namespaces" {
		t.Fatalf("skip message %q", f.msg)
	}
}

type skipTB struct {
	testing.TB
	skipped bool
	msg     string
}

func (s *skipTB) Helper() {}

func (s *skipTB) Skip(args ...any) {
	s.skipped, s.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// Any package's tests may import tstest: it must import no mystp2p package.
func TestImportsNoMystp2pPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(path, "github.com/mystp2p/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
