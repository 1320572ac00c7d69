package wgpath

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

const (
	testMTU      = 1420
	testTimeout  = 60 * time.Second
	echoProtocol = "/mystp2p/test/echo/1"
)

var (
	tunAddrA = netip.MustParseAddr("10.98.0.1")
	tunAddrB = netip.MustParseAddr("10.98.0.2")
)

// newTestMux opens a mux on the IPv4 wildcard (LendTransport needs one);
// tests talk to it on 127.0.0.1 only.
func newTestMux(tb testing.TB, opts ...MuxOption) *Mux {
	tb.Helper()
	m, err := NewMux(&net.UDPAddr{IP: net.IPv4zero}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("mux close: %v", err)
		}
	})
	return m
}

// loopback is the mux's address on 127.0.0.1.
func loopback(m *Mux) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), m.Port())
}

// newMuxHost builds a QUIC-only libp2p host over m.
func newMuxHost(tb testing.TB, m *Mux) host.Host {
	tb.Helper()
	h, err := libp2p.New(
		libp2p.Transport(libp2pquic.NewTransport),
		m.Libp2pOptions(),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

// connectHosts dials b from a over b's mux on 127.0.0.1 and returns the
// connection as each side sees it.
func connectHosts(tb testing.TB, a host.Host, b host.Host, mb *Mux) (ab, ba network.Conn) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	inbound := make(chan network.Conn, 1)
	notifee := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == a.ID() {
			select {
			case inbound <- c:
			default:
			}
		}
	}}
	b.Network().Notify(notifee)
	defer b.Network().StopNotify(notifee)
	addr := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", mb.Port()))
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: []ma.Multiaddr{addr}}); err != nil {
		tb.Fatal(err)
	}
	ab = onlyConn(tb, a, b.ID())
	select {
	case ba = <-inbound:
		return ab, ba
	case <-ctx.Done():
		tb.Fatalf("%s never saw the connection from %s", b.ID(), a.ID())
		return nil, nil
	}
}

func onlyConn(tb testing.TB, h host.Host, p peer.ID) network.Conn {
	tb.Helper()
	cs := h.Network().ConnsToPeer(p)
	if len(cs) != 1 {
		tb.Fatalf("%d connections to %s, want 1", len(cs), p)
	}
	return cs[0]
}

// wgKey is a WireGuard key pair.
type wgKey struct{ priv, pub [32]byte }

func newWGKey(tb testing.TB) wgKey {
	tb.Helper()
	var k wgKey
	if _, err := rand.Read(k.priv[:]); err != nil {
		tb.Fatal(err)
	}
	k.priv[0] &= 248
	k.priv[31] = (k.priv[31] & 127) | 64
	pub, err := curve25519.X25519(k.priv[:], curve25519.Basepoint)
	if err != nil {
		tb.Fatal(err)
	}
	copy(k.pub[:], pub)
	return k
}

// wgNode is a wireguard-go device with a netstack.
type wgNode struct {
	dev  *device.Device
	net  *netstack.Net
	key  wgKey
	addr netip.Addr
}

func newWGNode(tb testing.TB, bind conn.Bind, addr netip.Addr) *wgNode {
	tb.Helper()
	tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{addr}, nil, testMTU)
	if err != nil {
		tb.Fatal(err)
	}
	dev := device.NewDevice(tdev, bind, device.NewLogger(device.LogLevelSilent, ""))
	tb.Cleanup(dev.Close)
	return &wgNode{dev: dev, net: tnet, key: newWGKey(tb), addr: addr}
}

// peerWith configures n to talk to other, at endpoint if valid, and brings
// n up.
func (n *wgNode) peerWith(tb testing.TB, other *wgNode, endpoint netip.AddrPort) {
	tb.Helper()
	cfg := fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=%s/32\n",
		hex.EncodeToString(n.key.priv[:]), hex.EncodeToString(other.key.pub[:]), other.addr)
	if endpoint.IsValid() {
		cfg += fmt.Sprintf("endpoint=%s\n", endpoint)
	}
	if err := n.dev.IpcSet(cfg); err != nil {
		tb.Fatal(err)
	}
	if err := n.dev.Up(); err != nil {
		tb.Fatal(err)
	}
}

// ipcValue returns the first value of key in the device's IPC state.
func (n *wgNode) ipcValue(tb testing.TB, key string) string {
	tb.Helper()
	s, err := n.dev.IpcGet()
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(s, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}

// pattern is the deterministic byte at offset i of a tunnel stream.
func pattern(i int64) byte { return byte(i*7 + i>>8) }

// serveTunnelStream serves size pattern bytes to every TCP connection to
// port 80 of n's netstack.
func serveTunnelStream(tb testing.TB, n *wgNode, size int64) {
	tb.Helper()
	ln, err := n.net.ListenTCPAddrPort(netip.AddrPortFrom(n.addr, 80))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for off := int64(0); off < size; {
					k := min(int64(len(buf)), size-off)
					for i := range k {
						buf[i] = pattern(off + i)
					}
					if _, err := c.Write(buf[:k]); err != nil {
						return
					}
					off += k
				}
			}()
		}
	}()
}

// fetchTunnelStream reads size bytes from server's port 80 through client's
// netstack; check verifies the content.
func fetchTunnelStream(ctx context.Context, client, server *wgNode, size int64, check bool) error {
	c, err := client.net.DialContextTCPAddrPort(ctx, netip.AddrPortFrom(server.addr, 80))
	if err != nil {
		return fmt.Errorf("dial through tunnel: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	buf := make([]byte, 64<<10)
	var off int64
	for off < size {
		n, err := c.Read(buf)
		if check {
			for i := range n {
				if buf[i] != pattern(off+int64(i)) {
					return fmt.Errorf("tunnel stream byte %d is %#x, want %#x", off+int64(i), buf[i], pattern(off+int64(i)))
				}
			}
		}
		off += int64(n)
		if err != nil {
			if off >= size {
				break
			}
			return fmt.Errorf("tunnel stream after %d of %d bytes: %w", off, size, err)
		}
	}
	return nil
}

// echo copies a stream back to its sender.
func echo(s network.Stream) {
	defer s.Close()
	io.Copy(s, s)
}

// exchangeOverLibp2p sends size random bytes over a new stream and checks
// the echo.
func exchangeOverLibp2p(ctx context.Context, from host.Host, to peer.ID, size int) error {
	s, err := from.NewStream(ctx, to, echoProtocol)
	if err != nil {
		return fmt.Errorf("libp2p stream: %w", err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	want := make([]byte, size)
	rand.Read(want)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(want)
		werr <- errors.Join(err, s.CloseWrite())
	}()
	got, err := io.ReadAll(s)
	if err != nil {
		return fmt.Errorf("libp2p echo read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("libp2p echo write: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("libp2p echo returned %d bytes, different from the %d sent", len(got), len(want))
	}
	return nil
}

// muxPair is two hosts and two WireGuard nodes over two muxes, connected.
type muxPair struct {
	ma, mb *Mux
	ha, hb host.Host
	ab, ba network.Conn // the libp2p connection as a and b see it
	wa, wb *wgNode
}

// newMuxPair builds the pair; b dials a, both over QUIC. a's WireGuard
// device uses the catch-all bind and learns b's endpoint; b's uses a peer
// bind for the libp2p connection's remote address, as a session would.
func newMuxPair(tb testing.TB) *muxPair {
	tb.Helper()
	p := &muxPair{ma: newTestMux(tb), mb: newTestMux(tb)}
	p.ha, p.hb = newMuxHost(tb, p.ma), newMuxHost(tb, p.mb)
	p.ha.SetStreamHandler(echoProtocol, echo)
	p.ba, p.ab = connectHosts(tb, p.hb, p.ha, p.ma)
	ep, err := p.mb.PeerEndpoint(p.ba)
	if err != nil {
		tb.Fatal(err)
	}
	if ep != loopback(p.ma) {
		tb.Fatalf("b's endpoint for a is %s, want a's mux %s", ep, loopback(p.ma))
	}
	bind, err := p.mb.PeerBind(ep)
	if err != nil {
		tb.Fatal(err)
	}
	p.wa = newWGNode(tb, p.ma.Bind(), tunAddrA)
	p.wb = newWGNode(tb, bind, tunAddrB)
	p.wa.peerWith(tb, p.wb, netip.AddrPort{})
	p.wb.peerWith(tb, p.wa, ep)
	return p
}

func TestMuxLibp2pAndWireGuardShareOnePort(t *testing.T) {
	p := newMuxPair(t)
	const tunnelBytes = 2 << 20
	serveTunnelStream(t, p.wa, tunnelBytes)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// Both at once: a TCP stream through the tunnel and libp2p streams.
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

	// a learnt b's WireGuard endpoint from b's packets: it must be the
	// address libp2p sees b at, the one 5-tuple.
	want, err := p.ma.PeerEndpoint(p.ab)
	if err != nil {
		t.Fatal(err)
	}
	if want != loopback(p.mb) {
		t.Errorf("a sees b's libp2p connection from %s, want b's mux %s", want, loopback(p.mb))
	}
	if got := p.wa.ipcValue(t, "endpoint"); got != want.String() {
		t.Errorf("a's WireGuard endpoint for b is %q, libp2p remote address %s", got, want)
	}
	if got := p.wa.ipcValue(t, "listen_port"); got != fmt.Sprint(p.ma.Port()) {
		t.Errorf("a's WireGuard listen_port is %s, mux port %d", got, p.ma.Port())
	}
	for name, m := range map[string]*Mux{"a": p.ma, "b": p.mb} {
		s := m.Stats()
		if s.QUIC == 0 || s.WireGuard == 0 {
			t.Errorf("mux %s carried %d QUIC and %d WireGuard datagrams, want both", name, s.QUIC, s.WireGuard)
		}
		if s.Unknown != 0 || s.Oversized != 0 {
			t.Errorf("mux %s dropped %d unknown and %d oversized datagrams", name, s.Unknown, s.Oversized)
		}
	}
	// The libp2p connection is still the same, direct one.
	if c := onlyConn(t, p.hb, p.ha.ID()); c.ID() != p.ba.ID() {
		t.Errorf("libp2p connection was replaced: %s, then %s", p.ba.ID(), c.ID())
	}
}

func TestMuxHostCanBeReplaced(t *testing.T) {
	m := newTestMux(t)
	h1, err := libp2p.New(libp2p.Transport(libp2pquic.NewTransport), m.Libp2pOptions(), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	_, err = libp2p.New(libp2p.Transport(libp2pquic.NewTransport), m.Libp2pOptions(), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if !errors.Is(err, ErrMuxInUse) {
		t.Fatalf("second host on a busy mux: %v, want ErrMuxInUse", err)
	}
	if err := h1.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the first host is gone, another can use the mux, and talk.
	h2 := newMuxHost(t, m)
	other := newMuxHost(t, newTestMux(t))
	h2.SetStreamHandler(echoProtocol, echo)
	connectHosts(t, other, h2, m)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := exchangeOverLibp2p(ctx, other, h2.ID(), 4<<10); err != nil {
		t.Fatal(err)
	}
}

func TestNewMuxValidates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		laddr *net.UDPAddr
		opts  []MuxOption
	}{
		{"nil address", nil, nil},
		{"specific address", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil},
		{"nil option", &net.UDPAddr{}, []MuxOption{nil}},
		{"nil logger", &net.UDPAddr{}, []MuxOption{WithMuxLogger(nil)}},
		{"zero queue", &net.UDPAddr{}, []MuxOption{WithMuxQueueLen(0)}},
		{"huge queue", &net.UDPAddr{}, []MuxOption{WithMuxQueueLen(maxMuxQueueLen + 1)}},
		{"zero batch", &net.UDPAddr{}, []MuxOption{WithMuxBatchSize(0)}},
		{"huge batch", &net.UDPAddr{}, []MuxOption{WithMuxBatchSize(maxMuxBatchSize + 1)}},
		{"tiny socket buffer", &net.UDPAddr{}, []MuxOption{WithMuxSocketBuffer(1024)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMux(tc.laddr, tc.opts...)
			if err == nil {
				m.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidMuxConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidMuxConfig", err)
			}
		})
	}
	m := newTestMux(t, WithMuxLogger(slog.New(slog.DiscardHandler)), WithMuxQueueLen(16), WithMuxBatchSize(8), WithMuxSocketBuffer(1<<20))
	if m.Bind().BatchSize() != 8 {
		t.Errorf("batch size %d, want 8", m.Bind().BatchSize())
	}
	if got := m.QUICMultiaddr().String(); got != fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", m.Port()) {
		t.Errorf("QUIC multiaddr %s", got)
	}
}

// rawClient is a plain UDP socket on 127.0.0.1 talking to a mux.
func rawClient(tb testing.TB, m *Mux) *net.UDPConn {
	tb.Helper()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(loopback(m)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// wgTransport is a WireGuard transport message of n bytes (n ≥ 32) whose
// counter field is ctr.
func wgTransport(n int, ctr uint64) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b, wgTransportType)
	binary.LittleEndian.PutUint64(b[8:], ctr)
	return b
}

// receiveOne calls fn until it yields a datagram or fails.
func receiveOne(fn conn.ReceiveFunc, batch int) ([]byte, conn.Endpoint, error) {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagramSize)
	}
	sizes := make([]int, batch)
	eps := make([]conn.Endpoint, batch)
	n, err := fn(bufs, sizes, eps)
	if err != nil {
		return nil, nil, err
	}
	if n != 1 {
		return nil, nil, fmt.Errorf("received %d datagrams, want 1", n)
	}
	return bufs[0][:sizes[0]], eps[0], nil
}

func TestMuxBindLifecycle(t *testing.T) {
	m := newTestMux(t)
	b := m.Bind()
	fns, port, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if port != m.Port() || len(fns) != 1 {
		t.Fatalf("Open: %d functions on port %d, want 1 on %d", len(fns), port, m.Port())
	}
	if _, _, err := b.Open(0); !errors.Is(err, conn.ErrBindAlreadyOpen) {
		t.Fatalf("second Open: %v", err)
	}

	// A WireGuard datagram arrives with its sender as endpoint, and Send
	// answers it through the mux's socket.
	c := rawClient(t, m)
	msg := wgTransport(48, 7)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got, ep, err := receiveOne(fns[0], b.BatchSize())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("received %x, want %x", got, msg)
	}
	if ep.DstToString() != c.LocalAddr().String() {
		t.Fatalf("endpoint %s, want the sender %s", ep.DstToString(), c.LocalAddr())
	}
	parsed, err := b.ParseEndpoint(c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(parsed.DstToBytes(), ep.DstToBytes()) {
		t.Fatalf("parsed endpoint %x, received %x", parsed.DstToBytes(), ep.DstToBytes())
	}
	if _, err := b.ParseEndpoint("[::1]:5"); err == nil {
		t.Fatal("IPv6 endpoint accepted on an IPv4 mux")
	}
	reply := wgTransport(32, 8)
	if err := b.Send([][]byte{reply}, ep); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(testTimeout))
	rb := make([]byte, 100)
	n, err := c.Read(rb)
	if err != nil || !bytes.Equal(rb[:n], reply) {
		t.Fatalf("client read %x, %v; want %x", rb[:n], err, reply)
	}

	// Close wakes a pending receive with net.ErrClosed.
	pending := make(chan error, 1)
	go func() {
		_, _, err := receiveOne(fns[0], 1)
		pending <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-pending; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pending receive after Close: %v", err)
	}
	if _, _, err := receiveOne(fns[0], 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("receive after Close: %v", err)
	}
	if err := b.Send([][]byte{reply}, ep); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Reopening needs the mux's port or 0.
	if _, _, err := b.Open(m.Port() + 1); !errors.Is(err, ErrBindPort) {
		t.Fatalf("Open on another port: %v", err)
	}
	fns2, _, err := b.Open(m.Port())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := receiveOne(fns[0], 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("old receive function after reopening: %v", err)
	}
	if err := b.SetMark(0); err != nil {
		t.Fatalf("SetMark(0): %v", err)
	}

	// Closing the mux closes the bind for good.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second mux Close: %v", err)
	}
	if _, _, err := receiveOne(fns2[0], 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("receive after mux Close: %v", err)
	}
	if _, _, err := b.Open(0); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Open after mux Close: %v", err)
	}
	if err := b.Send([][]byte{reply}, ep); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after mux Close: %v", err)
	}
}

// Peer binds take their peer's WireGuard datagrams; the catch-all bind
// gets the rest.
func TestMuxPeerBinds(t *testing.T) {
	m := newTestMux(t)
	c1, c2 := rawClient(t, m), rawClient(t, m)
	addr1 := c1.LocalAddr().(*net.UDPAddr).AddrPort()
	b1, err := m.PeerBind(addr1)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Endpoint() != addr1.String() || m.Bind().Endpoint() != "" {
		t.Fatalf("endpoints %q and %q", b1.Endpoint(), m.Bind().Endpoint())
	}
	fns1, _, err := b1.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	fnsAll, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	// A second bind for the same peer cannot open while b1 is open.
	dup, err := m.PeerBind(addr1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dup.Open(0); !errors.Is(err, ErrPeerTaken) {
		t.Fatalf("second peer bind for %s: %v", addr1, err)
	}

	from1, from2 := wgTransport(32, 1), wgTransport(32, 2)
	c2.Write(from2)
	c1.Write(from1)
	if got, ep, err := receiveOne(fns1[0], 1); err != nil || !bytes.Equal(got, from1) || ep.DstToString() != addr1.String() {
		t.Fatalf("peer bind received %x from %v, %v; want %x from %s", got, ep, err, from1, addr1)
	}
	if got, _, err := receiveOne(fnsAll[0], 1); err != nil || !bytes.Equal(got, from2) {
		t.Fatalf("catch-all bind received %x, %v; want %x", got, err, from2)
	}

	// A peer bind sends to its peer only.
	ep1, err := b1.ParseEndpoint(addr1.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b1.ParseEndpoint(c2.LocalAddr().String()); !errors.Is(err, conn.ErrWrongEndpointType) {
		t.Fatalf("peer bind parsed another peer: %v", err)
	}
	ep2, err := m.Bind().ParseEndpoint(c2.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Send([][]byte{from1}, ep2); !errors.Is(err, conn.ErrWrongEndpointType) {
		t.Fatalf("peer bind sent to another peer: %v", err)
	}
	if err := b1.Send([][]byte{from2}, ep1); err != nil {
		t.Fatal(err)
	}
	c1.SetReadDeadline(time.Now().Add(testTimeout))
	buf := make([]byte, 100)
	if n, err := c1.Read(buf); err != nil || !bytes.Equal(buf[:n], from2) {
		t.Fatalf("peer read %x, %v", buf[:n], err)
	}

	// Once b1 is closed its peer's datagrams go to the catch-all bind, and
	// another bind may take the peer.
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	c1.Write(from1)
	if got, _, err := receiveOne(fnsAll[0], 1); err != nil || !bytes.Equal(got, from1) {
		t.Fatalf("catch-all bind received %x, %v; want %x", got, err, from1)
	}
	fnsDup, _, err := dup.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	c1.Write(from1)
	if got, _, err := receiveOne(fnsDup[0], 1); err != nil || !bytes.Equal(got, from1) {
		t.Fatalf("reopened peer bind received %x, %v", got, err)
	}
	if _, err := m.PeerBind(netip.AddrPort{}); !errors.Is(err, ErrInvalidMuxConfig) {
		t.Fatalf("peer bind without address: %v", err)
	}
	if _, err := m.PeerBind(netip.MustParseAddrPort("[::1]:9")); !errors.Is(err, ErrInvalidMuxConfig) {
		t.Fatalf("IPv6 peer bind on an IPv4 mux: %v", err)
	}
	m.Close()
	if _, _, err := receiveOne(fnsDup[0], 1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("peer bind receive after mux Close: %v", err)
	}
	if _, err := m.PeerBind(addr1); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("PeerBind after mux Close: %v", err)
	}
}

// A full queue makes the reader wait, not drop: every datagram sent while
// WireGuard is not reading arrives once it reads, in order, and the QUIC
// datagram queued behind them too.
func TestMuxFullQueueWaitsInsteadOfDropping(t *testing.T) {
	m := newTestMux(t, WithMuxQueueLen(1), WithMuxBatchSize(4))
	fns, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	qc, err := m.lendConn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { qc.Close() })
	c := rawClient(t, m)
	const n = 200 // well within even an unforced socket buffer
	for i := range n {
		if _, err := c.Write(wgTransport(64, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	quicMsg := []byte{0x40, 'l', 'a', 's', 't'}
	if _, err := c.Write(quicMsg); err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 4)
	for i := range bufs {
		bufs[i] = make([]byte, MaxDatagramSize)
	}
	sizes, eps := make([]int, 4), make([]conn.Endpoint, 4)
	for next := 0; next < n; {
		k, err := fns[0](bufs, sizes, eps)
		if err != nil {
			t.Fatal(err)
		}
		for i := range k {
			if got := binary.LittleEndian.Uint64(bufs[i][8:sizes[i]]); got != uint64(next) {
				t.Fatalf("datagram %d arrived as number %d", got, next)
			}
			next++
		}
	}
	buf := make([]byte, 100)
	k, _, err := qc.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:k], quicMsg) {
		t.Fatalf("QUIC datagram behind the WireGuard burst: %q, %v", buf[:k], err)
	}
	s := m.Stats()
	// (The QUIC counter may lag the read just done; the WireGuard one was
	// updated before the QUIC datagram was queued.)
	if s.WireGuard != n || s.NoReceiver != 0 {
		t.Fatalf("stats %+v, want %d WireGuard, none dropped", s, n)
	}
	if s.Waits == 0 {
		t.Fatalf("stats %+v: the reader never waited on a one-slot queue", s)
	}
}

// The mux works the same on an IPv6 socket.
func TestMuxIPv6(t *testing.T) {
	m, err := NewMux(&net.UDPAddr{IP: net.IPv6zero})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if got := m.QUICMultiaddr().String(); got != fmt.Sprintf("/ip6/::/udp/%d/quic-v1", m.Port()) {
		t.Fatalf("QUIC multiaddr %s", got)
	}
	h := newMuxHost(t, m)
	h.SetStreamHandler(echoProtocol, echo)
	dialer, err := libp2p.New(libp2p.Transport(libp2pquic.NewTransport), libp2p.ListenAddrStrings("/ip6/::1/udp/0/quic-v1"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	addr := ma.StringCast(fmt.Sprintf("/ip6/::1/udp/%d/quic-v1", m.Port()))
	if err := dialer.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: []ma.Multiaddr{addr}}); err != nil {
		t.Fatal(err)
	}
	if err := exchangeOverLibp2p(ctx, dialer, h.ID(), 4<<10); err != nil {
		t.Fatal(err)
	}
	fns, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp6", nil, &net.UDPAddr{IP: net.IPv6loopback, Port: int(m.Port())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msg := wgTransport(40, 1)
	c.Write(msg)
	got, ep, err := receiveOne(fns[0], 1)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("received %x, %v", got, err)
	}
	if ep.DstToString() != c.LocalAddr().String() {
		t.Fatalf("endpoint %s, want %s", ep.DstToString(), c.LocalAddr())
	}
	if _, err := m.Bind().ParseEndpoint("127.0.0.1:5"); err == nil {
		t.Fatal("IPv4 endpoint accepted on an IPv6 mux")
	}
}

func TestMuxQUICConnDeadlineAndClose(t *testing.T) {
	m := newTestMux(t)
	qc, err := m.lendConn()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.lendConn(); !errors.Is(err, ErrMuxInUse) {
		t.Fatalf("second lendConn: %v", err)
	}
	buf := make([]byte, 1500)
	qc.SetReadDeadline(time.Unix(1, 0))
	if _, _, err := qc.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	// A deadline in the future wakes a pending read.
	qc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, _, err = qc.ReadFrom(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read with a short deadline: %v", err)
	}
	qc.SetReadDeadline(time.Time{})

	c := rawClient(t, m)
	msg := append([]byte{0xc3, 0, 0, 0, 1}, make([]byte, 40)...)
	c.Write(msg)
	n, from, err := qc.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], msg) {
		t.Fatalf("ReadFrom %x, %v; want %x", buf[:n], err, msg)
	}
	if from.String() != c.LocalAddr().String() {
		t.Fatalf("from %s, want %s", from, c.LocalAddr())
	}
	if _, err := qc.WriteTo([]byte{0x40, 1, 2}, from); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := c.Read(buf); err != nil || !bytes.Equal(buf[:n], []byte{0x40, 1, 2}) {
		t.Fatalf("client read %x, %v", buf[:n], err)
	}

	pending := make(chan error, 1)
	go func() {
		_, _, err := qc.ReadFrom(buf)
		pending <- err
	}()
	qc.Close()
	if err := <-pending; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("pending read after Close: %v", err)
	}
	if _, err := qc.WriteTo(msg, from); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	// Without a QUIC receiver, QUIC datagrams are dropped and counted.
	before := m.Stats().NoReceiver
	qc2, err := m.lendConn()
	if err != nil {
		t.Fatalf("lendConn after Close: %v", err)
	}
	qc2.Close()
	c.Write(msg)
	marker := wgTransport(32, 1)
	fns, _, err := m.Bind().Open(0)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(marker)
	if got, _, err := receiveOne(fns[0], 1); err != nil || !bytes.Equal(got, marker) {
		t.Fatalf("marker: %x, %v", got, err)
	}
	if got := m.Stats().NoReceiver; got != before+1 {
		t.Fatalf("NoReceiver %d, want %d", got, before+1)
	}
}

func TestMuxPeerEndpoint(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string // "" for an error
	}{
		{"/ip4/127.0.0.1/udp/4001/quic-v1", "127.0.0.1:4001"},
		{"/ip4/1.2.3.4/udp/9/quic-v1/p2p/12D3KooWQYV9dGMFoRzNStwpXztXaBUjtPqi6aU76ZgUriHhKust", "1.2.3.4:9"},
		{"/ip6/::1/udp/4001/quic-v1", "[::1]:4001"},
		{"/ip4/127.0.0.1/tcp/4001", ""},
		{"/ip4/127.0.0.1/udp/4001/quic-v1/webtransport", ""},
		{"/ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWQYV9dGMFoRzNStwpXztXaBUjtPqi6aU76ZgUriHhKust/p2p-circuit", ""},
		{"/dns4/example.com/udp/4001/quic-v1", ""},
		{"/ip4/127.0.0.1/udp/4001", ""},
	} {
		got, err := MultiaddrEndpoint(ma.StringCast(tc.addr))
		switch {
		case tc.want == "" && !errors.Is(err, ErrNotDirectQUIC):
			t.Errorf("%s: %s, %v; want ErrNotDirectQUIC", tc.addr, got, err)
		case tc.want != "" && (err != nil || got.String() != tc.want):
			t.Errorf("%s: %s, %v; want %s", tc.addr, got, err, tc.want)
		}
	}
}

// A host built like overlay.NewHost (TCP and QUIC, hole punching) dials
// out from the mux's socket too, which is what DCUtR's punch needs.
func TestMuxHostDialsFromMuxSocket(t *testing.T) {
	m := newTestMux(t, WithMuxMetrics(prometheus.NewRegistry()))
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		m.Libp2pOptions(),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(libp2pquic.NewTransport),
		libp2p.EnableHolePunching(),
		libp2p.EnableRelay(),
		libp2p.DisableMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	plain, err := libp2p.New(libp2p.Transport(libp2pquic.NewTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: plain.ID(), Addrs: plain.Addrs()}); err != nil {
		t.Fatal(err)
	}
	c := onlyConn(t, h, plain.ID())
	ep, err := m.PeerEndpoint(c)
	if err != nil {
		t.Fatalf("outbound connection %s -> %s: %v", c.LocalMultiaddr(), c.RemoteMultiaddr(), err)
	}
	if want, _ := MultiaddrEndpoint(plain.Addrs()[0]); ep != want {
		t.Errorf("endpoint %s, want %s", ep, want)
	}
	var listensOnMux bool
	for _, a := range h.Network().ListenAddresses() {
		listensOnMux = listensOnMux || a.Equal(m.QUICMultiaddr())
	}
	if !listensOnMux {
		t.Errorf("host listens on %v, not on the mux's %s", h.Network().ListenAddresses(), m.QUICMultiaddr())
	}
}

func TestMuxPeerEndpointRejectsOtherSocket(t *testing.T) {
	m := newTestMux(t)
	h := newMuxHost(t, m)
	// other listens on a plain QUIC socket, not a mux.
	other, err := libp2p.New(libp2p.Transport(libp2pquic.NewTransport), libp2p.ListenAddrStrings("/ip4/127.0.0.1/udp/0/quic-v1"), libp2p.DisableRelay(), libp2p.DisableMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := other.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", m.Port()))}}); err != nil {
		t.Fatal(err)
	}
	c := onlyConn(t, other, h.ID())
	if _, err := m.PeerEndpoint(c); !errors.Is(err, ErrNotOnMux) {
		t.Fatalf("PeerEndpoint of a connection on another socket: %v", err)
	}
}

func TestMuxCloseLeavesNoGoroutines(t *testing.T) {
	p := newMuxPair(t)
	serveTunnelStream(t, p.wa, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := fetchTunnelStream(ctx, p.wb, p.wa, 64<<10, true); err != nil {
		t.Fatal(err)
	}
	// Close in the documented order: WireGuard, hosts, then muxes.
	p.wa.dev.Close()
	p.wb.dev.Close()
	p.ha.Close()
	p.hb.Close()
	if err := errors.Join(p.ma.Close(), p.mb.Close()); err != nil {
		t.Fatal(err)
	}
	if leaks := muxGoroutines(); len(leaks) > 0 {
		t.Fatalf("%d mux goroutines left after Close:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
	}
}

// muxGoroutines returns the stacks of goroutines running mux code.
func muxGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, fn := range []string{"wgpath.(*Mux)", "wgpath.(*quicConn)", "wgpath.(*MuxBind)", "wgpath.(*deadline)"} {
			if strings.Contains(g, fn) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// Classifier vectors: real first bytes of each protocol and near misses.
func TestClassifyVectors(t *testing.T) {
	wg := func(typ uint32, n int) []byte {
		b := make([]byte, n)
		binary.LittleEndian.PutUint32(b, typ)
		return b
	}
	withByte := func(b []byte, i int, v byte) []byte { b[i] = v; return b }
	for _, tc := range []struct {
		name string
		b    []byte
		want packetKind
	}{
		{"empty", nil, kindDrop},
		{"QUIC initial (long header)", append([]byte{0xc3, 0, 0, 0, 1}, make([]byte, 1195)...), kindQUIC},
		{"QUIC 1-RTT (short header)", append([]byte{0x41}, make([]byte, 30)...), kindQUIC},
		{"QUIC version negotiation (fixed bit clear)", []byte{0x80, 0, 0, 0, 0, 8}, kindQUIC},
		{"one byte with the fixed bit", []byte{0x40}, kindQUIC},
		{"WireGuard initiation", wg(1, 148), kindWireGuard},
		{"WireGuard response", wg(2, 92), kindWireGuard},
		{"WireGuard cookie reply", wg(3, 64), kindWireGuard},
		{"WireGuard keepalive", wg(4, 32), kindWireGuard},
		{"WireGuard data", wg(4, 1452), kindWireGuard},
		{"initiation one byte short", wg(1, 147), kindDrop},
		{"response one byte long", wg(2, 93), kindDrop},
		{"cookie reply wrong size", wg(3, 148), kindDrop},
		{"transport below 32 bytes", wg(4, 31), kindDrop},
		{"type 0", wg(0, 148), kindDrop},
		{"type 5", wg(5, 64), kindDrop},
		{"type 1 with a reserved byte set", withByte(wg(1, 148), 2, 1), kindDrop},
		{"type 4 with the last reserved byte set", withByte(wg(4, 64), 3, 0x3f), kindDrop},
		{"STUN binding request", append([]byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, make([]byte, 12)...), kindDrop},
		{"DTLS handshake", append([]byte{0x16, 0xfe, 0xfd}, make([]byte, 50)...), kindDrop},
		{"three bytes", []byte{1, 0, 0}, kindDrop},
	} {
		if got := classify(tc.b); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// The sizes are wireguard-go's.
	for _, c := range []struct{ ours, theirs int }{
		{wgInitiationSize, device.MessageInitiationSize},
		{wgResponseSize, device.MessageResponseSize},
		{wgCookieReplySize, device.MessageCookieReplySize},
		{wgMinTransportSize, device.MessageTransportSize},
		{wgInitiationType, device.MessageInitiationType},
		{wgResponseType, device.MessageResponseType},
		{wgCookieReplyType, device.MessageCookieReplyType},
		{wgTransportType, device.MessageTransportType},
	} {
		if c.ours != c.theirs {
			t.Errorf("constant %d differs from wireguard-go's %d", c.ours, c.theirs)
		}
	}
}

// modelKind is a naive statement of the classification rules.
func modelKind(b []byte) packetKind {
	switch {
	case len(b) == 0:
		return kindDrop
	case b[0] >= 0x40: // 0x40 or 0x80 set
		return kindQUIC
	case len(b) < 4 || b[1] != 0 || b[2] != 0 || b[3] != 0:
		return kindDrop
	}
	if ok := modelWGSizes[b[0]]; ok != nil && ok(len(b)) {
		return kindWireGuard
	}
	return kindDrop
}

// modelWGSizes says which lengths each WireGuard message type may have.
var modelWGSizes = map[byte]func(int) bool{
	1: func(n int) bool { return n == 148 },
	2: func(n int) bool { return n == 92 },
	3: func(n int) bool { return n == 64 },
	4: func(n int) bool { return n >= 32 },
}

func TestClassifierRandomised(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	sizes := []int{0, 1, 3, 4, 31, 32, 33, 63, 64, 65, 91, 92, 93, 147, 148, 149, 1200, 1452}
	counts := map[packetKind]int{}
	for range 50000 {
		n := sizes[rng.IntN(len(sizes))]
		if rng.IntN(4) == 0 {
			n = rng.IntN(MaxDatagramSize)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		// Bias towards the interesting shapes: small first bytes and zero
		// reserved bytes.
		if n >= 4 && rng.IntN(2) == 0 {
			b[0] = byte(rng.IntN(6))
			if rng.IntN(4) != 0 {
				b[1], b[2], b[3] = 0, 0, 0
			}
		}
		got, want := classify(b), modelKind(b)
		if got != want {
			t.Fatalf("classify(% x…, %d bytes) = %s, model says %s", b[:min(len(b), 8)], len(b), got, want)
		}
		counts[got]++
	}
	for _, k := range []packetKind{kindDrop, kindQUIC, kindWireGuard} {
		if counts[k] < 500 {
			t.Errorf("only %d random datagrams were %s; the generator misses cases", counts[k], k)
		}
	}
}

// FuzzMuxDispatch sends each input through a real mux on loopback,
// followed by a WireGuard and a QUIC marker, and checks where the input
// went: never to the wrong side, never lost when it belongs somewhere.
func FuzzMuxDispatch(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0x40}, {0x80, 1, 2, 3}, {1, 0, 0}, {4, 0, 0, 0},
		wgTransport(32, 0), wgTransport(31, 0), make([]byte, 148),
		append([]byte{1, 0, 0, 0}, make([]byte, 144)...),
		append([]byte{0xc3}, make([]byte, 1199)...),
		make([]byte, MaxDatagramSize+1),
	} {
		f.Add(seed)
	}
	m := newTestMux(f)
	fns, _, err := m.Bind().Open(0)
	if err != nil {
		f.Fatal(err)
	}
	qc, err := m.lendConn()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { qc.Close() })
	c := rawClient(f, m)

	// One reader per side for the whole fuzz run; both stop when the mux
	// closes.
	wgIn, quicIn := make(chan []byte, 16), make(chan []byte, 16)
	go func() {
		defer close(wgIn)
		for {
			b, _, err := receiveOne(fns[0], 1)
			if err != nil {
				return
			}
			wgIn <- b
		}
	}()
	go func() {
		defer close(quicIn)
		buf := make([]byte, MaxDatagramSize)
		for {
			n, _, err := qc.ReadFrom(buf)
			if err != nil {
				return
			}
			quicIn <- bytes.Clone(buf[:n])
		}
	}()

	var seq uint64
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 65000 {
			return // not a UDP datagram
		}
		seq++
		wgMarker := wgTransport(32, seq)
		wgMarker[4] = 0xee // receiver index, distinguishes markers from inputs
		quicMarker := binary.LittleEndian.AppendUint64([]byte{0x7f, 0xee, 0xee}, seq)
		for _, b := range [][]byte{in, wgMarker, quicMarker} {
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		want := modelKind(in)
		if len(in) > MaxDatagramSize {
			want = kindDrop
		}
		var gotWG, gotQUIC [][]byte
		collect := func(ch <-chan []byte, marker []byte, into *[][]byte, side string) {
			timeout := time.After(testTimeout)
			for {
				select {
				case b, ok := <-ch:
					if !ok {
						t.Fatalf("%s side closed", side)
					}
					if bytes.Equal(b, marker) {
						return
					}
					*into = append(*into, b)
				case <-timeout:
					t.Fatalf("%s marker %d never arrived", side, seq)
				}
			}
		}
		collect(wgIn, wgMarker, &gotWG, "WireGuard")
		collect(quicIn, quicMarker, &gotQUIC, "QUIC")
		wantWG, wantQUIC := 0, 0
		switch want {
		case kindWireGuard:
			wantWG = 1
		case kindQUIC:
			wantQUIC = 1
		}
		if len(gotWG) != wantWG || len(gotQUIC) != wantQUIC {
			t.Fatalf("% x… (%d bytes, %s) reached WireGuard %d times and QUIC %d times", in[:min(len(in), 8)], len(in), want, len(gotWG), len(gotQUIC))
		}
		for _, b := range append(gotWG, gotQUIC...) {
			if !bytes.Equal(b, in) {
				t.Fatalf("delivered % x…, sent % x…", b[:min(len(b), 8)], in[:min(len(in), 8)])
			}
		}
	})
}
