package guard_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay/guard"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// TestHandlerRecovers panics in a real libp2p stream handler: the stream is
// reset, the panic is logged with its stack and counted, and the host goes
// on serving the next stream.
func TestHandlerRecovers(t *testing.T) {
	a, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	var logBuf tstest.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	const proto = "/test/panic/1"
	a.SetStreamHandler(proto, guard.Handler(log, proto, func(st network.Stream) {
		var b [1]byte
		if _, err := st.Read(b[:]); err != nil {
			return
		}
		if b[0] == 'p' {
			panic("boom")
		}
		_, _ = st.Write([]byte("ok"))
		_ = st.Close()
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Addrs()}); err != nil {
		t.Fatal(err)
	}
	before := guard.Panics()
	call := func(c byte) (string, error) {
		st, err := b.NewStream(ctx, a.ID(), proto)
		if err != nil {
			return "", err
		}
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := st.Write([]byte{c}); err != nil {
			return "", err
		}
		var out bytes.Buffer
		_, err = out.ReadFrom(st)
		return out.String(), err
	}
	if _, err := call('p'); err == nil {
		t.Fatal("a panicking handler's stream ended cleanly; want a reset")
	}
	if got := guard.Panics() - before; got != 1 {
		t.Fatalf("Panics() rose by %d, want 1", got)
	}
	if !strings.Contains(logBuf.String(), "boom") || !strings.Contains(logBuf.String(), "guard_test.go") {
		t.Fatalf("log lacks the panic value or its stack:\n%s", logBuf.String())
	}
	// The host is still up and serves the next stream.
	got, err := call('x')
	if err != nil || got != "ok" {
		t.Fatalf("after a panic: got %q, %v; want \"ok\"", got, err)
	}
}
