package wgpath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
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
	// udp is the socket when it is a *net.UDPConn: Open switches UDP_GRO
	// on for it and Close off again (see offload.go in sockbuf).
	udp *net.UDPConn

	sendMu   sync.Mutex
	sendMsgs []ipv4.Message // guarded by sendMu
	sendOOB  [][]byte       // guarded by sendMu; control buffer of each message
	sendSegs []int          // guarded by sendMu; datagrams in each message
	// segment is whether sends coalesce datagrams (UDP_SEGMENT); it is
	// turned off for good when the kernel refuses it.
	segment atomic.Bool

	mu       sync.Mutex
	gen      *bindGeneration // guarded by mu; nil while closed
	coalesce bool            // guarded by mu; UDP_GRO is on for this Open
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
		b.udp = uc
		_ = sockbuf.Size(uc, udpSocketBuffer) // best effort
		b.segment.Store(sockbuf.SupportsSegmentation(uc))
		if la, ok := uc.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
			b.batch = ipv6.NewPacketConn(uc)
		} else {
			b.batch = ipv4.NewPacketConn(uc)
		}
		b.sendMsgs = make([]ipv4.Message, udpBatchSize)
		b.sendOOB = make([][]byte, udpBatchSize)
		b.sendSegs = make([]int, udpBatchSize)
		for i := range b.sendMsgs {
			b.sendMsgs[i].Buffers = make([][]byte, 0, udpSegmentMax)
			b.sendOOB[i] = make([]byte, sockbuf.SegmentControlLen)
		}
	}
	return b, nil
}

const (
	// udpBatchSize is how many datagrams one batched system call moves
	// without segmentation offload, and how many WireGuard hands Send.
	udpBatchSize = 64
	// udpSegmentMax is the most datagrams one buffer carries with
	// segmentation offload (the kernel's UDP_MAX_SEGMENTS is 64 or more).
	udpSegmentMax = 64
	// maxUDPPayload is the largest UDP payload of one send (IPv4 bounds it:
	// 65535 minus the IP and UDP headers).
	maxUDPPayload = 1<<16 - 1 - 20 - 8
)

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
	// Coalesced reads need a reader that cuts them, so UDP_GRO is on only
	// between Open and Close; if the kernel refuses, reads stay single.
	b.coalesce = b.udp != nil && sockbuf.SetReceiveCoalescing(b.udp, true) == nil
	var port uint16
	if la, ok := b.conn.LocalAddr().(*net.UDPAddr); ok {
		port = uint16(la.Port)
	}
	if b.batch != nil && b.coalesce {
		return []conn.ReceiveFunc{b.receiveCoalescedFunc(gen)}, port, nil
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

// fromRemote reports whether a batch read came from the bind's peer.
func (b *UDPBind) fromRemote(a net.Addr) bool {
	ua, ok := a.(*net.UDPAddr)
	if !ok || ua.Port != int(b.remote.Port()) {
		return false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	return ok && ip.Unmap() == b.remote.Addr()
}

// receiveCoalescedFunc reads with UDP_GRO on: one read fills WireGuard's
// buffers (each holds up to 64 KiB) with messages of which each may be
// several datagrams of the peer merged; unpackCoalesced then gives every
// datagram a buffer of its own. Datagrams that find no buffer wait in
// spill for the next call.
func (b *UDPBind) receiveCoalescedFunc(gen *bindGeneration) conn.ReceiveFunc {
	msgs := make([]ipv4.Message, udpBatchSize)
	lens, segSizes := make([]int, udpBatchSize), make([]int, udpBatchSize)
	for i := range msgs {
		msgs[i].Buffers = make([][]byte, 1)
		msgs[i].OOB = make([]byte, sockbuf.CoalescedControlLen)
	}
	var spill spillQueue
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for {
			if spill.left() {
				n := spill.cut(bufs, sizes)
				for i := range n {
					eps[i] = b.ep
				}
				return n, nil
			}
			m := msgs[:min(len(bufs), len(msgs))]
			for i := range m {
				m[i].Buffers[0] = bufs[i]
				m[i].OOB = m[i].OOB[:cap(m[i].OOB)]
				m[i].N, m[i].NN, m[i].Flags, m[i].Addr = 0, 0, 0, nil
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
			for i := range n {
				lens[i], segSizes[i] = 0, 0
				if sockbuf.Truncated(m[i].Flags) || !b.fromRemote(m[i].Addr) {
					continue // cut short or from elsewhere: drop
				}
				size, err := sockbuf.CoalescedSize(m[i].OOB[:m[i].NN])
				if err != nil {
					continue
				}
				lens[i], segSizes[i] = m[i].N, size
			}
			if out := unpackCoalesced(bufs, lens[:n], segSizes[:n], sizes, &spill); out > 0 {
				for i := range out {
					eps[i] = b.ep
				}
				return out, nil
			}
		}
	}
}

// unpackCoalesced spreads merged datagrams over bufs, one per buffer, in
// order. On entry bufs[i][:lens[i]], for each i of lens, holds datagrams of
// segSizes[i] bytes each (the last may be shorter; 0 means one datagram;
// lens[i] 0 means nothing to deliver). It returns how many datagrams it put in bufs, their
// lengths in sizes; the messages whose datagrams do not all fit are copied
// to spill first, whole.
//
// Empty messages are squeezed out first (lens and segSizes are rewritten),
// so that message i's datagrams go to the buffers from at(i), the number of
// datagrams before it, which is then never below i. Working from the last
// message back, each datagram moves to a buffer that is already free:
// buffers between i and at(i+1) held messages whose datagrams have all
// moved further up.
func unpackCoalesced(bufs [][]byte, lens, segSizes, sizes []int, spill *spillQueue) int {
	k := 0
	for i := range lens {
		if lens[i] == 0 {
			continue
		}
		if k != i { // rare: only after a dropped read
			lens[k] = copy(bufs[k], bufs[i][:lens[i]])
			segSizes[k] = segSizes[i]
		}
		k++
	}
	lens, segSizes = lens[:k], segSizes[:k]
	count := func(i int) int {
		switch {
		case lens[i] == 0:
			return 0
		case segSizes[i] <= 0 || segSizes[i] >= lens[i]:
			return 1
		}
		return (lens[i] + segSizes[i] - 1) / segSizes[i]
	}
	total, fit := 0, len(lens)
	for i := range lens {
		c := count(i)
		if total+c > len(bufs) {
			fit = i
			break
		}
		total += c
	}
	for i := fit; i < len(lens); i++ {
		if lens[i] > 0 {
			spill.push(bufs[i][:lens[i]], segSizes[i])
		}
	}
	at := total
	for i := fit - 1; i >= 0; i-- {
		c := count(i)
		at -= c
		if c == 0 {
			continue
		}
		size := segSizes[i]
		if c == 1 {
			size = lens[i]
		}
		for s := c - 1; s >= 0; s-- {
			start := s * size
			end := min(start+size, lens[i])
			sizes[at+s] = copy(bufs[at+s], bufs[i][start:end])
		}
	}
	return total
}

// spillQueue holds merged datagrams that found no buffer in the call that
// read them.
type spillQueue struct {
	data  []byte      // the messages, back to back
	items []spillItem // not yet handed out, in order
}

type spillItem struct{ off, end, size int }

func (q *spillQueue) push(msg []byte, size int) {
	if size <= 0 || size > len(msg) {
		size = len(msg)
	}
	off := len(q.data)
	q.data = append(q.data, msg...)
	q.items = append(q.items, spillItem{off: off, end: len(q.data), size: size})
}

func (q *spillQueue) left() bool { return len(q.items) > 0 }

// cut copies the next datagrams into bufs, as many as fit, and returns how
// many.
func (q *spillQueue) cut(bufs [][]byte, sizes []int) int {
	n := 0
	for n < len(bufs) && len(q.items) > 0 {
		it := &q.items[0]
		end := min(it.off+it.size, it.end)
		sizes[n] = copy(bufs[n], q.data[it.off:end])
		n++
		it.off = end
		if it.off == it.end {
			q.items = q.items[1:]
		}
	}
	if len(q.items) == 0 {
		q.data, q.items = q.data[:0], q.items[:0]
	}
	return n
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
	if b.coalesce {
		b.coalesce = false
		// The owner may read the socket itself again; a closed socket
		// has nothing to switch off.
		if err := sockbuf.SetReceiveCoalescing(b.udp, false); err != nil && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("udp bind: switch UDP_GRO off: %w", err)
		}
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
		segment := b.segment.Load()
		m := b.sendMsgs[:b.fillMessagesLocked(bufs, segment)]
		segs := b.sendSegs
		for len(m) > 0 {
			n, err := b.batch.WriteBatch(m, 0)
			if err != nil {
				if segment && (errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL)) {
					// The kernel cannot checksum segmented datagrams
					// for this route (EIO), or the path MTU is below a
					// datagram (EINVAL), which unsegmented sends
					// fragment: send the rest one by one, now and from
					// now on.
					b.segment.Store(false)
					break
				}
				return err
			}
			for _, k := range segs[:n] {
				bufs = bufs[k:]
			}
			m, segs = m[n:], segs[n:]
		}
	}
	return nil
}

// fillMessagesLocked lays bufs out in sendMsgs and returns how many
// messages it used. With segment, consecutive datagrams of one size (the
// last of a run may be shorter) share a message, up to udpSegmentMax and
// maxUDPPayload, and the kernel cuts them apart again (UDP_SEGMENT).
func (b *UDPBind) fillMessagesLocked(bufs [][]byte, segment bool) int {
	n := 0
	for len(bufs) > 0 && n < len(b.sendMsgs) {
		m := &b.sendMsgs[n]
		m.Addr = b.remoteUDP
		m.Buffers = append(m.Buffers[:0], bufs[0])
		m.OOB = nil
		size, total := len(bufs[0]), len(bufs[0])
		k := 1
		if segment && size > 0 {
			for k < len(bufs) && k < udpSegmentMax && len(bufs[k]) <= size && total+len(bufs[k]) <= maxUDPPayload {
				m.Buffers = append(m.Buffers, bufs[k])
				total += len(bufs[k])
				k++
				if len(bufs[k-1]) < size {
					break // a shorter datagram ends the run
				}
			}
			if k > 1 {
				m.OOB = sockbuf.SegmentControl(b.sendOOB[n], uint16(size))
			}
		}
		b.sendSegs[n] = k
		bufs = bufs[k:]
		n++
	}
	return n
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
