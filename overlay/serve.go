package overlay

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

const (
	sessionStreamTimeout = 10 * time.Second
	// DefaultPingTimeout is how long a provider keeps a session whose
	// consumer stopped pinging.
	DefaultPingTimeout = 30 * time.Second
	// pingInterval is how often a consumer pings its provider.
	pingInterval = 5 * time.Second
	// tunnelAttachTimeout is how long a provider waits for the tunnel stream
	// of a session opened with TransportStream.
	tunnelAttachTimeout = 15 * time.Second
)

// ServeConfig configures a provider's session service.
type ServeConfig struct {
	// MaxSessions bounds concurrent sessions (required, > 0).
	MaxSessions int
	// Policy is the exit policy for every session (required).
	Policy *tunnel.ExitPolicy
	// Pool hands out tunnel addresses; nil uses the default /16.
	Pool *tunnel.AddressPool
	// PingTimeout ends sessions whose consumer went quiet (0: DefaultPingTimeout).
	PingTimeout time.Duration
	// Resolver answers consumers' DNS; nil uses the host resolver.
	Resolver tunnel.Resolver
	// Payments, if set, makes sessions pay through the hermes hubs the
	// proposal lists; nil serves free sessions.
	Payments *ProviderPayments
}

// providerSession is one consumer's session at the provider.
type providerSession struct {
	id        string
	consumer  peer.ID
	addrs     tunnel.AddressPair
	key       tunnel.PrivateKey
	peerKey   tunnel.PublicKey
	transport string
	opened    time.Time

	dialing atomic.Bool     // a dial back is running
	pay     *sessionPayment // nil for a free session
	ended   chan struct{}   // closed when the session is dropped

	mu       sync.Mutex
	lastPing time.Time
	tun      *tunnel.Provider // nil until the transport is attached
	udp      *net.UDPConn
	attached chan struct{}
}

// sessions is the provider's session table.
type sessions struct {
	sync.Mutex
	cfg  ServeConfig
	byID map[string]*providerSession
}

// ServeSessions makes this node accept sessions for the proposal it
// advertises. Call it after Advertise.
func (n *Node) ServeSessions(cfg ServeConfig) error {
	if cfg.MaxSessions <= 0 {
		return fmt.Errorf("overlay: MaxSessions %d must be positive (--max-sessions)", cfg.MaxSessions)
	}
	if cfg.Policy == nil {
		return errors.New("overlay: ServeConfig.Policy is required")
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.Payments != nil {
		if err := cfg.Payments.validate(); err != nil {
			return err
		}
	}
	if cfg.Pool == nil {
		pool, err := tunnel.NewAddressPool(netip.Prefix{}, netip.Prefix{}) // the default ranges
		if err != nil {
			return err
		}
		cfg.Pool = pool
	}
	n.serving.Lock()
	defer n.serving.Unlock()
	if n.serving.s != nil {
		return errors.New("overlay: already serving sessions")
	}
	n.serving.s = &sessions{cfg: cfg, byID: map[string]*providerSession{}}
	n.host.SetStreamHandler(ProtocolSession, n.handleSession)
	n.host.SetStreamHandler(ProtocolTunnel, n.handleTunnel)
	n.wg.Go(n.reapSessions)
	return nil
}

// ActiveSessions is the number of open sessions at this provider.
func (n *Node) ActiveSessions() int {
	s := n.sessionTable()
	if s == nil {
		return 0
	}
	s.Lock()
	defer s.Unlock()
	return len(s.byID)
}

func (n *Node) sessionTable() *sessions {
	n.serving.Lock()
	defer n.serving.Unlock()
	return n.serving.s
}

func (n *Node) handleSession(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(sessionStreamTimeout))
	var req sessionRequest
	if err := readMsg(bufio.NewReader(io.LimitReader(st, MaxSessionMessage+16)), &req); err != nil {
		n.log.Debug("bad session request", "peer", st.Conn().RemotePeer(), "err", err)
		_ = writeMsg(st, sessionReply{Code: RejectBadReq, Message: err.Error()})
		_ = st.Reset()
		return
	}
	var rep sessionReply
	switch req.Kind {
	case reqOpen:
		rep = n.openSession(st.Conn(), req)
	case reqPing:
		rep = n.pingSession(st.Conn().RemotePeer(), req.Session)
	case reqClose:
		rep = n.closeSession(st.Conn().RemotePeer(), req.Session)
	case reqUpgrade:
		rep = n.upgradeSession(st.Conn().RemotePeer(), req)
	case reqDialBack:
		rep = n.dialBack(st.Conn().RemotePeer(), req)
	default:
		rep = sessionReply{Code: RejectBadReq, Message: fmt.Sprintf("unknown request kind %q", req.Kind)}
	}
	if !rep.OK {
		n.met.rejected.WithLabelValues(rep.Code).Inc()
	} else if req.Kind == reqOpen {
		path := PathDirect
		if st.Conn().Stat().Limited && req.Transport == TransportStream {
			path = PathRelayed
		}
		n.met.sessions.WithLabelValues("provider", path, req.Transport).Inc()
	} else if req.Kind == reqUpgrade {
		n.met.upgrades.Inc()
	}
	if err := writeMsg(st, rep); err != nil {
		_ = st.Reset()
	}
}

func reject(code, format string, a ...any) sessionReply {
	return sessionReply{Code: code, Message: fmt.Sprintf(format, a...)}
}

// openSession checks a request against the current proposal and capacity,
// then allocates keys and addresses and, for UDP, the tunnel itself.
func (n *Node) openSession(c network.Conn, req sessionRequest) sessionReply {
	s := n.sessionTable()
	cur := n.CurrentProposal()
	if s == nil || cur == nil {
		return reject(RejectInternal, "this node does not serve sessions")
	}
	p := cur.Proposal
	if req.PriceHour != p.PriceHour || req.PriceGiB != p.PriceGiB {
		return reject(RejectPrice, "price changed: now %s per hour and %s per GiB (base units); fetch the proposal again",
			p.PriceHour, p.PriceGiB)
	}
	if req.WGKey.IsZero() {
		return reject(RejectBadReq, "no WireGuard key")
	}
	var consumerUDP netip.AddrPort
	switch req.Transport {
	case TransportMux:
		c := n.muxConn(c.RemotePeer())
		if c == nil {
			return reject(RejectPolicy, "no direct QUIC connection on this provider's shared socket; use another transport")
		}
		consumerUDP, _ = n.mux.PeerEndpoint(c)
	case TransportUDP:
		if c.Stat().Limited {
			return reject(RejectPolicy, "UDP transport needs a direct connection; this one is relayed")
		}
		ip, err := remoteIP(c)
		if err != nil {
			return reject(RejectBadReq, "%v", err)
		}
		consumerUDP = netip.AddrPortFrom(ip, req.UDPPort)
		if req.UDPPort == 0 {
			return reject(RejectBadReq, "UDP transport needs the consumer's UDP port")
		}
	case TransportStream:
	default:
		return reject(RejectBadReq, "unknown transport %q", req.Transport)
	}
	var pay *sessionPayment
	if s.cfg.Payments != nil {
		var rej *sessionReply
		if pay, rej = n.checkPayment(c.RemotePeer(), &p, req.Hermes); rej != nil {
			return *rej
		}
	}

	s.Lock()
	if len(s.byID) >= s.cfg.MaxSessions {
		s.Unlock()
		return reject(RejectFull, "provider is full (%d sessions); try another provider", s.cfg.MaxSessions)
	}
	addrs, err := s.cfg.Pool.Allocate()
	if err != nil {
		s.Unlock()
		return reject(RejectFull, "no tunnel addresses left: %v", err)
	}
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		s.cfg.Pool.Release(addrs)
		s.Unlock()
		return reject(RejectInternal, "generate key: %v", err)
	}
	ps := &providerSession{
		id: newSessionID(), consumer: c.RemotePeer(), addrs: addrs, key: key, peerKey: req.WGKey,
		transport: req.Transport, opened: time.Now(), lastPing: time.Now(), attached: make(chan struct{}),
		pay: pay, ended: make(chan struct{}),
	}
	s.byID[ps.id] = ps
	s.Unlock()

	rep := sessionReply{OK: true, Session: ps.id, WGKey: key.PublicKey(), Addresses: addrs, Transport: req.Transport}
	switch req.Transport {
	case TransportMux:
		bind, err := n.mux.PeerBind(consumerUDP)
		if err == nil {
			if err = n.attachTunnel(ps, bind, nil); err != nil {
				_ = bind.Close()
			}
		}
		if err != nil {
			n.dropSession(ps, "tunnel")
			return reject(RejectPolicy, "WireGuard on the shared socket: %v", err)
		}
		rep.UDPPort = n.mux.Port()
	case TransportUDP:
		udp, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			n.dropSession(ps, "listen udp")
			return reject(RejectInternal, "open UDP socket: %v", err)
		}
		bind, err := wgpath.NewUDPBind(udp, consumerUDP)
		if err == nil {
			err = n.attachTunnel(ps, bind, udp)
		}
		if err != nil {
			udp.Close()
			n.dropSession(ps, "tunnel")
			return reject(RejectInternal, "start tunnel: %v", err)
		}
		rep.UDPPort = uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	default:
		n.wg.Go(func() {
			select {
			case <-ps.attached:
			case <-time.After(tunnelAttachTimeout):
				n.dropSession(ps, "tunnel stream never came")
			case <-n.ctx.Done():
			}
		})
	}
	n.log.Info("session opened", "session", ps.id, "consumer", ps.consumer, "transport", ps.transport, "addr", addrs.Consumer)
	return rep
}

// attachTunnel starts the WireGuard end of ps over bind.
func (n *Node) attachTunnel(ps *providerSession, bind conn.Bind, udp *net.UDPConn) error {
	s := n.sessionTable()
	tun, err := tunnel.NewProvider(tunnel.ProviderConfig{
		PrivateKey: ps.key, PeerPublicKey: ps.peerKey, Addresses: ps.addrs, Bind: bind,
		Policy: s.cfg.Policy, Resolver: s.cfg.Resolver,
		Logger: n.log.With("session", ps.id),
	})
	if err != nil {
		return err
	}
	var inv *hermes.Invoicer
	if ps.pay != nil {
		if inv, err = n.startInvoicer(ps, tun.Stats); err != nil {
			_ = tun.Close()
			return err
		}
	}
	ps.mu.Lock()
	ps.tun, ps.udp = tun, udp
	if inv != nil {
		ps.pay.inv = inv
	}
	ps.mu.Unlock()
	close(ps.attached)
	return nil
}

// handleTunnel attaches a stream-carried WireGuard transport to a session.
func (n *Node) handleTunnel(st network.Stream) {
	s := n.sessionTable()
	_ = st.SetReadDeadline(time.Now().Add(sessionStreamTimeout))
	var hello sessionRequest
	br := bufio.NewReader(st)
	if err := readMsg(br, &hello); err != nil || s == nil {
		_ = st.Reset()
		return
	}
	_ = st.SetReadDeadline(time.Time{})
	s.Lock()
	ps, ok := s.byID[hello.Session]
	s.Unlock()
	if ok {
		ps.mu.Lock()
		ok = ps.consumer == st.Conn().RemotePeer() && ps.transport == TransportStream && ps.tun == nil
		ps.mu.Unlock()
	}
	if !ok {
		_ = st.Reset()
		return
	}
	bind, err := wgpath.NewPipeBind(bufferedStream{Stream: st, r: br})
	if err == nil {
		err = n.attachTunnel(ps, bind, nil)
	}
	if err != nil {
		n.log.Warn("attach tunnel stream", "session", ps.id, "err", err)
		_ = st.Reset()
		n.dropSession(ps, "tunnel")
	}
}

func (n *Node) pingSession(from peer.ID, id string) sessionReply {
	ps := n.lookupSession(from, id)
	if ps == nil {
		return reject(RejectNoSession, "no session %q", id)
	}
	ps.mu.Lock()
	ps.lastPing = time.Now()
	ps.mu.Unlock()
	return sessionReply{OK: true, Session: id}
}

// upgradeSession moves a stream-carried session to the shared QUIC socket
// once there is a direct QUIC connection to the consumer on it.
func (n *Node) upgradeSession(from peer.ID, req sessionRequest) sessionReply {
	ps := n.lookupSession(from, req.Session)
	if ps == nil {
		return reject(RejectNoSession, "no session %q", req.Session)
	}
	if req.Transport != TransportMux {
		return reject(RejectBadReq, "can only upgrade to %s", TransportMux)
	}
	c := n.muxConn(from)
	if c == nil {
		return reject(RejectPolicy, "no direct QUIC connection to you on the shared socket yet")
	}
	ep, err := n.mux.PeerEndpoint(c)
	if err != nil {
		return reject(RejectPolicy, "%v", err)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.tun == nil || ps.transport != TransportStream {
		return reject(RejectBadReq, "session is not on the stream transport")
	}
	bind, err := n.mux.PeerBind(ep)
	if err != nil {
		return reject(RejectPolicy, "WireGuard on the shared socket: %v", err)
	}
	if err := ps.tun.SwitchBind(bind, ""); err != nil {
		_ = bind.Close()
		return reject(RejectInternal, "switch transport: %v", err)
	}
	ps.transport = TransportMux
	n.log.Info("session upgraded to a direct path", "session", ps.id, "consumer", from)
	return sessionReply{OK: true, Session: ps.id, Transport: TransportMux}
}

// maxDialBackAddrs bounds what one dial-back request makes the provider dial.
const maxDialBackAddrs = 4

// dialBack dials a session owner's public QUIC addresses. Only the owner of
// a live session may ask, only public QUIC addresses are dialled, at most
// maxDialBackAddrs, one request at a time per session, and the dial must
// authenticate as that consumer, so a request naming someone else's address
// costs that address one QUIC handshake packet at most.
func (n *Node) dialBack(from peer.ID, req sessionRequest) sessionReply {
	ps := n.lookupSession(from, req.Session)
	if ps == nil {
		return reject(RejectNoSession, "no session %q", req.Session)
	}
	if !ps.dialing.CompareAndSwap(false, true) {
		return reject(RejectPolicy, "a dial back is already running")
	}
	defer ps.dialing.Store(false)
	if len(req.Addrs) > maxDialBackAddrs {
		return reject(RejectBadReq, "%d addresses, at most %d", len(req.Addrs), maxDialBackAddrs)
	}
	ai := peer.AddrInfo{ID: from}
	for _, s := range req.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return reject(RejectBadReq, "address %q: %v", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err != nil || !manet.IsPublicAddr(a) {
			return reject(RejectBadReq, "address %s is not a public QUIC address", a)
		}
		ai.Addrs = append(ai.Addrs, a)
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	n.host.Peerstore().AddAddrs(from, ai.Addrs, time.Minute)
	if err := n.host.Connect(network.WithForceDirectDial(ctx, "dial back"), ai); err != nil {
		return reject(RejectPolicy, "dial back failed: %v", err)
	}
	if n.muxConn(from) == nil {
		return reject(RejectPolicy, "dial back gave no direct QUIC connection")
	}
	return sessionReply{OK: true, Session: ps.id}
}

func (n *Node) closeSession(from peer.ID, id string) sessionReply {
	ps := n.lookupSession(from, id)
	if ps == nil {
		return reject(RejectNoSession, "no session %q", id)
	}
	n.dropSession(ps, "closed by consumer")
	return sessionReply{OK: true, Session: id}
}

// lookupSession finds id, only for the consumer that owns it.
func (n *Node) lookupSession(from peer.ID, id string) *providerSession {
	s := n.sessionTable()
	if s == nil {
		return nil
	}
	s.Lock()
	defer s.Unlock()
	ps, ok := s.byID[id]
	if !ok || ps.consumer != from {
		return nil
	}
	return ps
}

// dropSession removes ps and releases everything it held.
func (n *Node) dropSession(ps *providerSession, why string) {
	s := n.sessionTable()
	s.Lock()
	_, ok := s.byID[ps.id]
	delete(s.byID, ps.id)
	s.Unlock()
	if !ok {
		return
	}
	close(ps.ended)
	ps.mu.Lock()
	tun, udp := ps.tun, ps.udp
	var inv *hermes.Invoicer
	if ps.pay != nil {
		inv = ps.pay.inv
	}
	ps.mu.Unlock()
	if inv != nil {
		// Invoice before the tunnel closes: its count keeps growing, so an
		// invoice whose answer was lost on the way is repaired by the next
		// one (a consumer refuses to pay the same total twice).
		n.finalInvoice(ps, inv)
	}
	var stats tunnel.Stats
	if tun != nil {
		stats = tun.Stats()
		_ = tun.Close()
	}
	if udp != nil {
		_ = udp.Close()
	}
	if inv != nil {
		n.closeInvoicer(ps, inv)
	}
	s.cfg.Pool.Release(ps.addrs)
	n.log.Info("session closed", "session", ps.id, "consumer", ps.consumer, "why", why,
		"rx_bytes", stats.RxBytes, "tx_bytes", stats.TxBytes, "duration", stats.Duration.Round(time.Second))
}

// reapSessions ends sessions whose consumer stopped pinging, and all of
// them when the node closes.
func (n *Node) reapSessions() {
	s := n.sessionTable()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			s.Lock()
			all := make([]*providerSession, 0, len(s.byID))
			for _, ps := range s.byID {
				all = append(all, ps)
			}
			s.Unlock()
			n.dropSessions(all, "provider stopping")
			return
		case now := <-t.C:
			var stale []*providerSession
			s.Lock()
			for _, ps := range s.byID {
				ps.mu.Lock()
				if now.Sub(ps.lastPing) > s.cfg.PingTimeout {
					stale = append(stale, ps)
				}
				ps.mu.Unlock()
			}
			s.Unlock()
			n.dropSessions(stale, "consumer stopped pinging")
		}
	}
}

// dropSessions drops several sessions at once: a paying session's final
// invoice may take up to finalInvoiceTimeout.
func (n *Node) dropSessions(all []*providerSession, why string) {
	var wg sync.WaitGroup
	for _, ps := range all {
		wg.Go(func() { n.dropSession(ps, why) })
	}
	wg.Wait()
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// remoteIP is the IP address of the far end of a direct connection.
func remoteIP(c network.Conn) (netip.Addr, error) {
	ip, err := manet.ToIP(c.RemoteMultiaddr())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("remote address %s: %w", c.RemoteMultiaddr(), err)
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, fmt.Errorf("remote address %s is not IP", c.RemoteMultiaddr())
	}
	return addr.Unmap(), nil
}

// bufferedStream reads through the bufio.Reader that already consumed the
// stream's hello, and writes and closes the stream itself.
type bufferedStream struct {
	network.Stream
	r *bufio.Reader
}

func (b bufferedStream) Read(p []byte) (int, error) { return b.r.Read(p) }
