package wgpath

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/quic-go/quic-go"
	"go.uber.org/fx"
	"golang.org/x/time/rate"
)

// Rate of new connections from unverified source addresses before quic-go
// is told to verify them (go-libp2p quicreuse uses the same figures).
const (
	unverifiedConnRate  = 1000
	unverifiedConnBurst = 1000
)

// Libp2pOptions returns the options that make a libp2p host listen for and
// dial QUIC over the mux's socket: QUICReuse and a listen address of
// QUICMultiaddr. The host needs the QUIC transport
// (libp2p.Transport(libp2pquic.NewTransport)) and must not list another
// /udp/0/quic-v1 listen address, which would compete for the lent socket.
// One host at a time may use a mux.
func (m *Mux) Libp2pOptions() libp2p.Option {
	return libp2p.ChainOptions(m.QUICReuse(), libp2p.ListenAddrs(m.QUICMultiaddr()))
}

// QUICMultiaddr is the listen address for the mux's socket,
// /ip4/0.0.0.0/udp/<port>/quic-v1 (or /ip6/::/…).
func (m *Mux) QUICMultiaddr() ma.Multiaddr { return m.quicAddr }

// QUICReuse returns a libp2p option that builds the host's
// quicreuse.ConnManager with a quic-go transport over the mux's socket lent
// to it (ConnManager.LendTransport). When the host closes, the ConnManager
// gives the transport back and the mux closes it; a later host may then use
// the mux again. Building a second host while one is using the mux fails
// with ErrMuxInUse.
func (m *Mux) QUICReuse() libp2p.Option {
	return libp2p.QUICReuse(m.newConnManager)
}

// newConnManager is the fx constructor behind QUICReuse. It mirrors
// go-libp2p's default ConnManager (config.go): resource manager scopes for
// inbound connections and rate-limited source address verification.
func (m *Mux) newConnManager(lc fx.Lifecycle, srk quic.StatelessResetKey, tk quic.TokenGeneratorKey, rcmgr network.ResourceManager) (*quicreuse.ConnManager, error) {
	connContext := func(ctx context.Context, ci *quic.ClientInfo) (context.Context, error) {
		addr, err := quicreuse.ToQuicMultiaddr(ci.RemoteAddr, quic.Version1)
		if err != nil {
			addr = nil // let the resource manager decide
		}
		scope, err := rcmgr.OpenConnection(network.DirInbound, false, addr)
		if err != nil {
			return ctx, err
		}
		ctx = network.WithConnManagementScope(ctx, scope)
		context.AfterFunc(ctx, scope.Done)
		return ctx, nil
	}
	limiter := rate.NewLimiter(unverifiedConnRate, unverifiedConnBurst)
	verify := func(addr net.Addr) bool {
		if limiter.Allow() {
			return rcmgr.VerifySourceAddress(addr)
		}
		return true
	}
	cmOpts := []quicreuse.Option{
		quicreuse.ConnContext(connContext),
		quicreuse.VerifySourceAddress(rcmgr.VerifySourceAddress),
	}
	if m.cfg.metrics != nil {
		cmOpts = append(cmOpts, quicreuse.EnableMetrics(m.cfg.metrics))
	}
	cm, err := quicreuse.NewConnManager(srk, tk, cmOpts...)
	if err != nil {
		return nil, fmt.Errorf("udp mux: quic conn manager: %w", err)
	}
	qc, err := m.lendConn()
	if err != nil {
		return nil, errors.Join(err, cm.Close())
	}
	tr := &quic.Transport{
		Conn:                qc,
		StatelessResetKey:   &srk,
		TokenGeneratorKey:   &tk,
		ConnContext:         connContext,
		VerifySourceAddress: verify,
	}
	done, err := cm.LendTransport(m.network, lentTransport{tr}, qc)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("udp mux: lend transport: %w", err), tr.Close(), qc.Close(), cm.Close())
	}
	if err := m.watchLease(tr, qc, done); err != nil {
		return nil, errors.Join(err, tr.Close(), qc.Close(), cm.Close())
	}
	lc.Append(fx.StopHook(cm.Close))
	m.log.Debug("udp mux lent to libp2p", "addr", m.QUICMultiaddr().String())
	return cm, nil
}

// lease is one lending of the mux's QUIC side to a libp2p host.
type lease struct {
	conn     *quicConn
	done     <-chan struct{} // closed by the ConnManager when it is done; nil until lent
	released chan struct{}   // closed once the transport and conn are closed
}

// lendConn makes the QUIC conn that quic-go reads, the mux's only QUIC
// receiver. If the previous host has given its transport back, lendConn
// waits until the mux has closed it.
func (m *Mux) lendConn() (*quicConn, error) {
	for {
		m.lending.Lock()
		if m.lending.closed {
			m.lending.Unlock()
			return nil, ErrMuxClosed
		}
		prev := m.lending.cur
		if prev == nil {
			qc := &quicConn{m: m, recv: receiver{q: m.quicQ, done: make(chan struct{})}, deadline: newDeadline()}
			m.lending.cur = &lease{conn: qc, released: make(chan struct{})}
			m.quicRecv.Store(&qc.recv)
			m.lending.Unlock()
			return qc, nil
		}
		done := prev.done
		m.lending.Unlock()
		if done == nil {
			return nil, ErrMuxInUse
		}
		select {
		case <-done:
			<-prev.released
		default:
			return nil, ErrMuxInUse
		}
	}
}

// watchLease closes tr and qc once the ConnManager is done with them or the
// mux closes.
func (m *Mux) watchLease(tr *quic.Transport, qc *quicConn, done <-chan struct{}) error {
	m.lending.Lock()
	defer m.lending.Unlock()
	if m.lending.closed {
		return ErrMuxClosed
	}
	l := m.lending.cur
	if l == nil || l.conn != qc {
		return ErrMuxInUse
	}
	l.done = done
	m.wg.Go(func() {
		defer close(l.released)
		select {
		case <-done:
		case <-m.ctx.Done():
		}
		if err := errors.Join(tr.Close(), qc.Close()); err != nil {
			m.log.Debug("udp mux: closing lent quic transport", "err", err)
		}
	})
	return nil
}

// lentTransport adapts quic.Transport to quicreuse.QUICTransport.
type lentTransport struct{ *quic.Transport }

var _ quicreuse.QUICTransport = lentTransport{}

func (t lentTransport) Listen(tlsConf *tls.Config, conf *quic.Config) (quicreuse.QUICListener, error) {
	ln, err := t.Transport.Listen(tlsConf, conf)
	if err != nil {
		return nil, err
	}
	return ln, nil
}

// quicConn is the net.PacketConn quic-go reads and writes: it receives the
// datagrams the mux classified as QUIC and writes to the mux's socket.
type quicConn struct {
	m         *Mux
	recv      receiver
	closeOnce sync.Once
	deadline  *deadline
}

var _ net.PacketConn = (*quicConn)(nil)

// ReadFrom returns the next QUIC datagram. A datagram longer than b is
// truncated, as a socket would (quic-go reads with 1452-byte buffers).
func (c *quicConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case <-c.recv.done:
		return 0, nil, net.ErrClosed
	default:
	}
	select {
	case p := <-c.m.quicQ:
		n := copy(b, p.data())
		from := net.UDPAddrFromAddrPort(p.from)
		putPacket(p)
		return n, from, nil
	case <-c.deadline.expired():
		return 0, nil, os.ErrDeadlineExceeded
	case <-c.recv.done:
		return 0, nil, net.ErrClosed
	case <-c.m.readerDone:
		return 0, nil, c.m.readError()
	}
}

// WriteTo sends b through the mux's socket.
func (c *quicConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.recv.done:
		return 0, net.ErrClosed
	default:
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, fmt.Errorf("udp mux: cannot send to %T %s", addr, addr)
	}
	return c.m.conn.WriteToUDP(b, ua)
}

// Close stops the conn and makes the mux drop QUIC datagrams until another
// host uses it; the socket stays open.
func (c *quicConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.recv.done)
		c.deadline.stop()
		c.m.quicRecv.CompareAndSwap(&c.recv, nil)
		c.m.lending.Lock()
		if l := c.m.lending.cur; l != nil && l.conn == c {
			c.m.lending.cur = nil
		}
		c.m.lending.Unlock()
	})
	return nil
}

func (c *quicConn) LocalAddr() net.Addr { return c.m.conn.LocalAddr() }

// SetDeadline sets the read deadline; writes never wait long on UDP.
func (c *quicConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline makes a pending and later ReadFrom return
// os.ErrDeadlineExceeded once t has passed (quic-go uses it to stop reading).
func (c *quicConn) SetReadDeadline(t time.Time) error {
	c.deadline.set(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: the socket is shared with
// WireGuard, and UDP writes do not block for long.
func (c *quicConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer and SetWriteBuffer are accepted and ignored: the mux sizes
// the shared socket (WithMuxSocketBuffer). quic-go calls them.
func (c *quicConn) SetReadBuffer(int) error  { return nil }
func (c *quicConn) SetWriteBuffer(int) error { return nil }

// deadline is a read deadline as a channel that is closed once it passes.
type deadline struct {
	mu    sync.Mutex
	ch    chan struct{} // closed when the deadline has passed
	fired bool
	gen   uint64 // invalidates timers of earlier deadlines
	timer *time.Timer
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

func (d *deadline) expired() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// set moves the deadline to t; the zero t means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.fired {
		d.ch = make(chan struct{})
		d.fired = false
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.fireLocked()
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.gen == gen {
			d.fireLocked()
		}
	})
}

func (d *deadline) fireLocked() {
	if !d.fired {
		close(d.ch)
		d.fired = true
	}
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// quicUDPAddr returns the UDP address of a direct QUIC multiaddr
// (/ip4|ip6/…/udp/…/quic-v1, optionally followed by /p2p/…).
func quicUDPAddr(a ma.Multiaddr) (*net.UDPAddr, error) {
	if len(a) < 3 {
		return nil, fmt.Errorf("%w: %s", ErrNotDirectQUIC, a)
	}
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return nil, fmt.Errorf("%w: %s is relayed", ErrNotDirectQUIC, a)
		}
	}
	if c := a[0].Code(); c != ma.P_IP4 && c != ma.P_IP6 {
		return nil, fmt.Errorf("%w: %s does not start with an IP address", ErrNotDirectQUIC, a)
	}
	if a[1].Code() != ma.P_UDP || a[2].Code() != ma.P_QUIC_V1 {
		return nil, fmt.Errorf("%w: %s is not QUIC v1 over UDP", ErrNotDirectQUIC, a)
	}
	for _, c := range a[3:] {
		if c.Code() != ma.P_P2P {
			return nil, fmt.Errorf("%w: %s has %s after quic-v1", ErrNotDirectQUIC, a, c.Protocol().Name)
		}
	}
	na, err := manet.ToNetAddr(a[:2])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotDirectQUIC, a, err)
	}
	ua, ok := na.(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotDirectQUIC, a)
	}
	return ua, nil
}
