package overlay

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Reachability overrides what AutoNAT would find out.
type Reachability string

// Reachability values.
const (
	ReachabilityAuto    Reachability = ""
	ReachabilityPublic  Reachability = "public"
	ReachabilityPrivate Reachability = "private"
)

// DefaultListen are the addresses a node listens on when none are given.
var DefaultListen = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

// HostConfig describes the libp2p host under a node.
type HostConfig struct {
	Identity *identity.Identity
	Listen   []string
	// StaticRelays are relays to reserve a slot with when behind NAT; with
	// them autorelay starts at once instead of waiting minutes for candidates.
	StaticRelays []peer.AddrInfo
	// RelayService makes this host a circuit relay v2 for others, with these
	// limits (nil: not a relay).
	RelayService *relay.Limits
	Reachability Reachability
	// ConnLow and ConnHigh are the connection manager watermarks.
	ConnLow, ConnHigh int
	// Metrics registers libp2p's metrics; nil disables them.
	Metrics prometheus.Registerer
	// UDPMux, when set, is the one UDP socket for QUIC and WireGuard: the
	// host's QUIC listens and dials on it, so a session's WireGuard packets
	// take the very 5-tuple a hole punch opened. Listen must then hold no
	// QUIC address of its own.
	UDPMux *wgpath.Mux
}

// NewHost assembles the libp2p host: TCP and QUIC, Noise and TLS, the
// resource manager (on, with go-libp2p's scaled defaults), a connection
// manager, AutoNAT v2, the relay client, hole punching (QUIC only: WireGuard
// rides the punched QUIC 5-tuple, and punching TCP at the same time made
// NAT-lab runs fail), and optionally a relay service with its own limits.
func NewHost(cfg HostConfig) (host.Host, error) {
	if cfg.Identity == nil {
		return nil, fmt.Errorf("overlay: HostConfig.Identity is required")
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = DefaultListen
	}
	low, high := cfg.ConnLow, cfg.ConnHigh
	if low == 0 && high == 0 {
		low, high = 100, 400
	}
	if low < 0 || high < low {
		return nil, fmt.Errorf("overlay: connection watermarks low=%d high=%d: need 0 <= low <= high", low, high)
	}
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity.LibP2PKey()),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.DefaultSecurity,
		libp2p.DefaultMuxers,
		libp2p.ConnectionManager(cm),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(holepunch.WithAddrFilter(quicOnly{})),
		libp2p.UserAgent("mystp2p/1"),
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	if len(cfg.StaticRelays) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(cfg.StaticRelays))
	}
	switch cfg.Reachability {
	case ReachabilityAuto:
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	default:
		return nil, fmt.Errorf("overlay: reachability %q (want public, private or empty)", cfg.Reachability)
	}
	if cfg.RelayService != nil {
		ropts, err := cfg.RelayService.ServiceOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.EnableRelayService(ropts...), libp2p.EnableNATService())
	}
	if cfg.UDPMux != nil {
		opts = append(opts, cfg.UDPMux.Libp2pOptions())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	return h, nil
}

// quicOnly keeps hole punching to QUIC addresses.
type quicOnly struct{}

func (quicOnly) FilterLocal(_ peer.ID, maddrs []ma.Multiaddr) []ma.Multiaddr { return onlyQUIC(maddrs) }
func (quicOnly) FilterRemote(_ peer.ID, maddrs []ma.Multiaddr) []ma.Multiaddr {
	return onlyQUIC(maddrs)
}

func onlyQUIC(in []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range in {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			out = append(out, a)
		}
	}
	return out
}
