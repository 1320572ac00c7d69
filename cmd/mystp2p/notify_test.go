package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// notifySocket is a stand-in for systemd's notification socket: it sets
// $NOTIFY_SOCKET for the test and receives what the node sends.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// Not t.TempDir: a socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifySocket{t: t, conn: conn}
}

// next returns the next datagram, failing the test if none comes within d.
func (s *notifySocket) next(d time.Duration) string {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 4096)
	n, err := s.conn.Read(buf)
	if err != nil {
		s.t.Fatalf("waiting for a notification: %v", err)
	}
	return string(buf[:n])
}

// none checks that nothing was sent.
func (s *notifySocket) none() {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now())
	buf := make([]byte, 4096)
	if n, err := s.conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		s.t.Fatalf("unexpected notification %q (%v)", buf[:n], err)
	}
}

func TestNotifyServing(t *testing.T) {
	sock := listenNotify(t)
	var stderr bytes.Buffer
	e := env{stderr: &stderr, getenv: os.Getenv}
	stopping := notifyServing(e, "providing in DE\nas 16Uiu2…")
	if got, want := sock.next(time.Second), "READY=1\nSTATUS=providing in DE as 16Uiu2…"; got != want {
		t.Errorf("ready: sent %q, want %q", got, want)
	}
	sock.none()
	stopping()
	if got, want := sock.next(time.Second), "STOPPING=1\nSTATUS=stopping"; got != want {
		t.Errorf("stopping: sent %q, want %q", got, want)
	}
	if stderr.Len() != 0 {
		t.Errorf("warned %q", stderr.String())
	}
}

func TestNotifyServingWithoutSystemd(t *testing.T) {
	sock := listenNotify(t)
	var stderr bytes.Buffer
	// An environment without $NOTIFY_SOCKET (a node started by hand)
	// sends nothing, even though this process has it set.
	notifyServing(env{stderr: &stderr, getenv: func(string) string { return "" }}, "x")()
	sock.none()
	if stderr.Len() != 0 {
		t.Errorf("warned %q", stderr.String())
	}
	// A socket that is gone is a warning, not a failure.
	missing := filepath.Join(t.TempDir(), "gone")
	t.Setenv("NOTIFY_SOCKET", missing)
	notifyServing(env{stderr: &stderr, getenv: os.Getenv}, "x")()
	if got := stderr.String(); strings.Count(got, "warning: could not tell systemd") != 2 ||
		!strings.Contains(got, "READY=1") || !strings.Contains(got, "STOPPING=1") {
		t.Errorf("warnings: %q", got)
	}
}

// provide and relay, started as systemd starts them, say READY=1 once
// they serve (the provider's local API answers by then) and STOPPING=1 on
// the way out.
func TestNodesNotifySystemd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tn, err := testnet.Start(ctx, testnet.Config{Providers: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	boot := tn.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + tn.Relay.ID().String()
	dir, _ := newDataDir(t, "provider")
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	for _, tc := range []struct {
		name   string
		args   []string
		status string
		// serving checks what must work once the node said READY=1.
		serving func(t *testing.T)
	}{
		{"provide", []string{"provide", "--data-dir", dir, "--country", "NL", "--price-hour", "0", "--price-gib", "0",
			"--bootstrap", boot, "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "error"}, "STATUS=providing in NL as ",
			func(t *testing.T) {
				if out, _, err := runCmd(t, ctx, "earnings", "--data-dir", dir); err != nil || !strings.Contains(out, "nothing earned yet") {
					t.Errorf("earnings right after READY=1: %q, %v", out, err)
				}
			}},
		{"relay", []string{"relay", "--ephemeral", "--listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "error"}, "STATUS=relay ", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := listenNotify(t)
			cctx, stop := context.WithCancel(ctx)
			defer stop()
			var out tstest.Buffer
			done := make(chan error, 1)
			go func() { done <- run(cctx, tc.args, strings.NewReader(""), &out, &out) }()
			ready := sock.next(time.Minute)
			if !strings.HasPrefix(ready, "READY=1\n"+tc.status) {
				t.Fatalf("first notification %q, want READY=1 with %q\n%s", ready, tc.status, out.String())
			}
			if tc.serving != nil {
				tc.serving(t)
			}
			stop()
			if got := sock.next(30 * time.Second); got != "STOPPING=1\nSTATUS=stopping" {
				t.Errorf("on stop sent %q", got)
			}
			if err := <-done; err != nil {
				t.Fatalf("%s returned %v\n%s", tc.name, err, out.String())
			}
		})
	}
}
