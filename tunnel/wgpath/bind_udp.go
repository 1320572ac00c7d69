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
// On a *net.UDPConn the bind moves batches: sendmmsg, with runs of
// equal-sized datagrams as one segmented buffer (UDP_SEGMENT), and recvmmsg
// with UDP_GRO, which it switches on at Open and off at Close, so that
// between them only the bind may read the socket. The datagrams on the
// wire are the same as without.
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

	sender *batchSender // nil unless batch is set

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
		if la, ok := uc.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() == nil {
			b.batch = ipv6.NewPacketConn(uc)
		} else {
			b.batch = ipv4.NewPacketConn(uc)
		}
		b.sender = newBatchSender(b.batch, sockbuf.SupportsSegmentation(uc))
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

// receiveCoalescedFunc reads with UDP_GRO on, where one message may be up
// to udpSegmentMax datagrams of the peer merged. While the peer's
// datagrams keep one size, a read scatters one message over WireGuard's
// buffers in pieces of that size, so that every datagram lands in a
// buffer of its own without a copy (readScattered). Otherwise a read fills
// the buffers with whole messages and unpackCoalesced gives every datagram
// a buffer of its own (readWhole). Datagrams that find no buffer wait in
// the spill for the next call.
func (b *UDPBind) receiveCoalescedFunc(gen *bindGeneration) conn.ReceiveFunc {
	r := &coalescedReader{
		b:        b,
		msgs:     make([]ipv4.Message, udpBatchSize),
		lens:     make([]int, udpBatchSize),
		segSizes: make([]int, udpBatchSize),
		scatter:  make([][]byte, udpSegmentMax),
		merged:   1,
	}
	for i := range r.msgs {
		r.msgs[i].Buffers = make([][]byte, 1)
		r.msgs[i].OOB = make([]byte, sockbuf.CoalescedControlLen)
	}
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		for {
			var n int
			var err error
			switch {
			case r.spill.left():
				n = r.spill.cut(bufs, sizes)
			case r.merged > 1 && r.seg > 0 && !r.noScatter:
				n, err = r.readScattered(bufs, sizes)
			default:
				n, err = r.readWhole(bufs, sizes)
			}
			if gen.closed.Load() {
				return 0, net.ErrClosed
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				return 0, err
			}
			if n > 0 {
				for i := range n {
					eps[i] = b.ep
				}
				return n, nil
			}
		}
	}
}

// coalescedReader is the state of one receive function of a UDPBind with
// UDP_GRO on; only that function's goroutine uses it.
type coalescedReader struct {
	b              *UDPBind
	msgs           []ipv4.Message
	lens, segSizes []int
	scatter        [][]byte
	spill          spillQueue
	// merged is about the most datagrams one message held lately: a whole
	// read asks for as many messages as fit if they hold as many. seg is
	// their size while reads are scattered, 0 while they are whole.
	merged, seg int
	// singles counts scattered reads in a row that brought one datagram.
	singles int
	// noScatter is set once a scattered read came back cut short: the
	// peer merges more than udpSegmentMax datagrams, so reads stay whole.
	noScatter bool
}

// scatterSingles is how many single datagrams in a row end scattered reads.
const scatterSingles = 8

// readScattered reads one message in pieces of r.seg bytes, one piece per
// buffer of bufs.
func (r *coalescedReader) readScattered(bufs [][]byte, sizes []int) (int, error) {
	k := min(len(bufs), len(r.scatter))
	for i := range k {
		if len(bufs[i]) < r.seg {
			return r.readWhole(bufs, sizes) // pieces must be whole datagrams
		}
		r.scatter[i] = bufs[i][:r.seg]
	}
	m := &r.msgs[0]
	whole := m.Buffers
	m.Buffers = r.scatter[:k]
	m.OOB = m.OOB[:cap(m.OOB)]
	m.N, m.NN, m.Flags, m.Addr = 0, 0, 0, nil
	_, err := r.b.batch.ReadBatch(r.msgs[:1], 0)
	m.Buffers = whole
	if err != nil {
		return 0, err
	}
	if sockbuf.Truncated(m.Flags) {
		r.noScatter = true
		return 0, nil
	}
	if m.N == 0 || !r.b.fromRemote(m.Addr) {
		return 0, nil
	}
	size, err := sockbuf.CoalescedSize(m.OOB[:m.NN])
	if err != nil {
		return 0, nil
	}
	switch {
	case m.N <= r.seg && size == 0:
		// One datagram, in the first piece. After a few in a row the
		// peer has stopped merging, and whole reads take more at once.
		sizes[0] = m.N
		if r.singles++; r.singles == scatterSingles {
			// Whole reads again, sized by merged until they see
			// whether the peer still merges.
			r.seg, r.singles = 0, 0
		}
		return 1, nil
	case size != r.seg:
		// Datagrams of another size lie across the pieces: gather them
		// into the spill, and expect that size from now on.
		r.spill.pushPieces(r.scatter[:k], r.seg, m.N, size)
		r.seg, r.singles = size, 0 // 0, one datagram longer than the pieces: whole reads
		return 0, nil
	}
	r.singles = 0
	n := 0
	for left := m.N; left > 0; left -= r.seg {
		sizes[n] = min(r.seg, left)
		n++
	}
	return n, nil
}

// readWhole reads whole messages, one per buffer, and unpacks them.
func (r *coalescedReader) readWhole(bufs [][]byte, sizes []int) (int, error) {
	m := r.msgs[:max(1, min(len(bufs), len(r.msgs))/r.merged)]
	for i := range m {
		m[i].Buffers[0] = bufs[i]
		m[i].OOB = m[i].OOB[:cap(m[i].OOB)]
		m[i].N, m[i].NN, m[i].Flags, m[i].Addr = 0, 0, 0, nil
	}
	n, err := r.b.batch.ReadBatch(m, 0)
	if err != nil {
		return 0, err
	}
	most, seg := 1, 0
	for i := range n {
		r.lens[i], r.segSizes[i] = 0, 0
		if sockbuf.Truncated(m[i].Flags) || !r.b.fromRemote(m[i].Addr) {
			continue // cut short or from elsewhere: drop
		}
		size, err := sockbuf.CoalescedSize(m[i].OOB[:m[i].NN])
		if err != nil {
			continue
		}
		r.lens[i], r.segSizes[i] = m[i].N, size
		if size > 0 && m[i].N > size {
			if c := (m[i].N + size - 1) / size; c > most {
				most, seg = c, size
			}
		}
	}
	if most > 1 {
		r.merged, r.seg = most, seg
	} else {
		// Nothing merged: ask for more messages next time, step by
		// step, so that a peer that merges again does not fill the
		// spill.
		r.merged, r.seg = max(1, r.merged/2), 0
	}
	return unpackCoalesced(bufs, r.lens[:n], r.segSizes[:n], sizes, &r.spill), nil
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

// spillKeep is the most spill memory kept once the spill is empty.
const spillKeep = 256 << 10

func (q *spillQueue) push(msg []byte, size int) {
	if size <= 0 || size > len(msg) {
		size = len(msg)
	}
	off := len(q.data)
	q.data = append(q.data, msg...)
	q.items = append(q.items, spillItem{off: off, end: len(q.data), size: size})
}

// pushPieces queues the n bytes a read scattered over pieces of pieceLen
// bytes each, as datagrams of size bytes (0: one datagram).
func (q *spillQueue) pushPieces(pieces [][]byte, pieceLen, n, size int) {
	if size <= 0 || size > n {
		size = n
	}
	off := len(q.data)
	for _, p := range pieces {
		if n <= 0 {
			break
		}
		take := min(n, pieceLen, len(p))
		q.data = append(q.data, p[:take]...)
		n -= take
	}
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
		if cap(q.data) > spillKeep {
			q.data = nil // a rare burst; do not hold its memory per session
		}
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

func (b *UDPBind) sendBatch(bufs [][]byte) error { return b.sender.send(bufs, b.remoteUDP) }

// batchSender sends datagrams to one address per call in as few system
// calls as the socket allows: many messages per sendmmsg, and, where the
// kernel segments UDP, runs of equal-sized datagrams in one message each.
// UDPBind and MuxBind send through one.
type batchSender struct {
	batch batchConn

	mu   sync.Mutex
	msgs []ipv4.Message // guarded by mu
	oob  [][]byte       // guarded by mu; control buffer of each message
	segs []int          // guarded by mu; datagrams in each message
	// segment is whether sends coalesce datagrams (UDP_SEGMENT); it is
	// turned off for good when the kernel refuses it.
	segment atomic.Bool
}

func newBatchSender(bc batchConn, segment bool) *batchSender {
	s := &batchSender{
		batch: bc,
		msgs:  make([]ipv4.Message, udpBatchSize),
		oob:   make([][]byte, udpBatchSize),
		segs:  make([]int, udpBatchSize),
	}
	for i := range s.msgs {
		s.msgs[i].Buffers = make([][]byte, 0, udpSegmentMax)
		s.oob[i] = make([]byte, sockbuf.SegmentControlLen)
	}
	s.segment.Store(segment)
	return s
}

// send writes every datagram of bufs to to, in order.
func (s *batchSender) send(bufs [][]byte, to *net.UDPAddr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(bufs) > 0 {
		segment := s.segment.Load()
		m := s.msgs[:s.fillLocked(bufs, to, segment)]
		segs := s.segs
		for len(m) > 0 {
			n, err := s.batch.WriteBatch(m, 0)
			if err != nil {
				if segment && (errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL)) {
					// The kernel cannot checksum segmented datagrams
					// for this route (EIO), or the path MTU is below a
					// datagram (EINVAL), which unsegmented sends
					// fragment: send the rest one by one, now and from
					// now on.
					s.segment.Store(false)
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

// fillLocked lays bufs out in msgs and returns how many messages it used.
// With segment, consecutive datagrams of one size (the last of a run may
// be shorter) share a message, up to udpSegmentMax and maxUDPPayload, and
// the kernel cuts them apart again (UDP_SEGMENT).
func (s *batchSender) fillLocked(bufs [][]byte, to *net.UDPAddr, segment bool) int {
	n := 0
	for len(bufs) > 0 && n < len(s.msgs) {
		m := &s.msgs[n]
		m.Addr = to
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
				m.OOB = sockbuf.SegmentControl(s.oob[n], uint16(size))
			}
		}
		s.segs[n] = k
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
