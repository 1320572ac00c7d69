package role

import (
	"context"
	"errors"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/relay"
)

// DefaultRelayListen is where a relay listens when its config names nothing.
var DefaultRelayListen = []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}

// RelayConfig configures a relay / bootstrap node.
type RelayConfig struct {
	// Node configures the overlay node (Host.Identity required). The relay
	// always serves the DHT, and Host.RelayService is set from Limits.
	Node overlay.Config
	// Limits are the circuit relay's limits (required; see relay.DefaultLimits).
	Limits *relay.Limits
}

// Relay is a running relay: a node that serves circuit relay v2 and the
// DHT, and that other nodes bootstrap from.
type Relay struct {
	Node *overlay.Node
}

// StartRelay brings a relay up. Without listen addresses it takes
// DefaultRelayListen; without connection-manager bounds, 2000 to 4000
// connections.
func StartRelay(ctx context.Context, cfg RelayConfig) (*Relay, error) {
	switch {
	case cfg.Node.Host.Identity == nil:
		return nil, errors.New("role: RelayConfig.Node.Host.Identity is required")
	case cfg.Limits == nil:
		return nil, errors.New("role: RelayConfig.Limits is required")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Node.Host.Listen) == 0 {
		cfg.Node.Host.Listen = DefaultRelayListen
	}
	if cfg.Node.Host.ConnLow == 0 && cfg.Node.Host.ConnHigh == 0 {
		cfg.Node.Host.ConnLow, cfg.Node.Host.ConnHigh = 2000, 4000
	}
	cfg.Node.Host.RelayService = cfg.Limits
	cfg.Node.DHTServer = true
	n, err := overlay.New(ctx, cfg.Node)
	if err != nil {
		return nil, err
	}
	return &Relay{Node: n}, nil
}

// Close closes the relay's node. It is idempotent.
func (r *Relay) Close() error { return r.Node.Close() }
