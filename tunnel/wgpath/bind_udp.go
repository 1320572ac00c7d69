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
// datagrams keep one size and its messages are large, a read scatters one
// message over WireGuard's buffers in pieces of that size, so that every
// datagram lands in a buffer of its own without a copy (readScattered).
// Otherwise a read takes several whole messages into pooled buffers
// (readWhole) and each datagram is copied once into a buffer of its own;
// datagrams that find no buffer wait, in place, for the next call.
func (b *UDPBind) receiveCoalescedFunc(gen *bindGeneration) conn.ReceiveFunc {
	r := &coalescedReader{
		b:       b,
		msgs:    make([]ipv4.Message, wholeReadMax),
		scatter: make([][]byte, udpSegmentMax),
		merged:  1,
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
			case r.pending.left():
			case r.seg > 0 && !r.noScatter:
				n, err = r.readScattered(bufs, sizes)
			default:
				err = r.readWhole(bufs)
			}
			if n == 0 && err == nil {
				n = r.pending.cut(bufs, sizes)
			}
			if gen.closed.Load() {
				r.pending.release()
				return 0, net.ErrClosed
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					continue
				}
				r.pending.release()
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
	b       *UDPBind
	msgs    []ipv4.Message
	scatter [][]byte
	pending pendingQueue
	// merged is about how many datagrams one message held lately: a whole
	// read asks for as many messages as that fills WireGuard's buffers
	// with. seg is their size while reads are scattered, 0 while they are
	// whole.
	merged, seg int
	// singles counts scattered reads in a row that brought few datagrams.
	singles int
	// noScatter is set once a scattered read came back cut short: the
	// peer merges more than udpSegmentMax datagrams, so reads stay whole.
	noScatter bool
}

// scatterSingles is how many small scattered reads in a row end scattering.
const scatterSingles = 8

// scatterMerged is the fewest datagrams per message, as a share of
// WireGuard's buffers (1/scatterMerged of them), for which reads scatter.
// A scattered read takes one message without a copy; a whole read takes
// several and copies each datagram once. Below this, the bigger batches of
// whole reads are worth their copy: every batch reaches the stack as one
// GRO merge and draws one ACK, so small batches make the peer's TCP send
// small bursts, which arrive as small messages again.
const scatterMerged = 2

// wholeReadMax bounds the messages one whole read asks for, and so the
// pooled buffers it holds.
const wholeReadMax = 16

// readScattered reads one message in pieces of r.seg bytes, one piece per
// buffer of bufs.
func (r *coalescedReader) readScattered(bufs [][]byte, sizes []int) (int, error) {
	k := min(len(bufs), len(r.scatter))
	for i := range k {
		if len(bufs[i]) < r.seg {
			// Pieces must be whole datagrams.
			if err := r.readWhole(bufs); err != nil {
				return 0, err
			}
			return r.pending.cut(bufs, sizes), nil
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
		// One datagram, in the first piece.
		sizes[0] = m.N
		r.small()
		return 1, nil
	case size != r.seg:
		// Datagrams of another size lie across the pieces: gather them
		// into a pending message, and read whole until the new size has
		// been seen merging.
		r.pending.pushPieces(r.scatter[:k], r.seg, m.N, size)
		r.seg, r.singles = 0, 0
		return 0, nil
	}
	n := 0
	for left := m.N; left > 0; left -= r.seg {
		sizes[n] = min(r.seg, left)
		n++
	}
	if n*scatterMerged < len(bufs) {
		r.small()
	} else {
		r.singles = 0
	}
	return n, nil
}

// small counts a scattered read that brought fewer datagrams than make
// scattering worth it. After a few in a row the peer has stopped merging
// that much, and whole reads take more at once.
func (r *coalescedReader) small() {
	if r.singles++; r.singles == scatterSingles {
		r.seg, r.singles = 0, 0
	}
}

// readWhole reads whole messages into pooled buffers and queues them; the
// caller hands their datagrams out (r.pending.cut).
func (r *coalescedReader) readWhole(bufs [][]byte) error {
	m := r.msgs[:min(wholeReadMax, len(r.msgs), max(1, (len(bufs)+r.merged-1)/r.merged))]
	for i := range m {
		m[i].Buffers[0] = getScratch()
		m[i].OOB = m[i].OOB[:cap(m[i].OOB)]
		m[i].N, m[i].NN, m[i].Flags, m[i].Addr = 0, 0, 0, nil
	}
	n, err := r.b.batch.ReadBatch(m, 0)
	if err != nil {
		n = 0
	}
	most, seg, total := 1, 0, 0
	for i := range m {
		buf := m[i].Buffers[0]
		m[i].Buffers[0] = nil
		if i >= n || m[i].N == 0 || sockbuf.Truncated(m[i].Flags) || !r.b.fromRemote(m[i].Addr) {
			putScratch(buf) // not read, cut short or from elsewhere: drop
			continue
		}
		size, err := sockbuf.CoalescedSize(m[i].OOB[:m[i].NN])
		if err != nil {
			putScratch(buf)
			continue
		}
		c := r.pending.push(buf, m[i].N, size)
		total += c
		if c > most {
			most, seg = c, size
		}
	}
	if n > 0 {
		// Whole reads size themselves by the average message; scattered
		// reads take over once messages fill a share of the buffers.
		r.merged = max(1, total/n)
		if most*scatterMerged >= len(bufs) && seg > 0 {
			r.merged, r.seg = most, seg
		} else {
			r.seg = 0
		}
	}
	return err
}

// scratchPool holds whole-read buffers, each big enough for the largest
// merged message.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

func getScratch() []byte { return *scratchPool.Get().(*[]byte) }

func putScratch(b []byte) {
	if cap(b) >= 1<<16 {
		b = b[:1<<16]
		scratchPool.Put(&b)
	}
}

// pendingQueue holds merged messages read into pooled buffers whose
// datagrams are not handed out yet, in order.
type pendingQueue struct {
	msgs []pendingMsg
}

// pendingMsg is one merged message: buf[off:end] holds the datagrams not
// yet handed out, each size bytes (the last may be shorter; 0 means one
// datagram).
type pendingMsg struct {
	buf            []byte
	off, end, size int
}

// push queues buf[:n], datagrams of size bytes (0: one datagram; what the
// kernel reports is checked, not trusted), and returns how many datagrams
// that is. The queue owns buf from then on.
func (q *pendingQueue) push(buf []byte, n, size int) int {
	n = min(max(n, 0), len(buf))
	if n == 0 {
		putScratch(buf)
		return 0
	}
	if size <= 0 || size >= n {
		size = 0
	}
	q.msgs = append(q.msgs, pendingMsg{buf: buf, end: n, size: size})
	if size == 0 {
		return 1
	}
	return (n + size - 1) / size
}

// pushPieces queues the n bytes a read scattered over pieces of pieceLen
// bytes each, as datagrams of size bytes (0: one datagram).
func (q *pendingQueue) pushPieces(pieces [][]byte, pieceLen, n, size int) {
	buf := getScratch()
	got := 0
	for _, p := range pieces {
		if got >= n || got >= len(buf) {
			break
		}
		got += copy(buf[got:], p[:min(n-got, pieceLen, len(p))])
	}
	q.push(buf, got, size)
}

func (q *pendingQueue) left() bool { return len(q.msgs) > 0 }

// cut copies the next datagrams into bufs, one per buffer, as many as fit,
// and returns how many, their lengths in sizes. Drained buffers go back to
// the pool.
func (q *pendingQueue) cut(bufs [][]byte, sizes []int) int {
	n, done := 0, 0
	for n < len(bufs) && done < len(q.msgs) {
		pm := &q.msgs[done]
		end := pm.end
		if pm.size > 0 {
			end = min(pm.off+pm.size, pm.end)
		}
		sizes[n] = copy(bufs[n], pm.buf[pm.off:end])
		n++
		if pm.off = end; pm.off == pm.end {
			putScratch(pm.buf)
			*pm = pendingMsg{}
			done++
		}
	}
	if done > 0 {
		k := copy(q.msgs, q.msgs[done:])
		clear(q.msgs[k:])
		q.msgs = q.msgs[:k]
	}
	return n
}

// release returns every queued buffer to the pool.
func (q *pendingQueue) release() {
	for i := range q.msgs {
		putScratch(q.msgs[i].buf)
	}
	clear(q.msgs)
	q.msgs = q.msgs[:0]
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
