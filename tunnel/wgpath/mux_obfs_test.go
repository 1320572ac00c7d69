package wgpath

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel/tunneltest"
)

// Mux-safe obfuscation: every datagram starts below 0x40, round-trips, and
// costs exactly one byte more than without MuxSafe.
func TestObfsMuxSafeCodec(t *testing.T) {
	for _, cfg := range []ObfsConfig{
		{MuxSafe: true},
		{MuxSafe: true, MaxPad: -1, DataPad: -1},
		{MuxSafe: true, MaxPad: MaxObfsMaxPad},
	} {
		tx, rx, txs, rxs := codecPair(t, cfg)
		firsts := map[byte]bool{}
		for _, msg := range allWGMessages() {
			for range 20 {
				wire, err := tx.seal(txs, make([]byte, 4096), msg)
				if err != nil {
					t.Fatal(err)
				}
				firsts[wire[0]] = true
				if wire[0] >= 0x40 || classify(wire) == kindQUIC {
					t.Fatalf("mux-safe datagram starts with %#x", wire[0])
				}
				if dataFormat(msg) {
					if len(wire) > len(msg)+cfg.Overhead() {
						t.Fatalf("%d-byte data packet became %d bytes, Overhead %d", len(msg), len(wire), cfg.Overhead())
					}
					if cfg.DataPad < 0 && len(wire) != len(msg)+1 {
						t.Fatalf("%d-byte data packet without padding became %d bytes, want one more", len(msg), len(wire))
					}
				} else if cfg.MaxPad < 0 && len(wire) != len(msg)+obfsSealedOverhead+1 {
					t.Fatalf("type %d without padding became %d bytes", msg[0], len(wire))
				}
				switch len(wire) {
				case wgInitiationSize, wgResponseSize, wgCookieReplySize:
					if cfg.MaxPad >= 0 && cfg.DataPad >= 0 {
						t.Fatalf("type %d: wire size %d is a WireGuard handshake size", msg[0], len(wire))
					}
				}
				n, v := rx.open(rxs, wire)
				if v != obfsOK || !bytes.Equal(wire[:n], msg) {
					t.Fatalf("type %d, %d bytes: open = %d bytes, verdict %d", msg[0], len(msg), n, v)
				}
			}
		}
		if len(firsts) < 60 {
			t.Errorf("only %d distinct first bytes of 64", len(firsts))
		}
	}
	if got := (ObfsConfig{MuxSafe: true}).Overhead(); got != DefaultObfsDataPad+1 {
		t.Errorf("mux-safe Overhead %d, want %d", got, DefaultObfsDataPad+1)
	}
	if got := (ObfsConfig{MuxSafe: true, DataPad: -1}).Overhead(); got != 1 {
		t.Errorf("mux-safe Overhead without data padding %d, want 1", got)
	}
}

// Both ends must agree on MuxSafe: a datagram of one kind never yields its
// packet on the other (a data datagram may, by a chance of 1 in 256, yield
// one a byte too long or short, which WireGuard's authentication drops),
// and a mux-safe receiver drops what starts like QUIC.
func TestObfsMuxSafeMismatch(t *testing.T) {
	key := obfsKey(t)
	safeTx, safeRx, txs, rxs := codecPair(t, ObfsConfig{Key: key, MuxSafe: true})
	plainTx, plainRx, _, _ := codecPair(t, ObfsConfig{Key: key})
	for _, msg := range allWGMessages() {
		for range 10 {
			w, _ := safeTx.seal(txs, make([]byte, 4096), msg)
			if n, v := plainRx.open(rxs, bytes.Clone(w)); v == obfsOK && (!dataFormat(msg) || n == len(msg)) {
				t.Fatalf("type %d: mux-safe datagram opened without MuxSafe", msg[0])
			}
			w[0] |= 0x40
			if _, v := safeRx.open(rxs, w); v != obfsUnauthenticated {
				t.Fatalf("type %d: first byte %#x: verdict %d", msg[0], w[0], v)
			}
			w, _ = plainTx.seal(txs, make([]byte, 4096), msg)
			if n, v := safeRx.open(rxs, w); v == obfsOK && (!dataFormat(msg) || n == len(msg)) {
				t.Fatalf("type %d: plain obfuscated datagram opened with MuxSafe", msg[0])
			}
		}
	}
	for n := range wgMinTransportSize + 1 {
		if _, v := safeRx.open(rxs, make([]byte, n)); v != obfsShort {
			t.Fatalf("%d bytes: verdict %d, want short", n, v)
		}
	}
}

// Junk is mux-safe too, and the data path still allocates nothing.
func TestObfsMuxSafeBind(t *testing.T) {
	key := obfsKey(t)
	ia, ib := tunneltest.NewBindPair()
	ta := &tapBind{Bind: ia}
	a := newObfs(t, ta, ObfsConfig{Key: key, Junk: MaxObfsJunk, MuxSafe: true})
	b := newObfs(t, ib, ObfsConfig{Key: key, MuxSafe: true})
	if _, _, err := a.Open(0); err != nil {
		t.Fatal(err)
	}
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := a.ParseEndpoint("")
	msgs := allWGMessages()
	go func() {
		for _, m := range msgs {
			if err := a.Send([][]byte{m}, ep); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := 0; i < len(msgs); {
		p, err := recvOne(t, fns[0])
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			continue
		}
		if !bytes.Equal(p, msgs[i]) {
			t.Fatalf("message %d came back as %d bytes", i, len(p))
		}
		i++
	}
	wire := ta.datagrams()
	if want := len(msgs) + MaxObfsJunk; len(wire) != want {
		t.Fatalf("%d datagrams on the wire, want %d", len(wire), want)
	}
	for i, d := range wire {
		if d[0] >= 0x40 {
			t.Fatalf("datagram %d (%d bytes) starts with %#x", i, len(d), d[0])
		}
	}
	if s := b.Stats(); s.Received != uint64(len(msgs)) || s.Unauthenticated != MaxObfsJunk || s.Short+s.Replayed != 0 {
		t.Fatalf("receiver stats %+v", s)
	}

	if tstest.Race {
		return // allocation counts are meaningless under the race detector
	}
	tx, _ := newObfsCodec(ObfsConfig{Key: key, MuxSafe: true})
	data := wgMessage(wgTransportType, benchDataSize, 1)
	w, err := tx.seal(&newObfsSendState().scratch, make([]byte, 4096), data)
	if err != nil {
		t.Fatal(err)
	}
	ob := newObfs(t, &cannedBind{datagram: w}, ObfsConfig{Key: key, MuxSafe: true})
	rfns, _, _ := ob.Open(0)
	pkts, bufs := make([][]byte, 64), make([][]byte, 64)
	for i := range pkts {
		pkts[i], bufs[i] = data, make([]byte, 2048)
	}
	sizes, eps := make([]int, 64), make([]conn.Endpoint, 64)
	if n := testing.AllocsPerRun(100, func() {
		if err := ob.Send(pkts, nil); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("mux-safe Send of 64 data packets: %.1f allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		k, err := rfns[0](bufs, sizes, eps)
		if err != nil || k != 64 || sizes[0] != len(data) || !bytes.Equal(bufs[0][:sizes[0]], data) {
			t.Fatalf("receive: %d, %v, size %d", k, err, sizes[0])
		}
	}); n > 0 {
		t.Errorf("mux-safe receive of 64 data packets: %.1f allocations", n)
	}
}

// waitStats polls m's counters until ok holds or the test times out.
func waitStats(t *testing.T, m *Mux, what string, ok func(MuxStats) bool) MuxStats {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		s := m.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: mux stats %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An obfuscated peer bind takes its peer's datagrams that are neither QUIC
// nor WireGuard; the same datagrams from any other source are dropped and
// counted, and QUIC stays QUIC whoever sends it.
func TestMuxPeerBindObfsRouting(t *testing.T) {
	m := newTestMux(t)
	qc, err := m.lendConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.Close() })
	c1, c2, c3 := rawClient(t, m), rawClient(t, m), rawClient(t, m)
	addr1 := c1.LocalAddr().(*net.UDPAddr).AddrPort()
	addr2 := c2.LocalAddr().(*net.UDPAddr).AddrPort()
	b1, err := m.PeerBindObfs(addr1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := m.PeerBind(addr2)
	if err != nil {
		t.Fatal(err)
	}
	if !b1.Obfuscated() || b2.Obfuscated() || m.Bind().Obfuscated() {
		t.Fatal("Obfuscated() is wrong")
	}
	fns1, _, err := b1.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	fns2, _, err := b2.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	fnsAll, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	obf := make([]byte, 200)
	rand.Read(obf)
	obf[0] &= 0x3f
	obf[1] = 0xff // never WireGuard
	short := []byte{0x3f}
	quicLike := append([]byte{0x7f}, obf[1:]...)
	wg := wgTransport(32, 5)

	// From the obfuscated peer: non-WireGuard datagrams of any length and
	// plain WireGuard reach its bind; QUIC goes to QUIC; an empty one is
	// dropped.
	for _, d := range [][]byte{obf, short, {}, wg, quicLike} {
		if _, err := c1.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range [][]byte{obf, short, wg} {
		got, ep, err := receiveOne(fns1[0], 1)
		if err != nil || !bytes.Equal(got, want) || ep.DstToString() != addr1.String() {
			t.Fatalf("obfuscated peer bind received %x from %v, %v; want %x", got, ep, err, want)
		}
	}
	qc.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, MaxDatagramSize)
	if n, _, err := qc.ReadFrom(buf); err != nil || !bytes.Equal(buf[:n], quicLike) {
		t.Fatalf("QUIC side read %x, %v; want %x", buf[:n], err, quicLike)
	}
	s := waitStats(t, m, "after the obfuscated peer", func(s MuxStats) bool { return s.QUIC == 1 })
	if s.Obfuscated != 2 || s.WireGuard != 1 || s.Unknown != 1 {
		t.Fatalf("after the obfuscated peer: %+v, want 2 obfuscated, 1 WireGuard, 1 unknown", s)
	}

	// From a plain peer and from an unregistered source the same datagrams
	// are dropped; WireGuard from them goes where it always went.
	for _, c := range []*net.UDPConn{c2, c3} {
		for _, d := range [][]byte{obf, short} {
			if _, err := c.Write(d); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Write(wg); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, err := receiveOne(fns2[0], 1); err != nil || !bytes.Equal(got, wg) {
		t.Fatalf("plain peer bind received %x, %v", got, err)
	}
	if got, _, err := receiveOne(fnsAll[0], 1); err != nil || !bytes.Equal(got, wg) {
		t.Fatalf("catch-all bind received %x, %v", got, err)
	}
	s = waitStats(t, m, "after the others", func(s MuxStats) bool { return s.WireGuard == 3 })
	if s.Obfuscated != 2 || s.Unknown != 5 {
		t.Fatalf("after the others: %+v, want 2 obfuscated and 5 unknown", s)
	}

	// Once the obfuscated bind is closed its peer's datagrams are unknown
	// again, and its WireGuard goes to the catch-all bind.
	b1.Close()
	c1.Write(obf)
	c1.Write(wg)
	if got, ep, err := receiveOne(fnsAll[0], 1); err != nil || !bytes.Equal(got, wg) || ep.DstToString() != addr1.String() {
		t.Fatalf("catch-all bind received %x, %v", got, err)
	}
	s = waitStats(t, m, "after Close", func(s MuxStats) bool { return s.WireGuard == 4 })
	if s.Obfuscated != 2 || s.Unknown != 6 {
		t.Fatalf("after Close: %+v, want 2 obfuscated and 6 unknown", s)
	}
	// A plain and an obfuscated bind for one peer exclude each other.
	if _, _, err := b1.Open(0); err != nil {
		t.Fatal(err)
	}
	dup, _ := m.PeerBind(addr1)
	if _, _, err := dup.Open(0); err == nil {
		t.Fatal("a plain bind opened beside an obfuscated one for the same peer")
	}
	if _, err := m.PeerBindObfs(netip.AddrPort{}); err == nil {
		t.Fatal("obfuscated peer bind without an address")
	}
}

// obfsMuxEnd is one end of an obfuscated session on the shared socket,
// built as Link.Bind builds it, with a tap on the MuxBind.
type obfsMuxEnd struct {
	mux  *Mux
	tap  *tapBind
	obfs *ObfsBind
	peer conn.Endpoint
	recv conn.ReceiveFunc
}

func newObfsMuxEnd(t *testing.T, m *Mux, remote netip.AddrPort, cfg ObfsConfig) *obfsMuxEnd {
	t.Helper()
	mb, err := m.PeerBindObfs(remote)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MuxSafe = true
	e := &obfsMuxEnd{mux: m, tap: &tapBind{Bind: mb}}
	e.obfs = newObfs(t, e.tap, cfg)
	fns, _, err := e.obfs.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.obfs.Close() })
	e.recv = fns[0]
	if e.peer, err = e.obfs.ParseEndpoint(remote.String()); err != nil {
		t.Fatal(err)
	}
	return e
}

// sendAll sends msgs from e to its peer, in batches of the bind's size.
func (e *obfsMuxEnd) sendAll(t *testing.T, msgs [][]byte) {
	t.Helper()
	for i := 0; i < len(msgs); i += e.obfs.BatchSize() {
		if err := e.obfs.Send(msgs[i:min(i+e.obfs.BatchSize(), len(msgs))], e.peer); err != nil {
			t.Error(err)
			return
		}
	}
}

// receiveAll receives len(want) WireGuard packets at e and checks them.
func (e *obfsMuxEnd) receiveAll(want [][]byte) error {
	batch := e.obfs.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65535)
	}
	sizes, eps := make([]int, batch), make([]conn.Endpoint, batch)
	var got [][]byte
	for len(got) < len(want) {
		n, err := e.recv(bufs, sizes, eps)
		if err != nil {
			return fmt.Errorf("receive after %d of %d: %w", len(got), len(want), err)
		}
		for i := range n {
			if sizes[i] > 0 {
				got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			}
		}
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("message %d (type %d, %d bytes) came back as %d bytes", i, want[i][0], len(want[i]), len(got[i]))
		}
	}
	return nil
}

// TestMuxObfsBesideQUIC: two muxes carry a libp2p QUIC connection and an
// obfuscated WireGuard pair on the same two sockets. Every WireGuard
// message type crosses both ways, each datagram lands on its bind and not
// one on QUIC, the QUIC connection stays healthy, and the same datagrams
// from an unregistered source are dropped.
func TestMuxObfsBesideQUIC(t *testing.T) {
	ma, mb := newTestMux(t), newTestMux(t)
	ha, hb := newMuxHost(t, ma), newMuxHost(t, mb)
	ha.SetStreamHandler(echoProtocol, echo)
	hb.SetStreamHandler(echoProtocol, echo)
	ba, ab := connectHosts(t, hb, ha, ma)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := exchangeOverLibp2p(ctx, hb, ha.ID(), 64<<10); err != nil {
		t.Fatal(err)
	}
	epA, err := ma.PeerEndpoint(ab) // b as a sees it
	if err != nil {
		t.Fatal(err)
	}
	epB, err := mb.PeerEndpoint(ba) // a as b sees it
	if err != nil {
		t.Fatal(err)
	}
	key := obfsKey(t)
	ea := newObfsMuxEnd(t, ma, epA, ObfsConfig{Key: key, Junk: 3})
	eb := newObfsMuxEnd(t, mb, epB, ObfsConfig{Key: key, Junk: 2, MaxPad: MaxObfsMaxPad})
	sa0, sb0 := ma.Stats(), mb.Stats()

	msgs := allWGMessages()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { ea.sendAll(t, msgs) })
		wg.Go(func() { eb.sendAll(t, msgs) })
		bErr := make(chan error, 1)
		go func() { bErr <- eb.receiveAll(msgs) }()
		if err := ea.receiveAll(msgs); err != nil {
			t.Fatalf("at a: %v", err)
		}
		if err := <-bErr; err != nil {
			t.Fatalf("at b: %v", err)
		}
		wg.Wait()
	}

	// Every datagram each end sent was mux-safe and reached the other's
	// bind: the counts add up exactly, so none went to QUIC.
	for name, e := range map[string]*obfsMuxEnd{"a": ea, "b": eb} {
		for i, d := range e.tap.datagrams() {
			if d[0] >= 0x40 {
				t.Fatalf("%s's datagram %d starts with %#x", name, i, d[0])
			}
		}
	}
	for _, c := range []struct {
		name     string
		from, to *obfsMuxEnd
		before   MuxStats
	}{{"a to b", ea, eb, sb0}, {"b to a", eb, ea, sa0}} {
		wire := uint64(len(c.from.tap.datagrams()))
		tx, rx := c.from.obfs.Stats(), c.to.obfs.Stats()
		if wire != tx.Sent+tx.Junk || tx.Sent != uint64(5*len(msgs)) || tx.Junk == 0 {
			t.Errorf("%s: %d datagrams on the wire, sender stats %+v", c.name, wire, tx)
		}
		if rx.Received != tx.Sent || rx.Unauthenticated != tx.Junk || rx.Short+rx.Replayed != 0 {
			t.Errorf("%s: sender %+v, receiver %+v", c.name, tx, rx)
		}
		s := c.to.mux.Stats()
		if got := s.Obfuscated + s.WireGuard - c.before.Obfuscated - c.before.WireGuard; got != wire {
			t.Errorf("%s: %d datagrams sent, the mux handed %d to the bind", c.name, wire, got)
		}
		if s.Unknown+s.Oversized+s.NoReceiver != 0 {
			t.Errorf("%s: the mux dropped datagrams: %+v", c.name, s)
		}
	}

	// The QUIC connection carried on, the same one.
	if err := exchangeOverLibp2p(ctx, hb, ha.ID(), 256<<10); err != nil {
		t.Fatal(err)
	}
	if err := exchangeOverLibp2p(ctx, ha, hb.ID(), 64<<10); err != nil {
		t.Fatal(err)
	}
	if c := onlyConn(t, hb, ha.ID()); c.ID() != ba.ID() {
		t.Errorf("libp2p connection was replaced: %s, then %s", ba.ID(), c.ID())
	}
	if sa, sb := ma.Stats(), mb.Stats(); sa.QUIC <= sa0.QUIC || sb.QUIC <= sb0.QUIC {
		t.Errorf("no QUIC traffic after the exchange: a %+v, b %+v", sa, sb)
	}

	// The same datagrams, replayed from a source with no obfuscated bind,
	// are dropped and counted, and never reach b's bind.
	stranger := rawClient(t, mb)
	capture := ea.tap.datagrams()
	sb1, rb1 := mb.Stats(), eb.obfs.Stats()
	for _, d := range capture[:20] {
		if _, err := stranger.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	ea.sendAll(t, msgs[3:4]) // a marker behind them from the real peer
	if err := eb.receiveAll(msgs[3:4]); err != nil {
		t.Fatal(err)
	}
	sb2, rb2 := mb.Stats(), eb.obfs.Stats()
	if d := sb2.Unknown - sb1.Unknown; d != 20 {
		t.Errorf("%d of 20 datagrams from a stranger counted unknown: %+v", d, sb2)
	}
	if rb2.Received != rb1.Received+1 || rb2.Unauthenticated != rb1.Unauthenticated || rb2.Replayed != rb1.Replayed {
		t.Errorf("b's bind saw the stranger's datagrams: before %+v, after %+v", rb1, rb2)
	}
}

// obfsMuxPair is newMuxPair with both WireGuard devices on obfuscated
// binds from Link.Bind, as both ends of a udp-mux session make them.
func newObfsMuxPair(tb testing.TB, key [32]byte) (p *muxPair, oa, ob *ObfsBind) {
	tb.Helper()
	p = &muxPair{ma: newTestMux(tb), mb: newTestMux(tb)}
	p.ha, p.hb = newMuxHost(tb, p.ma), newMuxHost(tb, p.mb)
	p.ha.SetStreamHandler(echoProtocol, echo)
	p.ba, p.ab = connectHosts(tb, p.hb, p.ha, p.ma)
	la := Link{Transport: UDPMux, Conn: p.ab, Mux: p.ma, Obfs: &ObfsConfig{Key: key, Junk: 2}}
	lb := Link{Transport: UDPMux, Conn: p.ba, Mux: p.mb, Obfs: &ObfsConfig{Key: key, Junk: 3}}
	var ok bool
	for _, x := range []struct {
		l   Link
		out **ObfsBind
	}{{la, &oa}, {lb, &ob}} {
		b, path, err := x.l.Bind()
		if err != nil {
			tb.Fatal(err)
		}
		if path != Direct {
			tb.Fatalf("path %s", path)
		}
		if *x.out, ok = b.(*ObfsBind); !ok {
			tb.Fatalf("Link.Bind made a %T for obfuscated udp-mux", b)
		}
		if x.l.Obfs.MuxSafe {
			tb.Fatal("Link.Bind changed the caller's config")
		}
	}
	epA, err := p.ma.PeerEndpoint(p.ab)
	if err != nil {
		tb.Fatal(err)
	}
	epB, err := p.mb.PeerEndpoint(p.ba)
	if err != nil {
		tb.Fatal(err)
	}
	if oa.Endpoint() != epA.String() || ob.Endpoint() != epB.String() {
		tb.Fatalf("endpoints %q and %q, want %s and %s", oa.Endpoint(), ob.Endpoint(), epA, epB)
	}
	p.wa = newWGNode(tb, oa, tunAddrA)
	p.wb = newWGNode(tb, ob, tunAddrB)
	p.wa.peerWith(tb, p.wb, netip.AddrPort{})
	p.wb.peerWith(tb, p.wa, epB)
	return p, oa, ob
}

// TestMuxObfsWireGuardDevices: wireguard-go devices handshake and carry a
// TCP stream over obfuscated udp-mux binds while libp2p streams run on the
// same QUIC connection.
func TestMuxObfsWireGuardDevices(t *testing.T) {
	p, oa, ob := newObfsMuxPair(t, obfsKey(t))
	const tunnelBytes = 2 << 20
	serveTunnelStream(t, p.wa, tunnelBytes)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tunnelErr := make(chan error, 1)
	go func() { tunnelErr <- fetchTunnelStream(ctx, p.wb, p.wa, tunnelBytes, true) }()
	libp2pErr := make(chan error, 1)
	go func() {
		for range 4 {
			if err := exchangeOverLibp2p(ctx, p.hb, p.ha.ID(), 128<<10); err != nil {
				libp2pErr <- err
				return
			}
		}
		libp2pErr <- nil
	}()
	if err := <-tunnelErr; err != nil {
		t.Error(err)
	}
	if err := <-libp2pErr; err != nil {
		t.Error(err)
	}
	want, err := p.ma.PeerEndpoint(p.ab)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.wa.ipcValue(t, "endpoint"); got != want.String() {
		t.Errorf("a's WireGuard endpoint for b is %q, libp2p remote address %s", got, want)
	}
	sa, sb := oa.Stats(), ob.Stats()
	t.Logf("obfs a: %+v", sa)
	t.Logf("obfs b: %+v", sb)
	if sa.Received == 0 || sb.Received == 0 || sa.Short+sa.Replayed+sb.Short+sb.Replayed != 0 {
		t.Errorf("obfuscation stats: a %+v, b %+v", sa, sb)
	}
	if sb.Junk == 0 || sb.Unauthenticated != sa.Junk || sa.Unauthenticated != sb.Junk {
		t.Errorf("junk sent a %d, b %d; dropped as unauthenticated a %d, b %d", sa.Junk, sb.Junk, sa.Unauthenticated, sb.Unauthenticated)
	}
	for name, m := range map[string]*Mux{"a": p.ma, "b": p.mb} {
		s := m.Stats()
		t.Logf("mux %s: %+v", name, s)
		if s.QUIC == 0 || s.Obfuscated == 0 {
			t.Errorf("mux %s carried %d QUIC and %d obfuscated datagrams, want both", name, s.QUIC, s.Obfuscated)
		}
		if s.Unknown+s.Oversized+s.NoReceiver != 0 {
			t.Errorf("mux %s dropped datagrams: %+v", name, s)
		}
	}
	if c := onlyConn(t, p.hb, p.ha.ID()); c.ID() != p.ba.ID() {
		t.Errorf("libp2p connection was replaced: %s, then %s", p.ba.ID(), c.ID())
	}
}

// BenchmarkWireGuardMuxObfs is BenchmarkWireGuardMux with both devices on
// obfuscated (mux-safe) binds.
func BenchmarkWireGuardMuxObfs(b *testing.B) {
	p, _, _ := newObfsMuxPair(b, obfsKey(b))
	benchTunnel(b, p.wa, p.wb)
	for name, m := range map[string]*Mux{"a": p.ma, "b": p.mb} {
		s := m.Stats()
		if s.Unknown+s.Oversized+s.NoReceiver != 0 {
			b.Errorf("mux %s dropped datagrams: %+v", name, s)
		}
		b.Logf("mux %s: %+v", name, s)
	}
	if len(p.hb.Network().ConnsToPeer(p.ha.ID())) == 0 {
		b.Error("the libp2p connection did not survive the tunnel load")
	}
}

// BenchmarkObfsCodecMuxSafe is BenchmarkObfsCodec's data path with the
// MuxSafe fold, for the cost of the fold alone.
func BenchmarkObfsCodecMuxSafe(b *testing.B) {
	tx, rx, txs, rxs := codecPair(b, ObfsConfig{MuxSafe: true})
	data := wgMessage(wgTransportType, benchDataSize, 1)
	dst := make([]byte, 4096)
	b.Run("seal-data", func(b *testing.B) {
		b.SetBytes(benchDataSize)
		for b.Loop() {
			if _, err := tx.seal(txs, dst, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-data", func(b *testing.B) {
		wire, _ := tx.seal(txs, make([]byte, 4096), data)
		head := [16]byte(wire)
		b.SetBytes(benchDataSize)
		for b.Loop() {
			copy(wire, head[:]) // open rewrote the first block in place
			if _, v := rx.open(rxs, wire); v != obfsOK {
				b.Fatal(v)
			}
		}
	})
}
