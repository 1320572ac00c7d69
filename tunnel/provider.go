package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ProviderConfig is what a provider needs to serve one session. All fields
// but Endpoint, Logger and Resolver are required.
type ProviderConfig struct {
	// PrivateKey is the provider's fresh WireGuard key for this session.
	PrivateKey PrivateKey
	// PeerPublicKey is the consumer's session public key.
	PeerPublicKey PublicKey
	// Addresses is the session's tunnel address pair (AddressPool.Allocate).
	Addresses AddressPair
	// Bind carries WireGuard packets: a UDPBind over the punched socket,
	// a PipeBind over a relayed stream, or a test bind. Once the
	// constructor succeeds, the session closes the bind on Close; if the
	// constructor fails, the socket or stream under it is still the
	// caller's to close.
	Bind conn.Bind
	// Endpoint is the consumer's endpoint string for Bind.ParseEndpoint.
	// Optional: binds with a single peer supply it, and WireGuard learns
	// it from the consumer's first packet anyway.
	Endpoint string
	// Policy decides which destinations the exit may dial; SetPolicy
	// replaces it for the flows that come after.
	Policy *ExitPolicy
	// Logger receives session events; nil discards them.
	Logger *slog.Logger
	// Resolver answers the consumer's DNS queries; nil uses the host
	// resolver (net.DefaultResolver).
	Resolver Resolver
}

// Provider is the provider's end of one session: a WireGuard peer whose
// decrypted traffic enters a gVisor stack that terminates the consumer's
// TCP connections and UDP flows and re-originates them from host sockets,
// subject to the exit policy. It also answers DNS on the provider's tunnel
// addresses (UDP and TCP port 53).
type Provider struct {
	cfg    ProviderConfig
	opts   providerOptions
	log    *slog.Logger
	meter  *meter
	netdev *netDevice
	dev    *device.Device
	bind   *wgpath.SwitchBind
	denied []netip.Prefix // the tunnel's own ranges, never dialled
	policy atomic.Pointer[ExitPolicy]
	up     buckets
	down   buckets

	logLimit *rateLimiter // per-flow logs

	tcpSlots chan struct{}
	udpSlots chan struct{}

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool           // guarded by mu; set before wg.Wait
	wg     sync.WaitGroup // every goroutine the provider owns
	conns  map[net.Conn]struct{}

	closeOnce sync.Once
	closeErr  error
}

type providerOptions struct {
	maxTCP      int
	maxUDP      int
	dialTimeout time.Duration
	udpIdle     time.Duration
	tcpIdle     time.Duration
	now         func() time.Time
	up, down    buckets
}

// ProviderOption configures a Provider.
type ProviderOption func(*providerOptions) error

// WithMaxTCPConns limits concurrent TCP connections of the session
// (default 1024). Further SYNs are answered with a reset.
func WithMaxTCPConns(n int) ProviderOption {
	return func(o *providerOptions) error {
		if n < 1 {
			return fmt.Errorf("%w: max TCP connections %d < 1", ErrInvalidConfig, n)
		}
		o.maxTCP = n
		return nil
	}
}

// WithMaxUDPFlows limits concurrent UDP flows of the session (default 512).
func WithMaxUDPFlows(n int) ProviderOption {
	return func(o *providerOptions) error {
		if n < 1 {
			return fmt.Errorf("%w: max UDP flows %d < 1", ErrInvalidConfig, n)
		}
		o.maxUDP = n
		return nil
	}
}

// WithExitDialTimeout bounds each outbound TCP dial (default 10 s).
func WithExitDialTimeout(d time.Duration) ProviderOption {
	return func(o *providerOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: dial timeout %v", ErrInvalidConfig, d)
		}
		o.dialTimeout = d
		return nil
	}
}

// WithTCPIdleTimeout closes a proxied TCP connection after this long
// without data in one direction (default 1 h).
func WithTCPIdleTimeout(d time.Duration) ProviderOption {
	return func(o *providerOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: TCP idle timeout %v", ErrInvalidConfig, d)
		}
		o.tcpIdle = d
		return nil
	}
}

// WithUDPIdleTimeout closes a UDP flow after this long without traffic in
// either direction (default 60 s).
func WithUDPIdleTimeout(d time.Duration) ProviderOption {
	return func(o *providerOptions) error {
		if d <= 0 {
			return fmt.Errorf("%w: UDP idle timeout %v", ErrInvalidConfig, d)
		}
		o.udpIdle = d
		return nil
	}
}

// WithRateLimits throttles what the exit forwards, TCP and UDP: up is the
// consumer's traffic towards the internet, down the answers. Each byte
// waits in every bucket of its direction, in order (typically the
// session's own, then a provider's total shared by its sessions). DNS the
// provider answers itself is not throttled. Default: no limits.
func WithRateLimits(up, down []*Bucket) ProviderOption {
	return func(o *providerOptions) error {
		if slices.Contains(up, nil) || slices.Contains(down, nil) {
			return fmt.Errorf("%w: nil rate-limit bucket", ErrInvalidConfig)
		}
		o.up, o.down = slices.Clone(up), slices.Clone(down)
		return nil
	}
}

// WithProviderClock replaces time.Now for metering.
func WithProviderClock(now func() time.Time) ProviderOption {
	return func(o *providerOptions) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		o.now = now
		return nil
	}
}

// NewProvider starts the provider's end of a session.
func NewProvider(cfg ProviderConfig, opts ...ProviderOption) (*Provider, error) {
	o := providerOptions{maxTCP: 1024, maxUDP: 512, dialTimeout: 10 * time.Second, udpIdle: 60 * time.Second, tcpIdle: time.Hour, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.PrivateKey.IsZero():
		return nil, fmt.Errorf("%w: ProviderConfig.PrivateKey is missing", ErrInvalidConfig)
	case cfg.PeerPublicKey.IsZero():
		return nil, fmt.Errorf("%w: ProviderConfig.PeerPublicKey is missing", ErrInvalidConfig)
	case cfg.Bind == nil:
		return nil, fmt.Errorf("%w: ProviderConfig.Bind is missing", ErrInvalidConfig)
	case cfg.Policy == nil:
		return nil, fmt.Errorf("%w: ProviderConfig.Policy is missing", ErrInvalidConfig)
	}
	if err := cfg.Addresses.Validate(); err != nil {
		return nil, fmt.Errorf("ProviderConfig.Addresses: %w", err)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	log := cfg.Logger
	if log == nil {
		log = discardLogger()
	}
	log = log.With("side", "provider")
	p16, _ := cfg.Addresses.Provider.Prefix(16)
	p64, _ := cfg.Addresses.Provider6.Prefix(64)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{
		cfg:      cfg,
		opts:     o,
		log:      log,
		meter:    newMeter(o.now),
		denied:   []netip.Prefix{p16, p64},
		logLimit: &rateLimiter{every: time.Second, burst: 10},
		tcpSlots: make(chan struct{}, o.maxTCP),
		udpSlots: make(chan struct{}, o.maxUDP),
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[net.Conn]struct{}),
		up:       o.up,
		down:     o.down,
	}
	p.policy.Store(cfg.Policy)
	nd, err := newNetDevice(stackConfig{
		addrs:     []netip.Addr{cfg.Addresses.Provider, cfg.Addresses.Provider6},
		terminate: true,
	}, p.meter)
	if err != nil {
		cancel()
		return nil, err
	}
	p.netdev = nd
	s := nd.stack
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, o.maxTCP, p.handleTCP).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, p.handleUDP).HandlePacket)
	if err := p.startDNS(); err != nil {
		p.Close()
		return nil, err
	}
	p.bind = wgpath.NewSwitchBind(cfg.Bind, deviceBatchSize)
	dev, err := startWireGuard(nd, p.bind, peerConfig{
		privateKey: cfg.PrivateKey,
		peerKey:    cfg.PeerPublicKey,
		endpoint:   cfg.Endpoint,
		allowedIPs: []string{
			netip.PrefixFrom(cfg.Addresses.Consumer, 32).String(),
			netip.PrefixFrom(cfg.Addresses.Consumer6, 128).String(),
		},
	}, log)
	if err != nil {
		p.Close()
		return nil, err
	}
	p.dev = dev
	log.Debug("session up", "consumer", cfg.Addresses.Consumer, "peer", cfg.PeerPublicKey.String())
	return p, nil
}

// Stats returns the session's traffic so far. Safe to call at any time,
// also after Close (the duration then stops at Close).
func (p *Provider) Stats() Stats { return p.meter.stats() }

// LastHandshake returns when the last WireGuard handshake with the
// consumer completed, or the zero time if none has.
func (p *Provider) LastHandshake() (time.Time, error) {
	if p.isClosed() {
		return time.Time{}, ErrClosed
	}
	return lastHandshake(p.dev)
}

// Close ends the session: it stops WireGuard (closing the bind), aborts
// every proxied connection and waits for all goroutines. Idempotent.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		p.meter.stop()
		p.mu.Lock()
		p.closed = true
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.cancel()
		if p.dev != nil {
			p.dev.Close() // closes the bind and the netDevice
		} else if p.netdev != nil {
			p.netdev.Close()
		}
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Provider) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// track registers conns so that Close can abort them, and starts counting
// the calling goroutine in wg. It returns false once closing has begun, in
// which case the caller must not proceed.
func (p *Provider) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Provider) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

// goTracked runs fn in a goroutine owned by p, unless p is closing.
func (p *Provider) goTracked(fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Go(fn)
	return true
}

// checkDest applies the tunnel's own ranges and the exit policy.
func (p *Provider) checkDest(proto Proto, dst netip.AddrPort) error {
	for _, pr := range p.denied {
		if pr.Contains(dst.Addr()) {
			return fmt.Errorf("%w: %s %s (tunnel address)", ErrPolicyDenied, proto, dst)
		}
	}
	return p.policy.Load().Check(proto, dst)
}

// SetPolicy makes the exit apply policy to every flow that starts from now
// on; flows already open keep going.
func (p *Provider) SetPolicy(policy *ExitPolicy) error {
	if policy == nil {
		return fmt.Errorf("%w: nil exit policy", ErrInvalidConfig)
	}
	p.policy.Store(policy)
	return nil
}

// refuse tells the consumer why its flow failed, with an ICMP error.
func (p *Provider) refuse(flow flowKey, why unreachableReason) {
	p.netdev.sendOutbound(buildUnreachable(flow, why))
}

// dialReason maps a host dial error to the ICMP reason sent back; ok is
// false when a TCP reset is the better answer (connection refused).
func dialReason(err error) (unreachableReason, bool) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return 0, false
	case errors.Is(err, syscall.ENETUNREACH):
		return reasonNetUnreachable, true
	}
	return reasonHostUnreachable, true
}

func (p *Provider) logFlow(msg string, args ...any) {
	if p.logLimit.allow(time.Now()) {
		p.log.Debug(msg, args...)
	}
}

// SwitchBind moves the session to another transport, for example from a
// relayed PipeBind to a UDPBind over a freshly punched socket, without
// restarting WireGuard or the network stack: open connections survive
// (packets in flight during the switch are lost and retransmitted). The old
// bind is closed. endpoint is the peer's endpoint on b, "" for binds with a
// single peer. Both ends should switch; until the peer does, its packets
// still arrive on its old path and are lost.
func (p *Provider) SwitchBind(b conn.Bind, endpoint string) error {
	if p.isClosed() {
		return ErrClosed
	}
	if b == nil {
		return fmt.Errorf("%w: nil bind", ErrInvalidConfig)
	}
	return p.bind.SwitchTo(p.dev, p.cfg.PeerPublicKey, b, endpoint)
}
