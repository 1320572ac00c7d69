package server

import (
	"fmt"
	"math/big"
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

	// up and down are the session's own rate limits (Limits.SessionRate);
	// SetLimits changes their rate in place.
	up, down *tunnel.Bucket

	// acct is what was last added to the month's usage and the metrics.
	acct struct {
		sync.Mutex
		up, down uint64
		paid     *big.Int
		promises int
	}

	// punch is the session's last birthday punch and punches how many it
	// has asked for, under punchMu.
	punchMu sync.Mutex
	punch   *punchRound
	punches int
	// punchedUp is whether an upgrade moved the session onto a punched
	// path (guarded by op), to answer a repeat the same way.
	punchedUp bool

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
	path      wgpath.Path // set in Attached
	obfsNow   bool        // the path now is obfuscated
	lastPing  time.Time
	tun       *tunnel.Provider // set in Attached
	udp       *net.UDPConn     // the session's own socket (UDP transport)
	inv       *hermes.Invoicer // set in Attached for a paying session
}

func newProvSession(id string, consumer peer.ID, addrs tunnel.AddressPair, key tunnel.PrivateKey,
	peerKey tunnel.PublicKey, transport wgpath.Transport, pay *payment, up, down *tunnel.Bucket, now time.Time) *provSession {
	return &provSession{
		id: id, consumer: consumer, addrs: addrs, key: key, peerKey: peerKey, opened: now, pay: pay, up: up, down: down,
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
func (ps *provSession) finishAttach(tun *tunnel.Provider, udp *net.UDPConn, inv *hermes.Invoicer, path wgpath.Path) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.state, ps.tun, ps.udp, ps.inv, ps.path, ps.obfsNow = session.Attached, tun, udp, inv, path, ps.obfs != nil
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
func (ps *provSession) switchTransport(bind conn.Bind, t wgpath.Transport, obfuscated bool) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.state != session.Attached || ps.tun == nil {
		return fmt.Errorf("session is %s", ps.state)
	}
	if err := ps.tun.SwitchBind(bind, ""); err != nil {
		return err
	}
	ps.transport, ps.path, ps.obfsNow = t, wgpath.Direct, obfuscated
	return nil
}

// setSocket hands the session a socket of its own, closed at teardown.
func (ps *provSession) setSocket(c *net.UDPConn) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.udp = c
}

// current is the state and transport now.
func (ps *provSession) current() (session.State, wgpath.Transport) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.state, ps.transport
}

// currentPath is the path the session's tunnel takes now ("" before it
// is attached).
func (ps *provSession) currentPath() wgpath.Path {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.path
}

// tunnel is the session's tunnel, nil unless attached (or closing).
func (ps *provSession) tunnel() *tunnel.Provider {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.tun
}

// sample reads the tunnel's and the invoicer's figures; ok is false when
// there is no tunnel.
func (ps *provSession) sample() (tunnel.Stats, hermesFigures, bool) {
	ps.mu.Lock()
	tun, inv := ps.tun, ps.inv
	ps.mu.Unlock()
	if tun == nil {
		return tunnel.Stats{}, hermesFigures{}, false
	}
	return tun.Stats(), figuresOf(inv), true
}

func figuresOf(inv *hermes.Invoicer) hermesFigures {
	if inv == nil {
		return hermesFigures{}
	}
	_, promises := inv.Stats()
	return hermesFigures{paid: inv.Paid(), promises: promises}
}

// info describes a live session; ok is false once it is closing.
func (ps *provSession) info() (SessionInfo, bool) {
	ps.mu.Lock()
	state, transport, path, tun, inv, obfs := ps.state, ps.transport, ps.path, ps.tun, ps.inv, ps.obfsNow
	ps.mu.Unlock()
	if state >= session.Closing {
		return SessionInfo{}, false
	}
	info := SessionInfo{ID: ps.id, Consumer: ps.consumer, Path: string(path), Transport: string(transport),
		Obfuscated: obfs, Started: ps.opened}
	if tun != nil {
		st := tun.Stats()
		info.BytesUp, info.BytesDown = st.RxBytes, st.TxBytes
	}
	if ps.pay != nil {
		info.Hermes = ps.pay.hub.Peer().String()
		info.Earned = new(big.Int)
		if inv != nil {
			info.Earned = inv.Paid()
		}
	}
	return info, true
}
