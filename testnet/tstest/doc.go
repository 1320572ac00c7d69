// Package tstest holds the helpers every package's tests share: waiting for
// a condition with a deadline, checking that a test leaves no goroutine
// running, and running the test binary again as a child process (in a
// network namespace or not) that the test talks to line by line.
//
//   - WaitFor and WaitForNoError poll a condition until it holds, and fail
//     the test with what it waited for if it does not in time.
//   - CheckGoroutines fails a test that leaves goroutines running;
//     Goroutines and Baseline.Leaked do the same without a testing.TB (in a
//     child process).
//   - Main, StartChild and RunChild run the test binary as a child process,
//     directly or in a network namespace (ChildConfig.Netns), and Child
//     talks to it line by line. Children skip the test without root when
//     they need a namespace (RequireRoot).
//
// It is imported by _test.go files only, and imports no other mystp2p
// package, so that the tests of any package can use it without an import
// cycle.
package tstest
