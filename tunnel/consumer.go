package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ConsumerConfig is what a consumer needs for one session. All fields but
// Endpoint and Logger are required.
type ConsumerConfig struct {
	// PrivateKey is the consumer's fresh WireGuard key for this session.
	PrivateKey PrivateKey
	// PeerPublicKey is the provider's session public key.
	PeerPublicKey PublicKey
	// Addresses is the session's tunnel address pair, as the provider
	// allocated it.
	Addresses AddressPair
	// Bind carries WireGuard packets (UDPBind, PipeBind or a test bind).
	// Ownership is as for ProviderConfig.Bind.
	Bind conn.Bind
	// Endpoint is the provider's endpoint string for Bind.ParseEndpoint.
	// Optional when the bind has a single peer (UDPBind, PipeBind).
	Endpoint string
	// Logger receives session events; nil discards them.
	Logger *slog.Logger
}

// Consumer is the consumer's end of one session: a WireGuard peer in front
// of a userspace (gVisor) network stack. Connections dialled through it
// leave the internet at the provider; names are resolved by the provider's
// DNS responder, so neither traffic nor DNS touches the consumer's own
// network beyond the WireGuard packets themselves.
type Consumer struct {
	cfg     ConsumerConfig
	log     *slog.Logger
	meter   *meter
	netdev  *netDevice
	dev     *device.Device
	bind    *wgpath.SwitchBind
	refused unreachableFlows

	closeOnce sync.Once
	closed    chan struct{}
}

type consumerOptions struct {
	keepalive time.Duration
	now       func() time.Time
}

// ConsumerOption configures a Consumer or a TUNConsumer.
type ConsumerOption func(*consumerOptions) error

func newConsumerOptions(opts []ConsumerOption) (consumerOptions, error) {
	o := consumerOptions{keepalive: DefaultKeepalive, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return consumerOptions{}, err
		}
	}
	return o, nil
}

// WithKeepalive sets WireGuard's persistent keepalive (default 25 s, which
// keeps NAT mappings open); 0 disables it.
func WithKeepalive(d time.Duration) ConsumerOption {
	return func(o *consumerOptions) error {
		if d < 0 || d > time.Hour {
			return fmt.Errorf("%w: keepalive %v out of range [0, 1h]", ErrInvalidConfig, d)
		}
		o.keepalive = d
		return nil
	}
}

// WithConsumerClock replaces time.Now for metering.
func WithConsumerClock(now func() time.Time) ConsumerOption {
	return func(o *consumerOptions) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		o.now = now
		return nil
	}
}

// NewConsumer starts the consumer's end of a session. WireGuard's handshake
// starts with the first packet sent (and with the first keepalive).
func NewConsumer(cfg ConsumerConfig, opts ...ConsumerOption) (*Consumer, error) {
	o, err := newConsumerOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.logger()
	c := &Consumer{cfg: cfg, log: log, meter: newMeter(o.now), closed: make(chan struct{})}
	nd, err := newNetDevice(stackConfig{addrs: []netip.Addr{cfg.Addresses.Consumer, cfg.Addresses.Consumer6}}, c.meter)
	if err != nil {
		return nil, err
	}
	nd.inbound = c.noteICMP
	c.netdev = nd
	c.bind = wgpath.NewSwitchBind(cfg.Bind, deviceBatchSize)
	dev, err := startWireGuard(nd, c.bind, cfg.peerConfig(o.keepalive), log)
	if err != nil {
		nd.Close()
		return nil, err
	}
	c.dev = dev
	log.Debug("session up", "address", cfg.Addresses.Consumer, "peer", cfg.PeerPublicKey.String())
	return c, nil
}

// validate rejects a config with a required field missing, naming it.
func (cfg *ConsumerConfig) validate() error {
	switch {
	case cfg.PrivateKey.IsZero():
		return fmt.Errorf("%w: ConsumerConfig.PrivateKey is missing", ErrInvalidConfig)
	case cfg.PeerPublicKey.IsZero():
		return fmt.Errorf("%w: ConsumerConfig.PeerPublicKey is missing", ErrInvalidConfig)
	case cfg.Bind == nil:
		return fmt.Errorf("%w: ConsumerConfig.Bind is missing", ErrInvalidConfig)
	}
	if err := cfg.Addresses.Validate(); err != nil {
		return fmt.Errorf("ConsumerConfig.Addresses: %w", err)
	}
	if cfg.Endpoint == "" && bindEndpoint(cfg.Bind) == "" {
		return fmt.Errorf("%w: ConsumerConfig.Endpoint is missing and the bind has no single peer", ErrInvalidConfig)
	}
	return nil
}

// logger is the session's logger, tagged as the consumer side.
func (cfg *ConsumerConfig) logger() *slog.Logger {
	log := cfg.Logger
	if log == nil {
		log = discardLogger()
	}
	return log.With("side", "consumer")
}

// peerConfig is what the consumer tells WireGuard about the provider: every
// destination goes to it.
func (cfg *ConsumerConfig) peerConfig(keepalive time.Duration) peerConfig {
	return peerConfig{
		privateKey: cfg.PrivateKey,
		peerKey:    cfg.PeerPublicKey,
		endpoint:   cfg.Endpoint,
		keepalive:  keepalive,
		allowedIPs: []string{"0.0.0.0/0", "::/0"},
	}
}

// noteICMP remembers why the exit refused flows (see icmp.go).
func (c *Consumer) noteICMP(p []byte) {
	if k, why, ok := noteUnreachable(p); ok {
		c.refused.add(k, why)
	}
}

// Stats returns the session's traffic so far. Safe to call at any time,
// also after Close (the duration then stops at Close).
func (c *Consumer) Stats() Stats { return c.meter.stats() }

// Addresses returns the session's tunnel addresses.
func (c *Consumer) Addresses() AddressPair { return c.cfg.Addresses }

// LastHandshake returns when the last WireGuard handshake with the provider
// completed, or the zero time if none has. A handshake older than three
// minutes while traffic is flowing means the provider is gone.
func (c *Consumer) LastHandshake() (time.Time, error) {
	if c.isClosed() {
		return time.Time{}, ErrClosed
	}
	return lastHandshake(c.dev)
}

func (c *Consumer) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close ends the session: WireGuard stops (closing the bind), and every
// connection dialled through the consumer fails. Idempotent.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		c.meter.stop()
		close(c.closed)
		c.dev.Close()
	})
	return nil
}

// DialTCP opens a TCP connection to dst through the tunnel. Errors wrap
// ErrPolicyDenied, ErrConnectionRefused, ErrHostUnreachable,
// ErrNetworkUnreachable or ErrTimeout when the cause is known. Without a
// deadline in ctx, the dial gives up after 30 s.
func (c *Consumer) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if a := dst.Addr(); !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a == broadcast4 || dst.Port() == 0 {
		// Every exit policy denies these; TCP cannot even try them.
		return nil, fmt.Errorf("dial %s: %w: not a unicast destination", dst, ErrPolicyDenied)
	}
	fa, proto := fullAddr(dst)
	var wq waiter.Queue
	ep, terr := c.netdev.stack.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, fmt.Errorf("dial %s: %s", dst, terr)
	}
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	terr = ep.Connect(fa)
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		select {
		case <-ctx.Done():
			ep.Close()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("dial %s: %w", dst, ErrTimeout)
			}
			return nil, fmt.Errorf("dial %s: %w", dst, ctx.Err())
		case <-c.closed:
			ep.Close()
			return nil, ErrClosed
		case <-notify:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		local, _ := ep.GetLocalAddress()
		ep.Close()
		flow := flowKey{proto: TCP, src: netip.AddrPortFrom(addrFromTCPIP(local.Addr), local.Port), dst: dst}
		return nil, fmt.Errorf("dial %s: %w", dst, c.mapError(terr, flow))
	}
	return gonet.NewTCPConn(&wq, ep), nil
}

func (c *Consumer) mapError(terr tcpip.Error, flow flowKey) error {
	switch terr.(type) {
	case *tcpip.ErrConnectionRefused, *tcpip.ErrConnectionReset:
		return ErrConnectionRefused
	case *tcpip.ErrHostUnreachable, *tcpip.ErrHostDown, *tcpip.ErrNoNet, *tcpip.ErrNetworkUnreachable:
		switch c.refused.take(flow) {
		case reasonProhibited:
			return ErrPolicyDenied
		case reasonHostUnreachable:
			return ErrHostUnreachable
		}
		if _, ok := terr.(*tcpip.ErrNetworkUnreachable); ok {
			return ErrNetworkUnreachable
		}
		return ErrHostUnreachable
	case *tcpip.ErrTimeout:
		return ErrTimeout
	}
	return fmt.Errorf("%s", terr)
}

// ListenUDP returns an unconnected UDP socket on the consumer's tunnel
// address (IPv4 or IPv6 per v6), for relaying datagrams to any destination
// through the exit.
func (c *Consumer) ListenUDP(v6 bool) (net.PacketConn, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	a := c.cfg.Addresses.Consumer
	if v6 {
		a = c.cfg.Addresses.Consumer6
	}
	fa, proto := fullAddr(netip.AddrPortFrom(a, 0))
	uc, err := gonet.DialUDP(c.netdev.stack, &fa, nil, proto)
	if err != nil {
		return nil, fmt.Errorf("tunnel UDP socket: %w", err)
	}
	return uc, nil
}

// LookupHost resolves host at the provider's DNS responder, through the
// tunnel, and returns its IPv4 addresses followed by its IPv6 addresses.
// IP literals are returned as they are. Errors wrap ErrNameNotFound,
// ErrDNS or ErrTimeout.
func (c *Consumer) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return []netip.Addr{a.Unmap()}, nil
	}
	if c.isClosed() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, dnsQueryTimeout)
	defer cancel()
	server := netip.AddrPortFrom(c.cfg.Addresses.Provider, dnsPort)
	lfa, proto := fullAddr(netip.AddrPortFrom(c.cfg.Addresses.Consumer, 0))
	rfa, _ := fullAddr(server)
	uc, err := gonet.DialUDP(c.netdev.stack, &lfa, &rfa, proto)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	defer uc.Close()
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	types := []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	ids := make([]uint16, len(types))
	queries := make([][]byte, len(types))
	for i, t := range types {
		ids[i], queries[i], err = dnsQuery(host, t)
		if err != nil {
			return nil, fmt.Errorf("resolve %q: %w", host, err)
		}
	}
	results := make([]*dnsResult, len(types))
	pending := len(types)
	buf := make([]byte, maxDNSMessage)
	for pending > 0 {
		for i, q := range queries {
			if results[i] == nil {
				if _, err := uc.Write(q); err != nil {
					return nil, fmt.Errorf("resolve %q: %w", host, err)
				}
			}
		}
		retransmit := time.Now().Add(dnsRetransmit)
		for pending > 0 {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("resolve %q at %s: %w", host, server, ErrTimeout)
			}
			uc.SetReadDeadline(retransmit)
			n, err := uc.Read(buf)
			if err != nil {
				if isTimeout(err) {
					break // retransmit, or report the ctx timeout above
				}
				return nil, fmt.Errorf("resolve %q: %w", host, err)
			}
			for i, t := range types {
				if results[i] != nil {
					continue
				}
				if r, ok := parseDNSAnswer(buf[:n], ids[i], t); ok {
					results[i] = &r
					pending--
				}
			}
		}
	}
	var addrs []netip.Addr
	nx := 0
	for _, r := range results {
		switch r.rcode {
		case dnsmessage.RCodeSuccess:
			addrs = append(addrs, r.addrs...)
		case dnsmessage.RCodeNameError:
			nx++
		}
	}
	switch {
	case len(addrs) > 0:
		return addrs, nil
	case nx > 0 || (results[0].rcode == dnsmessage.RCodeSuccess && results[1].rcode == dnsmessage.RCodeSuccess):
		return nil, fmt.Errorf("resolve %q: %w", host, ErrNameNotFound)
	}
	return nil, fmt.Errorf("resolve %q: %w (rcode %s)", host, ErrDNS, results[0].rcode)
}

// SwitchBind moves the session to another transport, for example from a
// relayed PipeBind to a UDPBind over a freshly punched socket, without
// restarting WireGuard or the network stack: open connections survive
// (packets in flight during the switch are lost and retransmitted). The old
// bind is closed. endpoint is the peer's endpoint on b, "" for binds with a
// single peer. Both ends should switch; until the peer does, its packets
// still arrive on its old path and are lost.
func (c *Consumer) SwitchBind(b conn.Bind, endpoint string) error {
	if c.isClosed() {
		return ErrClosed
	}
	if b == nil {
		return fmt.Errorf("%w: nil bind", ErrInvalidConfig)
	}
	return c.bind.SwitchTo(c.dev, c.cfg.PeerPublicKey, b, endpoint)
}
