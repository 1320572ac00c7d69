package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ErrProviderGone means the provider stopped answering during a session.
var ErrProviderGone = errors.New("provider stopped answering")

// sessionTunnel is what a session needs from its WireGuard end, in SOCKS5
// (tunnel.Consumer) and TUN (tunnel.TUNConsumer) mode alike.
type sessionTunnel interface {
	Stats() tunnel.Stats
	LastHandshake() (time.Time, error)
	SwitchBind(b conn.Bind, endpoint string) error
	Close() error
}

// Session is a consumer's open session with a provider.
type Session struct {
	ID        string
	Provider  peer.ID
	Addresses tunnel.AddressPair
	// Tunnel is the userspace end to dial through (SOCKS5 mode); nil in
	// TUN mode, where TUN is set instead.
	Tunnel *tunnel.Consumer
	TUN    *tunnel.TUNConsumer
	tun    sessionTunnel
	// ConnectTime is from the start of Connect to the first WireGuard handshake.
	ConnectTime time.Duration

	node   *overlay.Node
	udp    *net.UDPConn
	stream network.Stream
	pay    *hermes.PaySession // nil for a free session
	// obfsMode is what the consumer asked for.
	obfsMode ObfsMode
	// exclude keeps prefixes out of the TUN (nil in SOCKS5 mode); kept
	// are the addresses out of it so far (at the start and by keepOut),
	// keptLater how many keepOut added.
	exclude   func(...netip.Prefix) error
	keptMu    sync.Mutex
	kept      map[netip.Addr]bool
	keptLater int

	// route is the session's state, path and transport, changed only
	// under its lock: Attaching while the first handshake runs, Attached
	// once it came (an upgrade to direct changes the transport in place),
	// Closing and Closed in Close.
	route struct {
		sync.Mutex
		state      session.State
		obfuscated bool // WireGuard datagrams masked on the wire
		path       wgpath.Path
		transport  wgpath.Transport
		relay      *wgpath.MeteredBind // the relayed bind, while relayed
		relayBytes uint64              // wire bytes the relay carried before an upgrade
		direct     chan struct{}       // closed once the path is direct
	}

	// metered is what meterBytes has counted into the node's metrics:
	// keepalive feeds it, Close (after keepalive stopped) adds the rest.
	metered tunnel.Stats

	done    chan struct{}
	errMu   sync.Mutex
	err     error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
}

// Path is wgpath.Relayed while the tunnel's packets cross a relay (a
// stream over a relayed connection), else wgpath.Direct.
func (s *Session) Path() wgpath.Path {
	s.route.Lock()
	defer s.route.Unlock()
	return s.route.path
}

// Transport is how WireGuard travels now.
func (s *Session) Transport() wgpath.Transport {
	s.route.Lock()
	defer s.route.Unlock()
	return s.route.transport
}

// RelayBytes is how many WireGuard bytes (both ways, on the wire) the relay
// has carried for this session.
func (s *Session) RelayBytes() uint64 {
	s.route.Lock()
	defer s.route.Unlock()
	n := s.route.relayBytes
	if s.route.relay != nil {
		st := s.route.relay.Stats()
		n += st.TxBytes + st.RxBytes
	}
	return n
}

// Direct is closed once the session's path is direct.
func (s *Session) Direct() <-chan struct{} { return s.route.direct }

func (s *Session) setPath(path wgpath.Path) {
	s.route.Lock()
	defer s.route.Unlock()
	s.route.path = path
	if path == wgpath.Direct {
		select {
		case <-s.route.direct:
		default:
			close(s.route.direct)
		}
	}
}

// upgrade moves a relayed session to the hole-punched QUIC socket as soon as
// a direct QUIC connection to the provider appears (go-libp2p keeps trying
// to punch; symmetric NATs may need its later attempts).
func (s *Session) upgrade(ctx context.Context, progress func(string)) {
	h, mux, log := s.node.Host(), s.node.Mux(), s.node.Logger()
	// Polls: the QUIC connection may come while the provider already counts
	// as connected (no event then), and the dial-back needs a timer anyway.
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	// The first ask comes soon after DCUtR's own try (made as the
	// session's relayed connection reached the provider) had time to
	// land, then every dialBackEvery.
	lastDialBack := time.Now().Add(firstDialBack - dialBackEvery)
	rounds, punches := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := mux.ConnTo(h.Network(), s.Provider)
		if c == nil && time.Since(lastDialBack) > dialBackEvery {
			lastDialBack = time.Now()
			rounds++
			symmetric := s.node.NATMapping() == overlay.MappingEndpointDependent
			if (rounds > 1 || symmetric) && punches < session.MaxPunches && s.obfsMode != ObfsRequire {
				// Dialling both ways did not get through, or cannot from
				// behind our symmetric NAT: guess its ports many times at
				// once.
				done, err := s.birthday(ctx, progress)
				if done || ctx.Err() != nil {
					return
				}
				if errors.Is(err, errNoBirthday) {
					s.dialBoth(ctx)
				} else {
					punches++
					log.Debug("birthday punch", "session", s.ID, "round", punches, "err", err)
				}
			} else {
				s.dialBoth(ctx)
			}
			c = mux.ConnTo(h.Network(), s.Provider)
		}
		if c == nil {
			continue
		}
		rep, err := sessionCall(ctx, h, s.Provider, session.Request{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDPMux,
			Obfs: s.obfsMode != ObfsOff})
		if err != nil {
			log.Debug("upgrade refused", "session", s.ID, "err", err)
			if isRejectionCode(err, session.RejectNoSession) {
				return // gone at the provider: keepalive ends it
			}
			continue
		}
		if s.finishUpgrade(wgpath.Link{Transport: wgpath.UDPMux, Conn: c, Mux: mux}, nil, rep) {
			progress("upgraded to a direct path (hole punch)")
		}
		return
	}
}

// dialBoth asks the provider to dial this node's public QUIC addresses
// while it dials the provider's: each side's packets open its own NAT for
// the other's, which is a hole punch between two port-restricted NATs. A
// provider with a public or full-cone address is reached by our dial
// alone, so that goes out even when we know no public address of ours yet.
func (s *Session) dialBoth(ctx context.Context) {
	h, log := s.node.Host(), s.node.Logger()
	addrs := publicQUICAddrs(h)
	log.Debug("asking for a dial back", "session", s.ID, "addrs", addrs)
	punched := make(chan struct{})
	go func() {
		defer close(punched)
		s.dialProvider(ctx)
	}()
	if len(addrs) > 0 {
		_, err := sessionCall(ctx, h, s.Provider, session.Request{Kind: session.DialBack, Session: s.ID, Addrs: addrs})
		log.Debug("dial back", "session", s.ID, "addrs", addrs, "err", err)
	}
	<-punched
}

// birthday runs one birthday punch round with the provider when exactly
// one side's NAT looks symmetric, and on success moves the session onto
// the punched path. done reports that the session moved (or that the
// move failed in a way another round would not fix).
func (s *Session) birthday(ctx context.Context, progress func(string)) (done bool, err error) {
	h, mux := s.node.Host(), s.node.Mux()
	req := session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: s.node.NATMapping()}
	if ip, ok := s.node.PublicIP(); ok {
		req.PunchIP = ip.String()
	}
	if a, ok := s.node.PublicQUICAddr(); ok {
		req.PunchAddr = a.String()
	}
	if req.PunchIP == "" {
		return false, fmt.Errorf("%w: no public IP of ours known yet", errNoBirthday)
	}
	rep, err := sessionCall(ctx, h, s.Provider, req)
	if err != nil {
		if isRejectionCode(err, session.RejectPolicy) {
			return false, fmt.Errorf("%w: %w", errNoBirthday, err)
		}
		return false, err
	}
	if len(rep.PunchKey) != len(wgpath.PunchKey{}) {
		return false, fmt.Errorf("provider sent a punch key of %d bytes", len(rep.PunchKey))
	}
	key := wgpath.PunchKey(rep.PunchKey)
	pctx, cancel := context.WithTimeout(ctx, wgpath.DefaultPunchTimeout)
	defer cancel()
	moved := false
	defer func() {
		side, outcome := rep.PunchRole, "ok"
		if side != session.PunchSockets && side != session.PunchSpray {
			side = "unknown" // a provider's word, kept out of the label
		}
		if !moved {
			outcome = "failed"
		}
		s.node.Metrics().BirthdayPunches.WithLabelValues("consumer", side, outcome).Inc()
	}()
	var link wgpath.Link
	var sock *net.UDPConn
	switch rep.PunchRole {
	case session.PunchSockets:
		ext, perr := netip.ParseAddrPort(rep.PunchAddr)
		if perr != nil {
			return false, fmt.Errorf("provider's public address %q: %w", rep.PunchAddr, perr)
		}
		if err := s.keepOut(ext.Addr()); err != nil {
			return false, err
		}
		if sock, err = wgpath.PunchFromSockets(pctx, key, netip.Addr{}, ext, wgpath.DefaultPunchSockets); err != nil {
			return false, err
		}
		link = wgpath.Link{Transport: wgpath.UDP, UDP: sock, Remote: ext}
	case session.PunchSpray:
		ip, perr := netip.ParseAddr(rep.PunchAddr)
		if perr != nil {
			return false, fmt.Errorf("provider's public IP %q: %w", rep.PunchAddr, perr)
		}
		if err := s.keepOut(ip); err != nil {
			return false, err
		}
		from, err := wgpath.PunchSpray(pctx, mux, key, ip, wgpath.DefaultPunchSpray)
		if err != nil {
			return false, err
		}
		link = wgpath.Link{Transport: wgpath.UDPMux, Mux: mux, Remote: from}
	default:
		return false, fmt.Errorf("provider named punch role %q", rep.PunchRole)
	}
	up, err := sessionCall(ctx, h, s.Provider, session.Request{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDP,
		Punched: true, Obfs: s.obfsMode != ObfsOff})
	if err != nil {
		if sock != nil {
			sock.Close()
		}
		return false, err
	}
	if !s.finishUpgrade(link, sock, up) {
		return true, nil
	}
	moved = true
	progress("upgraded to a direct path (birthday punch through a symmetric NAT)")
	return true, nil
}

// errNoBirthday means a birthday punch does not apply (yet): no side is
// known to be symmetric, or an address it needs is unknown.
var errNoBirthday = errors.New("no birthday punch")

// finishUpgrade switches the session onto link after the provider agreed
// (rep); sock, if set, is the punched socket link runs on, which the
// session then owns. It reports whether the session moved; on failure
// sock is closed and the session stays where it was.
func (s *Session) finishUpgrade(link wgpath.Link, sock *net.UDPConn, rep session.Reply) bool {
	log := s.node.Logger()
	fail := func() bool {
		if sock != nil {
			sock.Close()
		}
		return false
	}
	switch {
	case len(rep.ObfsKey) == 32 && s.obfsMode != ObfsOff:
		link.Obfs = &wgpath.ObfsConfig{Key: [32]byte(rep.ObfsKey)}
	case len(rep.ObfsKey) != 0:
		log.Warn("upgrade: provider sent an obfuscation key of the wrong size or unasked", "session", s.ID, "bytes", len(rep.ObfsKey))
		return fail()
	case s.obfsMode == ObfsRequire:
		log.Warn("upgrade: provider will not mask the direct path; staying relayed", "session", s.ID)
		return fail()
	}
	bind, _, err := link.Bind()
	if err != nil {
		log.Warn("upgrade: bind", "session", s.ID, "transport", link.Transport, "err", err)
		return fail()
	}
	if err := s.switchTo(bind, link.Transport, link.Obfs != nil); err != nil {
		log.Warn("upgrade: switch bind", "session", s.ID, "err", err)
		_ = bind.Close()
		return fail()
	}
	if sock != nil {
		s.udp = sock // only upgrade touches it while the session runs
	}
	s.node.Metrics().Upgrades.Inc()
	return true
}

// switchTo moves an Attached session's tunnel to bind in place, in one
// critical section with the check of its state, and counts what the relay
// carried until then.
func (s *Session) switchTo(bind conn.Bind, t wgpath.Transport, obfuscated bool) error {
	s.route.Lock()
	defer s.route.Unlock()
	if s.route.state != session.Attached {
		return fmt.Errorf("session is %s", s.route.state)
	}
	if err := s.tun.SwitchBind(bind, ""); err != nil {
		return err
	}
	if r := s.route.relay; r != nil {
		st := r.Stats()
		s.route.relayBytes += st.TxBytes + st.RxBytes
	}
	s.route.relay, s.route.transport, s.route.path, s.route.obfuscated = nil, t, wgpath.Direct, obfuscated
	select {
	case <-s.route.direct:
	default:
		close(s.route.direct)
	}
	return nil
}

// Obfuscated reports whether the session's WireGuard datagrams are masked
// and padded on the wire (the udp transport with an agreed key).
func (s *Session) Obfuscated() bool {
	s.route.Lock()
	defer s.route.Unlock()
	return s.route.obfuscated
}

// Obfuscation is what a censor on the path sees of the session's
// WireGuard now.
func (s *Session) Obfuscation() Obfuscation {
	switch {
	case s.Obfuscated():
		return ObfsMasked
	case s.Transport() == wgpath.Stream:
		return ObfsInsideLibp2p
	}
	return ObfsNone
}

// State is where the session is in its life.
func (s *Session) State() session.State {
	s.route.Lock()
	defer s.route.Unlock()
	return s.route.state
}

// setState moves the session to st.
func (s *Session) setState(st session.State) {
	s.route.Lock()
	defer s.route.Unlock()
	s.route.state = st
}

// A relayed session asks its provider to dial it firstDialBack after it
// came up, then every dialBackEvery.
const (
	firstDialBack = time.Second
	dialBackEvery = 3 * time.Second
)

// dialProvider dials the provider's public QUIC addresses directly, for at
// most dialBackTimeout. In TUN mode it keeps them out of the tunnel first;
// an address it cannot keep out is not dialled.
func (s *Session) dialProvider(ctx context.Context) {
	ai := peer.AddrInfo{ID: s.Provider, Addrs: s.directAddrs()}
	if len(ai.Addrs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dialBackTimeout)
	defer cancel()
	_ = s.node.Host().Connect(network.WithForceDirectDial(ctx, "punch"), ai)
}

// directAddrs are the provider's public QUIC addresses in the peerstore,
// each kept out of the tunnel (keepOut); one that cannot be is left out.
func (s *Session) directAddrs() []ma.Multiaddr {
	h, log := s.node.Host(), s.node.Logger()
	var out []ma.Multiaddr
	for _, a := range h.Peerstore().Addrs(s.Provider) {
		if !isPublicQUIC(a) {
			continue
		}
		ip, err := manet.ToIP(a)
		addr, ok := netip.AddrFromSlice(ip)
		if err != nil || !ok {
			continue
		}
		if err := s.keepOut(addr); err != nil {
			log.Debug("provider address not dialled", "session", s.ID, "addr", a, "err", err)
			continue
		}
		out = append(out, a)
	}
	return out
}

// keepProviderOut keeps every direct connection to the provider out of a
// TUN session's tunnel until ctx ends: the connections at the TUN's start
// were excluded then, but one that comes later (a hole punch that landed
// just after the start, a dial by libp2p itself) would otherwise send its
// packets into the tunnel, where the provider's exit cannot reach its own
// address, and stall everything the session says to the provider.
func (s *Session) keepProviderOut(ctx context.Context, h host.Host, log *slog.Logger) {
	conns := make(chan network.Conn, 16)
	nb := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() != s.Provider || c.Stat().Limited {
			return
		}
		select {
		case conns <- c:
		default: // a burst: the sweep below catches up
		}
	}}
	h.Network().Notify(nb)
	defer h.Network().StopNotify(nb)
	sweep := time.NewTicker(keepOutSweep)
	defer sweep.Stop()
	keep := func(c network.Conn) {
		addr, err := wgpath.RemoteIP(c)
		if err != nil || addr.IsLoopback() || s.isKept(addr) {
			return
		}
		if !manet.IsPublicAddr(c.RemoteMultiaddr()) {
			// A private address of the provider that was not excluded
			// at the start: the connection runs inside the tunnel, to
			// the provider's own network through its exit (an exit that
			// allows private destinations). Everything said on it
			// would depend on the tunnel it controls, and excluding it
			// would send it to our own LAN instead: close it.
			log.Debug("closed a connection to the provider that crosses the tunnel", "session", s.ID, "addr", c.RemoteMultiaddr())
			_ = c.Close()
			return
		}
		if err := s.keepOut(addr); err != nil {
			log.Warn("a direct connection to the provider may cross the tunnel", "session", s.ID, "addr", c.RemoteMultiaddr(), "err", err)
		}
	}
	for {
		// A look over every connection, the first before the context is
		// checked: one that came before the notifications were on counts.
		for _, c := range h.Network().ConnsToPeer(s.Provider) {
			if !c.Stat().Limited {
				keep(c)
			}
		}
		select {
		case <-ctx.Done():
			return
		case c := <-conns:
			keep(c)
		case <-sweep.C:
		}
	}
}

// maxKept bounds the addresses one TUN session keeps out of its tunnel
// after its start.
const maxKept = 32

// keepOutSweep is how often keepProviderOut looks over the provider's
// connections, for any its notifications missed.
const keepOutSweep = 5 * time.Second

// isKept reports whether addr is out of the tunnel already (excluded at
// the start or by keepOut).
func (s *Session) isKept(addr netip.Addr) bool {
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	return s.kept[addr.Unmap()]
}

// markKept records prefixes the TUN excluded at its start.
func (s *Session) markKept(ps []netip.Prefix) {
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	if s.kept == nil {
		s.kept = make(map[netip.Addr]bool)
	}
	for _, p := range ps {
		if p.IsSingleIP() {
			s.kept[p.Addr().Unmap()] = true
		}
	}
}

// keepOut keeps addr out of a TUN session's tunnel before the session
// sends to it outside the tunnel: a TUN routes everything it did not
// exclude at its start, and a provider address learnt after that (its
// proposal was signed before it knew its public address, say) would carry
// the upgrade's own dials and punches into the tunnel, to the provider's
// exit, which cannot reach its own public address. A SOCKS5 session has
// nothing to keep out.
func (s *Session) keepOut(addr netip.Addr) error {
	if s.exclude == nil {
		return nil
	}
	addr = addr.Unmap()
	s.keptMu.Lock()
	defer s.keptMu.Unlock()
	if s.kept[addr] {
		return nil
	}
	if s.keptLater >= maxKept {
		// The addresses come from the provider's own word (identify):
		// it may not steer an unbounded part of our traffic around the
		// tunnel.
		return fmt.Errorf("keep %s out of the tunnel: %d addresses kept out already", addr, s.keptLater)
	}
	if err := s.exclude(netip.PrefixFrom(addr, addr.BitLen())); err != nil {
		return fmt.Errorf("keep %s out of the tunnel: %w", addr, err)
	}
	if s.kept == nil {
		s.kept = make(map[netip.Addr]bool)
	}
	s.kept[addr] = true
	s.keptLater++
	return nil
}

// dialBackTimeout bounds one direct dial of a relayed session's provider;
// the provider bounds its dial back the same way.
const dialBackTimeout = 5 * time.Second

// Keepalive timing: a ping every session.PingInterval, each bounded by
// four times the pings' smoothed round trip (within these limits), and a
// failed ping is retried at once; pingFailures in a row end the session.
// A provider that vanished is noticed within about PingInterval plus two
// ping timeouts. A ping that fails while the tunnel delivered packets from
// the provider does not count: WireGuard authenticates every packet, so the
// provider is alive and only its control stream is slow (a provider busy
// with fifty downloads answers pings late, not its tunnels).
const (
	minPingTimeout = time.Second
	maxPingTimeout = 5 * time.Second
	pingFailures   = 2
)

// keepalive pings the provider until ctx ends; a refusal or pingFailures
// failures in a row end the session with ErrProviderGone.
func (s *Session) keepalive(ctx context.Context) {
	rtt := 250 * time.Millisecond
	fails := 0
	t := time.NewTimer(session.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.meterBytes()
		timeout := min(max(4*rtt, minPingTimeout), maxPingTimeout)
		start, rx := time.Now(), s.tun.Stats().RxPackets
		pctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := sessionCall(pctx, s.node.Host(), s.Provider, session.Request{Kind: session.Ping, Session: s.ID})
		cancel()
		var rej *session.RejectedError
		switch {
		case err == nil:
			rtt = (7*rtt + time.Since(start)) / 8
			fails = 0
			t.Reset(session.PingInterval)
			continue
		case ctx.Err() != nil:
			return
		case errors.As(err, &rej):
			s.end(fmt.Errorf("%w: %v", ErrProviderGone, err))
			return
		case s.tun.Stats().RxPackets != rx:
			// The tunnel heard from the provider during the ping.
			s.node.Logger().Debug("ping failed while the tunnel carried traffic", "provider", s.Provider, "err", err)
			fails = 0
			t.Reset(session.PingInterval)
			continue
		}
		if fails++; fails >= pingFailures {
			s.end(fmt.Errorf("%w: %d pings in a row failed: %v", ErrProviderGone, fails, err))
			return
		}
		t.Reset(0)
	}
}

// end records why the session ended and closes Done.
func (s *Session) end(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
		close(s.done)
	}
}

// Done is closed when the session ends for any reason; Err says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is why the session ended: ErrProviderGone, or nil after Close.
func (s *Session) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if errors.Is(s.err, errSessionClosed) {
		return nil
	}
	return s.err
}

var errSessionClosed = errors.New("session closed")

// Stats is the consumer's own count of the session's traffic.
func (s *Session) Stats() tunnel.Stats { return s.tun.Stats() }

// Paid is what the session has paid so far: the agreement total and the
// hermes fee on top, in base units (zero for a free session). After Close
// it includes the provider's final invoice, if that was paid.
func (s *Session) Paid() (total, fee *big.Int) {
	if s.pay == nil {
		return new(big.Int), new(big.Int)
	}
	return s.pay.Paid()
}

// Invoices is how many of the provider's invoices the session paid and
// refused.
func (s *Session) Invoices() (paid, refused int) {
	if s.pay == nil {
		return 0, 0
	}
	return s.pay.Invoices()
}

// Close ends the session on both sides. A paying session keeps paying
// until the provider has acknowledged the close, which it does after its
// final invoice. It is idempotent.
func (s *Session) Close() error {
	var err error
	s.closeMu.Do(func() {
		s.setState(session.Closing)
		defer s.setState(session.Closed)
		s.end(errSessionClosed)
		s.cancel()
		s.wg.Wait()
		// A provider that stopped answering gets no goodbye: it would
		// only hold up the move to the next provider by its timeout.
		s.errMu.Lock()
		gone := errors.Is(s.err, ErrProviderGone)
		s.errMu.Unlock()
		if !gone {
			sendClose(s)
		}
		s.meterBytes()
		outcome := overlay.OutcomeClosed
		if gone {
			outcome = overlay.OutcomeTimeout
		}
		s.node.Metrics().SessionsEnded.WithLabelValues("consumer", string(s.Path()), string(s.Transport()), outcome).Inc()
		if s.pay != nil {
			_ = s.pay.Close()
		}
		err = s.tun.Close()
		if s.stream != nil {
			_ = s.stream.Close()
		}
		if s.udp != nil {
			_ = s.udp.Close()
		}
	})
	return err
}

// meterBytes adds the tunnel bytes since its last call to the node's
// SessionBytes, on the path the session is on now. Only keepalive calls
// it while the session runs, and Close once keepalive has stopped.
func (s *Session) meterBytes() {
	st := s.tun.Stats()
	path := string(s.Path())
	m := s.node.Metrics().SessionBytes
	if d := st.TxBytes - s.metered.TxBytes; d > 0 {
		m.WithLabelValues("consumer", overlay.DirectionUp, path).Add(float64(d))
	}
	if d := st.RxBytes - s.metered.RxBytes; d > 0 {
		m.WithLabelValues("consumer", overlay.DirectionDown, path).Add(float64(d))
	}
	s.metered = st
}

// sendClose tells the provider the session is over, best effort.
func sendClose(s *Session) {
	timeout := 3 * time.Second
	if s.pay != nil {
		timeout = paidCloseTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, _ = sessionCall(ctx, s.node.Host(), s.Provider, session.Request{Kind: session.Close, Session: s.ID})
}
