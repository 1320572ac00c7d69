package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
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
	// Control, if set, lets another goroutine (the local API) watch the
	// sessions and disconnect, reconnect or switch provider.
	Control *Control
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
	ctl := cfg.Control
	if ctl == nil {
		ctl = NewControl()
	}
	failures := map[peer.ID]int{}
	retry := time.Duration(0)
	query := cfg.Query
	for hadSession, asked := false, false; ; {
		actx, cmd := ctl.attempt(ctx)
		ctl.setState(ConsumerConnecting, nil)
		qcfg := cfg
		qcfg.Query = query
		s, err := connectBest(actx, node, qcfg, failures, progress)
		ctl.endAttempt()
		if err != nil && ctx.Err() == nil {
			if c, ok := cmd(); ok {
				// Interrupted by the local API.
				if query, err = ctl.obey(ctx, c, cfg.Query, progress); err != nil {
					return err
				}
				asked = true
				continue
			}
		}
		if err != nil && hadSession && cfg.AutoReconnect && ctx.Err() == nil && reconnectable(err) {
			// Every known provider refused or failed just now (one that
			// restarts answers before its sessions do, say): keep the
			// SOCKS5 listener and try again, backing off to 10 s.
			retry = min(max(2*retry, time.Second), 10*time.Second)
			progress(fmt.Sprintf("%v; trying again in %s", err, retry))
			ctl.setState(ConsumerReconnecting, err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case c := <-ctl.cmds:
				if query, err = ctl.obey(ctx, c, cfg.Query, progress); err != nil {
					return err
				}
				asked = true
			case <-time.After(retry):
			}
			continue
		}
		if err != nil && asked && ctx.Err() == nil {
			// A connect the local API asked for failed: say so there and
			// wait for the next request rather than end the process.
			progress(fmt.Sprintf("connect failed: %v", err))
			ctl.setState(ConsumerDisconnected, err)
			if query, err = ctl.obey(ctx, ctl.next(ctx), cfg.Query, progress); err != nil {
				return err
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
		ctl.setSession(s)
		if cfg.OnSession != nil {
			cfg.OnSession(s)
		}
		select {
		case <-ctx.Done():
			dialer.set(nil)
			err := s.Close()
			ctl.endSession(s, nil)
			return err
		case c := <-ctl.cmds:
			dialer.set(nil)
			s.Close()
			ctl.endSession(s, nil)
			progress(fmt.Sprintf("session with %s closed at the local API's request", s.Provider))
			if query, err = ctl.obey(ctx, c, cfg.Query, progress); err != nil {
				return err
			}
			asked = true
			continue
		case <-s.Done():
		}
		dialer.set(nil)
		why := s.Err()
		s.Close()
		ctl.endSession(s, why)
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

// ConsumerState is where a Consume loop is, as its Control reports it.
type ConsumerState string

// ConsumerState values.
const (
	// ConsumerConnecting: discovering providers or opening a session.
	ConsumerConnecting ConsumerState = "connecting"
	// ConsumerConnected: a session is up.
	ConsumerConnected ConsumerState = "connected"
	// ConsumerReconnecting: the session ended; trying the next provider.
	ConsumerReconnecting ConsumerState = "reconnecting"
	// ConsumerDisconnected: no session, by request or after a failed
	// requested connect; waiting for Connect.
	ConsumerDisconnected ConsumerState = "disconnected"
)

// ConsumerStatus is a snapshot of a Consume loop. Amounts are base units.
type ConsumerStatus struct {
	State ConsumerState
	// Session is the live session, nil unless State is ConsumerConnected.
	Session *Session
	// Since is when State was entered.
	Since time.Time
	// LastError is why the last session or requested connect ended, if it
	// failed.
	LastError error
	// SpentBefore is what sessions that already ended paid (total + fee).
	SpentBefore *big.Int
}

// ErrControlBusy means a request to a Control is still waiting for the
// Consume loop to take it.
var ErrControlBusy = errors.New("the previous connect or disconnect request is still being handled; try again in a moment")

// Control steers a running Consume from another goroutine: Status reads
// its state, Disconnect closes the session and waits, Connect opens one
// (with a provider given, switching to it). A Control serves one Consume
// call; without one Consume makes its own.
type Control struct {
	cmds chan controlCmd

	mu          sync.Mutex // guards the fields below
	state       ConsumerState
	session     *Session
	since       time.Time
	lastErr     error
	spentBefore *big.Int
	interrupt   context.CancelFunc // cancels the connect attempt under way
}

// controlCmd is one request: disconnect, or connect (to provider if set).
type controlCmd struct {
	disconnect bool
	provider   peer.ID
}

// NewControl makes a Control for one Consume call.
func NewControl() *Control {
	return &Control{cmds: make(chan controlCmd, 1), state: ConsumerConnecting, since: time.Now(), spentBefore: new(big.Int)}
}

// Status is a snapshot of the loop.
func (c *Control) Status() ConsumerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return ConsumerStatus{State: c.state, Session: c.session, Since: c.since, LastError: c.lastErr,
		SpentBefore: new(big.Int).Set(c.spentBefore)}
}

// Disconnect asks the loop to close its session (or stop connecting) and
// wait for Connect. It returns once the request is queued.
func (c *Control) Disconnect() error { return c.send(controlCmd{disconnect: true}) }

// Connect asks the loop to connect: to provider if it is not empty
// (closing the current session first), else to the best provider for the
// loop's query. It returns once the request is queued.
func (c *Control) Connect(provider peer.ID) error { return c.send(controlCmd{provider: provider}) }

// send queues cmd and interrupts the attempt under way. Both happen under
// mu: the loop may take cmd at once and start the attempt cmd asked for,
// and attempt waits for mu, so send cannot cancel that new attempt.
func (c *Control) send(cmd controlCmd) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case c.cmds <- cmd:
	default:
		return ErrControlBusy
	}
	if c.interrupt != nil {
		c.interrupt()
	}
	return nil
}

// attempt derives the context of one connect attempt, which a request
// cancels; cmd returns the request that did, if one did.
func (c *Control) attempt(ctx context.Context) (context.Context, func() (controlCmd, bool)) {
	actx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.interrupt = cancel
	if len(c.cmds) > 0 {
		cancel() // a request came between two attempts: take it now
	}
	c.mu.Unlock()
	return actx, func() (controlCmd, bool) {
		select {
		case cmd := <-c.cmds:
			return cmd, true
		default:
			return controlCmd{}, false
		}
	}
}

// endAttempt ends the attempt's context: requests from now on wait in
// cmds for the loop.
func (c *Control) endAttempt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.interrupt != nil {
		c.interrupt()
		c.interrupt = nil
	}
}

// next waits for a request.
func (c *Control) next(ctx context.Context) controlCmd {
	select {
	case cmd := <-c.cmds:
		return cmd
	case <-ctx.Done():
		return controlCmd{disconnect: true}
	}
}

// obey carries out cmd: a disconnect waits (disconnected) for a connect.
// It returns the query the next connect uses: base, narrowed to the
// provider asked for. It fails only when ctx ends.
func (c *Control) obey(ctx context.Context, cmd controlCmd, base overlay.Query, progress func(string)) (overlay.Query, error) {
	for cmd.disconnect {
		c.setState(ConsumerDisconnected, nil)
		progress("disconnected; waiting for a connect request on the local API")
		cmd = c.next(ctx)
		if ctx.Err() != nil {
			return base, ctx.Err()
		}
	}
	if cmd.provider != "" {
		base.Provider = cmd.provider
	}
	return base, nil
}

// setState enters st (not ConsumerConnected: see setSession).
func (c *Control) setState(st ConsumerState, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != st {
		c.state, c.since = st, time.Now()
	}
	if err != nil {
		c.lastErr = err
	}
}

// setSession records s as the live session.
func (c *Control) setSession(s *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.session, c.since, c.lastErr = ConsumerConnected, s, time.Now(), nil
}

// endSession records that s ended, why (nil: closed on purpose), adding
// what it paid to SpentBefore.
func (c *Control) endSession(s *Session, why error) {
	total, fee := s.Paid()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spentBefore.Add(c.spentBefore, total)
	c.spentBefore.Add(c.spentBefore, fee)
	if c.session == s {
		c.session = nil
	}
	c.state, c.since = ConsumerReconnecting, time.Now()
	if why != nil {
		c.lastErr = why
	}
}
