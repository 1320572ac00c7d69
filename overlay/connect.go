package overlay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/tunnel"
)

// Paths a session's tunnel can take, as reported to users.
const (
	PathDirect  = "direct"
	PathRelayed = "relayed"
)

// ErrProviderGone means the provider stopped answering during a session.
var ErrProviderGone = errors.New("provider stopped answering")

// ConnectConfig describes a session to open.
type ConnectConfig struct {
	Proposal *SignedProposal
	// DirectWait is how long to wait for a hole-punched direct connection
	// when only a relayed one exists (0: 5 s).
	DirectWait time.Duration
	// Transport forces TransportUDP or TransportStream; empty chooses UDP
	// when a direct connection exists, else the stream.
	Transport string
	// Progress, if set, hears each stage ("reaching provider", …).
	Progress func(stage string)
}

// Session is a consumer's open session with a provider.
type Session struct {
	ID       string
	Provider peer.ID
	// Path is PathRelayed when the tunnel's packets cross a relay (a stream
	// over a relayed connection), else PathDirect.
	Path string
	// Transport is TransportUDP (WireGuard over UDP straight to the
	// provider) or TransportStream (WireGuard over a libp2p stream).
	Transport string
	Addresses tunnel.AddressPair
	Tunnel    *tunnel.Consumer
	// ConnectTime is from the start of Connect to the first WireGuard handshake.
	ConnectTime time.Duration

	node   *Node
	udp    *net.UDPConn
	stream network.Stream

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
	switch cfg.Transport {
	case "", TransportUDP, TransportStream:
	default:
		return nil, fmt.Errorf("overlay: transport %q (want udp or stream)", cfg.Transport)
	}
	if cfg.DirectWait == 0 {
		cfg.DirectWait = 5 * time.Second
	}
	if cfg.Progress == nil {
		cfg.Progress = func(string) {}
	}
	start := time.Now()
	p := cfg.Proposal.Proposal
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
		direct = n.waitDirect(ctx, p.Provider, cfg.DirectWait)
	}
	if direct == nil && cfg.Transport == TransportUDP {
		return nil, fmt.Errorf("no direct connection to %s for the UDP transport (hole punching failed)", p.Provider)
	}
	transport := cfg.Transport
	if transport == "" {
		transport = TransportStream
		if direct != nil {
			transport = TransportUDP
		}
	}
	handshake := 15 * time.Second
	if cfg.Transport == "" && transport == TransportUDP {
		handshake = udpTrial // a stream fallback is ready if UDP is blocked
	}
	s, err := n.connectOnce(ctx, cfg, transport, direct, handshake)
	if err != nil && cfg.Transport == "" && transport == TransportUDP && !isRejection(err) {
		cfg.Progress(fmt.Sprintf("UDP path blocked (%v); carrying WireGuard over libp2p", err))
		s, err = n.connectOnce(ctx, cfg, TransportStream, direct, 15*time.Second)
	}
	if err != nil {
		return nil, err
	}
	s.ConnectTime = time.Since(start)
	cfg.Progress("tunnel up (" + s.Path + ")")
	var sctx context.Context
	sctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Go(func() { s.keepalive(sctx) })
	return s, nil
}

// udpTrial is how long a first UDP handshake may take before Connect falls
// back to the stream transport.
const udpTrial = 3 * time.Second

func isRejection(err error) bool {
	var rej *RejectedError
	return errors.As(err, &rej)
}

// connectOnce negotiates one session over one transport and waits for the
// WireGuard handshake. On failure it leaves nothing open on either side.
func (n *Node) connectOnce(ctx context.Context, cfg ConnectConfig, transport string, direct network.Conn, handshake time.Duration) (_ *Session, err error) {
	p := cfg.Proposal.Proposal
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	req := sessionRequest{Kind: reqOpen, ProposalSeq: p.Seq, PriceHour: p.PriceHour, PriceGiB: p.PriceGiB, WGKey: key.PublicKey(), Transport: transport}
	var udp *net.UDPConn
	if transport == TransportUDP {
		// WireGuard gets its own UDP socket towards the provider's address
		// on the direct connection.
		if udp, err = net.ListenUDP("udp", &net.UDPAddr{}); err != nil {
			return nil, fmt.Errorf("open UDP socket: %w", err)
		}
		req.UDPPort = uint16(udp.LocalAddr().(*net.UDPAddr).Port)
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
	s := &Session{ID: rep.Session, Provider: p.Provider, Addresses: rep.Addresses, Transport: transport, node: n, udp: udp, done: make(chan struct{})}
	defer func() {
		if err != nil {
			n.sendClose(s)
		}
	}()
	var bind conn.Bind
	if transport == TransportUDP {
		ip, err := remoteIP(direct)
		if err != nil {
			return nil, err
		}
		if bind, err = tunnel.NewUDPBind(udp, netip.AddrPortFrom(ip, rep.UDPPort)); err != nil {
			return nil, err
		}
		s.Path = PathDirect
	} else {
		st, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "tunnel"), p.Provider, ProtocolTunnel)
		if err != nil {
			return nil, fmt.Errorf("open tunnel stream: %w", err)
		}
		if err := writeMsg(st, sessionRequest{Kind: reqOpen, Session: rep.Session}); err != nil {
			st.Reset()
			return nil, fmt.Errorf("open tunnel stream: %w", err)
		}
		if bind, err = tunnel.NewPipeBind(st); err != nil {
			st.Reset()
			return nil, err
		}
		s.stream = st
		s.Path = PathDirect
		if st.Conn().Stat().Limited {
			s.Path = PathRelayed
		}
	}
	cfg.Progress("tunnel handshake")
	if s.Tunnel, err = tunnel.NewConsumer(tunnel.ConsumerConfig{
		PrivateKey: key, PeerPublicKey: rep.WGKey, Addresses: rep.Addresses, Bind: bind,
		Logger: n.log.With("session", s.ID),
	}); err != nil {
		if s.stream != nil {
			s.stream.Reset()
		}
		return nil, fmt.Errorf("start tunnel: %w", err)
	}
	if err = waitHandshake(ctx, s.Tunnel, handshake); err != nil {
		s.Tunnel.Close()
		if s.stream != nil {
			s.stream.Reset()
		}
		return nil, fmt.Errorf("tunnel to %s never came up over %s: %w", p.Provider, transport, err)
	}
	return s, nil
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

func waitHandshake(ctx context.Context, c *tunnel.Consumer, d time.Duration) error {
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
func (n *Node) sessionCall(ctx context.Context, p peer.ID, req sessionRequest) (sessionReply, error) {
	ctx, cancel := context.WithTimeout(ctx, sessionStreamTimeout)
	defer cancel()
	st, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "session"), p, ProtocolSession)
	if err != nil {
		return sessionReply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := writeMsg(st, req); err != nil {
		st.Reset()
		return sessionReply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	var rep sessionReply
	if err := readMsg(bufio.NewReader(st), &rep); err != nil {
		st.Reset()
		return sessionReply{}, fmt.Errorf("session with %s: %w", p, err)
	}
	if !rep.OK {
		return rep, &RejectedError{Provider: p.String(), Code: rep.Code, Message: rep.Message}
	}
	if req.Kind == reqOpen {
		if rep.Session == "" || rep.WGKey.IsZero() || rep.Addresses.Validate() != nil ||
			rep.Transport != req.Transport || (rep.Transport == TransportUDP && rep.UDPPort == 0) {
			return rep, fmt.Errorf("session with %s: provider sent an incomplete reply", p)
		}
	}
	return rep, nil
}

// keepalive pings the provider; three failures in a row end the session.
func (s *Session) keepalive(ctx context.Context) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := s.node.sessionCall(ctx, s.Provider, sessionRequest{Kind: reqPing, Session: s.ID})
		var rej *RejectedError
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
func (s *Session) Stats() tunnel.Stats { return s.Tunnel.Stats() }

// Close ends the session on both sides. It is idempotent.
func (s *Session) Close() error {
	var err error
	s.closeMu.Do(func() {
		s.end(errSessionClosed)
		s.cancel()
		s.wg.Wait()
		s.node.sendClose(s)
		err = s.Tunnel.Close()
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = n.sessionCall(ctx, s.Provider, sessionRequest{Kind: reqClose, Session: s.ID})
}
