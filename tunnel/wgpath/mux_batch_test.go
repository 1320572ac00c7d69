package wgpath

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

// TestMuxBindSendsBatches sends batches through a PeerBind of one mux to a
// PeerBind of another: with runs of equal datagrams segmented by the
// kernel and mixed sizes in one batch, every datagram must arrive in order
// and intact.
func TestMuxBindSendsBatches(t *testing.T) {
	var muxes [2]*Mux
	for i := range muxes {
		m, err := NewMux(&net.UDPAddr{IP: net.IPv4zero})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		muxes[i] = m
	}
	lo := netip.MustParseAddr("127.0.0.1")
	a, err := muxes[0].PeerBind(netip.AddrPortFrom(lo, muxes[1].Port()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := muxes[1].PeerBind(netip.AddrPortFrom(lo, muxes[0].Port()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Open(muxes[0].Port()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	fns, _, err := b.Open(muxes[1].Port())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ep, err := a.ParseEndpoint(netip.AddrPortFrom(lo, muxes[1].Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	seq := 0
	for bi, sizes := range [][]int{
		repeatSizes(64, 1452),
		append(repeatSizes(50, 1452), 200, 1452, 1452, 96),
		{148},
		repeatSizes(100, 96), // more than one system call's worth
	} {
		var sent [][]byte
		for _, n := range sizes {
			p := make([]byte, n)
			p[0] = 4 // a WireGuard data message, so the mux routes it
			for i := 4; i < n; i++ {
				p[i] = byte(seq + i)
			}
			seq++
			sent = append(sent, p)
		}
		if err := a.Send(sent, ep); err != nil {
			t.Fatalf("batch %d: %v", bi, err)
		}
		got := receiveN(t, fns[0], len(sent))
		for i := range sent {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("batch %d: datagram %d: got %d bytes, want %d (or other contents)", bi, i, len(got[i]), len(sent[i]))
			}
		}
	}
}
