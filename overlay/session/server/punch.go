package server

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// maxConcurrentPunches bounds the birthday punches a provider runs at once
// over all sessions: each holds up to wgpath.DefaultPunchSockets sockets
// or sends wgpath.DefaultPunchSpray probes a second.
const maxConcurrentPunches = 4

// punchClaimWait is how long a punched path waits for the consumer's
// upgrade before its socket is closed.
const punchClaimWait = 10 * time.Second

// punchRound is one session's birthday punch. done is closed when the
// round ends; remote and sock (when this end opened sockets) are set then,
// or err.
type punchRound struct {
	role   string // the consumer's session.PunchRole
	done   chan struct{}
	remote netip.AddrPort
	sock   *net.UDPConn
	err    error
}

// punch starts a birthday punch for a live, relayed session: only its
// owner may ask, at most session.MaxPunches times per session, one round
// at a time, and at most maxConcurrentPunches over all sessions. A spray
// goes only to a public IP and costs that IP wgpath.DefaultPunchSpray small
// datagrams a second for at most wgpath.DefaultPunchTimeout.
func (s *Server) punch(from peer.ID, req session.Request) session.Reply {
	if s.cfg.StreamOnly {
		return session.Reject(session.RejectPolicy, "this provider is a bridge: its sessions stay on the stream transport")
	}
	ps := s.lookup(from, req.Session)
	if ps == nil {
		return noSession(req.Session)
	}
	if state, t := ps.current(); state != session.Attached || t != wgpath.Stream {
		return session.Reject(session.RejectState, "session %q is %s on %s; only an attached stream session can punch", ps.id, state, t)
	}
	// The roles: the symmetric end opens the sockets, the other sprays.
	mine := s.node.NATMapping()
	var role, ourAddr string
	var target netip.AddrPort // the consumer's IP (port 0) or ip:port
	switch {
	case mine == overlay.MappingEndpointDependent && req.PunchMapping == overlay.MappingEndpointDependent:
		return session.Reject(session.RejectPolicy, "both ends are behind symmetric NATs: no punch can get through; stay relayed")
	case req.PunchMapping == overlay.MappingEndpointDependent:
		ip, err := netip.ParseAddr(req.PunchIP)
		if err != nil || !publicIP(ip) {
			return session.Reject(session.RejectBadRequest, "punch IP %q is not a public IP", req.PunchIP)
		}
		ext, ok := s.node.PublicQUICAddr()
		if !ok {
			return session.Reject(session.RejectPolicy, "this provider does not know its public QUIC address yet; try again later")
		}
		role, ourAddr, target = session.PunchSockets, ext.String(), netip.AddrPortFrom(ip.Unmap(), 0)
	case mine == overlay.MappingEndpointDependent:
		ap, err := netip.ParseAddrPort(req.PunchAddr)
		if err != nil || !publicIP(ap.Addr()) || ap.Port() == 0 {
			return session.Reject(session.RejectBadRequest, "punch address %q is not a public ip:port", req.PunchAddr)
		}
		ip, ok := s.node.PublicIP()
		if !ok {
			return session.Reject(session.RejectPolicy, "this provider does not know its public IP yet; try again later")
		}
		role, ourAddr, target = session.PunchSpray, ip.String(), netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	default:
		return session.Reject(session.RejectPolicy, "neither end is known to be behind a symmetric NAT (provider %s, consumer %q): a dial back is the way", mine, req.PunchMapping)
	}
	if s.mux == nil {
		return session.Reject(session.RejectPolicy, "this provider has no shared UDP socket to punch from")
	}
	key, err := wgpath.NewPunchKey()
	if err != nil {
		return session.Reject(session.RejectInternal, "punch key: %v", err)
	}
	ps.punchMu.Lock()
	defer ps.punchMu.Unlock()
	switch {
	case ps.punches >= session.MaxPunches:
		return session.Reject(session.RejectPolicy, "session %q has had its %d punches", ps.id, session.MaxPunches)
	case ps.punch != nil && !isDone(ps.punch.done):
		return session.Reject(session.RejectBusy, "a punch is already running")
	}
	select {
	case s.punching <- struct{}{}:
	default:
		return session.Reject(session.RejectBusy, "this provider runs %d punches already; try again", maxConcurrentPunches)
	}
	ps.punches++
	if old := ps.punch; old != nil && old.sock != nil {
		_ = old.sock.Close() // never claimed
	}
	r := &punchRound{role: role, done: make(chan struct{})}
	ps.punch = r
	s.wg.Go(func() {
		defer func() { <-s.punching }()
		ctx, cancel := context.WithTimeout(s.ctx, wgpath.DefaultPunchTimeout)
		defer cancel()
		go func() {
			select {
			case <-ps.ended:
				cancel()
			case <-ctx.Done():
			}
		}()
		if r.role == session.PunchSockets {
			r.remote, r.err = wgpath.PunchSpray(ctx, s.mux, key, target.Addr(), wgpath.DefaultPunchSpray)
		} else {
			r.sock, r.err = wgpath.PunchFromSockets(ctx, key, netip.Addr{}, target, wgpath.DefaultPunchSockets)
			r.remote = target
		}
		s.log.Debug("punch round ended", "session", ps.id, "role", r.role, "remote", r.remote, "err", r.err)
		side, outcome := session.PunchSpray, "ok" // ours is the other side of the consumer's
		if r.role == session.PunchSpray {
			side = session.PunchSockets
		}
		if r.err != nil {
			outcome = "failed"
		}
		s.met.BirthdayPunches.WithLabelValues("provider", side, outcome).Inc()
		close(r.done)
		if r.sock != nil {
			// Closed unless the upgrade claims it in time.
			time.AfterFunc(punchClaimWait, func() { ps.releasePunch(r) })
		}
	})
	return session.Reply{OK: true, Session: ps.id, PunchKey: key[:], PunchRole: role, PunchAddr: ourAddr}
}

// punchedLink is the link onto the path the session's last punch found,
// waiting briefly for a round still running. On success the round's
// socket, if any, belongs to the caller.
func (s *Server) punchedLink(ps *provSession) (wgpath.Link, *session.Reply) {
	ps.punchMu.Lock()
	r := ps.punch
	ps.punchMu.Unlock()
	if r == nil {
		rep := session.Reject(session.RejectState, "session %q has no punch to upgrade onto", ps.id)
		return wgpath.Link{}, &rep
	}
	select {
	case <-r.done:
	case <-time.After(2 * time.Second):
		rep := session.Reject(session.RejectBusy, "the punch is still running; try again")
		return wgpath.Link{}, &rep
	}
	if r.err != nil {
		rep := session.Reject(session.RejectPolicy, "the punch found no path: %v", r.err)
		return wgpath.Link{}, &rep
	}
	if r.role == session.PunchSockets {
		return wgpath.Link{Transport: wgpath.UDPMux, Mux: s.mux, Remote: r.remote}, nil
	}
	ps.punchMu.Lock()
	defer ps.punchMu.Unlock()
	if ps.punch != r || r.sock == nil {
		rep := session.Reject(session.RejectState, "the punched socket was closed; punch again")
		return wgpath.Link{}, &rep
	}
	sock := r.sock
	r.sock = nil // claimed
	return wgpath.Link{Transport: wgpath.UDP, UDP: sock, Remote: r.remote}, nil
}

// releasePunch closes r's socket unless an upgrade claimed it.
func (ps *provSession) releasePunch(r *punchRound) {
	ps.punchMu.Lock()
	defer ps.punchMu.Unlock()
	if r.sock != nil {
		_ = r.sock.Close()
		r.sock = nil
	}
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func publicIP(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	m, err := manet.FromIP(ip.AsSlice())
	return err == nil && manet.IsPublicAddr(m)
}
