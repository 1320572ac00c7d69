package wgpath

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
	"golang.zx2c4.com/wireguard/conn"
)

// MuxBind is a wireguard-go conn.Bind on a Mux: it receives the datagrams
// the mux classified as WireGuard and sends through the mux's socket, so a
// WireGuard peer whose endpoint is the remote address of a direct libp2p
// QUIC connection (Mux.PeerEndpoint) uses the very 5-tuple DCUtR punched.
// Mux.Bind is the catch-all bind; Mux.PeerBind makes binds for one
// peer each, and Mux.PeerBindObfs binds for one obfuscated peer each, which
// also receive that peer's datagrams that are neither QUIC nor WireGuard.
//
// As conn.Bind requires, every function returned by Open returns
// net.ErrClosed after Close; Send does too. A bind can be opened again
// after Close, but not after the mux is closed.
type MuxBind struct {
	m    *Mux
	peer netip.AddrPort // the one peer of a PeerBind; invalid for the catch-all
	obfs bool           // made by PeerBindObfs
	q    chan *packet   // kept across Open..Close periods

	mu   sync.Mutex               // serialises Open and Close
	open atomic.Pointer[receiver] // the current Open..Close period, nil while closed
}

var _ conn.Bind = (*MuxBind)(nil)

func newBind(m *Mux, peer netip.AddrPort, obfs bool) *MuxBind {
	return &MuxBind{m: m, peer: peer, obfs: obfs, q: make(chan *packet, m.cfg.queueLen)}
}

// Obfuscated reports whether the bind came from Mux.PeerBindObfs.
func (b *MuxBind) Obfuscated() bool { return b.obfs }

// Endpoint is the peer endpoint string of a PeerBind, "" for the catch-all
// bind (the tunnel package asks binds with a single peer for it).
func (b *MuxBind) Endpoint() string {
	if !b.peer.IsValid() {
		return ""
	}
	return b.peer.String()
}

// Open implements conn.Bind. The mux's socket is already bound: port must
// be 0 or the mux's port, which Open reports back.
func (b *MuxBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m.ctx.Err() != nil {
		return nil, 0, ErrMuxClosed
	}
	if b.open.Load() != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	if port != 0 && port != b.m.port {
		return nil, 0, fmt.Errorf("%w: asked for %d, the mux listens on %d", ErrBindPort, port, b.m.port)
	}
	gen := &receiver{q: b.q, done: make(chan struct{}), obfs: b.obfs}
	if b.peer.IsValid() {
		if err := b.m.addPeerRoute(b.peer, gen); err != nil {
			return nil, 0, err
		}
	} else {
		b.m.wgRecv.Store(gen)
	}
	b.open.Store(gen)
	b.m.coalesce.Store(true) // a session: let runs of its datagrams come merged
	return []conn.ReceiveFunc{b.receiveFunc(gen)}, b.m.port, nil
}

// receiveFunc waits for one WireGuard datagram, then takes as many more as
// are queued, up to len(bufs).
func (b *MuxBind) receiveFunc(gen *receiver) conn.ReceiveFunc {
	var last *endpoint // reused while datagrams come from the same address
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		if len(bufs) == 0 {
			return 0, nil
		}
		var p *packet
		select {
		case <-gen.done:
			return 0, net.ErrClosed
		case <-b.m.readerDone:
			return 0, b.m.readError()
		default:
		}
		select {
		case p = <-gen.q:
		case <-gen.done:
			return 0, net.ErrClosed
		case <-b.m.readerDone:
			return 0, b.m.readError()
		}
		n := 0
		for {
			sizes[n] = copy(bufs[n], p.data())
			if last == nil || last.dst != p.from {
				last = &endpoint{dst: p.from}
			}
			eps[n] = last
			putPacket(p)
			n++
			if n == len(bufs) {
				return n, nil
			}
			select {
			case p = <-gen.q:
			default:
				return n, nil
			}
		}
	}
}

// Close implements conn.Bind: the receive functions of the current Open
// return net.ErrClosed, and the mux stops handing this bind datagrams until
// the next Open. The socket stays open.
func (b *MuxBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	gen := b.open.Load()
	if gen == nil {
		return nil
	}
	close(gen.done)
	if b.peer.IsValid() {
		b.m.removePeerRoute(b.peer, gen)
	} else {
		b.m.wgRecv.CompareAndSwap(gen, nil)
	}
	b.open.Store(nil)
	return nil
}

// SetMark implements conn.Bind. The mark (SO_MARK, Linux only) applies to
// the whole shared socket, so libp2p's QUIC packets carry it too, which
// keeps them out of a TUN default route as well.
func (b *MuxBind) SetMark(mark uint32) error {
	if b.m.ctx.Err() != nil {
		return ErrMuxClosed
	}
	return setSocketMark(b.m.conn, mark)
}

// Send implements conn.Bind. A PeerBind sends to its peer only.
func (b *MuxBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	e, ok := ep.(*endpoint)
	if !ok {
		return conn.ErrWrongEndpointType
	}
	if b.peer.IsValid() && e.dst != b.peer {
		return fmt.Errorf("%w: %s is not this bind's peer %s", conn.ErrWrongEndpointType, e.dst, b.peer)
	}
	if b.open.Load() == nil {
		return net.ErrClosed
	}
	var err error
	if len(bufs) > 1 {
		err = b.m.sender.send(bufs, net.UDPAddrFromAddrPort(e.dst))
	} else {
		for _, buf := range bufs {
			if _, err = b.m.conn.WriteToUDPAddrPort(buf, e.dst); err != nil {
				break
			}
		}
	}
	if err != nil && b.m.ctx.Err() != nil {
		return net.ErrClosed
	}
	return err
}

// ParseEndpoint implements conn.Bind: s is ip:port, and for a PeerBind it
// must be the peer.
func (b *MuxBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	if err := b.m.checkFamily(ap.Addr()); err != nil {
		return nil, err
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if b.peer.IsValid() && ap != b.peer {
		return nil, fmt.Errorf("%w: %s is not this bind's peer %s", conn.ErrWrongEndpointType, ap, b.peer)
	}
	return &endpoint{dst: ap}, nil
}

// BatchSize implements conn.Bind.
func (b *MuxBind) BatchSize() int { return b.m.cfg.batchSize }

// endpoint is a WireGuard peer address on the mux. It never changes, so
// receive functions share it between datagrams.
type endpoint struct{ dst netip.AddrPort }

var _ conn.Endpoint = (*endpoint)(nil)

func (e *endpoint) ClearSrc()           {}
func (e *endpoint) SrcToString() string { return "" }
func (e *endpoint) DstToString() string { return e.dst.String() }
func (e *endpoint) DstIP() netip.Addr   { return e.dst.Addr() }
func (e *endpoint) SrcIP() netip.Addr   { return netip.Addr{} }

// DstToBytes is the address and port as wireguard-go's StdNetEndpoint gives
// them, for mac2 cookies.
func (e *endpoint) DstToBytes() []byte {
	b, _ := e.dst.MarshalBinary()
	return b
}

// PeerEndpoint returns the WireGuard endpoint for the peer of a libp2p
// connection: its remote UDP address. The connection must be a direct QUIC
// connection on this mux's socket, so WireGuard reuses its punched 5-tuple;
// otherwise the error wraps ErrNotDirectQUIC or ErrNotOnMux. Pass the result
// as the peer's endpoint (endpoint=<ip:port> in wireguard-go's IPC).
func (m *Mux) PeerEndpoint(c network.Conn) (netip.AddrPort, error) {
	local, err := quicUDPAddr(c.LocalMultiaddr())
	if err != nil {
		return netip.AddrPort{}, err
	}
	if local.Port != int(m.port) {
		return netip.AddrPort{}, fmt.Errorf("%w: local address %s, mux port %d", ErrNotOnMux, c.LocalMultiaddr(), m.port)
	}
	ap, err := MultiaddrEndpoint(c.RemoteMultiaddr())
	if err != nil {
		return netip.AddrPort{}, err
	}
	if err := m.checkFamily(ap.Addr()); err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrNotOnMux, err)
	}
	return ap, nil
}

// MultiaddrEndpoint converts a direct QUIC multiaddr
// (/ip4|ip6/…/udp/…/quic-v1[/p2p/…]) to its UDP address, IPv4 unmapped.
// Relayed and non-QUIC addresses fail with ErrNotDirectQUIC.
func MultiaddrEndpoint(a ma.Multiaddr) (netip.AddrPort, error) {
	ua, err := quicUDPAddr(a)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok || ua.Port <= 0 || ua.Port > 0xffff {
		return netip.AddrPort{}, fmt.Errorf("%w: %s has no usable address", ErrNotDirectQUIC, a)
	}
	if ua.Zone != "" {
		ip = ip.WithZone(ua.Zone)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port)), nil
}
