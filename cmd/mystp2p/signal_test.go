package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// TestMain lets the test binary act as mystp2p itself, so tests can run the
// real command in a child process and signal it.
func TestMain(m *testing.M) {
	tstest.Main(m, func(mode, _ string) error {
		if mode != "main" {
			return fmt.Errorf("unknown helper mode %q", mode)
		}
		main()
		return nil
	})
}

// startMystp2p runs `mystp2p args...` in a child process, killed at the
// end of the test; its lines are its standard output and error.
func startMystp2p(t *testing.T, name string, args ...string) *tstest.Child {
	t.Helper()
	return tstest.StartChild(t, name, tstest.ChildConfig{Mode: "main", Args: args, MergeStderr: true, KillOnStop: true})
}

// SIGTERM (and Ctrl-C's SIGINT) stop a running testnet cleanly: it says so
// and exits 0 promptly.
func TestSignalStopsCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := startMystp2p(t, "testnet", "testnet", "up", "--providers", "2", "--socks", "127.0.0.1:0")
			c.Match(0, "SOCKS5 ready", 60*time.Second)
			if err := c.Signal(sig); err != nil {
				t.Fatal(err)
			}
			c.Wait(30 * time.Second)
			if !slices.ContainsFunc(c.Lines(), func(l string) bool { return strings.Contains(l, "stopping testnet") }) {
				t.Fatal("no 'stopping testnet' line")
			}
		})
	}
}
