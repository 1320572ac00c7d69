// One UDP socket for libp2p QUIC and WireGuard.
//
// DCUtR punches a NAT mapping for libp2p's own socket only, so the WireGuard
// tunnel of a session rides on exactly that socket: the Mux owns it, reads
// every datagram in one goroutine and demultiplexes by the first bytes. QUIC
// always sets 0x40 or 0x80 in its first byte; WireGuard messages start with a
// little-endian type 1–4 (the other three bytes zero) and have fixed or
// minimum lengths, so the two can never be confused. QUIC packets go to a
// net.PacketConn that quic-go reads through a transport lent to go-libp2p's
// quicreuse.ConnManager (LendTransport); WireGuard packets go to a conn.Bind
// with a queue we size. Writes from both go out through the same socket.
//
// An obfuscated session (ObfsBind with ObfsConfig.MuxSafe) sends datagrams
// that look like neither: their first byte is below 0x40, so never QUIC,
// and the rest is random. The mux hands such a datagram to the bind that
// Mux.PeerBindObfs opened for its source address; from any other source it
// is dropped and counted as Unknown, as before. The QUIC rule is the same
// for every source, and plain WireGuard is routed as it always was.
//
// Why not go-libp2p's stock SharedNonQUICPacketConn: quic-go queues at most
// 32 non-QUIC packets there and silently drops the rest, and that loss
// sends TCP inside the tunnel into retransmission timeouts. This mux
// gives WireGuard a 4096-slot queue and never drops a classified packet
// while its receiver is open: when a queue is full the reader waits, and
// the kernel socket buffer (8 MiB by default) absorbs the burst, just as it
// does for a socket of one's own. BenchmarkWireGuardMux and
// BenchmarkWireGuardOwnSocket compare the two paths (throughput and CPU per
// MiB); docs/ARCHITECTURE.md records what they and the stock shared conn
// measured.
//
// The alternative, punching WireGuard's own socket, needs punching logic of
// our own and a second NAT mapping per session; the mux reuses DCUtR's. What
// the mux costs: quic-go reads it through a plain net.PacketConn and so does
// without its UDP optimisations (GSO, ECN, batched reads, DF and path MTU
// discovery), which libp2p signalling does not need; and while one side's
// queue is full the reader waits, so the other side's datagrams wait too.

package wgpath

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/mystp2p/mystp2p/tunnel/wgpath/sockbuf"
)

// Errors of the UDP mux, its QUIC side and its WireGuard bind.
var (
	// ErrInvalidMuxConfig reports a Mux address or option that cannot work.
	ErrInvalidMuxConfig = errors.New("invalid udp mux config")
	// ErrMuxClosed is returned by Mux operations after Close. It wraps
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds.
	ErrMuxClosed = fmt.Errorf("udp mux closed: %w", net.ErrClosed)
	// ErrMuxInUse means the mux's QUIC side already serves a libp2p host;
	// close that host first.
	ErrMuxInUse = errors.New("udp mux already serves a libp2p host")
	// ErrPeerTaken means another open bind of the mux already receives
	// the WireGuard datagrams of that peer address; close it first.
	ErrPeerTaken = errors.New("udp mux peer address already has an open bind")
	// ErrBindPort means WireGuard asked its bind for a listen port other than
	// the mux's; leave listen_port unset (0) or set it to Mux.Port.
	ErrBindPort = errors.New("wireguard listen port differs from the udp mux port")
	// ErrNotDirectQUIC means a libp2p connection or address is not a direct
	// QUIC connection (relayed, TCP, or unparsable), so WireGuard cannot share
	// its 5-tuple.
	ErrNotDirectQUIC = errors.New("not a direct QUIC connection")
	// ErrNotOnMux means a libp2p connection runs over another local socket
	// than the mux's, so its 5-tuple was not punched for the mux.
	ErrNotOnMux = errors.New("connection does not use the udp mux socket")
)

const (
	// MaxDatagramSize is the largest datagram the mux passes on; larger ones
	// are dropped and counted in MuxStats.Oversized. WireGuard with an MTU of
	// at most 1420 sends at most 1452 bytes, quic-go at most 1452.
	MaxDatagramSize = 2048
	// DefaultMuxQueueLen is the number of datagrams each side (QUIC and
	// WireGuard) may have waiting before the reader waits for it.
	DefaultMuxQueueLen = 4096
	// DefaultMuxBatchSize is how many datagrams one read system call and one
	// WireGuard receive call handle at most.
	DefaultMuxBatchSize = 64
	// DefaultMuxSocketBuffer is the kernel receive and send buffer size asked
	// for the socket (quic-go asks for 7 MiB).
	DefaultMuxSocketBuffer = 8 << 20

	maxMuxQueueLen  = 1 << 20
	maxMuxBatchSize = 128 // wireguard-go conn.IdealBatchSize
	dropLogInterval = 10 * time.Second
)

// MuxOption configures a Mux.
type MuxOption func(*muxConfig) error

type muxConfig struct {
	log       *slog.Logger
	queueLen  int
	batchSize int
	sockBuf   int
	metrics   prometheus.Registerer
}

// WithMuxLogger sets the logger; by default the mux logs nothing.
func WithMuxLogger(l *slog.Logger) MuxOption {
	return func(c *muxConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidMuxConfig)
		}
		c.log = l
		return nil
	}
}

// WithMuxMetrics registers the QUIC connection metrics of the host using
// the mux (go-libp2p's quicreuse.EnableMetrics) with reg; by default there
// are none, as with libp2p.DisableMetrics.
func WithMuxMetrics(reg prometheus.Registerer) MuxOption {
	return func(c *muxConfig) error {
		if reg == nil {
			return fmt.Errorf("%w: nil metrics registerer", ErrInvalidMuxConfig)
		}
		c.metrics = reg
		return nil
	}
}

// WithMuxQueueLen sets how many datagrams of each kind may wait for their
// receiver (default DefaultMuxQueueLen).
func WithMuxQueueLen(n int) MuxOption {
	return func(c *muxConfig) error {
		if n < 1 || n > maxMuxQueueLen {
			return fmt.Errorf("%w: queue length %d not in 1..%d", ErrInvalidMuxConfig, n, maxMuxQueueLen)
		}
		c.queueLen = n
		return nil
	}
}

// WithMuxBatchSize sets how many datagrams one read and one WireGuard
// receive call handle (default DefaultMuxBatchSize).
func WithMuxBatchSize(n int) MuxOption {
	return func(c *muxConfig) error {
		if n < 1 || n > maxMuxBatchSize {
			return fmt.Errorf("%w: batch size %d not in 1..%d", ErrInvalidMuxConfig, n, maxMuxBatchSize)
		}
		c.batchSize = n
		return nil
	}
}

// WithMuxSocketBuffer sets the kernel receive and send buffer size in bytes
// (default DefaultMuxSocketBuffer). As root the size is forced past
// net.core.rmem_max; otherwise the kernel caps it.
func WithMuxSocketBuffer(bytes int) MuxOption {
	return func(c *muxConfig) error {
		if bytes < 64<<10 {
			return fmt.Errorf("%w: socket buffer %d bytes is below 64 KiB", ErrInvalidMuxConfig, bytes)
		}
		c.sockBuf = bytes
		return nil
	}
}

// MuxStats counts datagrams the mux read.
type MuxStats struct {
	// QUIC and WireGuard count datagrams handed to each side.
	QUIC, WireGuard uint64
	// Obfuscated counts datagrams that are neither QUIC nor WireGuard,
	// handed to the obfuscated peer bind (Mux.PeerBindObfs) open for their
	// source address.
	Obfuscated uint64
	// Unknown counts datagrams that are neither and have no obfuscated
	// peer bind to go to, dropped.
	Unknown uint64
	// Oversized counts datagrams longer than MaxDatagramSize, dropped.
	Oversized uint64
	// NoReceiver counts QUIC datagrams while no libp2p host used the mux and
	// WireGuard datagrams while the bind was closed, dropped.
	NoReceiver uint64
	// Waits counts the times the reader found a queue full and waited.
	Waits uint64
}

type muxCounters struct {
	quic, wireGuard, obfuscated, unknown, oversized, noReceiver, waits atomic.Uint64
}

// Mux owns one UDP socket and shares it between a libp2p host's QUIC
// transport (see Libp2pOptions) and WireGuard devices (see Bind and
// PeerBind). Close the host and the WireGuard devices before the mux.
type Mux struct {
	cfg   muxConfig
	log   *slog.Logger
	conn  *net.UDPConn
	batch batchReader
	// sender batches WireGuard's sends (see batchSender); QUIC writes
	// to conn directly.
	sender   *batchSender
	network  string // "udp4" or "udp6", as quicreuse names them
	port     uint16
	quicAddr ma.Multiaddr // the socket as a QUIC listen address

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the reader and lease watchers

	// coalesce asks the reader to turn UDP_GRO on (a WireGuard bind
	// opened); coalescing is set once it reads that way (readCoalesced).
	// Until a session needs it, the reader keeps its small buffers: most
	// nodes never carry one, and a testnet runs a thousand in a process.
	coalesce, coalescing atomic.Bool

	// readerDone is closed when the reader stops; readErr says why.
	readerDone chan struct{}
	readErr    error

	quicQ    chan *packet
	quicRecv atomic.Pointer[receiver] // the lent QUIC conn, nil when none
	wgRecv   atomic.Pointer[receiver] // the open catch-all bind, nil when closed

	// peers routes WireGuard datagrams by source address to open peer
	// binds (PeerBind and PeerBindObfs), and the datagrams that are
	// neither QUIC nor WireGuard to those of PeerBindObfs. The map is
	// copied on write; the reader only loads.
	peers struct {
		sync.Mutex // serialises writers
		routes     atomic.Pointer[map[netip.AddrPort]*receiver]
	}

	lending struct {
		sync.Mutex
		closed bool   // Close has begun; no new goroutines
		cur    *lease // the QUIC side lent to a libp2p host, or nil
	}

	bind *MuxBind

	// probes are the listeners of birthday punches in progress
	// (listenProbes), copied on write.
	probes probeListeners

	stats   muxCounters
	dropLog logLimiter

	closeOnce sync.Once
	closeErr  error
}

// receiver is where datagrams of one kind go: the QUIC conn lent to a host
// or one Open..Close period of a bind. done is closed when it goes away.
// obfs marks a bind from PeerBindObfs, which also takes its peer's
// datagrams that are neither QUIC nor WireGuard.
type receiver struct {
	q    chan *packet
	done chan struct{}
	obfs bool
}

// batchReader is ipv4.PacketConn or ipv6.PacketConn: recvmmsg on Linux.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// packet is one datagram on its way from the reader to a receiver.
type packet struct {
	buf  [MaxDatagramSize + 1]byte // one spare byte detects oversized datagrams
	n    int
	from netip.AddrPort
}

func (p *packet) data() []byte { return p.buf[:p.n] }

var packetPool = sync.Pool{New: func() any { return new(packet) }}

func getPacket() *packet  { return packetPool.Get().(*packet) }
func putPacket(p *packet) { packetPool.Put(p) }

// NewMux opens a UDP socket on laddr and starts reading it. laddr must
// be a wildcard address (0.0.0.0 or ::, port 0 for any): go-libp2p lends
// transports only for wildcard listeners. An IPv4 wildcard (or a nil IP)
// opens an IPv4 socket, :: an IPv6-only one.
func NewMux(laddr *net.UDPAddr, opts ...MuxOption) (*Mux, error) {
	cfg := muxConfig{
		log:       slog.New(slog.DiscardHandler),
		queueLen:  DefaultMuxQueueLen,
		batchSize: DefaultMuxBatchSize,
		sockBuf:   DefaultMuxSocketBuffer,
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidMuxConfig)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if laddr == nil {
		return nil, fmt.Errorf("%w: no listen address", ErrInvalidMuxConfig)
	}
	if laddr.IP != nil && !laddr.IP.IsUnspecified() {
		return nil, fmt.Errorf("%w: listen address %s is not a wildcard (use 0.0.0.0 or ::): go-libp2p's ConnManager.LendTransport accepts only wildcard listeners", ErrInvalidMuxConfig, laddr)
	}
	network := "udp4"
	if laddr.IP != nil && laddr.IP.To4() == nil {
		network = "udp6"
	}
	conn, err := net.ListenUDP(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("udp mux: listen on %s: %w", laddr, err)
	}
	quicAddr, err := quicreuse.ToQuicMultiaddr(conn.LocalAddr(), quic.Version1)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("udp mux: QUIC address of %s: %w", conn.LocalAddr(), err)
	}
	var br batchConn = ipv4.NewPacketConn(conn)
	if network == "udp6" {
		br = ipv6.NewPacketConn(conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{
		cfg:        cfg,
		log:        cfg.log,
		conn:       conn,
		batch:      br,
		sender:     newBatchSender(br, sockbuf.SupportsSegmentation(conn)),
		network:    network,
		port:       uint16(conn.LocalAddr().(*net.UDPAddr).Port),
		quicAddr:   quicAddr,
		ctx:        ctx,
		cancel:     cancel,
		readerDone: make(chan struct{}),
		quicQ:      make(chan *packet, cfg.queueLen),
		dropLog:    logLimiter{every: dropLogInterval},
	}
	m.bind = newBind(m, netip.AddrPort{}, false)
	m.peers.routes.Store(&map[netip.AddrPort]*receiver{})
	m.sizeSocketBuffers()
	m.wg.Go(m.read)
	m.log.Debug("udp mux listening", "addr", conn.LocalAddr().String())
	return m, nil
}

// sizeSocketBuffers asks for cfg.sockBuf bytes each way; failures leave the
// kernel default and are logged, they do not stop the mux.
func (m *Mux) sizeSocketBuffers() {
	if err := m.conn.SetReadBuffer(m.cfg.sockBuf); err != nil {
		m.log.Warn("udp mux: cannot size receive buffer", "bytes", m.cfg.sockBuf, "err", err)
	}
	if err := m.conn.SetWriteBuffer(m.cfg.sockBuf); err != nil {
		m.log.Warn("udp mux: cannot size send buffer", "bytes", m.cfg.sockBuf, "err", err)
	}
	if err := sockbuf.Force(m.conn, m.cfg.sockBuf); err != nil {
		m.log.Debug("udp mux: cannot force socket buffers past the system limit", "bytes", m.cfg.sockBuf, "err", err)
	}
	if got, err := sockbuf.ReadSize(m.conn); err == nil && got < sockbuf.Low && m.cfg.sockBuf >= sockbuf.Low {
		m.log.Warn(sockbuf.Advice(got))
	}
}

// LocalAddr is the socket's address.
func (m *Mux) LocalAddr() *net.UDPAddr { return m.conn.LocalAddr().(*net.UDPAddr) }

// Port is the socket's UDP port.
func (m *Mux) Port() uint16 { return m.port }

// Bind is the mux's catch-all WireGuard bind: it receives the WireGuard
// datagrams of every source no open PeerBind claims, and sends anywhere.
// Use it for one device with many peers. There is one per mux; wireguard-go
// may Open and Close it repeatedly.
func (m *Mux) Bind() *MuxBind { return m.bind }

// PeerBind returns a new WireGuard bind for one peer: while open it
// receives the WireGuard datagrams from remote only, and sends only to
// remote. Use one per session device, since each session runs its own
// WireGuard device. Opening it fails with ErrPeerTaken while another open
// bind has the same remote. remote is usually PeerEndpoint of the session's
// libp2p connection.
func (m *Mux) PeerBind(remote netip.AddrPort) (*MuxBind, error) {
	return m.peerBind(remote, false)
}

// PeerBindObfs is PeerBind for an obfuscated session: while open, the bind
// also receives the datagrams from remote that are neither QUIC nor
// WireGuard, which the mux drops from every other source. Wrap it in an
// ObfsBind with ObfsConfig.MuxSafe set, so that every datagram of the
// session starts with a byte QUIC never sends first; Link.Bind does both
// for the UDPMux transport with Obfs. What classifies as QUIC still goes
// to QUIC, and plain WireGuard from remote still reaches the bind (where
// the ObfsBind drops it).
func (m *Mux) PeerBindObfs(remote netip.AddrPort) (*MuxBind, error) {
	return m.peerBind(remote, true)
}

func (m *Mux) peerBind(remote netip.AddrPort, obfs bool) (*MuxBind, error) {
	if m.ctx.Err() != nil {
		return nil, ErrMuxClosed
	}
	if !remote.IsValid() || remote.Port() == 0 {
		return nil, fmt.Errorf("%w: peer bind for %s needs an address and a port", ErrInvalidMuxConfig, remote)
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if err := m.checkFamily(remote.Addr()); err != nil {
		return nil, err
	}
	return newBind(m, remote, obfs), nil
}

// checkFamily rejects addresses the socket cannot reach.
func (m *Mux) checkFamily(a netip.Addr) error {
	if v4 := a.Unmap().Is4(); v4 != (m.network == "udp4") {
		return fmt.Errorf("%w: address %s does not fit the mux's %s socket", ErrInvalidMuxConfig, a, m.network)
	}
	return nil
}

// addPeerRoute sends remote's WireGuard datagrams to r.
func (m *Mux) addPeerRoute(remote netip.AddrPort, r *receiver) error {
	m.peers.Lock()
	defer m.peers.Unlock()
	old := *m.peers.routes.Load()
	if _, taken := old[remote]; taken {
		return fmt.Errorf("%w: %s", ErrPeerTaken, remote)
	}
	routes := maps.Clone(old)
	routes[remote] = r
	m.peers.routes.Store(&routes)
	return nil
}

// removePeerRoute undoes addPeerRoute(remote, r).
func (m *Mux) removePeerRoute(remote netip.AddrPort, r *receiver) {
	m.peers.Lock()
	defer m.peers.Unlock()
	old := *m.peers.routes.Load()
	if old[remote] != r {
		return
	}
	routes := maps.Clone(old)
	delete(routes, remote)
	m.peers.routes.Store(&routes)
}

// Stats returns the datagram counters.
func (m *Mux) Stats() MuxStats {
	return MuxStats{
		QUIC:       m.stats.quic.Load(),
		WireGuard:  m.stats.wireGuard.Load(),
		Obfuscated: m.stats.obfuscated.Load(),
		Unknown:    m.stats.unknown.Load(),
		Oversized:  m.stats.oversized.Load(),
		NoReceiver: m.stats.noReceiver.Load(),
		Waits:      m.stats.waits.Load(),
	}
}

// Close stops the reader, closes the QUIC transport lent to a host (if the
// host has not released it yet), makes the bind's functions return
// net.ErrClosed and closes the socket. It waits for its goroutines and is
// idempotent.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		m.lending.Lock()
		m.lending.closed = true
		m.lending.Unlock()
		m.cancel()
		err := m.conn.Close()
		m.wg.Wait()
		m.bind.Close()
		m.closeErr = err
		m.log.Debug("udp mux closed", "port", m.port)
	})
	return m.closeErr
}

// read is the one goroutine that reads the socket.
func (m *Mux) read() {
	defer close(m.readerDone)
	if m.readPlain() {
		m.readCoalesced()
	}
}

// readPlain reads a datagram per message until the mux closes (false), or
// until a WireGuard bind asked for UDP_GRO and the socket took it (true).
// The option is set here, between reads, so that no merged message can
// meet the small buffers: what the kernel queued before was queued apart.
func (m *Mux) readPlain() bool {
	msgs := make([]ipv4.Message, m.cfg.batchSize)
	pkts := make([]*packet, m.cfg.batchSize)
	for i := range msgs {
		pkts[i] = getPacket()
		msgs[i].Buffers = [][]byte{pkts[i].buf[:]}
	}
	defer func() {
		for _, p := range pkts {
			putPacket(p)
		}
	}()
	for {
		if m.coalesce.Swap(false) && sockbuf.SetReceiveCoalescing(m.conn, true) == nil {
			m.coalescing.Store(true)
			return true
		}
		n, err := m.batch.ReadBatch(msgs, 0)
		if err != nil {
			m.stopReading(err)
			return false
		}
		for i := range n {
			p := pkts[i]
			p.n = msgs[i].N
			if p.n > MaxDatagramSize {
				m.stats.oversized.Add(1)
				m.logDrop("oversized datagram", msgs[i].Addr, p.n)
				continue
			}
			ua, ok := msgs[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			ap := ua.AddrPort()
			p.from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if m.dispatch(p) {
				pkts[i] = getPacket()
				msgs[i].Buffers[0] = pkts[i].buf[:]
			}
		}
	}
}

// stopReading records why the reader stopped.
func (m *Mux) stopReading(err error) {
	if m.ctx.Err() != nil {
		m.readErr = net.ErrClosed
		return
	}
	m.readErr = fmt.Errorf("udp mux read: %w", err)
	m.log.Error("udp mux stopped reading", "port", m.port, "err", err)
}

// coalescedReadMax is how many messages one read takes with UDP_GRO on;
// each may hold up to 64 datagrams of one peer.
const coalescedReadMax = 16

// readCoalesced is read with UDP_GRO on: the kernel hands over runs of
// same-sized datagrams from one peer as one message, instead of cutting
// the peer's segmented sends apart (loopback and many NICs keep them
// whole). Each datagram is copied out into a packet of its own and
// dispatched by itself: one run may hold QUIC and WireGuard datagrams
// alike, as both come from the peer's one socket.
func (m *Mux) readCoalesced() {
	msgs := make([]ipv4.Message, min(m.cfg.batchSize, coalescedReadMax))
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, maxUDPPayload+1)}
		msgs[i].OOB = make([]byte, sockbuf.CoalescedControlLen)
	}
	var spare *packet
	defer func() {
		if spare != nil {
			putPacket(spare)
		}
	}()
	for {
		for i := range msgs {
			msgs[i].OOB = msgs[i].OOB[:cap(msgs[i].OOB)]
			msgs[i].N, msgs[i].NN, msgs[i].Flags, msgs[i].Addr = 0, 0, 0, nil
		}
		n, err := m.batch.ReadBatch(msgs, 0)
		if err != nil {
			m.stopReading(err)
			return
		}
		for i := range n {
			msg := &msgs[i]
			ua, ok := msg.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			if sockbuf.Truncated(msg.Flags) || msg.N > maxUDPPayload {
				m.stats.oversized.Add(1)
				m.logDrop("oversized datagram", msg.Addr, msg.N)
				continue
			}
			size, err := sockbuf.CoalescedSize(msg.OOB[:msg.NN])
			if err != nil {
				m.stats.unknown.Add(1)
				m.logDrop("unreadable segment size", msg.Addr, msg.N)
				continue
			}
			if size <= 0 || size > msg.N {
				size = msg.N
			}
			ap := ua.AddrPort()
			from := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			data := msg.Buffers[0][:msg.N]
			for first := true; first || len(data) > 0; first = false {
				// (An empty datagram goes through dispatch once, to be
				// counted and dropped there.)
				d := data[:min(size, len(data))]
				data = data[len(d):]
				if len(d) > MaxDatagramSize {
					m.stats.oversized.Add(1)
					m.logDrop("oversized datagram", from, len(d))
					continue
				}
				if spare == nil {
					spare = getPacket()
				}
				spare.n = copy(spare.buf[:], d)
				spare.from = from
				if m.dispatch(spare) {
					spare = nil
				}
			}
		}
	}
}

// dispatch hands p to its receiver and reports whether it took p.
func (m *Mux) dispatch(p *packet) bool {
	switch classify(p.data()) {
	case kindQUIC:
		return m.deliver(m.quicRecv.Load(), p, &m.stats.quic)
	case kindWireGuard:
		if r := (*m.peers.routes.Load())[p.from]; r != nil {
			return m.deliver(r, p, &m.stats.wireGuard)
		}
		return m.deliver(m.wgRecv.Load(), p, &m.stats.wireGuard)
	default:
		// Not QUIC, so the first byte (if any) is below 0x40: an
		// obfuscated session's datagram if its source has opened an
		// obfuscated peer bind.
		if p.n > 0 {
			if r := (*m.peers.routes.Load())[p.from]; r != nil && r.obfs {
				return m.deliver(r, p, &m.stats.obfuscated)
			}
		}
		if p.n == ProbeSize && m.probes.hear(p.from, p.data()) {
			return false
		}
		m.stats.unknown.Add(1)
		m.logDrop("neither QUIC nor WireGuard", p.from, p.n)
		return false
	}
}

// deliver queues p for r, waiting while the queue is full; it drops p only
// when there is no receiver or the receiver or the mux goes away.
func (m *Mux) deliver(r *receiver, p *packet, delivered *atomic.Uint64) bool {
	if r == nil {
		m.stats.noReceiver.Add(1)
		return false
	}
	select {
	case r.q <- p:
		delivered.Add(1)
		return true
	default:
	}
	m.stats.waits.Add(1)
	select {
	case r.q <- p:
		delivered.Add(1)
		return true
	case <-r.done:
		m.stats.noReceiver.Add(1)
		return false
	case <-m.ctx.Done():
		return false
	}
}

// readError is why the reader stopped; valid once readerDone is closed.
func (m *Mux) readError() error { return m.readErr }

func (m *Mux) logDrop(reason string, from any, size int) {
	if m.dropLog.allow() {
		m.log.Debug("udp mux dropped datagram", "reason", reason, "from", fmt.Sprint(from), "bytes", size)
	}
}

// logLimiter lets one log line through per interval (per-packet paths).
type logLimiter struct {
	every time.Duration
	last  atomic.Int64 // unix nanoseconds
}

func (l *logLimiter) allow() bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	if last != 0 && now-last < int64(l.every) {
		return false
	}
	return l.last.CompareAndSwap(last, now)
}

// packetKind is where a datagram goes.
type packetKind uint8

const (
	kindDrop packetKind = iota
	kindQUIC
	kindWireGuard
)

func (k packetKind) String() string {
	switch k {
	case kindQUIC:
		return "quic"
	case kindWireGuard:
		return "wireguard"
	default:
		return "drop"
	}
}

// WireGuard message types and sizes (wireguard-go device/noise-protocol.go).
const (
	wgInitiationType  = 1
	wgResponseType    = 2
	wgCookieReplyType = 3
	wgTransportType   = 4

	wgInitiationSize   = 148
	wgResponseSize     = 92
	wgCookieReplySize  = 64
	wgMinTransportSize = 32 // 16-byte header + 16-byte tag (a keepalive)
)

// classify decides where a datagram goes. QUIC is what quic-go itself
// treats as QUIC: a first byte with the fixed bit 0x40 or the long-header
// bit 0x80 set. WireGuard is what wireguard-go accepts: a little-endian
// 32-bit type 1–4 (so the first byte is 1–4 and the next three are zero)
// with the exact size of its message, or at least 32 bytes for transport
// data. Both can never hold at once: WireGuard's first byte is below 0x40.
func classify(b []byte) packetKind {
	if len(b) == 0 {
		return kindDrop
	}
	if b[0]&0xc0 != 0 {
		return kindQUIC
	}
	if len(b) < 4 {
		return kindDrop
	}
	var ok bool
	switch binary.LittleEndian.Uint32(b) {
	case wgInitiationType:
		ok = len(b) == wgInitiationSize
	case wgResponseType:
		ok = len(b) == wgResponseSize
	case wgCookieReplyType:
		ok = len(b) == wgCookieReplySize
	case wgTransportType:
		ok = len(b) >= wgMinTransportSize
	}
	if ok {
		return kindWireGuard
	}
	return kindDrop
}
