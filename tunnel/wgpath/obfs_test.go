package wgpath

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel/tunneltest"
)

func obfsKey(tb testing.TB) [32]byte {
	tb.Helper()
	var k [32]byte
	rand.Read(k[:])
	return k
}

func newObfs(tb testing.TB, inner conn.Bind, cfg ObfsConfig) *ObfsBind {
	tb.Helper()
	b, err := NewObfsBind(inner, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// wgMessage is a WireGuard-shaped message: the type, three zero bytes, a
// sender or receiver index and, for transport data, a counter, then random
// bytes like WireGuard's ciphertext (and, for handshakes, an all-zero
// mac2, as WireGuard sends when not under load).
func wgMessage(typ uint32, n int, ctr uint64) []byte {
	b := make([]byte, n)
	rand.Read(b)
	binary.LittleEndian.PutUint32(b, typ)
	if typ == wgTransportType && n >= wgHeaderSize {
		binary.LittleEndian.PutUint64(b[8:], ctr)
	}
	if typ != wgTransportType && n >= 32 {
		clear(b[n-16:])
	}
	return b
}

// allWGMessages is one message of each WireGuard type and size: the three
// handshake messages and transport data from a keepalive to a full
// 1420-byte MTU, in steps of 16.
func allWGMessages() [][]byte {
	msgs := [][]byte{
		wgMessage(wgInitiationType, wgInitiationSize, 0),
		wgMessage(wgResponseType, wgResponseSize, 0),
		wgMessage(wgCookieReplyType, wgCookieReplySize, 0),
	}
	for n, ctr := wgMinTransportSize, uint64(0); n <= testMTU+32; n, ctr = n+16, ctr+1 {
		msgs = append(msgs, wgMessage(wgTransportType, n, ctr))
	}
	return msgs
}

func TestNewObfsBindValidates(t *testing.T) {
	a, _ := tunneltest.NewBindPair()
	key := obfsKey(t)
	for _, tc := range []struct {
		name  string
		inner conn.Bind
		cfg   ObfsConfig
	}{
		{"nil bind", nil, ObfsConfig{Key: key}},
		{"zero key", a, ObfsConfig{}},
		{"MaxPad", a, ObfsConfig{Key: key, MaxPad: MaxObfsMaxPad + 1}},
		{"DataPad", a, ObfsConfig{Key: key, DataPad: DefaultObfsDataPad + 1}},
		{"negative Junk", a, ObfsConfig{Key: key, Junk: -1}},
		{"Junk", a, ObfsConfig{Key: key, Junk: MaxObfsJunk + 1}},
	} {
		if _, err := NewObfsBind(tc.inner, tc.cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	if got := (ObfsConfig{}).Overhead(); got != DefaultObfsDataPad {
		t.Errorf("default Overhead %d, want %d", got, DefaultObfsDataPad)
	}
	if got := (ObfsConfig{DataPad: -1}).Overhead(); got != 0 {
		t.Errorf("Overhead without data padding %d", got)
	}
}

// codecPair is a sending and a receiving codec with the same key.
func codecPair(tb testing.TB, cfg ObfsConfig) (tx, rx *obfsCodec, txs, rxs *obfsScratch) {
	tb.Helper()
	if cfg.Key == ([32]byte{}) {
		cfg.Key = obfsKey(tb)
	}
	var err error
	if tx, err = newObfsCodec(cfg); err != nil {
		tb.Fatal(err)
	}
	if rx, err = newObfsCodec(cfg); err != nil {
		tb.Fatal(err)
	}
	return tx, rx, &newObfsSendState().scratch, new(obfsScratch)
}

func TestObfsCodecRoundTrip(t *testing.T) {
	for _, cfg := range []ObfsConfig{{}, {MaxPad: -1, DataPad: -1}, {MaxPad: MaxObfsMaxPad}} {
		tx, rx, txs, rxs := codecPair(t, cfg)
		for _, msg := range allWGMessages() {
			for range 20 {
				wire, err := tx.seal(txs, make([]byte, 4096), msg)
				if err != nil {
					t.Fatal(err)
				}
				if typ := binary.LittleEndian.Uint32(wire); typ >= 1 && typ <= 4 {
					t.Fatalf("wire datagram starts like WireGuard type %d", typ)
				}
				switch len(wire) {
				case wgInitiationSize, wgResponseSize, wgCookieReplySize:
					if cfg.MaxPad >= 0 {
						t.Fatalf("type %d: wire size %d is a WireGuard handshake size", msg[0], len(wire))
					}
				}
				n, v := rx.open(rxs, wire)
				if v != obfsOK || !bytes.Equal(wire[:n], msg) {
					t.Fatalf("type %d, %d bytes: open = %d bytes, verdict %d", msg[0], len(msg), n, v)
				}
			}
		}
	}
}

// TestObfsHandshakeSizes checks that each handshake message gets many wire
// sizes, none of them WireGuard's, and data many sizes off the 16-byte grid.
func TestObfsHandshakeSizes(t *testing.T) {
	tx, _, txs, _ := codecPair(t, ObfsConfig{})
	for _, msg := range allWGMessages()[:4] {
		sizes := map[int]int{}
		for range 2000 {
			wire, err := tx.seal(txs, make([]byte, 4096), msg)
			if err != nil {
				t.Fatal(err)
			}
			sizes[len(wire)]++
		}
		for _, bad := range []int{wgInitiationSize, wgResponseSize, wgCookieReplySize} {
			if sizes[bad] > 0 {
				t.Errorf("type %d: %d datagrams of %d bytes", msg[0], sizes[bad], bad)
			}
		}
		want := DefaultObfsMaxPad // 65 possible sizes, one moved off a WireGuard size
		if msg[0] == wgTransportType {
			want = DefaultObfsDataPad
		}
		if len(sizes) < want {
			t.Errorf("type %d, %d bytes: only %d distinct wire sizes", msg[0], len(msg), len(sizes))
		}
	}
}

func TestObfsCodecRejects(t *testing.T) {
	tx, rx, txs, rxs := codecPair(t, ObfsConfig{})
	_, other, _, _ := codecPair(t, ObfsConfig{})
	for _, msg := range allWGMessages() {
		wire, err := tx.seal(txs, make([]byte, 4096), msg)
		if err != nil {
			t.Fatal(err)
		}
		// Another key authenticates nothing.
		if _, v := other.open(rxs, bytes.Clone(wire)); v == obfsOK {
			t.Fatalf("type %d, %d bytes: accepted under another key", msg[0], len(msg))
		}
		// Plain WireGuard is not accepted either.
		if _, v := rx.open(rxs, bytes.Clone(msg)); v == obfsOK {
			t.Fatalf("plain WireGuard type %d, %d bytes accepted", msg[0], len(msg))
		}
		// A truncated sealed datagram fails authentication; a data one
		// cut into its padding or body may pass to WireGuard, whose own
		// authentication drops it, but never shorter than a keepalive.
		for cut := range len(wire) {
			n, v := rx.open(rxs, bytes.Clone(wire[:cut]))
			if msg[0] != wgTransportType && v == obfsOK {
				t.Fatalf("type %d truncated to %d bytes accepted", msg[0], cut)
			}
			if v == obfsOK && n < wgMinTransportSize {
				t.Fatalf("accepted %d bytes", n)
			}
			if cut < wgMinTransportSize && v != obfsShort {
				t.Fatalf("%d bytes: verdict %d, want short", cut, v)
			}
		}
		// A sealed datagram with any bit flipped fails.
		if msg[0] != wgTransportType {
			for i := range len(wire) {
				bad := bytes.Clone(wire)
				bad[i] ^= 1 << (i % 8)
				if _, v := rx.open(rxs, bad); v == obfsOK {
					t.Fatalf("type %d with byte %d flipped accepted", msg[0], i)
				}
			}
		}
	}
	// Random garbage of every length is dropped.
	for n := range obfsMaxSealed + 100 {
		g := make([]byte, n)
		rand.Read(g)
		if _, v := rx.open(rxs, g); v == obfsOK {
			t.Fatalf("%d bytes of garbage accepted", n)
		}
	}
	if _, err := tx.seal(txs, make([]byte, 4096), make([]byte, 15)); !errors.Is(err, ErrObfsPacket) {
		t.Fatalf("15-byte packet: %v", err)
	}
	if _, err := tx.seal(txs, make([]byte, 4096), wgMessage(wgInitiationType, obfsMaxSealed, 0)); !errors.Is(err, ErrObfsPacket) {
		t.Fatalf("oversized initiation: %v", err)
	}
}

func TestObfsCodecReplay(t *testing.T) {
	tx, rx, txs, rxs := codecPair(t, ObfsConfig{})
	init := wgMessage(wgInitiationType, wgInitiationSize, 0)
	wire, err := tx.seal(txs, make([]byte, 4096), init)
	if err != nil {
		t.Fatal(err)
	}
	if _, v := rx.open(rxs, bytes.Clone(wire)); v != obfsOK {
		t.Fatalf("first copy: verdict %d", v)
	}
	for range 10 {
		if _, v := rx.open(rxs, bytes.Clone(wire)); v != obfsReplayed {
			t.Fatalf("replay: verdict %d", v)
		}
	}
	// Data packets are not filtered: WireGuard's counter window is.
	data := wgMessage(wgTransportType, 100, 7)
	wire, _ = tx.seal(txs, make([]byte, 4096), data)
	for range 3 {
		if _, v := rx.open(rxs, bytes.Clone(wire)); v != obfsOK {
			t.Fatalf("data packet: verdict %d", v)
		}
	}
	// Older than the window behind the newest: dropped.
	now := tx.now()
	old := tx.sealWith(make([]byte, 4096), init, bytes.Repeat([]byte{1}, obfsNonceSize), 0, now-obfsReplayWindow-1000)
	if _, v := rx.open(rxs, old); v != obfsReplayed {
		t.Fatalf("stale handshake: verdict %d", v)
	}
}

func TestObfsReplayFilterBounded(t *testing.T) {
	var r obfsReplay
	nonce := func(i int) (n [obfsNonceSize]byte) {
		binary.LittleEndian.PutUint64(n[:], uint64(i))
		return n
	}
	base := uint64(time.Now().UnixMicro())
	// More distinct handshakes than the ring holds, as an attacker who
	// captured many might cycle through them.
	for i := range 3 * obfsReplaySlots {
		if !r.admit(nonce(i), base+uint64(i)) {
			t.Fatalf("fresh handshake %d rejected", i)
		}
	}
	for i := range 3 * obfsReplaySlots {
		if r.admit(nonce(i), base+uint64(i)) {
			t.Fatalf("replay of handshake %d admitted", i)
		}
	}
	if !r.admit(nonce(-1), base+uint64(3*obfsReplaySlots)) {
		t.Fatal("fresh handshake after the replays rejected")
	}
}

// roundTrip sends every WireGuard message through tx and checks that rx
// yields each one, in order.
func roundTrip(t *testing.T, tx, rx *ObfsBind, fn conn.ReceiveFunc, batched bool) {
	t.Helper()
	msgs := allWGMessages()
	ep, err := tx.ParseEndpoint("peer")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		if batched {
			for i := 0; i < len(msgs); i += tx.BatchSize() {
				if err := tx.Send(msgs[i:min(i+tx.BatchSize(), len(msgs))], ep); err != nil {
					errc <- err
					return
				}
			}
		} else {
			for _, m := range msgs {
				if err := tx.Send([][]byte{m}, ep); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- nil
	}()
	batch := rx.BatchSize()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65535) // as wireguard-go passes them
	}
	sizes := make([]int, batch)
	eps := make([]conn.Endpoint, batch)
	var got [][]byte
	for len(got) < len(msgs) {
		n, err := fn(bufs, sizes, eps)
		if err != nil {
			t.Fatalf("receive after %d: %v", len(got), err)
		}
		for i := range n {
			if sizes[i] > 0 {
				got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Fatalf("message %d (type %d, %d bytes) came back as %d bytes", i, msgs[i][0], len(msgs[i]), len(got[i]))
		}
	}
	if s := rx.Stats(); s.Received != uint64(len(msgs)) || s.Unauthenticated+s.Short+s.Replayed != 0 {
		t.Fatalf("receiver stats %+v", s)
	}
	if s := tx.Stats(); s.Sent != uint64(len(msgs)) {
		t.Fatalf("sender stats %+v", s)
	}
}

func TestObfsBindRoundTripInMemory(t *testing.T) {
	key := obfsKey(t)
	ia, ib := tunneltest.NewBindPair()
	a, b := newObfs(t, ia, ObfsConfig{Key: key}), newObfs(t, ib, ObfsConfig{Key: key})
	b.Close() // before Open, as WireGuard does
	if _, _, err := a.Open(0); err != nil {
		t.Fatal(err)
	}
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Open(0); !errors.Is(err, conn.ErrBindAlreadyOpen) {
		t.Fatalf("second Open: %v", err)
	}
	if b.Endpoint() != ib.Endpoint() {
		t.Fatalf("Endpoint %q, want the inner bind's %q", b.Endpoint(), ib.Endpoint())
	}
	roundTrip(t, a, b, fns[0], false)
	b.Close()
	if _, err := recvOne(t, fns[0]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("receive after Close: %v", err)
	}
}

func TestObfsBindRoundTripPipe(t *testing.T) {
	key := obfsKey(t)
	ca, cb := net.Pipe()
	pa, err := NewPipeBind(ca)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := NewPipeBind(cb)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newObfs(t, pa, ObfsConfig{Key: key}), newObfs(t, pb, ObfsConfig{Key: key, MaxPad: 200})
	if _, _, err := a.Open(0); err != nil {
		t.Fatal(err)
	}
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, b, fns[0], false)
	a.Close()
	b.Close()
}

// udpObfsPair is two ObfsBinds over UDPBinds on loopback sockets.
func udpObfsPair(t *testing.T, ka, kb [32]byte) (a, b *ObfsBind, ca, cb *net.UDPConn) {
	t.Helper()
	ca, cb = listenUDP(t), listenUDP(t)
	ua, err := NewUDPBind(ca, cb.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	ub, err := NewUDPBind(cb, ca.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	return newObfs(t, ua, ObfsConfig{Key: ka}), newObfs(t, ub, ObfsConfig{Key: kb}), ca, cb
}

func TestObfsBindRoundTripUDP(t *testing.T) {
	key := obfsKey(t)
	for _, batched := range []bool{false, true} {
		a, b, _, _ := udpObfsPair(t, key, key)
		if _, _, err := a.Open(0); err != nil {
			t.Fatal(err)
		}
		fns, _, err := b.Open(0)
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, a, b, fns[0], batched)
		// Close unblocks a pending receive with net.ErrClosed, because
		// the UDPBind's does.
		errc := make(chan error, 1)
		go func() { _, err := recvOne(t, fns[0]); errc <- err }()
		b.Close()
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("receive after Close: %v", err)
		}
		a.Close()
	}
}

// TestObfsBindDropsGarbage sends garbage, truncated datagrams and plain
// WireGuard from the peer's own address: all are dropped and counted, and
// the genuine datagram after them gets through.
func TestObfsBindDropsGarbage(t *testing.T) {
	key := obfsKey(t)
	a, b, ca, cb := udpObfsPair(t, key, key)
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	to := cb.LocalAddr().(*net.UDPAddr).AddrPort()
	var short, unauth uint64
	send := func(p []byte) {
		t.Helper()
		if _, err := ca.WriteToUDPAddrPort(p, to); err != nil {
			t.Fatal(err)
		}
		if len(p) < wgMinTransportSize {
			short++
		} else {
			unauth++
		}
	}
	for _, n := range []int{1, 4, 16, 31, 32, 33, 47, 48, 100, 148, 1452, 2000} {
		g := make([]byte, n)
		rand.Read(g)
		send(g)
	}
	for _, m := range allWGMessages()[:4] {
		send(m) // plain WireGuard
	}
	// A genuine initiation, truncated.
	tx, _ := newObfsCodec(ObfsConfig{Key: key})
	st := newObfsSendState()
	wire, err := tx.seal(&st.scratch, make([]byte, 4096), wgMessage(wgInitiationType, wgInitiationSize, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{10, 40, 100, len(wire) - 1} {
		send(wire[:cut])
	}
	// A genuine one from another key.
	other, _ := newObfsCodec(ObfsConfig{Key: obfsKey(t)})
	w2, _ := other.seal(&st.scratch, make([]byte, 4096), wgMessage(wgTransportType, 200, 1))
	send(w2)
	want := wgMessage(wgTransportType, 96, 9)
	ep, _ := a.ParseEndpoint("")
	if err := a.Send([][]byte{want}, ep); err != nil {
		t.Fatal(err)
	}
	got, err := recvOne(t, fns[0])
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	s := b.Stats()
	if s.Short != short || s.Unauthenticated != unauth || s.Received != 1 || s.Replayed != 0 {
		t.Fatalf("stats %+v, want %d short and %d unauthenticated", s, short, unauth)
	}
	b.Close()
}

func TestObfsBindSendErrors(t *testing.T) {
	ia, ib := tunneltest.NewBindPair()
	a := newObfs(t, ia, ObfsConfig{Key: obfsKey(t)})
	a.Open(0)
	ib.Open(0)
	ep, _ := a.ParseEndpoint("")
	if err := a.Send([][]byte{wgMessage(wgTransportType, 64, 0), make([]byte, 8)}, ep); !errors.Is(err, ErrObfsPacket) {
		t.Fatalf("short packet: %v", err)
	}
	if s := a.Stats(); s.Sent != 0 {
		t.Fatalf("a failed batch counted: %+v", s)
	}
	a.Close()
	if err := a.Send([][]byte{wgMessage(wgTransportType, 64, 0)}, ep); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// tapBind records every datagram its inner bind sends.
type tapBind struct {
	conn.Bind
	mu   sync.Mutex
	sent [][]byte
}

func (t *tapBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	t.mu.Lock()
	for _, b := range bufs {
		t.sent = append(t.sent, bytes.Clone(b))
	}
	t.mu.Unlock()
	return t.Bind.Send(bufs, ep)
}

func (t *tapBind) datagrams() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]byte(nil), t.sent...)
}

// TestObfsWireGuardDevices runs two wireguard-go devices with netstacks over
// ObfsBinds on loopback UDP sockets, checks a TCP stream through the tunnel
// and looks at what crossed the wire.
func TestObfsWireGuardDevices(t *testing.T) {
	key := obfsKey(t)
	ca, cb := listenUDP(t), listenUDP(t)
	addrA, addrB := ca.LocalAddr().(*net.UDPAddr).AddrPort(), cb.LocalAddr().(*net.UDPAddr).AddrPort()
	ua, err := NewUDPBind(ca, addrB)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := NewUDPBind(cb, addrA)
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := &tapBind{Bind: ua}, &tapBind{Bind: ub}
	oa := newObfs(t, ta, ObfsConfig{Key: key, Junk: 3})
	ob := newObfs(t, tb, ObfsConfig{Key: key, Junk: 2})
	wa, wb := newWGNode(t, oa, tunAddrA), newWGNode(t, ob, tunAddrB)
	wa.peerWith(t, wb, addrB)
	wb.peerWith(t, wa, addrA)
	serveTunnelStream(t, wa, 4<<20)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := fetchTunnelStream(ctx, wb, wa, 4<<20, true); err != nil {
		t.Fatal(err)
	}
	sa, sb := oa.Stats(), ob.Stats()
	t.Logf("a: %+v", sa)
	t.Logf("b: %+v", sb)
	if sa.Replayed+sa.Short+sb.Replayed+sb.Short != 0 {
		t.Errorf("genuine datagrams dropped: a %+v, b %+v", sa, sb)
	}
	// Each end drops the other's junk, and nothing else.
	if sa.Junk+sb.Junk == 0 || sb.Unauthenticated != sa.Junk || sa.Unauthenticated != sb.Junk {
		t.Errorf("junk sent a %d, b %d; dropped as unauthenticated a %d, b %d", sa.Junk, sb.Junk, sa.Unauthenticated, sb.Unauthenticated)
	}
	wire := append(ta.datagrams(), tb.datagrams()...)
	if len(wire) < 1000 {
		t.Fatalf("only %d datagrams on the wire", len(wire))
	}
	checkNoWGFingerprint(t, wire)
}

// checkNoWGFingerprint checks a capture for WireGuard's marks: a type byte
// 1–4 followed by three zero bytes (by chance 4 in 2^32 datagrams), bytes
// 1..3 all zero (1 in 2^24), handshake sizes, and the 16-byte size grid of
// data.
func checkNoWGFingerprint(t *testing.T, wire [][]byte) {
	t.Helper()
	zeros, typed := 0, 0
	residues := map[int]int{}
	for _, d := range wire {
		if len(d) >= 4 && d[1]|d[2]|d[3] == 0 {
			zeros++
			if d[0] >= 1 && d[0] <= 4 {
				typed++
			}
		}
		switch len(d) {
		case wgInitiationSize, wgResponseSize, wgCookieReplySize:
			t.Errorf("a %d-byte datagram on the wire", len(d))
		}
		residues[len(d)%16]++
	}
	if typed > 0 || zeros > 1 {
		t.Errorf("%d of %d datagrams have bytes 1..3 zero, %d of them after a WireGuard type", zeros, len(wire), typed)
	}
	// Data padding spreads sizes over the residues mod 16; none should
	// hold more than a third of the datagrams (plain WireGuard: all at 0).
	for r, n := range residues {
		if n > len(wire)/3 {
			t.Errorf("%d of %d datagrams have size %d mod 16", n, len(wire), r)
		}
	}
}

// TestObfsWrongKey: an end with another key, or no obfuscation, gets not one
// datagram through and draws no reply.
func TestObfsWrongKey(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plain bool
	}{{"other key", false}, {"plain WireGuard", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ia, ib := tunneltest.NewBindPair()
			ta, tb := &tapBind{Bind: ia}, &tapBind{Bind: ib}
			var ba conn.Bind = newObfs(t, ta, ObfsConfig{Key: obfsKey(t), Junk: 2})
			if tc.plain {
				ba = ta
			}
			ob := newObfs(t, tb, ObfsConfig{Key: obfsKey(t)})
			wa, wb := newWGNode(t, ba, tunAddrA), newWGNode(t, ob, tunAddrB)
			wa.peerWith(t, wb, netip.MustParseAddrPort("127.0.0.1:1"))
			wb.peerWith(t, wa, netip.AddrPort{})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if c, err := wa.net.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(wb.addr, 80)); err == nil {
				c.Close()
				t.Fatal("a TCP connection through mismatched obfuscation")
			}
			s := ob.Stats()
			if s.Received != 0 || s.Unauthenticated == 0 {
				t.Fatalf("b's stats %+v: want nothing received and something dropped", s)
			}
			if n := len(ta.datagrams()); n == 0 {
				t.Fatal("a sent nothing")
			}
			if got := tb.datagrams(); len(got) != 0 {
				t.Fatalf("b replied with %d datagrams", len(got))
			}
		})
	}
}

// TestObfsReplayedInitiation captures a's wire datagrams, lets the
// handshake complete, then replays every captured handshake datagram to b
// many times: all are dropped and counted, and b's WireGuard never sees
// them (it sends nothing in reply).
func TestObfsReplayedInitiation(t *testing.T) {
	key := obfsKey(t)
	ia, ib := tunneltest.NewBindPair()
	ta, tb := &tapBind{Bind: ia}, &tapBind{Bind: ib}
	oa, ob := newObfs(t, ta, ObfsConfig{Key: key}), newObfs(t, tb, ObfsConfig{Key: key})
	wa, wb := newWGNode(t, oa, tunAddrA), newWGNode(t, ob, tunAddrB)
	wa.peerWith(t, wb, netip.MustParseAddrPort("127.0.0.1:1"))
	wb.peerWith(t, wa, netip.AddrPort{})
	serveTunnelStream(t, wb, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := fetchTunnelStream(ctx, wa, wb, 64<<10, true); err != nil {
		t.Fatal(err)
	}
	// Which of a's datagrams were sealed (handshakes)? Those the data
	// format does not decode.
	c, _ := newObfsCodec(ObfsConfig{Key: key})
	var s obfsScratch
	var handshakes [][]byte
	for _, d := range ta.datagrams() {
		c.data.Decrypt(s.block[:], d[:16])
		if s.block[0] != wgTransportType || s.block[2]|s.block[3]|s.block[14]|s.block[15] != 0 {
			handshakes = append(handshakes, d)
		}
	}
	if len(handshakes) == 0 {
		t.Fatal("no handshake captured")
	}
	time.Sleep(200 * time.Millisecond) // let b's replies to the stream settle
	before := len(tb.datagrams())
	ep, _ := ia.ParseEndpoint("")
	const rounds = 50
	for range rounds {
		for _, h := range handshakes {
			if err := ia.Send([][]byte{h}, ep); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := uint64(rounds * len(handshakes))
	deadline := time.Now().Add(testTimeout)
	for ob.Stats().Replayed < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := ob.Stats(); st.Replayed != want || st.Unauthenticated != 0 {
		t.Fatalf("b's stats %+v, want %d replayed", st, want)
	}
	time.Sleep(200 * time.Millisecond)
	if after := len(tb.datagrams()); after != before {
		t.Fatalf("b sent %d datagrams after the replays", after-before)
	}
}

// TestObfsBindConcurrentSend checks that concurrent Sends (wireguard-go
// sends handshakes and data from different goroutines) stay intact.
func TestObfsBindConcurrentSend(t *testing.T) {
	key := obfsKey(t)
	ia, ib := tunneltest.NewBindPair()
	a, b := newObfs(t, ia, ObfsConfig{Key: key}), newObfs(t, ib, ObfsConfig{Key: key})
	a.Open(0)
	fns, _, _ := b.Open(0)
	ep, _ := a.ParseEndpoint("")
	const senders, each = 4, 200
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(g), 0))
			for i := range each {
				typ := uint32(wgTransportType)
				if i%10 == 0 {
					typ = wgInitiationType
				}
				n := wgInitiationSize
				if typ == wgTransportType {
					n = 32 + 16*r.IntN(89)
				}
				m := wgMessage(typ, n, uint64(g*each+i))
				m[4] = byte(g) // carries a checksum of the rest
				m[5] = byte(i)
				m[6] = sum(m[7:])
				if err := a.Send([][]byte{m}, ep); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for got := 0; got < senders*each; got++ {
		p, err := recvOne(t, fns[0])
		if err != nil {
			t.Fatal(err)
		}
		if p[6] != sum(p[7:]) {
			t.Fatalf("datagram %d corrupted", got)
		}
	}
	wg.Wait()
}

func sum(b []byte) (s byte) {
	for _, c := range b {
		s = s*31 + c
	}
	return s
}

// cannedBind sends nowhere and receives copies of one datagram.
type cannedBind struct {
	tunneltest.Bind // only for the methods not overridden
	datagram        []byte
}

func (c *cannedBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	return []conn.ReceiveFunc{func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for i := range bufs {
			sizes[i] = copy(bufs[i], c.datagram)
		}
		return len(bufs), nil
	}}, 0, nil
}
func (c *cannedBind) Send([][]byte, conn.Endpoint) error { return nil }
func (c *cannedBind) BatchSize() int                     { return 64 }

// TestObfsBindDoesNotAllocate: the data path allocates nothing per packet
// once warm, either way.
func TestObfsBindDoesNotAllocate(t *testing.T) {
	if tstest.Race {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	key := obfsKey(t)
	tx, _ := newObfsCodec(ObfsConfig{Key: key})
	data := wgMessage(wgTransportType, benchDataSize, 1)
	wire, err := tx.seal(&newObfsSendState().scratch, make([]byte, 4096), data)
	if err != nil {
		t.Fatal(err)
	}
	inner := &cannedBind{datagram: wire}
	b := newObfs(t, inner, ObfsConfig{Key: key})
	fns, _, _ := b.Open(0)
	pkts := make([][]byte, 64)
	bufs := make([][]byte, 64)
	for i := range pkts {
		pkts[i] = data
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, 64)
	eps := make([]conn.Endpoint, 64)
	if n := testing.AllocsPerRun(100, func() {
		if err := b.Send(pkts, nil); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("Send of 64 data packets: %.1f allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		k, err := fns[0](bufs, sizes, eps)
		if err != nil || k != 64 || sizes[0] != len(data) {
			t.Fatalf("receive: %d, %v, size %d", k, err, sizes[0])
		}
	}); n > 0 {
		t.Errorf("receive of 64 data packets: %.1f allocations", n)
	}
}
