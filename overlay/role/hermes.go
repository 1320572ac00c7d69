package role

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"time"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
)

// HermesStore is the file name of a hermes hub's store in its data
// directory.
const HermesStore = "hermes.db"

// DefaultHubSettleInterval is how often a hub pulls consumers' promised
// funds into its pool on chain.
const DefaultHubSettleInterval = 10 * time.Minute

// HermesConfig configures a hermes hub.
type HermesConfig struct {
	// Node configures the overlay node (Host.Identity and Bootstrap required).
	Node overlay.Config
	// Chain is the chain the hub is registered on (required).
	Chain *hermes.Chain
	// DataDir holds the hub's store (required), unless Store is given.
	DataDir string
	// Store, if set, is used instead of opening one in DataDir; the hub
	// does not close it.
	Store *hermes.Store
	// FeeBp is the hub's fee in basis points (at most overlay.MaxHermesFeeBp).
	FeeBp uint16
	// SettleInterval is how often consumers' promises are pulled into the
	// pool (0: DefaultHubSettleInterval; negative: never automatically).
	SettleInterval time.Duration
	// OnConsumersSettled hears what each pull moved.
	OnConsumersSettled func(moved *big.Int)
	// WatchInterval is how often the chain is read for consumers'
	// withdrawals and the hub's own leave (0: hermes.DefaultWatchInterval).
	WatchInterval time.Duration
	// LocalAPI serves the bridge line (GET /v1/bridge) on the local API in
	// DataDir, which must then be set (it may be, along with Store).
	LocalAPI bool
}

// Hermes is a running hermes hub: its node, hub service, settler, chain
// watcher and store.
type Hermes struct {
	Node    *overlay.Node
	Hub     *hermes.Hub
	Settler *hermes.Settler
	Watcher *hermes.Watcher
	Store   *hermes.Store

	log     *slog.Logger
	closers stack
}

// StartHermes brings a hub up: the store, the hub service on a new node,
// its settler, and its signed terms advertised like a proposal. The
// identity must already be a registered hermes on cfg.Chain.
func StartHermes(ctx context.Context, cfg HermesConfig) (_ *Hermes, err error) {
	switch {
	case cfg.Node.Host.Identity == nil:
		return nil, errors.New("role: HermesConfig.Node.Host.Identity is required")
	case len(cfg.Node.Bootstrap) == 0:
		return nil, errors.New("role: a hermes needs at least one bootstrap peer to announce to")
	case cfg.Chain == nil:
		return nil, errors.New("role: HermesConfig.Chain is required")
	case cfg.Store == nil && cfg.DataDir == "":
		return nil, errors.New("role: HermesConfig.DataDir is required")
	case cfg.FeeBp > overlay.MaxHermesFeeBp:
		return nil, fmt.Errorf("role: HermesConfig.FeeBp %d is above %d", cfg.FeeBp, overlay.MaxHermesFeeBp)
	case cfg.LocalAPI && cfg.DataDir == "":
		return nil, errors.New("role: the local API needs HermesConfig.DataDir")
	}
	if cfg.SettleInterval == 0 {
		cfg.SettleInterval = DefaultHubSettleInterval
	}
	log := cfg.Node.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := cfg.Node.Host.Identity
	h := &Hermes{log: log, Store: cfg.Store}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if err := CheckHermes(ctx, cfg.Chain, id.Address()); err != nil {
		return nil, err
	}
	if h.Store == nil {
		if h.Store, err = OpenStore(cfg.DataDir, HermesStore); err != nil {
			return nil, err
		}
		h.closers.push(h.Store.Close)
	}
	if h.Hub, err = hermes.NewHub(hermes.HubConfig{Signer: id, ChainID: cfg.Chain.ChainID(), FeeBp: cfg.FeeBp,
		Store: h.Store, Balances: cfg.Chain, Log: log.With("role", "hermes")}); err != nil {
		return nil, err
	}
	h.closers.push(h.Hub.Close)
	if h.Node, err = overlay.New(ctx, cfg.Node); err != nil {
		return nil, err
	}
	h.closers.push(h.Node.Close)
	if err := h.Hub.Serve(h.Node.Host()); err != nil {
		return nil, err
	}
	sc := hermes.SettlerConfig{Chain: cfg.Chain, From: id, Store: h.Store, Hub: h.Hub,
		OnConsumersSettled: cfg.OnConsumersSettled, Log: log.With("role", "settler")}
	if cfg.SettleInterval > 0 {
		sc.HubInterval = cfg.SettleInterval
	}
	if h.Settler, err = hermes.NewSettler(sc); err != nil {
		return nil, err
	}
	h.closers.push(h.Settler.Close)
	// Consumers' withdrawals are settled before they are due.
	if h.Watcher, err = hermes.NewWatcher(hermes.WatcherConfig{Chain: cfg.Chain, Hub: h.Hub, Settler: h.Settler,
		Interval: cfg.WatchInterval, Log: log.With("role", "watcher")}); err != nil {
		return nil, err
	}
	h.closers.push(h.Watcher.Close)
	// The terms are re-announced until the node closes.
	terms := &overlay.HermesTerms{ChainID: cfg.Chain.ChainID(), Registry: cfg.Chain.Registry().Hex(), FeeBp: cfg.FeeBp}
	actx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	h.closers.push(func() error { cancel(); return nil })
	if _, err := h.Node.Advertise(actx, overlay.Offer{HermesTerms: terms}); err != nil {
		return nil, err
	}
	if cfg.LocalAPI {
		mux := http.NewServeMux()
		handleBridge(mux, h.Node, cfg.DataDir)
		api, err := ServeLocalAPI(cfg.DataDir, mux)
		if err != nil {
			return nil, err
		}
		h.closers.push(api.Close)
	}
	return h, nil
}

// SettleConsumers pulls what consumers promised so far into the pool.
func (h *Hermes) SettleConsumers(ctx context.Context) (*big.Int, error) {
	return h.Settler.SettleConsumers(ctx, h.Hub)
}

// Close closes the local API, then stops advertising, the watcher, the settler, the node, the hub and the store,
// in that order. It does not pull consumers' promises first: call
// SettleConsumers for that. It is idempotent.
func (h *Hermes) Close() error { return h.closers.close() }
