package role

import (
	"context"
	"errors"
	"net/http"
	"sync"

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
	// LocalAPI serves the bridge line (GET /v1/bridge) on the local API in
	// DataDir, which must then be set and exist.
	LocalAPI bool
	DataDir  string
}

// Relay is a running relay: a node that serves circuit relay v2 and the
// DHT, and that other nodes bootstrap from.
type Relay struct {
	Node *overlay.Node
	api  *LocalAPI
	once sync.Once
	err  error
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
	case cfg.LocalAPI && cfg.DataDir == "":
		return nil, errors.New("role: the local API needs RelayConfig.DataDir")
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
	r := &Relay{Node: n}
	if cfg.LocalAPI {
		mux := http.NewServeMux()
		handleBridge(mux, n, cfg.DataDir)
		if r.api, err = ServeLocalAPI(cfg.DataDir, mux); err != nil {
			n.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close closes the local API and the relay's node. It is idempotent.
func (r *Relay) Close() error {
	r.once.Do(func() {
		var err error
		if r.api != nil {
			err = r.api.Close()
		}
		r.err = errors.Join(err, r.Node.Close())
	})
	return r.err
}
