package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/guard"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Defaults for Config's zero values.
const (
	// DefaultPingTimeout is how long a session whose consumer stopped
	// pinging is kept.
	DefaultPingTimeout = 30 * time.Second
	// DefaultAttachTimeout is how long a session opened on the stream
	// transport waits for its tunnel stream.
	DefaultAttachTimeout = 15 * time.Second
	// DefaultMaxPerConsumer bounds the sessions one consumer holds at once.
	DefaultMaxPerConsumer = 8
)

// requestTimeout bounds reading a request and writing its reply.
const requestTimeout = 10 * time.Second

// Config configures a Server.
type Config struct {
	// Node is the provider's node (required): its host, its shared UDP
	// socket, its current proposal and its metrics.
	Node *overlay.Node
	// MaxSessions bounds concurrent sessions (required, > 0).
	MaxSessions int
	// MaxPerConsumer bounds one consumer's concurrent sessions
	// (0: DefaultMaxPerConsumer, at most MaxSessions).
	MaxPerConsumer int
	// Policy is the exit policy for every session (required); SetPolicy
	// changes it at run time.
	Policy *tunnel.ExitPolicy
	// Limits are the bandwidth controls to start with (zero: none);
	// SetLimits changes them at run time.
	Limits Limits
	// UsageFile is the bbolt file that keeps the month's traffic for
	// Limits.MonthlyCap across restarts (usually UsageFileName in the
	// data directory); "" counts in memory only.
	UsageFile string
	// Pool hands out tunnel addresses; nil uses the default /16.
	Pool *tunnel.AddressPool
	// PingTimeout ends sessions whose consumer went quiet (0: DefaultPingTimeout).
	PingTimeout time.Duration
	// AttachTimeout ends stream-transport sessions whose tunnel stream
	// never came (0: DefaultAttachTimeout).
	AttachTimeout time.Duration
	// Resolver answers consumers' DNS; nil uses the host resolver.
	Resolver tunnel.Resolver
	// Payments, if set, makes sessions pay through the hermes hubs the
	// proposal lists; nil serves free sessions.
	Payments *Payments
	// StreamOnly refuses every transport but stream (RejectPolicy, so the
	// consumer moves on at once): a bridge's sessions stay inside its one
	// gated TLS connection, with no UDP flow for a censor to see or probe.
	StreamOnly bool
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server serves sessions for the proposal its node advertises.
type Server struct {
	cfg  Config
	node *overlay.Node
	host host.Host
	mux  *wgpath.Mux // nil when the node has no shared socket
	met  *overlay.Metrics
	log  *slog.Logger

	table struct {
		sync.Mutex
		byID    map[string]*provSession
		perPeer map[peer.ID]int
		max     int // MaxSessions now (SetMaxSessions)
		closed  bool
		// gone are sessions this provider ended lately, for the consumer's
		// next ping to hear why; kept for PingTimeout.
		gone map[string]goneNote
	}
	perConsumer int // Config.MaxPerConsumer, before the bound by max

	// limits are the bandwidth controls in force; the total buckets are
	// shared by every session. Take limits before table.
	limits struct {
		sync.Mutex
		cur Limits
	}
	totalUp, totalDown *tunnel.Bucket
	policy             atomic.Pointer[tunnel.ExitPolicy]
	usage              *usage
	now                func() time.Time
	// punching holds a token per birthday punch running.
	punching chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New starts serving sessions on cfg.Node. Close stops it; the node's own
// Close closes it too, first.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Node == nil:
		return nil, errors.New("server: Config.Node is required")
	case cfg.MaxSessions <= 0:
		return nil, fmt.Errorf("server: Config.MaxSessions %d must be positive", cfg.MaxSessions)
	case cfg.MaxPerConsumer < 0:
		return nil, fmt.Errorf("server: Config.MaxPerConsumer %d must not be negative", cfg.MaxPerConsumer)
	case cfg.Policy == nil:
		return nil, errors.New("server: Config.Policy is required")
	case cfg.PingTimeout < 0 || cfg.AttachTimeout < 0:
		return nil, errors.New("server: Config.PingTimeout and AttachTimeout must not be negative")
	}
	if err := cfg.Limits.validate(); err != nil {
		return nil, err
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.AttachTimeout == 0 {
		cfg.AttachTimeout = DefaultAttachTimeout
	}
	if cfg.MaxPerConsumer == 0 {
		cfg.MaxPerConsumer = DefaultMaxPerConsumer
	}
	if cfg.Payments != nil {
		if err := cfg.Payments.validate(); err != nil {
			return nil, err
		}
	}
	if cfg.Pool == nil {
		pool, err := tunnel.NewAddressPool(netip.Prefix{}, netip.Prefix{}) // the default ranges
		if err != nil {
			return nil, err
		}
		cfg.Pool = pool
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, node: cfg.Node, host: cfg.Node.Host(), mux: cfg.Node.Mux(), met: cfg.Node.Metrics(),
		log: cfg.Logger.With("peer", cfg.Node.ID().String()), perConsumer: cfg.MaxPerConsumer, now: time.Now}
	s.table.byID = map[string]*provSession{}
	s.punching = make(chan struct{}, maxConcurrentPunches)
	s.table.perPeer = map[peer.ID]int{}
	s.table.gone = map[string]goneNote{}
	s.table.max = cfg.MaxSessions
	s.limits.cur = cfg.Limits
	s.policy.Store(cfg.Policy)
	// The limits were validated: the buckets cannot refuse them.
	s.totalUp, _ = tunnel.NewBucket("total", cfg.Limits.TotalRate)
	s.totalDown, _ = tunnel.NewBucket("total", cfg.Limits.TotalRate)
	var err error
	if s.usage, err = openUsage(cfg.UsageFile, s.now()); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := cfg.Node.OnClose(s.Close); err != nil {
		s.cancel()
		return nil, errors.Join(err, s.usage.close(s.now()))
	}
	s.publishLimits(cfg.Limits)
	s.met.MaxSessions.Set(float64(cfg.MaxSessions))
	used, _ := s.usage.get(s.now())
	s.met.MonthUsage.Set(float64(used))
	s.host.SetStreamHandler(session.Protocol, guard.Handler(s.log, session.Protocol, s.handleRequest))
	s.host.SetStreamHandler(session.TunnelProtocol, guard.Handler(s.log, session.TunnelProtocol, s.handleTunnel))
	s.wg.Go(s.reap)
	return s, nil
}

// Active is the number of sessions in the table (closing ones included:
// they still hold their resources).
func (s *Server) Active() int {
	s.table.Lock()
	defer s.table.Unlock()
	return len(s.table.byID)
}

// Close stops taking requests, ends every session (paying ones with a
// final invoice) and waits for all of it, then saves the month's usage.
// It is idempotent.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		s.host.RemoveStreamHandler(session.Protocol)
		s.host.RemoveStreamHandler(session.TunnelProtocol)
		s.table.Lock()
		s.table.closed = true
		all := make([]*provSession, 0, len(s.table.byID))
		for _, ps := range s.table.byID {
			all = append(all, ps)
		}
		s.table.Unlock()
		s.dropAll(all, ending{outcome: overlay.OutcomeStopping, why: "provider stopping"})
		s.cancel()
		s.wg.Wait()
		err = s.usage.close(s.now())
	})
	return err
}

// handleRequest answers one /mystp2p/session/1 request.
func (s *Server) handleRequest(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(requestTimeout))
	from := st.Conn().RemotePeer()
	var req session.Request
	if err := session.Read(bufio.NewReader(io.LimitReader(st, session.MaxMessage+16)), &req); err != nil {
		s.log.Debug("bad session request", "consumer", from, "err", err)
		s.met.Rejected.WithLabelValues(string(session.RejectBadRequest)).Inc()
		_ = session.Write(st, session.Reject(session.RejectBadRequest, "%v", err))
		return // the deferred Close delivers the reply
	}
	var rep session.Reply
	switch req.Kind {
	case session.Open:
		rep = s.open(st.Conn(), req)
	case session.Ping:
		rep = s.ping(from, req.Session)
	case session.Close:
		rep = s.closeByConsumer(from, req.Session)
	case session.Upgrade:
		rep = s.upgrade(from, req)
	case session.DialBack:
		rep = s.dialBack(from, req)
	case session.Punch:
		rep = s.punch(from, req)
	default:
		rep = session.Reject(session.RejectBadRequest, "unknown request kind %q", req.Kind)
	}
	s.count(st.Conn(), req, rep)
	if err := session.Write(st, rep); err != nil {
		_ = st.Reset()
	}
}

func (s *Server) count(c network.Conn, req session.Request, rep session.Reply) {
	switch {
	case !rep.OK:
		s.met.Rejected.WithLabelValues(string(rep.Code)).Inc()
	case req.Kind == session.Open:
		path := wgpath.Direct
		if c.Stat().Limited && req.Transport == wgpath.Stream {
			path = wgpath.Relayed
		}
		s.met.Sessions.WithLabelValues("provider", string(path), string(req.Transport)).Inc()
	case req.Kind == session.Upgrade:
		s.met.Upgrades.Inc()
	}
}

// lookup finds session id, only for the consumer that owns it: to anyone
// else it does not exist.
func (s *Server) lookup(from peer.ID, id string) *provSession {
	s.table.Lock()
	defer s.table.Unlock()
	ps, ok := s.table.byID[id]
	if !ok || ps.consumer != from {
		return nil
	}
	return ps
}

func noSession(id string) session.Reply {
	return session.Reject(session.RejectNoSession, "no session %q for you at this provider", id)
}

// goneNote is why the provider ended a session, for its consumer.
type goneNote struct {
	consumer peer.ID
	rep      session.Reply
	at       time.Time
}

// whyGone is the reply to a request for a session the provider ended
// lately (its reason, to its consumer only), else noSession.
func (s *Server) whyGone(from peer.ID, id string) session.Reply {
	s.table.Lock()
	defer s.table.Unlock()
	if g, ok := s.table.gone[id]; ok && g.consumer == from {
		return g.rep
	}
	return noSession(id)
}

func (s *Server) ping(from peer.ID, id string) session.Reply {
	ps := s.lookup(from, id)
	if ps == nil {
		return s.whyGone(from, id)
	}
	if rej := ps.touch(time.Now()); rej != nil {
		return *rej
	}
	return session.Reply{OK: true, Session: id}
}

func (s *Server) closeByConsumer(from peer.ID, id string) session.Reply {
	ps := s.lookup(from, id)
	if ps == nil {
		return noSession(id)
	}
	if !s.drop(ps, ending{outcome: overlay.OutcomeClosed, why: "closed by consumer"}) {
		return session.Reject(session.RejectClosing, "session %q is already closing", id)
	}
	return session.Reply{OK: true, Session: id}
}

// reap ends sessions whose consumer stopped pinging, and accounts every
// session's traffic (month's usage, cap, metrics). A clock tick is the
// only signal there is for silence, and the tunnel's counters have no
// event, so this polls once a second.
func (s *Server) reap() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			var stale []*provSession
			s.table.Lock()
			for _, ps := range s.table.byID {
				if ps.silentSince(now, s.cfg.PingTimeout) {
					stale = append(stale, ps)
				}
			}
			for id, g := range s.table.gone {
				if now.Sub(g.at) > s.cfg.PingTimeout {
					delete(s.table.gone, id)
				}
			}
			s.table.Unlock()
			s.dropAll(stale, ending{outcome: overlay.OutcomeTimeout, why: "consumer stopped pinging"})
			s.accountAll()
		}
	}
}

// dropAll drops several sessions at once: a paying session's final invoice
// may take a few seconds.
func (s *Server) dropAll(all []*provSession, why ending) {
	var wg sync.WaitGroup
	for _, ps := range all {
		wg.Go(func() { s.drop(ps, why) })
	}
	wg.Wait()
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
