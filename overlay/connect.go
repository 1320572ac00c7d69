package overlay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ErrProviderGone means the provider stopped answering during a session.
var ErrProviderGone = errors.New("provider stopped answering")

// ConnectConfig describes a session to open.
type ConnectConfig struct {
	Proposal *SignedProposal
	// DirectWait is how long to wait for a hole-punched direct connection
	// when only a relayed one exists (0: 5 s).
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
	Payment *ConsumerPayment
}

// TUNOptions configure TUN mode.
type TUNOptions struct {
	// Name is the interface, e.g. "mystp2p0".
	Name string
	// DNS points the host's resolver at the provider (no DNS leak).
	DNS bool
}

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

	node   *Node
	udp    *net.UDPConn
	stream network.Stream
	pay    *hermes.PaySession // nil for a free session

	// route is the session's current path and transport; a relayed session
	// is upgraded to direct when a hole punch succeeds later.
	route struct {
		sync.Mutex
		path       wgpath.Path
		transport  wgpath.Transport
		relay      *wgpath.MeteredBind // the relayed bind, while relayed
		relayBytes uint64              // wire bytes the relay carried before an upgrade
		direct     chan struct{}       // closed once the path is direct
	}

	done    chan struct{}
	errMu   sync.Mutex
	err     error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Once
}

// Connect opens a session with the proposal's provider: it reaches the
// provider (through a relay if need be), waits briefly for a direct
// connection, negotiates keys and addresses over /mystp2p/session/1, and
// brings the WireGuard tunnel up. With a direct connection it first tries
// WireGuard over UDP; when no handshake gets through (NAT in the way), it
// falls back to carrying WireGuard over a libp2p stream on the best
// connection there is — direct after a hole punch, else through the relay.
func (n *Node) Connect(ctx context.Context, cfg ConnectConfig) (*Session, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if cfg.Proposal == nil {
		return nil, errors.New("overlay: ConnectConfig.Proposal is required")
	}
	if cfg.Payment != nil {
		if err := cfg.Payment.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Transport != "" {
		if _, err := wgpath.Parse(string(cfg.Transport)); err != nil {
			return nil, fmt.Errorf("overlay: %w", err)
		}
	}
	if cfg.DirectWait == 0 {
		cfg.DirectWait = 5 * time.Second
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string) {}
	}
	start := time.Now()
	p := cfg.Proposal.Proposal
	if behindRelay(cfg.Proposal) {
		// The provider starts hole punching the moment our relayed
		// connection reaches it, and gives up at once if we cannot answer
		// yet; our DCUtR handler only appears once we know our public
		// address. So wait for it (briefly) before dialling.
		n.waitHolePunchReady(ctx, holePunchReadyWait)
	}
	cfg.Progress("reaching provider")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := n.host.Connect(cctx, p.AddrInfo())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("reach provider %s: %w", p.Provider, err)
	}
	direct := n.directConn(p.Provider)
	if direct == nil {
		cfg.Progress("connected via relay; hole punching")
		direct = n.waitDirect(ctx, p.Provider, min(redialAfter, cfg.DirectWait))
	}
	if direct == nil && cfg.DirectWait > redialAfter {
		// The provider punches when a relayed connection from us arrives.
		// If ours is older than our own readiness to punch, or was opened
		// by the provider's side, no punch comes: dial through the relay
		// afresh so the provider sees a new inbound relayed connection.
		for _, c := range n.host.Network().ConnsToPeer(p.Provider) {
			if c.Stat().Limited {
				_ = c.Close()
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.host.Connect(cctx, p.AddrInfo())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reach provider %s again: %w", p.Provider, err)
		}
		direct = n.waitDirect(ctx, p.Provider, cfg.DirectWait-redialAfter)
	}
	if direct == nil && (cfg.Transport == wgpath.UDP || cfg.Transport == wgpath.UDPMux) {
		return nil, fmt.Errorf("no direct connection to %s for the UDP transport (hole punching failed)", p.Provider)
	}
	// Candidate transports, best first; all but the last get a short trial.
	var tries []wgpath.Transport
	switch {
	case cfg.Transport != "":
		tries = []wgpath.Transport{cfg.Transport}
	case direct != nil:
		if n.mux.ConnTo(n.host.Network(), p.Provider) != nil {
			tries = append(tries, wgpath.UDPMux)
		}
		tries = append(tries, wgpath.UDP, wgpath.Stream)
	default:
		tries = []wgpath.Transport{wgpath.Stream}
	}
	var s *Session
	for i, transport := range tries {
		handshake := 15 * time.Second
		if i < len(tries)-1 {
			handshake = udpTrial
		}
		s, err = n.connectOnce(ctx, cfg, transport, direct, handshake)
		if err == nil || i == len(tries)-1 || (isRejection(err) && !isRejectionCode(err, session.RejectPolicy)) {
			break
		}
		cfg.Progress(fmt.Sprintf("%s transport failed (%v); trying %s", transport, err, tries[i+1]))
	}
	if err != nil {
		return nil, err
	}
	s.ConnectTime = time.Since(start)
	cfg.Progress("tunnel up (" + string(s.Path()) + ")")
	n.met.Sessions.WithLabelValues("consumer", string(s.Path()), string(s.Transport())).Inc()
	var sctx context.Context
	sctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Go(func() { s.keepalive(sctx) })
	if s.Path() == wgpath.Relayed && n.mux != nil {
		s.wg.Go(func() { s.upgrade(sctx, cfg.Progress) })
	}
	return s, nil
}

// redialAfter is how long Connect waits for a hole punch on its first
// relayed connection before dialling through the relay again.
const redialAfter = 1500 * time.Millisecond

// holePunchReadyWait bounds the wait for our own DCUtR handler.
const holePunchReadyWait = 5 * time.Second

// dcutrProtocol is go-libp2p's hole punching protocol.
const dcutrProtocol = "/libp2p/dcutr"

// behindRelay reports whether the proposal offers relay circuit addresses,
// i.e. the provider expects to be reached through a relay.
func behindRelay(sp *SignedProposal) bool {
	for _, a := range sp.Proposal.Addrs {
		if strings.Contains(a, "/p2p-circuit") {
			return true
		}
	}
	return false
}

// waitHolePunchReady waits until this host answers hole punch requests, or d.
func (n *Node) waitHolePunchReady(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if slices.Contains(n.host.Mux().Protocols(), dcutrProtocol) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
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
func (n *Node) connectOnce(ctx context.Context, cfg ConnectConfig, transport wgpath.Transport, direct network.Conn, handshake time.Duration) (_ *Session, err error) {
	p := cfg.Proposal.Proposal
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	req := session.Request{Kind: session.Open, ProposalSeq: p.Seq, PriceHour: p.PriceHour, PriceGiB: p.PriceGiB, WGKey: key.PublicKey(), Transport: transport}
	var price hermes.Price
	if cfg.Payment != nil {
		if price, err = ProposalPrice(&p); err != nil {
			return nil, fmt.Errorf("proposal of %s: %w", p.Provider, err)
		}
		req.Hermes = cfg.Payment.Hub.String()
	}
	link := wgpath.Link{Transport: transport, Conn: direct, Mux: n.mux}
	var udp *net.UDPConn
	switch transport {
	case wgpath.UDPMux:
		if link.Conn = n.mux.ConnTo(n.host.Network(), p.Provider); link.Conn == nil {
			return nil, fmt.Errorf("no direct QUIC connection to %s on the shared socket", p.Provider)
		}
		req.UDPPort = n.mux.Port()
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
	rep, err := n.sessionCall(ctx, p.Provider, req)
	if err != nil {
		return nil, err
	}
	s := &Session{ID: rep.Session, Provider: p.Provider, Addresses: rep.Addresses, node: n, udp: udp, done: make(chan struct{})}
	s.route.transport, s.route.direct = transport, make(chan struct{})
	defer func() {
		if err != nil {
			n.sendClose(s)
		}
	}()
	link.PeerPort = rep.UDPPort
	if transport == wgpath.Stream {
		st, err := n.attachStream(ctx, p.Provider, rep.Session)
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
		Logger: n.log.With("session", s.ID),
	}
	if cfg.TUN != nil {
		s.TUN, err = tunnel.NewTUNConsumer(tunnel.TUNConfig{ConsumerConfig: ccfg, Name: cfg.TUN.Name,
			DNS: cfg.TUN.DNS, Exclude: n.signallingPrefixes(p.Provider)})
		if err == nil {
			s.tun = s.TUN
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
			AgreementID: AgreementID(s.ID), Provider: p.Provider, Price: price,
			Wallet: cfg.Payment.Wallet, MaxFeeBp: cfg.Payment.MaxFeeBp, Usage: TunnelUsage(s.tun.Stats),
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
	return s, nil
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
	n := s.node
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	lastDialBack := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := n.mux.ConnTo(n.host.Network(), s.Provider)
		if c == nil && time.Since(lastDialBack) > dialBackEvery {
			// DCUtR has had its chance; ask the provider to dial us.
			lastDialBack = time.Now()
			addrs := n.publicQUICAddrs()
			n.log.Debug("asking for a dial back", "session", s.ID, "addrs", addrs)
			if len(addrs) > 0 {
				_, err := n.sessionCall(ctx, s.Provider, session.Request{Kind: session.DialBack, Session: s.ID, Addrs: addrs})
				n.log.Debug("dial back", "session", s.ID, "addrs", addrs, "err", err)
			}
			c = n.mux.ConnTo(n.host.Network(), s.Provider)
		}
		if c == nil {
			continue
		}
		if _, err := n.sessionCall(ctx, s.Provider, session.Request{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDPMux}); err != nil {
			n.log.Debug("upgrade refused", "session", s.ID, "err", err)
			continue
		}
		bind, _, err := wgpath.Link{Transport: wgpath.UDPMux, Conn: c, Mux: n.mux}.Bind()
		if err != nil {
			n.log.Warn("upgrade: bind on the shared socket", "session", s.ID, "err", err)
			return
		}
		s.route.Lock()
		relayed := s.route.relay
		s.route.Unlock()
		if err := s.tun.SwitchBind(bind, ""); err != nil {
			n.log.Warn("upgrade: switch bind", "session", s.ID, "err", err)
			_ = bind.Close()
			return
		}
		s.route.Lock()
		if relayed != nil {
			st := relayed.Stats()
			s.route.relayBytes += st.TxBytes + st.RxBytes
		}
		s.route.relay, s.route.transport = nil, wgpath.UDPMux
		s.route.Unlock()
		s.setPath(wgpath.Direct)
		n.met.Upgrades.Inc()
		progress("upgraded to a direct path (hole punch)")
		return
	}
}

// dialBackEvery is how often a relayed session asks its provider to dial it.
const dialBackEvery = 3 * time.Second

// publicQUICAddrs are this host's public QUIC addresses as others observe
// them (listen addresses and confirmed observations), at most
// session.MaxDialBackAddrs of them.
func (n *Node) publicQUICAddrs() []string {
	all := n.host.Addrs()
	if h, ok := n.host.(interface{ AllAddrs() []ma.Multiaddr }); ok {
		all = h.AllAddrs()
	}
	var out []string
	for _, a := range all {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err != nil || !manet.IsPublicAddr(a) {
			continue
		}
		if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
			continue
		}
		out = append(out, a.String())
		if len(out) == session.MaxDialBackAddrs {
			break
		}
	}
	return out
}

// signallingPrefixes are the addresses TUN mode must keep out of the
// tunnel: every address the provider's connections use, and the bootstrap
// peers and relays this node talks to. Otherwise libp2p's own traffic, and a
// relayed session's WireGuard packets, would loop into the tunnel.
func (n *Node) signallingPrefixes(provider peer.ID) []netip.Prefix {
	var out []netip.Prefix
	add := func(a ma.Multiaddr) {
		if ip, err := manet.ToIP(a); err == nil {
			if addr, ok := netip.AddrFromSlice(ip); ok && !addr.Unmap().IsLoopback() {
				addr = addr.Unmap()
				out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			}
		}
	}
	for _, c := range n.host.Network().ConnsToPeer(provider) {
		add(c.RemoteMultiaddr())
	}
	for _, ai := range append(append([]peer.AddrInfo{}, n.cfg.Bootstrap...), n.cfg.Host.StaticRelays...) {
		for _, a := range ai.Addrs {
			add(a)
		}
		for _, c := range n.host.Network().ConnsToPeer(ai.ID) {
			add(c.RemoteMultiaddr())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out)
}

// directConn returns a direct (not relayed) connection to p, if any.
func (n *Node) directConn(p peer.ID) network.Conn {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if !c.Stat().Limited {
			return c
		}
	}
	return nil
}

// waitDirect waits up to d for hole punching to produce a direct connection.
func (n *Node) waitDirect(ctx context.Context, p peer.ID, d time.Duration) network.Conn {
	deadline := time.Now().Add(d)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		if c := n.directConn(p); c != nil {
			return c
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

func waitHandshake(ctx context.Context, c sessionTunnel, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
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

// sessionCall sends one session request and reads the reply.
func (n *Node) sessionCall(ctx context.Context, p peer.ID, req session.Request) (session.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionCallTimeout)
	defer cancel()
	st, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "session"), p, session.Protocol)
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
func (n *Node) attachStream(ctx context.Context, p peer.ID, id string) (network.Stream, error) {
	st, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "tunnel"), p, session.TunnelProtocol)
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

// keepalive pings the provider; three failures in a row end the session.
func (s *Session) keepalive(ctx context.Context) {
	t := time.NewTicker(session.PingInterval)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := s.node.sessionCall(ctx, s.Provider, session.Request{Kind: session.Ping, Session: s.ID})
		var rej *session.RejectedError
		switch {
		case err == nil:
			fails = 0
			continue
		case ctx.Err() != nil:
			return
		case errors.As(err, &rej):
			s.end(fmt.Errorf("%w: %v", ErrProviderGone, err))
			return
		}
		if fails++; fails >= 3 {
			s.end(fmt.Errorf("%w: %v", ErrProviderGone, err))
			return
		}
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
		s.end(errSessionClosed)
		s.cancel()
		s.wg.Wait()
		s.node.sendClose(s)
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

// sendClose tells the provider the session is over, best effort.
func (n *Node) sendClose(s *Session) {
	timeout := 3 * time.Second
	if s.pay != nil {
		timeout = paidCloseTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, _ = n.sessionCall(ctx, s.Provider, session.Request{Kind: session.Close, Session: s.ID})
}
