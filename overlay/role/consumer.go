package role

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
)

// DefaultHermesLookup bounds finding the consumer's hermes at start.
const DefaultHermesLookup = 30 * time.Second

// ConsumerConfig configures a consumer.
type ConsumerConfig struct {
	// Node configures the overlay node (Host.Identity and Bootstrap required).
	Node overlay.Config
	// Hermes, if set, is the hub the consumer pays through, by peer ID or
	// 0x address; without it only free providers will do.
	Hermes string
	// MaxHermesFeeBp refuses a hub whose fee is higher.
	MaxHermesFeeBp uint16
	// HermesLookup bounds finding the hub (0: DefaultHermesLookup).
	HermesLookup time.Duration
	// LocalAPI serves the consumer's local API and dashboard in DataDir:
	// status, connect, disconnect, proposals (see docs/API.md).
	LocalAPI bool
	DataDir  string
	// APIAddr, if set, is the local API's loopback address (else a free
	// port).
	APIAddr string
	// Version is what GET /v1/status reports (empty: the build info's).
	Version string
	// AutoTopUp, with Hermes set and AutoTopUp.Chain set, tops the
	// channel up on chain from the consumer's own wallet while it runs
	// (hermes.AutoTopUp); Consumer and Wallet are filled in.
	AutoTopUp *hermes.AutoTopUpConfig
}

// Consumer is a started consumer: its node and, when it pays, its payment
// through its hub. Run consumes sessions until ctx ends.
type Consumer struct {
	Node *overlay.Node
	// Payment is nil for a consumer of free providers only.
	Payment *client.Payment
	// Hub is what the hub said of the consumer's channel at start.
	Hub hermes.ConsumerState
	// Control steers Run's sessions; the local API uses it.
	Control *client.Control
	// API is the local API, nil unless ConsumerConfig.LocalAPI.
	API *LocalAPI
	// TopUp tops the channel up, nil unless ConsumerConfig.AutoTopUp.
	TopUp *hermes.AutoTopUp

	closers stack
	once    sync.Once
	err     error
}

// ErrNothingToSpend means the consumer's channel with its hub holds
// nothing it may spend.
var ErrNothingToSpend = errors.New("nothing to spend at the hermes")

// StartConsumer starts the node and, with cfg.Hermes, finds the hub and
// sets up the payment from what the hub says the channel holds; a channel
// with nothing to spend is refused with ErrNothingToSpend.
func StartConsumer(ctx context.Context, cfg ConsumerConfig) (_ *Consumer, err error) {
	switch {
	case cfg.Node.Host.Identity == nil:
		return nil, errors.New("role: ConsumerConfig.Node.Host.Identity is required")
	case len(cfg.Node.Bootstrap) == 0:
		return nil, errors.New("role: a consumer needs at least one bootstrap peer")
	case cfg.MaxHermesFeeBp > overlay.MaxHermesFeeBp:
		return nil, fmt.Errorf("role: ConsumerConfig.MaxHermesFeeBp %d is above %d", cfg.MaxHermesFeeBp, overlay.MaxHermesFeeBp)
	case cfg.LocalAPI && cfg.DataDir == "":
		return nil, errors.New("role: the local API needs ConsumerConfig.DataDir")
	}
	if cfg.HermesLookup == 0 {
		cfg.HermesLookup = DefaultHermesLookup
	}
	c := &Consumer{Control: client.NewControl()}
	if c.Node, err = overlay.New(ctx, cfg.Node); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if cfg.Hermes != "" {
		if err := c.payThrough(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.LocalAPI {
		if err := c.serveAPI(cfg); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// payThrough finds the consumer's hub and sets up its payment.
func (c *Consumer) payThrough(ctx context.Context, cfg ConsumerConfig) (err error) {
	fctx, cancel := context.WithTimeout(ctx, cfg.HermesLookup)
	defer cancel()
	ad, err := c.Node.FindHermes(fctx, cfg.Hermes)
	if err != nil {
		return err
	}
	if c.Payment, c.Hub, err = client.PayThrough(fctx, c.Node, ad, cfg.MaxHermesFeeBp); err != nil {
		return err
	}
	if c.Hub.Spendable().Sign() <= 0 {
		return fmt.Errorf("%w %s (%s tokens deposited, %s promised)", ErrNothingToSpend, cfg.Hermes,
			overlay.FormatTokens(c.Hub.Deposited), overlay.FormatTokens(c.Hub.Promised))
	}
	if cfg.AutoTopUp != nil {
		return c.startTopUp(cfg)
	}
	return nil
}

// startTopUp starts topping the payment's channel up from the consumer's
// wallet; it stops before the payment closes.
func (c *Consumer) startTopUp(cfg ConsumerConfig) error {
	tc := *cfg.AutoTopUp
	if tc.Chain == nil {
		return errors.New("role: ConsumerConfig.AutoTopUp.Chain is required")
	}
	if tc.Chain.ChainID() != c.Payment.Wallet.ChainID() {
		return fmt.Errorf("role: the auto top-up's chain %d is not the hermes's chain %d: give the hermes's network", tc.Chain.ChainID(), c.Payment.Wallet.ChainID())
	}
	tc.Consumer, tc.Wallet = cfg.Node.Host.Identity, c.Payment.Wallet
	if tc.Log == nil && cfg.Node.Logger != nil {
		tc.Log = cfg.Node.Logger.With("role", "topup")
	}
	t, err := hermes.NewAutoTopUp(tc)
	if err != nil {
		return err
	}
	c.TopUp = t
	c.closers.push(t.Close)
	return nil
}

// serveAPI serves the consumer's local API and dashboard; it closes
// before the payment and the node.
func (c *Consumer) serveAPI(cfg ConsumerConfig) error {
	rs := routes{}
	watch, err := watchNode(c.Node, "consumer")
	if err != nil {
		return err
	}
	c.closers.push(watch.Close)
	registerStatus(rs, watch, cfg.Version)
	c.registerConsumer(rs)
	if c.API, err = ServeLocalAPI(cfg.DataDir, rs, WithDashboard(), WithListenAddr(cfg.APIAddr)); err != nil {
		return err
	}
	c.closers.push(c.API.Close)
	return nil
}

// Run consumes sessions as cfg says (client.Consume), paying with the
// consumer's payment and steered by its Control, until ctx ends or the
// session ends for good. Call it once.
func (c *Consumer) Run(ctx context.Context, cfg client.ConsumeConfig) error {
	cfg.Payment, cfg.Control = c.Payment, c.Control
	return client.Consume(ctx, c.Node, cfg)
}

// Close closes the local API, the payment, then the node. It is
// idempotent.
func (c *Consumer) Close() error {
	c.once.Do(func() {
		errs := []error{c.closers.close()}
		if c.Payment != nil {
			errs = append(errs, c.Payment.Close())
		}
		errs = append(errs, c.Node.Close())
		c.err = errors.Join(errs...)
	})
	return c.err
}
