package server

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// provSession is one consumer's session at the provider.
type provSession struct {
	// Set at open, never changed.
	id       string
	consumer peer.ID
	addrs    tunnel.AddressPair
	key      tunnel.PrivateKey
	peerKey  tunnel.PublicKey
	opened   time.Time
	pay      *payment // nil for a free session
	// obfs is the session's obfuscation, nil when the consumer did not ask
	// for it or its transport cannot carry it.
	obfs *wgpath.ObfsConfig
	// upObfs is the obfuscation an upgrade to udp-mux agreed, kept to
	// answer a repeated upgrade the same way. Guarded by op.
	upObfs *wgpath.ObfsConfig

	attached chan struct{} // closed on the move to Attached
	ended    chan struct{} // closed on the move to Closed
	dialing  atomic.Bool   // a dial back is running

	// op serialises the long operations: attach, upgrade and teardown.
	// Attach and upgrade only TryLock it (a second one is refused as
	// busy); teardown waits for it, so it closes whatever an attach in
	// flight built. Take op before mu, never the other way round.
	op sync.Mutex

	// mu guards the state and what each state owns. Every transition
	// happens under it, in one critical section with its check.
	mu        sync.Mutex
	state     session.State
	transport wgpath.Transport
	lastPing  time.Time
	tun       *tunnel.Provider // set in Attached
	udp       *net.UDPConn     // the session's own socket (UDP transport)
	inv       *hermes.Invoicer // set in Attached for a paying session
}

func newProvSession(id string, consumer peer.ID, addrs tunnel.AddressPair, key tunnel.PrivateKey,
	peerKey tunnel.PublicKey, transport wgpath.Transport, pay *payment, now time.Time) *provSession {
	return &provSession{
		id: id, consumer: consumer, addrs: addrs, key: key, peerKey: peerKey, opened: now, pay: pay,
		attached: make(chan struct{}), ended: make(chan struct{}),
		state: session.Opening, transport: transport, lastPing: now,
	}
}

// refusal is the reply to a request that needs a live session, or nil.
func (ps *provSession) refusalLocked() *session.Reply {
	if ps.state >= session.Closing {
		rep := session.Reject(session.RejectClosing, "session %q is closing", ps.id)
		return &rep
	}
	return nil
}

// touch records a ping.
func (ps *provSession) touch(now time.Time) *session.Reply {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if rej := ps.refusalLocked(); rej != nil {
		return rej
	}
	ps.lastPing = now
	return nil
}

// silentSince reports whether a live session has not been pinged for d.
func (ps *provSession) silentSince(now time.Time, d time.Duration) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.state < session.Closing && now.Sub(ps.lastPing) > d
}

// The transitions below are called with op held: the state cannot move
// between them except to Closing's refusals, which also need op.

// claimAttach moves Opening → Attaching.
func (ps *provSession) claimAttach() *session.Reply {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	switch ps.state {
	case session.Opening:
		ps.state = session.Attaching
		return nil
	case session.Attaching:
		rep := session.Reject(session.RejectBusy, "session %q is already attaching a tunnel", ps.id)
		return &rep
	case session.Attached:
		rep := session.Reject(session.RejectState, "session %q already has a tunnel", ps.id)
		return &rep
	}
	return ps.refusalLocked()
}

// abortAttach moves Attaching back to Opening after a failed attach.
func (ps *provSession) abortAttach() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.state == session.Attaching {
		ps.state = session.Opening
	}
}

// finishAttach moves Attaching → Attached with what the attach built.
func (ps *provSession) finishAttach(tun *tunnel.Provider, udp *net.UDPConn, inv *hermes.Invoicer) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.state, ps.tun, ps.udp, ps.inv = session.Attached, tun, udp, inv
	close(ps.attached)
}

// beginClose moves any live state → Closing and hands over what the
// session owns. It reports false when the session was already closing.
func (ps *provSession) beginClose() (tun *tunnel.Provider, udp *net.UDPConn, inv *hermes.Invoicer, ok bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.state >= session.Closing {
		return nil, nil, nil, false
	}
	ps.state = session.Closing
	return ps.tun, ps.udp, ps.inv, true
}

// end moves Closing → Closed.
func (ps *provSession) end() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.state, ps.tun, ps.udp, ps.inv = session.Closed, nil, nil, nil
	close(ps.ended)
}

// switchTransport moves an Attached session's tunnel to bind in place.
func (ps *provSession) switchTransport(bind conn.Bind, t wgpath.Transport) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.state != session.Attached || ps.tun == nil {
		return fmt.Errorf("session is %s", ps.state)
	}
	if err := ps.tun.SwitchBind(bind, ""); err != nil {
		return err
	}
	ps.transport = t
	return nil
}

// current is the state and transport now.
func (ps *provSession) current() (session.State, wgpath.Transport) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.state, ps.transport
}
