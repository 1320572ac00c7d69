package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"time"

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

// open checks a request against the current proposal and capacity, puts a
// new session in the table (Opening) and, for the UDP transports, attaches
// its tunnel at once. A stream-transport session waits for its tunnel
// stream (handleTunnel) for at most AttachTimeout.
func (s *Server) open(c network.Conn, req session.Request) session.Reply {
	from := c.RemotePeer()
	cur := s.node.CurrentProposal()
	if cur == nil {
		return session.Reject(session.RejectInternal, "this node advertises no proposal")
	}
	p := cur.Proposal
	if req.PriceHour != p.PriceHour || req.PriceGiB != p.PriceGiB {
		return session.Reject(session.RejectPrice, "price changed: now %s per hour and %s per GiB (base units); fetch the proposal again",
			p.PriceHour, p.PriceGiB)
	}
	if req.WGKey.IsZero() {
		return session.Reject(session.RejectBadRequest, "no WireGuard key")
	}
	if rej, reached := s.capReached(); reached {
		return rej
	}
	if s.cfg.StreamOnly && req.Transport != wgpath.Stream {
		return session.Reject(session.RejectPolicy, "this provider is a bridge: it carries sessions only inside the libp2p connection; use the stream transport")
	}
	link := wgpath.Link{Transport: req.Transport, Conn: c, Mux: s.mux}
	switch req.Transport {
	case wgpath.UDPMux:
		if link.Conn = s.mux.ConnTo(s.host.Network(), from); link.Conn == nil {
			return session.Reject(session.RejectPolicy, "no direct QUIC connection on this provider's shared socket; use another transport")
		}
	case wgpath.UDP:
		if c.Stat().Limited {
			return session.Reject(session.RejectPolicy, "UDP transport needs a direct connection; this one is relayed")
		}
		if req.UDPPort == 0 {
			return session.Reject(session.RejectBadRequest, "UDP transport needs the consumer's UDP port")
		}
		link.PeerPort = req.UDPPort
	case wgpath.Stream:
	default:
		_, err := wgpath.Parse(string(req.Transport))
		return session.Reject(session.RejectBadRequest, "%v", err)
	}
	var pay *payment
	if s.cfg.Payments != nil {
		var rej *session.Reply
		if pay, rej = s.checkPayment(from, &p, req.Hermes); rej != nil {
			return *rej
		}
	}
	ps, rej := s.insert(from, req, pay)
	if rej != nil {
		return *rej
	}
	rep := session.Reply{OK: true, Session: ps.id, WGKey: ps.key.PublicKey(), Addresses: ps.addrs, Transport: req.Transport}
	if ps.obfs != nil {
		rep.ObfsKey = ps.obfs.Key[:]
		link.Obfs = ps.obfs
	}
	switch req.Transport {
	case wgpath.UDPMux:
		rep.UDPPort = s.mux.Port()
	case wgpath.UDP:
		udp, err := net.ListenUDP("udp", &net.UDPAddr{})
		if err != nil {
			s.drop(ps, ending{outcome: overlay.OutcomeFailed, why: "listen udp"})
			return session.Reject(session.RejectInternal, "open UDP socket: %v", err)
		}
		link.UDP = udp
		rep.UDPPort = uint16(udp.LocalAddr().(*net.UDPAddr).Port)
	case wgpath.Stream:
		s.wg.Go(func() {
			t := time.NewTimer(s.cfg.AttachTimeout)
			defer t.Stop()
			select {
			case <-ps.attached:
			case <-ps.ended:
			case <-t.C:
				s.drop(ps, ending{outcome: overlay.OutcomeFailed, why: "tunnel stream never came"})
			case <-s.ctx.Done():
			}
		})
		s.log.Info("session opened", "session", ps.id, "consumer", from, "transport", req.Transport, "addr", ps.addrs.Consumer)
		return rep
	}
	if rej := s.attach(ps, link); rej != nil {
		if u := udpOf(link); u != nil {
			_ = u.Close()
		}
		s.drop(ps, ending{outcome: overlay.OutcomeFailed, why: "tunnel"})
		return *rej
	}
	s.log.Info("session opened", "session", ps.id, "consumer", from, "transport", req.Transport, "addr", ps.addrs.Consumer)
	return rep
}

// insert allocates a session's keys and addresses and adds it to the table,
// within MaxSessions and MaxPerConsumer.
func (s *Server) insert(from peer.ID, req session.Request, pay *payment) (*provSession, *session.Reply) {
	fail := func(code session.RejectCode, format string, a ...any) (*provSession, *session.Reply) {
		rep := session.Reject(code, format, a...)
		return nil, &rep
	}
	key, err := tunnel.GeneratePrivateKey()
	if err != nil {
		return fail(session.RejectInternal, "generate key: %v", err)
	}
	s.limits.Lock() // the session's buckets get the rate in force
	defer s.limits.Unlock()
	s.table.Lock()
	defer s.table.Unlock()
	switch {
	case s.table.closed:
		return fail(session.RejectInternal, "provider is stopping; try another provider")
	case len(s.table.byID) >= s.table.max:
		return fail(session.RejectFull, "provider is full (%d sessions); try another provider", s.table.max)
	case s.table.perPeer[from] >= min(s.perConsumer, s.table.max):
		return fail(session.RejectFull, "you already hold %d sessions at this provider, the most it allows one consumer; close one first",
			s.table.perPeer[from])
	}
	addrs, err := s.cfg.Pool.Allocate()
	if err != nil {
		return fail(session.RejectFull, "no tunnel addresses left: %v", err)
	}
	rate := s.limits.cur.SessionRate // validated: the buckets cannot refuse it
	up, _ := tunnel.NewBucket("session", rate)
	down, _ := tunnel.NewBucket("session", rate)
	ps := newProvSession(newSessionID(), from, addrs, key, req.WGKey, req.Transport, pay, up, down, time.Now())
	if req.Obfs && (req.Transport == wgpath.UDP || req.Transport == wgpath.UDPMux) {
		// A fresh key per session, for the transports whose datagrams are
		// WireGuard's own on the wire; on the stream transport they travel
		// inside libp2p's encryption already.
		ps.obfs = &wgpath.ObfsConfig{}
		_, _ = rand.Read(ps.obfs.Key[:])
	}
	s.table.byID[ps.id] = ps
	s.table.perPeer[from]++
	s.met.Active.Set(float64(len(s.table.byID)))
	return ps, nil
}

// attach builds the WireGuard end of ps over link and moves it to
// Attached (claim, then build). On refusal or failure nothing it built is
// left open (the caller still owns link's socket or stream).
func (s *Server) attach(ps *provSession, link wgpath.Link) *session.Reply {
	if rej := s.claim(ps); rej != nil {
		return rej
	}
	defer ps.op.Unlock()
	return s.build(ps, link)
}

// claim makes the caller the one attach of ps: it takes ps.op (without
// waiting: a second attach or an upgrade in flight is refused as busy) and
// moves Opening → Attaching. On success the caller holds ps.op and must
// call build, then unlock it.
func (s *Server) claim(ps *provSession) *session.Reply {
	if !ps.op.TryLock() {
		rep := session.Reject(session.RejectBusy, "session %q is busy with another request; try again", ps.id)
		return &rep
	}
	if rej := ps.claimAttach(); rej != nil {
		ps.op.Unlock()
		return rej
	}
	return nil
}

// build starts the tunnel of a claimed session over link: Attaching →
// Attached, or back to Opening on failure.
func (s *Server) build(ps *provSession, link wgpath.Link) *session.Reply {
	bind, path, err := link.Bind()
	if err != nil {
		ps.abortAttach()
		rep := session.Reject(session.RejectPolicy, "%v", err)
		return &rep
	}
	tun, inv, err := s.startTunnel(ps, bind)
	if err != nil {
		_ = bind.Close()
		ps.abortAttach()
		rep := session.Reject(session.RejectInternal, "start tunnel: %v", err)
		return &rep
	}
	ps.finishAttach(tun, udpOf(link), inv, path)
	if inv != nil {
		// A consumer that stops paying loses the session; the watcher ends
		// it from its own goroutine, as the Invoicer asks.
		s.wg.Go(func() {
			select {
			case <-inv.NotPaying():
				s.drop(ps, ending{outcome: overlay.OutcomeNotPaying, code: session.RejectBalance,
					why: fmt.Sprintf("consumer not paying: %v", inv.Err())})
			case <-ps.ended:
			}
		})
	}
	return nil
}

func udpOf(l wgpath.Link) *net.UDPConn {
	if u, ok := l.UDP.(*net.UDPConn); ok {
		return u
	}
	return nil
}

// startTunnel starts the provider's WireGuard end over bind, and the
// invoicer of a paying session.
func (s *Server) startTunnel(ps *provSession, bind conn.Bind) (*tunnel.Provider, *hermes.Invoicer, error) {
	tun, err := tunnel.NewProvider(tunnel.ProviderConfig{
		PrivateKey: ps.key, PeerPublicKey: ps.peerKey, Addresses: ps.addrs, Bind: bind,
		Policy: s.policy.Load(), Resolver: s.cfg.Resolver,
		Logger: s.log.With("session", ps.id),
	}, tunnel.WithRateLimits([]*tunnel.Bucket{ps.up, s.totalUp}, []*tunnel.Bucket{ps.down, s.totalDown}))
	if err != nil {
		return nil, nil, err
	}
	if ps.pay == nil {
		return tun, nil, nil
	}
	inv, err := s.startInvoicer(ps, tun.Stats)
	if err != nil {
		_ = tun.Close()
		return nil, nil, err
	}
	return tun, inv, nil
}

// handleTunnel attaches a stream-carried WireGuard transport to a session
// opened on the stream transport: an Attach request, a Reply, then packets.
func (s *Server) handleTunnel(st network.Stream) {
	_ = st.SetDeadline(time.Now().Add(requestTimeout))
	from := st.Conn().RemotePeer()
	br := bufio.NewReader(st)
	var hello session.Request
	// A refusal is written and the stream closed, not reset, so that the
	// reply reaches the consumer.
	refuse := func(rep session.Reply) {
		s.met.Rejected.WithLabelValues(string(rep.Code)).Inc()
		_ = session.Write(st, rep)
		_ = st.Close()
	}
	if err := session.Read(br, &hello); err != nil {
		refuse(session.Reject(session.RejectBadRequest, "%v", err))
		return
	}
	if hello.Kind != session.Attach {
		refuse(session.Reject(session.RejectBadRequest, "a tunnel stream starts with %q, not %q", session.Attach, hello.Kind))
		return
	}
	ps := s.lookup(from, hello.Session)
	if ps == nil {
		refuse(noSession(hello.Session))
		return
	}
	if _, t := ps.current(); t != wgpath.Stream {
		refuse(session.Reject(session.RejectState, "session %q was opened on %s, not on the stream transport", ps.id, t))
		return
	}
	if rej := s.claim(ps); rej != nil {
		refuse(*rej)
		return
	}
	// Answer once this stream is the session's one attach, before the
	// tunnel exists: the consumer's first packet comes only after it has
	// read this, so the reply never mixes with packets. A failure after it
	// resets the stream.
	if err := session.Write(st, session.Reply{OK: true, Session: ps.id, Transport: wgpath.Stream}); err != nil {
		ps.abortAttach()
		ps.op.Unlock()
		_ = st.Reset()
		return
	}
	_ = st.SetDeadline(time.Time{})
	rej := s.build(ps, wgpath.Link{Transport: wgpath.Stream, Conn: st.Conn(), Stream: session.Buffered{Stream: st, R: br}, Obfs: ps.obfs})
	ps.op.Unlock()
	if rej == nil {
		return
	}
	s.met.Rejected.WithLabelValues(string(rej.Code)).Inc()
	_ = st.Reset()
	s.log.Warn("attach tunnel stream", "session", ps.id, "err", rej.Message)
	s.drop(ps, ending{outcome: overlay.OutcomeFailed, why: "tunnel"})
}

// upgrade moves a stream-carried session to the shared QUIC socket once
// there is a direct QUIC connection to the consumer on it. Asking again
// after it moved is answered OK, so a consumer whose reply was lost can
// repeat the request.
func (s *Server) upgrade(from peer.ID, req session.Request) session.Reply {
	if s.cfg.StreamOnly {
		return session.Reject(session.RejectPolicy, "this provider is a bridge: its sessions stay on the stream transport")
	}
	ps := s.lookup(from, req.Session)
	if ps == nil {
		return noSession(req.Session)
	}
	if req.Transport != wgpath.UDPMux && !(req.Punched && req.Transport == wgpath.UDP) {
		return session.Reject(session.RejectBadRequest, "can only upgrade to %s, or to %s after a punch", wgpath.UDPMux, wgpath.UDP)
	}
	if !ps.op.TryLock() {
		return session.Reject(session.RejectBusy, "session %q is busy with another request; try again", ps.id)
	}
	defer ps.op.Unlock()
	state, t := ps.current()
	switch {
	case state >= session.Closing:
		return session.Reject(session.RejectClosing, "session %q is closing", ps.id)
	case state == session.Attached && (req.Punched && ps.punchedUp || !req.Punched && t == wgpath.UDPMux):
		return upgraded(ps)
	case state != session.Attached || t != wgpath.Stream:
		return session.Reject(session.RejectState, "session %q is %s on %s; only an attached stream session can upgrade", ps.id, state, t)
	}
	var link wgpath.Link
	if req.Punched {
		// The consumer's end of the punched path is the mux when it
		// sprayed, its own socket when it opened sockets; ours is the
		// other. Either way WireGuard's datagrams go straight between
		// the two punched addresses.
		l, rej := s.punchedLink(ps)
		if rej != nil {
			return *rej
		}
		link = l
	} else {
		c := s.mux.ConnTo(s.host.Network(), from)
		if c == nil {
			return session.Reject(session.RejectPolicy, "no direct QUIC connection to you on the shared socket yet")
		}
		link = wgpath.Link{Transport: wgpath.UDPMux, Conn: c, Mux: s.mux}
	}
	var obfs *wgpath.ObfsConfig
	if req.Obfs {
		// The direct path is WireGuard's own datagrams on the wire: mask
		// them with a fresh key, as an open over udp-mux would.
		obfs = &wgpath.ObfsConfig{}
		_, _ = rand.Read(obfs.Key[:])
		link.Obfs = obfs
	}
	sock, _ := link.UDP.(*net.UDPConn) // a punched socket of our own
	bind, _, err := link.Bind()
	if err != nil {
		if sock != nil {
			_ = sock.Close()
		}
		return session.Reject(session.RejectPolicy, "%v", err)
	}
	if err := ps.switchTransport(bind, link.Transport, obfs != nil); err != nil {
		_ = bind.Close()
		if sock != nil {
			_ = sock.Close()
		}
		return session.Reject(session.RejectInternal, "switch transport: %v", err)
	}
	if sock != nil {
		ps.setSocket(sock)
	}
	ps.punchedUp = req.Punched
	ps.upObfs = obfs
	s.log.Info("session upgraded to a direct path", "session", ps.id, "consumer", from, "obfuscated", obfs != nil)
	return upgraded(ps)
}

// upgraded is the reply to an upgrade that happened (or had happened
// already): the key, if the new path is obfuscated. The caller holds ps.op.
func upgraded(ps *provSession) session.Reply {
	rep := session.Reply{OK: true, Session: ps.id, Transport: wgpath.UDPMux}
	if ps.upObfs != nil {
		rep.ObfsKey = ps.upObfs.Key[:]
	}
	return rep
}

// dialBack dials a session owner's public QUIC addresses. Only the owner of
// a live session may ask, only public QUIC addresses are dialled, at most
// session.MaxDialBackAddrs, one request at a time per session, and the dial must
// authenticate as that consumer, so a request naming someone else's address
// costs that address one QUIC handshake packet at most.
func (s *Server) dialBack(from peer.ID, req session.Request) session.Reply {
	ps := s.lookup(from, req.Session)
	if ps == nil {
		return noSession(req.Session)
	}
	if state, _ := ps.current(); state >= session.Closing {
		return session.Reject(session.RejectClosing, "session %q is closing", ps.id)
	}
	if len(req.Addrs) > session.MaxDialBackAddrs {
		return session.Reject(session.RejectBadRequest, "%d addresses, at most %d", len(req.Addrs), session.MaxDialBackAddrs)
	}
	ai := peer.AddrInfo{ID: from}
	for _, a := range req.Addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return session.Reject(session.RejectBadRequest, "address %q: %v", a, err)
		}
		if _, err := m.ValueForProtocol(ma.P_QUIC_V1); err != nil || !manet.IsPublicAddr(m) {
			return session.Reject(session.RejectBadRequest, "address %s is not a public QUIC address", m)
		}
		ai.Addrs = append(ai.Addrs, m)
	}
	if !ps.dialing.CompareAndSwap(false, true) {
		return session.Reject(session.RejectBusy, "a dial back is already running")
	}
	defer ps.dialing.Store(false)
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	s.host.Peerstore().AddAddrs(from, ai.Addrs, time.Minute)
	if err := s.host.Connect(network.WithForceDirectDial(ctx, "dial back"), ai); err != nil {
		return session.Reject(session.RejectPolicy, "dial back failed: %v", err)
	}
	if s.mux.ConnTo(s.host.Network(), from) == nil {
		return session.Reject(session.RejectPolicy, "dial back gave no direct QUIC connection")
	}
	return session.Reply{OK: true, Session: ps.id}
}

// ending is why a session ends: the outcome its metric counts and the
// reason logged. For an end the consumer did not ask for, its next ping is
// refused with code (RejectNoSession if "") and why.
type ending struct {
	outcome string
	code    session.RejectCode
	why     string
}

// drop tears ps down: Closing, a final invoice while the tunnel still
// counts, then the tunnel, its socket and the invoicer, then Closed and out
// of the table. It waits for an attach or upgrade in flight. It reports
// false when ps was already closing or closed.
func (s *Server) drop(ps *provSession, end ending) bool {
	why := end.why
	ps.op.Lock()
	defer ps.op.Unlock()
	tun, udp, inv, ok := ps.beginClose()
	if !ok {
		return false
	}
	if inv != nil {
		// Invoice before the tunnel closes: its count keeps growing, so an
		// invoice whose answer was lost on the way is repaired by the next
		// one (a consumer refuses to pay the same total twice).
		s.finalInvoice(ps, inv)
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
		s.closeInvoicer(ps, inv)
	}
	if tun != nil {
		s.account(ps, stats, figuresOf(inv))
	}
	path := ps.currentPath()
	_, transport := ps.current()
	if path == "" {
		path = wgpath.Direct // never attached: counted where it was asked for
	}
	s.met.SessionsEnded.WithLabelValues(overlay.RoleProvider, string(path), string(transport), end.outcome).Inc()
	ps.end()
	s.table.Lock()
	if end.outcome != overlay.OutcomeClosed {
		code := end.code
		if code == "" {
			code = session.RejectNoSession
		}
		s.table.gone[ps.id] = goneNote{consumer: ps.consumer, at: s.now(),
			rep: session.Reject(code, "session %q ended: %s", ps.id, why)}
	}
	delete(s.table.byID, ps.id)
	if s.table.perPeer[ps.consumer]--; s.table.perPeer[ps.consumer] <= 0 {
		delete(s.table.perPeer, ps.consumer)
	}
	s.met.Active.Set(float64(len(s.table.byID)))
	s.table.Unlock()
	s.cfg.Pool.Release(ps.addrs)
	s.log.Info("session closed", "session", ps.id, "consumer", ps.consumer, "why", why,
		"rx_bytes", stats.RxBytes, "tx_bytes", stats.TxBytes, "duration", stats.Duration.Round(time.Second))
	return true
}
