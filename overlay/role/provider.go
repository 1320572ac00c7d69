package role

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/tunnel"
)

// DefaultRecoverWait is how long StartProvider waits for its hermes hubs
// to take what a previous run left half done before it serves sessions.
const DefaultRecoverWait = 15 * time.Second

// ErrHermesNotRegistered means a hermes is not registered on the chain's
// Registry.
var ErrHermesNotRegistered = errors.New("not a registered hermes")

// ProviderConfig configures a provider.
type ProviderConfig struct {
	// Node configures the overlay node (Host.Identity and Bootstrap required).
	Node overlay.Config
	// Offer is what the provider advertises. With Offer.Hermes set its
	// sessions are paid through those hubs, and Chain and DataDir are
	// required.
	Offer overlay.Offer
	// MaxSessions bounds concurrent sessions (required, > 0).
	MaxSessions int
	// Policy is the exit policy (required); ExitRules, if set, the
	// --exit-policy rules it was made from (ParseExitRules), which the
	// local API's settings show and change.
	Policy    *tunnel.ExitPolicy
	ExitRules []string
	// Limits are the bandwidth controls (zero: unlimited). With DataDir
	// set, the month's usage is kept there across restarts
	// (server.UsageFileName).
	Limits server.Limits
	// Resolver answers consumers' DNS; nil uses the host's.
	Resolver tunnel.Resolver

	// DataDir holds the payment store and the local API file.
	DataDir string
	// Chain is the chain the accepted hubs settle on.
	Chain *hermes.Chain
	// SettleThreshold settles automatically once this much is unsettled
	// with a hub (nil: only when asked).
	SettleThreshold *big.Int
	// Beneficiary, if set, is registered as where settlements pay.
	Beneficiary common.Address
	// InvoiceInterval and InvoiceTick tune invoicing (0: hermes defaults).
	InvoiceInterval, InvoiceTick time.Duration
	// OnSettled hears every settlement; OnPaid every paid session's end.
	OnSettled func(hub common.Address, paid *big.Int)
	OnPaid    func(server.SessionPaid)
	// LocalAPI serves the local API and the dashboard (docs/API.md) in
	// DataDir, for a free provider too; APIAddr, if set, is its loopback
	// address (else a free port).
	LocalAPI bool
	APIAddr  string
	// RecoverWait bounds the wait for payment recovery at start
	// (0: DefaultRecoverWait); what is left goes on in the background.
	RecoverWait time.Duration
	// Warn hears conditions the operator should fix (no ether for gas);
	// nil logs them.
	Warn func(string)
	// Version is what GET /v1/status reports (empty: the module version
	// from the build info).
	Version string
	// HistoryInterval is how often the local API's history is sampled
	// (0: DefaultHistoryInterval); HistoryMax bounds the samples kept per
	// series (0: DefaultHistoryMax).
	HistoryInterval time.Duration
	HistoryMax      int
}

// Provider is a running provider: its node, session server and books.
type Provider struct {
	Node     *overlay.Node
	Sessions *server.Server
	Proposal *overlay.SignedProposal
	// Books is nil for a free provider.
	Books *Books
	// API is the local API, nil unless ProviderConfig.LocalAPI.
	API *LocalAPI

	log     *slog.Logger
	closers stack
	cancel  context.CancelFunc
	wg      sync.WaitGroup // payment recovery
}

// StartProvider brings a provider up: for a paying one the chain checks,
// the store and the settler; then the node; then, for a paying one,
// recovery of payments a previous run left half done (payments stored but
// never exchanged, promises issued but never stored); then the proposal,
// the local API and the session server. On error everything opened is
// closed.
func StartProvider(ctx context.Context, cfg ProviderConfig) (_ *Provider, err error) {
	switch {
	case cfg.Node.Host.Identity == nil:
		return nil, errors.New("role: ProviderConfig.Node.Host.Identity is required")
	case len(cfg.Node.Bootstrap) == 0:
		return nil, errors.New("role: a provider needs at least one bootstrap peer to announce to")
	case cfg.MaxSessions <= 0:
		return nil, fmt.Errorf("role: ProviderConfig.MaxSessions %d must be positive", cfg.MaxSessions)
	case cfg.Policy == nil:
		return nil, errors.New("role: ProviderConfig.Policy is required")
	case len(cfg.Offer.Hermes) > 0 && (cfg.Chain == nil || cfg.DataDir == ""):
		return nil, errors.New("role: a paid offer needs ProviderConfig.Chain and DataDir")
	case cfg.LocalAPI && cfg.DataDir == "":
		return nil, errors.New("role: the local API needs ProviderConfig.DataDir")
	}
	if cfg.RecoverWait == 0 {
		cfg.RecoverWait = DefaultRecoverWait
	}
	log := cfg.Node.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Warn == nil {
		cfg.Warn = func(s string) { log.Warn(s) }
	}
	p := &Provider{log: log}
	var rctx context.Context
	rctx, p.cancel = context.WithCancel(context.Background())
	// Giving up on ctx while starting stops what runs on rctx; once
	// started, the provider runs until Close.
	stop := context.AfterFunc(ctx, p.cancel)
	defer stop()
	defer func() {
		if err != nil {
			p.cancel()
			p.Close()
		}
	}()
	var payments *server.Payments
	if len(cfg.Offer.Hermes) > 0 {
		if payments, err = p.openBooks(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if p.Node, err = overlay.New(ctx, cfg.Node); err != nil {
		return nil, err
	}
	// Closed in reverse: recovery stops first, then the node (its session
	// server sends final invoices into the store), then the settler and
	// the store pushed before it.
	p.closers.push(p.Node.Close)
	p.closers.push(func() error { p.cancel(); p.wg.Wait(); return nil })
	if payments != nil {
		p.recover(ctx, rctx, cfg)
	}
	// The session server first: a consumer that finds the proposal (a
	// restarted provider's, at once) must find the protocol too.
	var usageFile string
	if cfg.DataDir != "" {
		usageFile = filepath.Join(cfg.DataDir, server.UsageFileName)
	}
	if p.Sessions, err = server.New(server.Config{Node: p.Node, MaxSessions: cfg.MaxSessions, Policy: cfg.Policy,
		Resolver: cfg.Resolver, Payments: payments, StreamOnly: cfg.Node.Host.BridgeSecret != nil, Logger: log,
		Limits: cfg.Limits, UsageFile: usageFile}); err != nil {
		return nil, err
	}
	if p.Proposal, err = p.Node.Advertise(rctx, cfg.Offer); err != nil {
		return nil, err
	}
	if cfg.LocalAPI {
		if err := p.serveAPI(cfg); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// serveAPI serves the local API and the dashboard: status, history,
// earnings and settle (for a free provider, no earnings and nothing to
// settle) and the bridge line. It samples the history from now on, and
// closes before the node.
func (p *Provider) serveAPI(cfg ProviderConfig) error {
	rs := routes{}
	if p.Books != nil {
		p.Books.register(rs)
	} else {
		rs.handle(http.MethodGet, "/v1/earnings", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, []EarningRow{}, nil)
		})
		rs.handle(http.MethodPost, "/v1/settle", func(w http.ResponseWriter, r *http.Request) {
			var req SettleRequest
			err := decodeJSON(r, &req, true)
			if err == nil {
				err = req.check()
			}
			writeJSON(w, nil, cmp.Or(err, ErrNoChain))
		})
	}
	rs.handle(http.MethodGet, "/v1/bridge", bridgeHandler(p.Node, cfg.DataDir))
	watch, err := watchNode(p.Node, "provider")
	if err != nil {
		return err
	}
	p.closers.push(watch.Close)
	registerStatus(rs, watch, cfg.Version)
	hist, err := OpenHistory(cfg.DataDir, cfg.HistoryMax)
	if err != nil {
		return err
	}
	p.closers.push(hist.Close)
	interval := cmp.Or(cfg.HistoryInterval, DefaultHistoryInterval)
	rs.handle(http.MethodGet, "/v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, sessionRows(p.Sessions, time.Now()), nil)
	})
	(&settings{p: p, srv: p.Sessions, rules: slices.Clone(cfg.ExitRules)}).register(rs)
	rec := &recorder{h: hist, interval: interval, log: p.log, traffic: (&trafficMeter{srv: p.Sessions}).delta}
	if p.Books != nil {
		rec.earned = p.Books.TotalEarned
	}
	p.closers.push(startRecorder(rec).Close)
	registerHistory(rs, hist, interval)
	api, err := ServeLocalAPI(cfg.DataDir, rs, WithDashboard(), WithListenAddr(cfg.APIAddr))
	if err != nil {
		return err
	}
	p.closers.push(api.Close)
	p.API = api
	return nil
}

// openBooks sets up a paying provider's books.
func (p *Provider) openBooks(ctx context.Context, cfg ProviderConfig) (*server.Payments, error) {
	id := cfg.Node.Host.Identity
	for _, h := range cfg.Offer.Hermes {
		if err := CheckHermes(ctx, cfg.Chain, common.HexToAddress(h)); err != nil {
			return nil, err
		}
	}
	if gas, err := cfg.Chain.GasBalance(ctx, id.Address()); err != nil {
		return nil, err
	} else if gas.Sign() == 0 {
		cfg.Warn(fmt.Sprintf("%s has no ether for gas; settlements will fail until it has some (earnings stay in the store)", id.Address().Hex()))
	}
	if cfg.Beneficiary != (common.Address{}) {
		if err := SetBeneficiary(ctx, cfg.Chain, id, cfg.Beneficiary); err != nil {
			return nil, err
		}
	}
	store, err := OpenStore(cfg.DataDir, ProviderStore)
	if err != nil {
		return nil, err
	}
	p.closers.push(store.Close)
	settler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: cfg.Chain, From: id, Store: store, Threshold: cfg.SettleThreshold,
		OnSettled: cfg.OnSettled, Log: p.log.With("role", "settler")})
	if err != nil {
		return nil, err
	}
	p.closers.push(settler.Close)
	p.Books = &Books{Store: store, Chain: cfg.Chain, ID: id, Settler: settler}
	return &server.Payments{Store: store, ChainID: cfg.Chain.ChainID(), Settler: settler,
		Interval: cfg.InvoiceInterval, Tick: cfg.InvoiceTick, OnPaid: cfg.OnPaid}, nil
}

// recover settles with each hub what a previous run left half done, waiting
// at most cfg.RecoverWait; a hub that is slower is handled in the
// background until Close.
func (p *Provider) recover(ctx, rctx context.Context, cfg ProviderConfig) {
	var wg sync.WaitGroup
	for _, h := range cfg.Offer.Hermes {
		wg.Go(func() { RecoverPayments(rctx, p.Node, p.Books.Store, h, p.log) })
	}
	done := make(chan struct{})
	p.wg.Go(func() { wg.Wait(); close(done) })
	t := time.NewTimer(cfg.RecoverWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		p.log.Warn("a hermes did not answer in time; recovering payments with it in the background")
	case <-ctx.Done():
	}
}

// RecoverPayments finds hermes h and has it take the payments a previous
// run stored but never exchanged, then fetches back a promise it issued
// that the store missed.
func RecoverPayments(ctx context.Context, node *overlay.Node, store *hermes.Store, h string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ad, err := node.FindHermes(ctx, h)
	if err != nil {
		log.Warn("cannot reach hermes to recover payments", "hermes", h, "err", err)
		return
	}
	client, err := node.HermesClient(ad)
	if err != nil {
		log.Warn("hermes client", "hermes", h, "err", err)
		return
	}
	n, err := hermes.ResumeExchanges(ctx, client, store)
	if err != nil {
		log.Warn("exchanging payments left from the last run", "hermes", h, "err", err)
	}
	if n > 0 {
		log.Info("exchanged payments left from the last run", "hermes", h, "payments", n)
	}
	changed, err := hermes.CatchUp(ctx, client, store)
	switch {
	case err != nil:
		log.Warn("checking hermes for missed promises", "hermes", h, "err", err)
	case changed:
		log.Info("recovered a promise the hermes issued while this provider was stopping", "hermes", h)
	}
}

// Close closes the local API, stops payment recovery, stops serving
// sessions (paying ones end with a final invoice) and closes the node, then
// the settler and the store. It is idempotent.
func (p *Provider) Close() error { return p.closers.close() }

// CheckHermes refuses a hermes that is not registered on the chain's
// Registry, with an error wrapping ErrHermesNotRegistered.
func CheckHermes(ctx context.Context, chain *hermes.Chain, h common.Address) error {
	st, err := chain.Hub(ctx, h)
	if err != nil {
		return err
	}
	if !st.Registered {
		return fmt.Errorf("%s is %w on registry %s", h.Hex(), ErrHermesNotRegistered, chain.Registry().Hex())
	}
	return nil
}

// OpenStore opens the payment store name in dataDir.
func OpenStore(dataDir, name string) (*hermes.Store, error) {
	path := filepath.Join(dataDir, name)
	s, err := hermes.OpenStore(path)
	if err != nil {
		return nil, fmt.Errorf("%w (is another mystp2p process using %s?)", err, dataDir)
	}
	return s, nil
}
