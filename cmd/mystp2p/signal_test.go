package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as mystp2p itself, so tests can run the
// real command in a child process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("MYSTP2P_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// SIGTERM (and Ctrl-C's SIGINT) stop a running testnet cleanly: it says so
// and exits 0 promptly.
func TestSignalStopsCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "testnet", "up", "--providers", "2", "--socks", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "MYSTP2P_TEST_MAIN=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			timeout := time.After(60 * time.Second)
			for ready := false; !ready; {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("testnet exited before it was ready")
					}
					ready = strings.Contains(l, "SOCKS5 ready")
				case <-timeout:
					t.Fatal("testnet never became ready")
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var saw bool
			for l := range lines {
				saw = saw || strings.Contains(l, "stopping testnet")
			}
			errc := make(chan error, 1)
			go func() { errc <- cmd.Wait() }()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("exit after %s: %v", sig, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30 s after %s", sig)
			}
			if !saw {
				t.Fatal("no 'stopping testnet' line")
			}
		})
	}
}
