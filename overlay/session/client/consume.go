package client

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

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Errors Consume wraps, so that a command can tell its user what to change.
var (
	// ErrNoProposals means discovery found no provider matching the query.
	ErrNoProposals = errors.New("no matching provider found")
	// ErrDiscovery means discovery found no provider to try, after a few
	// attempts; it wraps the last reason.
	ErrDiscovery = errors.New("discovery")
	// ErrSessionEnded means the session ended and Consume was not to
	// reconnect; the error wraps why the session ended too.
	ErrSessionEnded = errors.New("session ended")
)

// endedError is a session's end that Consume returns.
type endedError struct {
	provider peer.ID
	why      error
}

func (e *endedError) Error() string {
	return fmt.Sprintf("session with %s ended: %v", e.provider, e.why)
}

func (e *endedError) Unwrap() []error { return []error{ErrSessionEnded, e.why} }

// ConsumeConfig is what `mystp2p connect` asks for.
type ConsumeConfig struct {
	Query overlay.Query
	// Transport forces a transport (see Config).
	Transport wgpath.Transport
	// Obfuscation is the consumer's wish for WireGuard obfuscation (see Config).
	Obfuscation ObfsMode
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
	// Payment, if set, pays every session (see Config.Payment).
	Payment *Payment
}

// Consume discovers providers from node, connects to the best one, and
// serves SOCKS5 (or TUN) through the session until ctx ends. When the
// provider disappears it says so and, with AutoReconnect, moves to the
// next best provider; otherwise it returns the reason, wrapped in
// ErrSessionEnded.
func Consume(ctx context.Context, node *overlay.Node, cfg ConsumeConfig) error {
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
	retry := time.Duration(0)
	for hadSession := false; ; {
		s, err := connectBest(ctx, node, cfg, failures, progress)
		if err != nil && hadSession && cfg.AutoReconnect && ctx.Err() == nil && reconnectable(err) {
			// Every known provider refused or failed just now (one that
			// restarts answers before its sessions do, say): keep the
			// SOCKS5 listener and try again, backing off to 10 s.
			retry = min(max(2*retry, time.Second), 10*time.Second)
			progress(fmt.Sprintf("%v; trying again in %s", err, retry))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(retry):
			}
			continue
		}
		if err != nil {
			return err
		}
		hadSession, retry = true, 0
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
			return &endedError{provider: s.Provider, why: why}
		}
		progress("reconnecting to the next best provider")
	}
}

// reconnectable reports whether another try may succeed where err failed:
// not for a balance that waiting does not top up, nor for a TUN device
// this host cannot make.
func reconnectable(err error) bool {
	return !errors.Is(err, ErrInsufficientBalance) && !errors.Is(err, tunnel.ErrTUNNeedsRoot) &&
		!errors.Is(err, tunnel.ErrTUNUnsupported) && !errors.Is(err, tunnel.ErrInterfaceExists)
}

// connectBest discovers matching proposals and tries them best first:
// fewest local failures, then cheapest.
func connectBest(ctx context.Context, node *overlay.Node, cfg ConsumeConfig, failures map[peer.ID]int, progress func(string)) (*Session, error) {
	for attempt := 0; ; attempt++ {
		var ps []*overlay.SignedProposal
		var err error
		if attempt == 0 && len(failures) > 0 {
			// A reconnect: the offers already known, at once, rather
			// than a fresh discovery that may wait on the very provider
			// (a DHT server too) that just vanished.
			ps = slices.DeleteFunc(node.Cached(cfg.Query), func(sp *overlay.SignedProposal) bool {
				return failures[sp.Proposal.Provider] >= 3
			})
		}
		if len(ps) == 0 {
			progress("discovering providers")
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			ps, err = node.Discover(dctx, cfg.Query)
			cancel()
		}
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
				node.AwaitProposal(ctx, cfg.Query, 2*time.Second)
				continue
			}
			return nil, fmt.Errorf("%w: %w", ErrDiscovery, err)
		}
		slices.SortStableFunc(ps, func(a, b *overlay.SignedProposal) int {
			return failures[a.Proposal.Provider] - failures[b.Proposal.Provider]
		})
		var errs []error
		for _, sp := range ps {
			pay := cfg.Payment
			if !sp.Proposal.Charges() {
				pay = nil
			} else {
				resync(ctx, node, pay)
			}
			s, err := Connect(ctx, node, Config{Proposal: sp, Transport: cfg.Transport, Obfuscation: cfg.Obfuscation,
				Progress: progress, TUN: cfg.TUN, Payment: pay})
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
