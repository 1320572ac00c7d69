package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Config describes a session to open.
type Config struct {
	Proposal *overlay.SignedProposal
	// DirectWait bounds, from the start of Connect, the wait for a
	// hole-punched direct connection when only a relayed one exists
	// (0: DefaultDirectWait); the session then starts on the relay and
	// upgrades in place. A forced udp or udp-mux transport waits
	// forcedDirectWait, since it cannot start on the relay.
	DirectWait time.Duration
	// Transport forces one transport; empty chooses the best that works:
	// the shared socket, then UDP when a direct connection exists, else the
	// stream.
	Transport wgpath.Transport
	// Progress, if set, hears each stage ("reaching provider", …).
	Progress func(stage string)
	// TUN, when set, brings the session up on a kernel TUN device that
	// carries all of the host's traffic (root), instead of the userspace
	// stack behind SOCKS5.
	TUN *TUNOptions
	// Payment, if set, pays for the session through a hermes hub the
	// provider accepts; nil asks for a free session.
	Payment *Payment
	// Obfuscation says whether WireGuard goes without its fingerprint
	// (ObfsPrefer when empty).
	Obfuscation ObfsMode
}

// ObfsMode is a consumer's wish for WireGuard obfuscation.
type ObfsMode string

// Obfuscation is what a censor on the path sees of a session's WireGuard.
type Obfuscation string

const (
	// ObfsMasked: WireGuard's own datagrams, masked and padded (udp,
	// udp-mux).
	ObfsMasked Obfuscation = "masked"
	// ObfsInsideLibp2p: WireGuard rides a libp2p stream, inside its
	// encryption (stream).
	ObfsInsideLibp2p Obfuscation = "inside-libp2p"
	// ObfsNone: plain WireGuard datagrams (obfuscation off, or a provider
	// that did not agree).
	ObfsNone Obfuscation = "none"
)

const (
	// ObfsPrefer asks for obfuscation and takes a plain session where the
	// provider does not offer it.
	ObfsPrefer ObfsMode = ""
	// ObfsRequire takes only sessions whose WireGuard a censor cannot see:
	// a provider that does not mask udp or udp-mux fails that attempt with
	// ErrNoObfuscation, so the next transport is tried; the stream
	// transport counts as hidden; and a relayed session is upgraded only
	// to a masked direct path.
	ObfsRequire ObfsMode = "require"
	// ObfsOff never asks for it.
	ObfsOff ObfsMode = "off"
)

// ErrNoObfuscation means obfuscation was required and the provider did not
// agree to it on a transport.
var ErrNoObfuscation = errors.New("the provider did not agree to obfuscate WireGuard")

// ParseObfsMode reads "prefer", "require" or "off".
func ParseObfsMode(s string) (ObfsMode, error) {
	switch s {
	case "", "prefer":
		return ObfsPrefer, nil
	case string(ObfsRequire), string(ObfsOff):
		return ObfsMode(s), nil
	}
	return "", fmt.Errorf("obfuscation %q: want prefer, require or off", s)
}

// TUNOptions configure TUN mode.
type TUNOptions struct {
	// Name is the interface, e.g. "mystp2p0".
	Name string
	// DNS points the host's resolver at the provider (no DNS leak).
	DNS bool
}

// Connect opens a session with the proposal's provider from node: it
// reaches the provider (through a relay if need be), waits briefly for a
// direct connection, negotiates keys and addresses over
// /mystp2p/session/1, and brings the WireGuard tunnel up. With a direct
// connection it first tries WireGuard on the shared socket, then over UDP;
// when no handshake gets through (NAT in the way), it falls back to
// carrying WireGuard over a libp2p stream on the best connection there is —
// direct after a hole punch, else through the relay.
func Connect(ctx context.Context, node *overlay.Node, cfg Config) (*Session, error) {
	select {
	case <-node.Done():
		return nil, overlay.ErrClosed
	default:
	}
	if cfg.Proposal == nil {
		return nil, errors.New("client: Config.Proposal is required")
	}
	if cfg.Payment != nil {
		if err := cfg.Payment.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Transport != "" {
		if _, err := wgpath.Parse(string(cfg.Transport)); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	if cfg.DirectWait == 0 {
		// TUN sessions too: a path found after the TUN started is kept
		// out of it (Session.keepProviderOut), so they start on the relay
		// as soon and upgrade in place.
		cfg.DirectWait = DefaultDirectWait
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string) {}
	}
	start := time.Now()
	h, mux := node.Host(), node.Mux()
	p := cfg.Proposal.Proposal
	if behindRelay(cfg.Proposal) && quicWorks(h) {
		// The provider starts hole punching the moment our relayed
		// connection reaches it, and gives up at once if we cannot answer
		// yet; our DCUtR handler only appears once we know our public
		// address. So wait for it (briefly) before dialling.
		waitHolePunchReady(ctx, h, holePunchReadyWait)
	}
	cfg.Progress("reaching provider")
	if err := reach(ctx, node, &p); err != nil {
		return nil, fmt.Errorf("reach provider %s: %w", p.Provider, err)
	}
	direct := directConn(h, p.Provider)
	if direct == nil {
		// The provider punches as our relayed connection arrives; a punch
		// that works lands within a round trip or two. Wait that long, not
		// longer: the session starts on the relay and moves to a direct
		// path in place when one appears (Session.upgrade).
		cfg.Progress("connected via relay; hole punching")
		wait := max(minDirectWait, cfg.DirectWait-time.Since(start))
		if !quicWorks(h) {
			// Punches are QUIC: with no direct QUIC connection to
			// anyone, UDP is most likely blocked here.
			wait = 0
		}
		if cfg.Transport == wgpath.UDP || cfg.Transport == wgpath.UDPMux {
			wait = max(wait, forcedDirectWait)
		}
		direct = waitDirect(ctx, h, p.Provider, wait)
	}
	if direct == nil && (cfg.Transport == wgpath.UDP || cfg.Transport == wgpath.UDPMux) {
		return nil, fmt.Errorf("no direct connection to %s for the UDP transport (hole punching failed)", p.Provider)
	}
	// Candidate transports, best first; all but the last get a short trial.
	var tries []wgpath.Transport
	switch {
	case cfg.Transport != "":
		tries = []wgpath.Transport{cfg.Transport}
	case direct != nil && udpBlocked(h.Network().ConnsToPeer(p.Provider), cfg.Proposal):
		// libp2p prefers QUIC: a direct connection over TCP or WebSocket
		// to a provider that offers QUIC means UDP did not get through, so
		// a UDP trial would only cost its timeout.
		tries = []wgpath.Transport{wgpath.Stream}
	case direct != nil:
		if mux.ConnTo(h.Network(), p.Provider) != nil {
			tries = append(tries, wgpath.UDPMux)
		}
		tries = append(tries, wgpath.UDP, wgpath.Stream)
	default:
		tries = []wgpath.Transport{wgpath.Stream}
	}
	var s *Session
	var err error
	for i, transport := range tries {
		handshake := 15 * time.Second
		if i < len(tries)-1 {
			handshake = udpTrial
		}
		s, err = connectOnce(ctx, node, cfg, transport, direct, handshake)
		if err == nil || i == len(tries)-1 || (isRejection(err) && !isRejectionCode(err, session.RejectPolicy)) {
			break
		}
		cfg.Progress(fmt.Sprintf("%s transport failed (%v); trying %s", transport, err, tries[i+1]))
	}
	if err != nil {
		return nil, err
	}
	s.ConnectTime = time.Since(start)
	up := string(s.Path()) + " over " + string(s.Transport())
	switch s.Obfuscation() {
	case ObfsMasked:
		up += ", obfuscated"
	case ObfsInsideLibp2p:
		up += ", inside libp2p's encryption"
	}
	cfg.Progress("tunnel up (" + up + ")")
	node.Metrics().Sessions.WithLabelValues("consumer", string(s.Path()), string(s.Transport())).Inc()
	node.Metrics().ConnectSeconds.WithLabelValues(string(s.Path()), string(s.Transport())).Observe(s.ConnectTime.Seconds())
	var sctx context.Context
	sctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Go(func() { s.keepalive(sctx) })
	if s.exclude != nil {
		s.wg.Go(func() { s.keepProviderOut(sctx, h, node.Logger()) })
	}
	if s.Path() == wgpath.Relayed && mux != nil {
		s.wg.Go(func() { s.upgrade(sctx, cfg.Progress) })
	}
	return s, nil
}

// reach connects to the provider at the proposal's addresses and, at the
// same time, at those the DHT knows for it now: a proposal signed before
// a relay reservation or an observed public address names only addresses
// nobody outside can dial, and peers pass it on until the next re-sign.
// The second Connect joins the dial in flight with the new addresses.
func reach(ctx context.Context, node *overlay.Node, p *overlay.Proposal) error {
	h := node.Host()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	looked := make(chan error, 1)
	go func() {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ai, err := node.DHT().Kad().FindPeer(fctx, p.Provider)
		if err == nil && len(ai.Addrs) > 0 {
			err = h.Connect(fctx, ai)
		}
		looked <- err
	}()
	err := h.Connect(ctx, p.AddrInfo())
	if err == nil {
		return nil
	}
	if lerr := <-looked; lerr == nil || h.Network().Connectedness(p.Provider) != network.NotConnected {
		return nil
	}
	// A relay sometimes fails a circuit while the provider is busy with
	// others (CONNECTION_FAILED, seen in the NAT lab with five consumers
	// at once): one more try a moment later usually gets through.
	select {
	case <-ctx.Done():
		return err
	case <-time.After(reachRetry):
	}
	if sw, ok := h.Network().(*swarm.Swarm); ok {
		sw.Backoff().Clear(p.Provider) // or the swarm refuses at once
	}
	if err2 := h.Connect(ctx, p.AddrInfo()); err2 != nil {
		return fmt.Errorf("%w (and again after %s: %w)", err, reachRetry, err2)
	}
	return nil
}

// reachRetry is the pause before reach dials a provider a second time.
const reachRetry = 500 * time.Millisecond

// DefaultDirectWait is Config.DirectWait's default: a punch between two
// cone NATs lands within it on this project's labs (0.3–0.8 s from the
// start of Connect), and a session that cannot punch is still up within
// 1.5 s on the relay.
const DefaultDirectWait = time.Second

// minDirectWait is the least Connect waits for a punch after reaching the
// provider through a relay, however long reaching it took.
const minDirectWait = 250 * time.Millisecond

// forcedDirectWait is the wait for a punch when the caller forced a UDP
// transport.
const forcedDirectWait = 5 * time.Second

// holePunchReadyWait bounds the wait for our own DCUtR handler.
const holePunchReadyWait = 5 * time.Second

// dcutrProtocol is go-libp2p's hole punching protocol.
const dcutrProtocol = "/libp2p/dcutr"

// behindRelay reports whether the proposal offers relay circuit addresses,
// i.e. the provider expects to be reached through a relay.
func behindRelay(sp *overlay.SignedProposal) bool {
	for _, a := range sp.Proposal.Addrs {
		if strings.Contains(a, "/p2p-circuit") {
			return true
		}
	}
	return false
}

// waitHolePunchReady waits until h answers hole punch requests, or d: the
// host announces the DCUtR handler on its event bus when it sets it.
func waitHolePunchReady(ctx context.Context, h host.Host, d time.Duration) {
	sub, err := h.EventBus().Subscribe(new(event.EvtLocalProtocolsUpdated))
	if err != nil {
		return
	}
	defer sub.Close()
	// Subscribed first, so a handler set from here on is not missed.
	if slices.Contains(h.Mux().Protocols(), dcutrProtocol) {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			if ev, _ := e.(event.EvtLocalProtocolsUpdated); slices.Contains(ev.Added, dcutrProtocol) {
				return
			}
		}
	}
}

// udpTrial is how long a first UDP handshake may take before Connect falls
// back to the stream transport.
const udpTrial = 3 * time.Second

func isRejection(err error) bool {
	var rej *session.RejectedError
	return errors.As(err, &rej)
}

func isRejectionCode(err error, code session.RejectCode) bool {
	var rej *session.RejectedError
	return errors.As(err, &rej) && rej.Code == code
}

// connectOnce negotiates one session over one transport and waits for the
// WireGuard handshake. On failure it leaves nothing open on either side.
func connectOnce(ctx context.Context, node *overlay.Node, cfg Config, transport wgpath.Transport, direct network.Conn, handshake time.Duration) (_ *Session, err error) {
	h, mux := node.Host(), node.Mux()
	p := cfg.Proposal.Proposal
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	req := session.Request{Kind: session.Open, ProposalSeq: p.Seq, PriceHour: p.PriceHour, PriceGiB: p.PriceGiB, WGKey: key.PublicKey(), Transport: transport,
		Obfs: cfg.Obfuscation != ObfsOff && (transport == wgpath.UDP || transport == wgpath.UDPMux)}
	var price hermes.Price
	if cfg.Payment != nil {
		if price, err = overlay.ProposalPrice(&p); err != nil {
			return nil, fmt.Errorf("proposal of %s: %w", p.Provider, err)
		}
		req.Hermes = cfg.Payment.Hub.String()
	}
	link := wgpath.Link{Transport: transport, Conn: direct, Mux: mux}
	var udp *net.UDPConn
	switch transport {
	case wgpath.UDPMux:
		if link.Conn = mux.ConnTo(h.Network(), p.Provider); link.Conn == nil {
			return nil, fmt.Errorf("no direct QUIC connection to %s on the shared socket", p.Provider)
		}
		req.UDPPort = mux.Port()
	case wgpath.UDP:
		// WireGuard gets its own UDP socket towards the provider's address
		// on the direct connection.
		if udp, err = net.ListenUDP("udp", &net.UDPAddr{}); err != nil {
			return nil, fmt.Errorf("open UDP socket: %w", err)
		}
		req.UDPPort = uint16(udp.LocalAddr().(*net.UDPAddr).Port)
		link.UDP = udp
		defer func() {
			if err != nil {
				udp.Close()
			}
		}()
	}
	cfg.Progress("opening session")
	rep, err := sessionCall(ctx, h, p.Provider, req)
	if err != nil {
		return nil, err
	}
	s := &Session{ID: rep.Session, Provider: p.Provider, Addresses: rep.Addresses, node: node, udp: udp, done: make(chan struct{}),
		obfsMode: cfg.Obfuscation}
	s.route.transport, s.route.direct, s.route.state = transport, make(chan struct{}), session.Attaching
	defer func() {
		if err != nil {
			sendClose(s)
		}
	}()
	link.PeerPort = rep.UDPPort
	switch {
	case len(rep.ObfsKey) == 32 && req.Obfs:
		link.Obfs = &wgpath.ObfsConfig{Key: [32]byte(rep.ObfsKey)}
		s.route.obfuscated = true
	case len(rep.ObfsKey) != 0:
		return nil, fmt.Errorf("session with %s: provider sent an obfuscation key of %d bytes (want 32, and only when asked)", p.Provider, len(rep.ObfsKey))
	case cfg.Obfuscation == ObfsRequire && transport != wgpath.Stream:
		return nil, fmt.Errorf("%w over %s (provider %s)", ErrNoObfuscation, transport, p.Provider)
	}
	if transport == wgpath.Stream {
		st, err := attachStream(ctx, h, p.Provider, rep.Session)
		if err != nil {
			return nil, err
		}
		s.stream, link.Stream, link.Conn = st, st, st.Conn()
	}
	bind, path, err := link.Bind()
	if err != nil {
		if s.stream != nil {
			s.stream.Reset()
		}
		return nil, err
	}
	if m, ok := bind.(*wgpath.MeteredBind); ok {
		s.route.relay = m
	}
	s.setPath(path)
	cfg.Progress("tunnel handshake")
	ccfg := tunnel.ConsumerConfig{
		PrivateKey: key, PeerPublicKey: rep.WGKey, Addresses: rep.Addresses, Bind: bind,
		Logger: node.Logger().With("session", s.ID),
	}
	if cfg.TUN != nil {
		exclude := signallingPrefixes(node, p.Provider)
		s.TUN, err = tunnel.NewTUNConsumer(tunnel.TUNConfig{ConsumerConfig: ccfg, Name: cfg.TUN.Name,
			DNS: cfg.TUN.DNS, Exclude: exclude})
		if err == nil {
			s.tun, s.exclude = s.TUN, s.TUN.AddExclude
			s.markKept(exclude)
		}
	} else {
		s.Tunnel, err = tunnel.NewConsumer(ccfg)
		if err == nil {
			s.tun = s.Tunnel
		}
	}
	if err != nil {
		_ = bind.Close()
		if s.stream != nil {
			s.stream.Reset()
		}
		return nil, fmt.Errorf("start tunnel: %w", err)
	}
	if cfg.Payment != nil {
		// Pay before the first packet: the provider invoices from the
		// moment its end of the tunnel exists.
		s.pay, err = cfg.Payment.Payer.Pay(hermes.Terms{
			AgreementID: overlay.AgreementID(s.ID), Provider: p.Provider, Price: price,
			Wallet: cfg.Payment.Wallet, MaxFeeBp: cfg.Payment.MaxFeeBp, Usage: overlay.TunnelUsage(s.tun.Stats),
		})
		if err != nil {
			s.tun.Close()
			if s.stream != nil {
				s.stream.Reset()
			}
			return nil, fmt.Errorf("pay for the session: %w", err)
		}
	}
	if err = waitHandshake(ctx, s.tun, handshake); err != nil {
		if s.pay != nil {
			s.pay.Close()
		}
		s.tun.Close()
		if s.stream != nil {
			s.stream.Reset()
		}
		return nil, fmt.Errorf("tunnel to %s never came up over %s: %w", p.Provider, transport, err)
	}
	s.route.Lock()
	s.route.state = session.Attached
	s.route.Unlock()
	return s, nil
}

// publicQUICAddrs are h's public QUIC addresses as others observe them
// (listen addresses and confirmed observations), at most
// session.MaxDialBackAddrs of them.
func publicQUICAddrs(h host.Host) []string {
	all := h.Addrs()
	if ah, ok := h.(interface{ AllAddrs() []ma.Multiaddr }); ok {
		all = ah.AllAddrs()
	}
	var out []string
	for _, a := range all {
		if !isPublicQUIC(a) {
			continue
		}
		out = append(out, a.String())
		if len(out) == session.MaxDialBackAddrs {
			break
		}
	}
	return out
}

// quicWorks reports whether h has a direct QUIC connection to anyone.
func quicWorks(h host.Host) bool {
	for _, c := range h.Network().Conns() {
		if c.Stat().Limited {
			continue
		}
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_QUIC_V1); err == nil {
			return true
		}
	}
	return false
}

// isPublicQUIC reports whether a is a public QUIC address, not through a
// relay.
func isPublicQUIC(a ma.Multiaddr) bool {
	if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err != nil || !manet.IsPublicAddr(a) {
		return false
	}
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err != nil
}

// signallingPrefixes are the addresses TUN mode must keep out of the
// tunnel: every address the provider's connections use, and the bootstrap
// peers and relays node talks to. Otherwise libp2p's own traffic, and a
// relayed session's WireGuard packets, would loop into the tunnel.
func signallingPrefixes(node *overlay.Node, provider peer.ID) []netip.Prefix {
	h := node.Host()
	var out []netip.Prefix
	add := func(a ma.Multiaddr) {
		if ip, err := manet.ToIP(a); err == nil {
			if addr, ok := netip.AddrFromSlice(ip); ok && !addr.Unmap().IsLoopback() {
				addr = addr.Unmap()
				out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			}
		}
	}
	for _, c := range h.Network().ConnsToPeer(provider) {
		add(c.RemoteMultiaddr())
	}
	for _, ai := range append(node.Bootstrap(), node.StaticRelays()...) {
		for _, a := range ai.Addrs {
			add(a)
		}
		for _, c := range h.Network().ConnsToPeer(ai.ID) {
			add(c.RemoteMultiaddr())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out)
}

// directConn returns a direct (not relayed) connection to p, if any.
func directConn(h host.Host, p peer.ID) network.Conn {
	for _, c := range h.Network().ConnsToPeer(p) {
		if !c.Stat().Limited {
			return c
		}
	}
	return nil
}

// waitDirect waits up to d for hole punching to produce a direct
// connection to p. A direct connection next to relayed ones moves p from
// Limited to Connected, which the host announces on its event bus; every
// change for p is checked against the connections themselves.
func waitDirect(ctx context.Context, h host.Host, p peer.ID, d time.Duration) network.Conn {
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerConnectednessChanged))
	if err != nil {
		return directConn(h, p)
	}
	defer sub.Close()
	// Subscribed first, so a connection made from here on is not missed.
	if c := directConn(h, p); c != nil {
		return c
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return directConn(h, p)
		case e, ok := <-sub.Out():
			if !ok {
				return nil
			}
			if ev, _ := e.(event.EvtPeerConnectednessChanged); ev.Peer != p {
				continue
			}
			if c := directConn(h, p); c != nil {
				return c
			}
		}
	}
}

// waitHandshake waits up to d for the tunnel's first WireGuard handshake.
func waitHandshake(ctx context.Context, c sessionTunnel, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	// Polls: wireguard-go reports a handshake only through its state, no event.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if hs, err := c.LastHandshake(); err == nil && !hs.IsZero() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no WireGuard handshake: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// sessionCall sends one session request to p and reads the reply.
func sessionCall(ctx context.Context, h host.Host, p peer.ID, req session.Request) (session.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionCallTimeout)
	defer cancel()
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "session"), p, session.Protocol)
	if err != nil {
		return session.Reply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := session.Write(st, req); err != nil {
		st.Reset()
		return session.Reply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	var rep session.Reply
	if err := session.Read(bufio.NewReader(st), &rep); err != nil {
		st.Reset()
		return session.Reply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	if !rep.OK {
		return rep, &session.RejectedError{Provider: p.String(), Code: rep.Code, Message: rep.Message}
	}
	if req.Kind == session.Open {
		if rep.Session == "" || rep.WGKey.IsZero() || rep.Addresses.Validate() != nil ||
			rep.Transport != req.Transport || (rep.Transport == wgpath.UDP && rep.UDPPort == 0) {
			return rep, fmt.Errorf("session with %s: provider sent an incomplete reply", p)
		}
	}
	return rep, nil
}

// sessionCallTimeout bounds one session request and its reply.
const sessionCallTimeout = 10 * time.Second

// attachStream opens the tunnel stream of a stream-transport session and
// waits for the provider to accept it; the stream then carries WireGuard.
func attachStream(ctx context.Context, h host.Host, p peer.ID, id string) (network.Stream, error) {
	st, err := h.NewStream(network.WithAllowLimitedConn(ctx, "tunnel"), p, session.TunnelProtocol)
	if err != nil {
		return nil, fmt.Errorf("open tunnel stream: %w", err)
	}
	_ = st.SetDeadline(time.Now().Add(sessionCallTimeout))
	if err := session.Write(st, session.Request{Kind: session.Attach, Session: id}); err != nil {
		st.Reset()
		return nil, fmt.Errorf("open tunnel stream: %w", err)
	}
	// The provider sends nothing after its reply until our first packet,
	// so reading the reply through a bufio.Reader takes no packet bytes.
	br := bufio.NewReader(st)
	var rep session.Reply
	if err := session.Read(br, &rep); err != nil {
		st.Reset()
		return nil, fmt.Errorf("tunnel stream to %s: %w", p, err)
	}
	if !rep.OK {
		st.Reset()
		return nil, &session.RejectedError{Provider: p.String(), Code: rep.Code, Message: rep.Message}
	}
	_ = st.SetDeadline(time.Time{})
	return session.Buffered{Stream: st, R: br}, nil
}

// udpBlocked reports whether none of conns, the connections to the
// provider of sp, is direct QUIC although the provider offers QUIC: the
// sign that UDP between the two does not get through.
func udpBlocked(conns []network.Conn, sp *overlay.SignedProposal) bool {
	for _, c := range conns {
		if _, err := c.RemoteMultiaddr().ValueForProtocol(ma.P_QUIC_V1); err == nil && !c.Stat().Limited {
			return false
		}
	}
	for _, a := range sp.Proposal.Addrs {
		if strings.Contains(a, "/quic-v1") && !strings.Contains(a, "/p2p-circuit") {
			return true
		}
	}
	return false
}
