//go:build linux

package wgpath

import (
	"bytes"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/tunnel/wgpath/sockbuf"
)

// One segmented send from a peer's socket may carry QUIC and WireGuard
// datagrams of one size; with UDP_GRO the mux reads them as one message
// and still routes each datagram by itself, in order, whole. A short last
// datagram and an empty datagram are handled as they would be alone.
func TestMuxSplitsCoalescedReads(t *testing.T) {
	m := newTestMux(t)
	qc, err := m.lendConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.Close() })
	fns, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Bind().Close() })
	c := rawClient(t, m)
	if !sockbuf.SupportsSegmentation(c) {
		t.Fatal("the kernel does not segment UDP (UDP_SEGMENT, Linux 4.18 and later), so the mux's merged reads cannot be tested here")
	}
	const size = 1452
	wg1, wg2, wgShort := wgTransport(size, 1), wgTransport(size, 2), wgTransport(300, 3)
	quicLike := bytes.Repeat([]byte{0x5a}, size)
	quicLike[0] = 0x40 | 0x3f // a QUIC short header
	run := bytes.Join([][]byte{wg1, quicLike, wg2, wgShort}, nil)
	oob := sockbuf.SegmentControl(make([]byte, sockbuf.SegmentControlLen), size)
	// The reader turns UDP_GRO on between reads once a bind opened: a
	// first datagram lets it.
	if _, err := c.Write(wgTransport(64, 0)); err != nil {
		t.Fatal(err)
	}
	receiveN(t, fns[0], 1)
	waitFor(t, "the mux reading with UDP_GRO", m.coalescing.Load)
	if _, _, err := c.WriteMsgUDP(run, oob, nil); err != nil {
		t.Fatal(err)
	}
	got := receiveN(t, fns[0], 3)
	for i, want := range [][]byte{wg1, wg2, wgShort} {
		if !bytes.Equal(got[i], want) {
			t.Fatalf("WireGuard datagram %d: got %d bytes, want %d bytes of counter %d", i, len(got[i]), len(want), want[8])
		}
	}
	qc.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, MaxDatagramSize)
	if n, _, err := qc.ReadFrom(buf); err != nil || !bytes.Equal(buf[:n], quicLike) {
		t.Fatalf("QUIC side read %d bytes, %v", n, err)
	}
	if _, err := c.Write(nil); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, m, "after the run and an empty datagram", func(s MuxStats) bool { return s.Unknown == 1 })
	if s.WireGuard != 4 || s.QUIC != 1 || s.Oversized != 0 {
		t.Fatalf("stats %+v, want 4 WireGuard, 1 QUIC, 1 unknown", s)
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A mux that only serves QUIC keeps its small per-datagram buffers: the
// merged reads' buffers come with the first WireGuard bind.
func TestMuxCoalescesOnlyForSessions(t *testing.T) {
	m := newTestMux(t)
	qc, err := m.lendConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.Close() })
	c := rawClient(t, m)
	quicLike := bytes.Repeat([]byte{0x41}, 1200)
	if _, err := c.Write(quicLike); err != nil {
		t.Fatal(err)
	}
	qc.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, MaxDatagramSize)
	if _, _, err := qc.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if m.coalescing.Load() {
		t.Fatal("the mux turned UDP_GRO on with no WireGuard bind open")
	}
}
