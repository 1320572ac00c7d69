package overlay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ErrNoProposals means discovery found no provider matching the query.
var ErrNoProposals = errors.New("no matching provider found")

// ConsumeConfig is what `mystp2p connect` asks for.
type ConsumeConfig struct {
	Query Query
	// Transport forces a transport (see ConnectConfig).
	Transport wgpath.Transport
	// SOCKSAddr is where the SOCKS5 server listens (loopback unless
	// SOCKSOptions allow otherwise).
	SOCKSAddr    string
	SOCKSOptions []tunnel.SOCKSOption
	// AutoReconnect moves to the next best provider when one disappears.
	AutoReconnect bool
	// Progress hears every stage, for the user.
	Progress func(stage string)
	// OnSession, if set, is called with every session once its tunnel is up.
	OnSession func(*Session)
	// TUN, when set, carries the host's traffic on a TUN device instead of
	// serving SOCKS5.
	TUN *TUNOptions
	// Payment, if set, pays every session (see ConnectConfig.Payment).
	Payment *ConsumerPayment
}

// Consume discovers providers, connects to the best one, and serves SOCKS5
// through the session until ctx ends. When the provider disappears it says
// so and, with AutoReconnect, moves to the next best provider; otherwise it
// returns the reason.
func (n *Node) Consume(ctx context.Context, cfg ConsumeConfig) error {
	progress := cfg.Progress
	if progress == nil {
		progress = func(string) {}
	}
	dialer := &sessionDialer{}
	var socks *tunnel.SOCKSServer
	if cfg.TUN == nil {
		var err error
		if socks, err = tunnel.NewSOCKSServer(dialer, cfg.SOCKSAddr, cfg.SOCKSOptions...); err != nil {
			return fmt.Errorf("start SOCKS5 server on %s: %w", cfg.SOCKSAddr, err)
		}
		defer socks.Close()
	}
	failures := map[peer.ID]int{}
	for {
		s, err := n.connectBest(ctx, cfg, failures, progress)
		if err != nil {
			return err
		}
		if socks != nil {
			dialer.set(s.Tunnel)
			progress(fmt.Sprintf("SOCKS5 ready on %s via %s (%s)", socks.Addr(), s.Provider, s.Path()))
		} else {
			progress(fmt.Sprintf("TUN %s ready via %s (%s): all traffic goes through the tunnel", s.TUN.Name(), s.Provider, s.Path()))
		}
		if cfg.OnSession != nil {
			cfg.OnSession(s)
		}
		select {
		case <-ctx.Done():
			dialer.set(nil)
			return s.Close()
		case <-s.Done():
		}
		dialer.set(nil)
		why := s.Err()
		s.Close()
		failures[s.Provider] += 3
		progress(fmt.Sprintf("session with %s ended: %v", s.Provider, why))
		if !cfg.AutoReconnect {
			return fmt.Errorf("session with %s ended: %w (use --auto-reconnect to move on by itself)", s.Provider, why)
		}
		progress("reconnecting to the next best provider")
	}
}

// connectBest discovers matching proposals and tries them best first:
// fewest local failures, then cheapest.
func (n *Node) connectBest(ctx context.Context, cfg ConsumeConfig, failures map[peer.ID]int, progress func(string)) (*Session, error) {
	for attempt := 0; ; attempt++ {
		progress("discovering providers")
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ps, err := n.Discover(dctx, cfg.Query)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil && len(ps) == 0 {
			err = ErrNoProposals
		}
		if err == nil {
			if ps, err = payable(ps, cfg.Payment); errors.Is(err, ErrInsufficientBalance) {
				return nil, err // waiting does not top up
			}
		}
		if err != nil {
			if attempt < 2 {
				progress(fmt.Sprintf("discovery: %v; retrying", err))
				n.awaitProposal(ctx, cfg.Query, 2*time.Second)
				continue
			}
			return nil, fmt.Errorf("discovery: %w (check --bootstrap and widen the filters)", err)
		}
		slices.SortStableFunc(ps, func(a, b *SignedProposal) int {
			return failures[a.Proposal.Provider] - failures[b.Proposal.Provider]
		})
		var errs []error
		for _, sp := range ps {
			pay := cfg.Payment
			if !sp.Proposal.Charges() {
				pay = nil
			} else {
				n.resync(ctx, pay)
			}
			s, err := n.Connect(ctx, ConnectConfig{Proposal: sp, Transport: cfg.Transport, Progress: progress, TUN: cfg.TUN, Payment: pay})
			if err == nil {
				return s, nil
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, tunnel.ErrTUNNeedsRoot) || errors.Is(err, tunnel.ErrTUNUnsupported) || errors.Is(err, tunnel.ErrInterfaceExists) {
				return nil, err // no other provider fixes this
			}
			failures[sp.Proposal.Provider]++
			progress(fmt.Sprintf("provider %s: %v", sp.Proposal.Provider, err))
			errs = append(errs, err)
			if len(errs) == 5 {
				break
			}
		}
		return nil, fmt.Errorf("no provider accepted a session: %w", errors.Join(errs...))
	}
}

// awaitProposal returns as soon as a matching proposal arrives by gossip, or
// after d: a node that has just joined often hears gossip before its DHT
// lookups work.
func (n *Node) awaitProposal(ctx context.Context, q Query, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for sp := range n.WatchProposals(wctx) {
		if q.Matches(&sp.Proposal) {
			return
		}
	}
}

// sessionDialer sends SOCKS traffic into the current session's tunnel.
type sessionDialer struct {
	mu  sync.RWMutex
	cur *tunnel.Consumer
}

var _ tunnel.Dialer = (*sessionDialer)(nil)

// errNoSession is what SOCKS clients get between sessions.
var errNoSession = errors.New("no session up (reconnecting)")

func (d *sessionDialer) set(c *tunnel.Consumer) {
	d.mu.Lock()
	d.cur = c
	d.mu.Unlock()
}

func (d *sessionDialer) get() (*tunnel.Consumer, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.cur == nil {
		return nil, errNoSession
	}
	return d.cur, nil
}

func (d *sessionDialer) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	c, err := d.get()
	if err != nil {
		return nil, err
	}
	return c.DialTCP(ctx, dst)
}

func (d *sessionDialer) ListenUDP(v6 bool) (net.PacketConn, error) {
	c, err := d.get()
	if err != nil {
		return nil, err
	}
	return c.ListenUDP(v6)
}

func (d *sessionDialer) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	c, err := d.get()
	if err != nil {
		return nil, err
	}
	return c.LookupHost(ctx, host)
}
