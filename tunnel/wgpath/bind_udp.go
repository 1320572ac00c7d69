package wgpath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/tunnel/wgpath/sockbuf"
)

// UDPConn is the part of *net.UDPConn a UDPBind uses. A socket demultiplexer
// that shares one port between QUIC and WireGuard can hand the bind its
// WireGuard half by implementing it.
type UDPConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	SetReadDeadline(t time.Time) error
	LocalAddr() net.Addr
}

var _ UDPConn = (*net.UDPConn)(nil)

// UDPBind is a conn.Bind over an existing UDP socket that talks to exactly
// one remote endpoint: the socket the session owner hole-punched, or any
// socket whose 5-tuple is already agreed with the peer. Datagrams from any
// other source are dropped.
//
// The bind never closes the socket: its owner closes it after closing the
// Consumer or Provider that uses the bind. Bind.Close (called by WireGuard)
// unblocks pending reads with a past read deadline; Open clears it again,
// so the bind can be closed and reopened as conn.Bind requires.
type UDPBind struct {
	conn   UDPConn
	remote netip.AddrPort
	ep     *udpEndpoint
	// batch, when the socket is a *net.UDPConn, moves up to
	// udpBatchSize datagrams per system call (recvmmsg/sendmmsg).
	batch     batchConn
	remoteUDP *net.UDPAddr

	sendMu   sync.Mutex
	sendMsgs []ipv4.Message // guarded by sendMu

	mu  sync.Mutex
	gen *bindGeneration // guarded by mu; nil while closed
}

var _ conn.Bind = (*UDPBind)(nil)

// bindGeneration marks one Open..Close period, so receive functions from an
// earlier Open report net.ErrClosed even after a later Open.
type bindGeneration struct{ closed atomic.Bool }

// NewUDPBind returns a bind over c that sends to and accepts from remote
// only. When c is a *net.UDPConn, NewUDPBind also raises its kernel receive
// and send buffers to udpSocketBuffer (see there); if the system refuses,
// the kernel default stays and the bind works, only slower.
func NewUDPBind(c UDPConn, remote netip.AddrPort) (*UDPBind, error) {
	if c == nil || isNilUDPConn(c) {
		return nil, fmt.Errorf("%w: UDPBind needs a socket", ErrInvalidConfig)
	}
	if !remote.IsValid() || remote.Port() == 0 {
		return nil, fmt.Errorf("%w: UDPBind remote endpoint %s", ErrInvalidConfig, remote)
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	b := &UDPBind{conn: c, remote: remote, ep: &udpEndpoint{dst: remote}, remoteUDP: net.UDPAddrFromAddrPort(remote)}
	if uc, ok := c.(*net.UDPConn); ok {
		_ = sockbuf.Size(uc, udpSocketBuffer) // best effort
		if la, ok := uc.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
			b.batch = ipv6.NewPacketConn(uc)
		} else {
			b.batch = ipv4.NewPacketConn(uc)
		}
		b.sendMsgs = make([]ipv4.Message, udpBatchSize)
		for i := range b.sendMsgs {
			b.sendMsgs[i].Buffers = make([][]byte, 1)
		}
	}
	return b, nil
}

// udpBatchSize is how many datagrams one batched system call moves.
const udpBatchSize = 64

// udpSocketBuffer is the kernel receive and send buffer asked for a
// UDPBind's socket, as Mux asks for the shared socket (quic-go and
// wireguard-go's own binds ask for 7 MiB). The kernel default (208 KiB on
// Linux) holds under a hundred WireGuard datagrams: a burst from the peer's
// TCP overflowed it, and the loss sometimes left gVisor's TCP sender in a
// retransmission-timeout loop at a few Mbit/s for tens of seconds.
const udpSocketBuffer = 8 << 20

// batchConn is implemented by golang.org/x/net's ipv4 and ipv6 PacketConn.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// Endpoint returns the peer endpoint string; pass it as the peer's endpoint.
func (b *UDPBind) Endpoint() string { return b.remote.String() }

// Open implements conn.Bind. The port argument is ignored: the socket is
// already bound; its port is reported back.
func (b *UDPBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	if err := b.conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, 0, fmt.Errorf("udp bind: %w", err)
	}
	gen := &bindGeneration{}
	b.gen = gen
	var port uint16
	if la, ok := b.conn.LocalAddr().(*net.UDPAddr); ok {
		port = uint16(la.Port)
	}
	if b.batch != nil {
		return []conn.ReceiveFunc{b.receiveBatchFunc(gen)}, port, nil
	}
	return []conn.ReceiveFunc{b.receiveFunc(gen)}, port, nil
}

func (b *UDPBind) receiveBatchFunc(gen *bindGeneration) conn.ReceiveFunc {
	msgs := make([]ipv4.Message, udpBatchSize)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
	}
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for {
			m := msgs[:min(len(bufs), len(msgs))]
			for i := range m {
				m[i].Buffers[0] = bufs[i]
				m[i].N, m[i].Addr = 0, nil
			}
			n, err := b.batch.ReadBatch(m, 0)
			if gen.closed.Load() {
				return 0, net.ErrClosed
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				return 0, err
			}
			valid := 0
			for i := range n {
				sizes[i] = 0
				ua, ok := m[i].Addr.(*net.UDPAddr)
				if !ok || ua.Port != int(b.remote.Port()) {
					continue
				}
				if ip, ok := netip.AddrFromSlice(ua.IP); !ok || ip.Unmap() != b.remote.Addr() {
					continue
				}
				sizes[i] = m[i].N
				eps[i] = b.ep
				valid++
			}
			if valid > 0 {
				return n, nil
			}
		}
	}
}

func (b *UDPBind) receiveFunc(gen *bindGeneration) conn.ReceiveFunc {
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for {
			n, from, err := b.conn.ReadFromUDPAddrPort(bufs[0])
			if gen.closed.Load() {
				return 0, net.ErrClosed
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					// Someone else moved the deadline; keep reading.
					continue
				}
				return 0, err
			}
			if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != b.remote {
				continue
			}
			sizes[0] = n
			eps[0] = b.ep
			return 1, nil
		}
	}
}

// Close implements conn.Bind: it stops the receive functions of the current
// Open without closing the socket.
func (b *UDPBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen == nil {
		return nil
	}
	b.gen.closed.Store(true)
	b.gen = nil
	if err := b.conn.SetReadDeadline(time.Unix(1, 0)); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("udp bind: %w", err)
	}
	return nil
}

// SetMark implements conn.Bind; marks are not supported and ignored.
func (b *UDPBind) SetMark(uint32) error { return nil }

// BatchSize implements conn.Bind.
func (b *UDPBind) BatchSize() int {
	if b.batch != nil {
		return udpBatchSize
	}
	return 1
}

// Send implements conn.Bind. Every packet goes to the fixed remote,
// whatever ep says.
func (b *UDPBind) Send(bufs [][]byte, _ conn.Endpoint) error {
	if b.batch != nil && len(bufs) > 1 {
		return b.sendBatch(bufs)
	}
	for _, p := range bufs {
		if _, err := b.conn.WriteToUDPAddrPort(p, b.remote); err != nil {
			return err
		}
	}
	return nil
}

func (b *UDPBind) sendBatch(bufs [][]byte) error {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	for len(bufs) > 0 {
		m := b.sendMsgs[:min(len(bufs), len(b.sendMsgs))]
		for i := range m {
			m[i].Buffers[0] = bufs[i]
			m[i].Addr = b.remoteUDP
		}
		for len(m) > 0 {
			n, err := b.batch.WriteBatch(m, 0)
			if err != nil {
				return err
			}
			m = m[n:]
			bufs = bufs[n:]
		}
	}
	return nil
}

// ParseEndpoint implements conn.Bind. Any string yields the fixed remote.
func (b *UDPBind) ParseEndpoint(string) (conn.Endpoint, error) { return b.ep, nil }

// isNilUDPConn reports whether c holds a nil *net.UDPConn.
func isNilUDPConn(c UDPConn) bool {
	u, ok := c.(*net.UDPConn)
	return ok && u == nil
}

// udpEndpoint is the one peer endpoint of a UDPBind.
type udpEndpoint struct{ dst netip.AddrPort }

var _ conn.Endpoint = (*udpEndpoint)(nil)

func (e *udpEndpoint) ClearSrc()           {}
func (e *udpEndpoint) SrcToString() string { return "" }
func (e *udpEndpoint) DstToString() string { return e.dst.String() }
func (e *udpEndpoint) DstToBytes() []byte {
	b, _ := e.dst.MarshalBinary()
	return b
}
func (e *udpEndpoint) DstIP() netip.Addr { return e.dst.Addr() }
func (e *udpEndpoint) SrcIP() netip.Addr { return netip.Addr{} }
