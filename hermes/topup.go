package hermes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/identity"
)

// Defaults of an AutoTopUp.
const (
	DefaultTopUpCheck = 5 * time.Second
	DefaultTopUpGap   = 10 * time.Minute
	// DefaultTopUpMaxTimes bounds what an AutoTopUp sends in all when
	// AutoTopUpConfig.Max is nil: this many times Amount.
	DefaultTopUpMaxTimes = 10
)

// AutoTopUpConfig is what an AutoTopUp needs. Chain, Consumer, Wallet,
// Amount and Below are required.
type AutoTopUpConfig struct {
	Chain *Chain
	// Consumer pays the top-ups and their gas from its own wallet on chain.
	Consumer *identity.Identity
	// Wallet is the consumer's channel: what it has promised so far.
	Wallet *Wallet
	// Amount is what each top-up adds, in token base units.
	Amount *big.Int
	// Below tops the channel up once what it may still spend (deposited
	// on chain less promised) is below it.
	Below *big.Int
	// Interval is how often the balance is checked (0: DefaultTopUpCheck).
	Interval time.Duration
	// MinGap is the least time between two top-ups, or two failed tries
	// (0: DefaultTopUpGap).
	MinGap time.Duration
	// Max is the most all top-ups together may add while the AutoTopUp
	// runs (nil: DefaultTopUpMaxTimes × Amount), so that a mistake cannot
	// drain the wallet.
	Max *big.Int
	// OnTopUp, if set, hears each top-up tried, from the AutoTopUp's
	// goroutine; it must not call Close.
	OnTopUp func(TopUpResult)
	Log     *slog.Logger
}

// TopUpResult is one automatic top-up: what the channel could still
// spend, what was sent and its transactions, or why it failed.
type TopUpResult struct {
	Spendable *big.Int
	Amount    *big.Int
	Txs       []Tx
	Err       error
}

// Errors of an automatic top-up.
var (
	// ErrTopUpLimit means the AutoTopUp has added its Max.
	ErrTopUpLimit = errors.New("automatic top-up limit reached")
	// ErrNoGas means the paying identity has no ether for gas.
	ErrNoGas = errors.New("no ether for gas")
	// ErrNoTokens means the paying identity holds too few tokens.
	ErrNoTokens = errors.New("not enough tokens")
)

// AutoTopUp tops a consumer's channel up on chain from the consumer's own
// wallet whenever what it may still spend falls below a threshold, at most
// once per MinGap and at most Max in all. No service does it for the
// consumer: the AutoTopUp reads the chain's deposit and the wallet's
// promises. It checks gas and token balances first; a top-up that cannot
// be paid is logged as a warning and tried again after MinGap.
type AutoTopUp struct {
	cfg AutoTopUpConfig
	log *slog.Logger

	// Owned by the run goroutine.
	last  time.Time // last try
	added *big.Int
	full  bool // Max reached and warned of

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewAutoTopUp starts watching the channel; the first check runs at once.
func NewAutoTopUp(cfg AutoTopUpConfig) (*AutoTopUp, error) {
	switch {
	case cfg.Chain == nil:
		return nil, errors.New("auto top-up: Chain is required")
	case cfg.Consumer == nil:
		return nil, errors.New("auto top-up: Consumer is required")
	case cfg.Wallet == nil:
		return nil, errors.New("auto top-up: Wallet is required")
	case cfg.Amount == nil || cfg.Amount.Sign() <= 0:
		return nil, fmt.Errorf("auto top-up: amount %v: must be above 0", cfg.Amount)
	case cfg.Below == nil || cfg.Below.Sign() <= 0:
		return nil, fmt.Errorf("auto top-up: threshold %v: must be above 0", cfg.Below)
	case cfg.Interval < 0 || cfg.MinGap < 0:
		return nil, errors.New("auto top-up: Interval and MinGap must not be negative")
	case cfg.Max != nil && cfg.Max.Cmp(cfg.Amount) < 0:
		return nil, fmt.Errorf("auto top-up: limit %s is below one top-up of %s: raise the limit or lower the amount", cfg.Max, cfg.Amount)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultTopUpCheck
	}
	if cfg.MinGap == 0 {
		cfg.MinGap = DefaultTopUpGap
	}
	if cfg.Max == nil {
		cfg.Max = new(big.Int).Mul(cfg.Amount, big.NewInt(DefaultTopUpMaxTimes))
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	a := &AutoTopUp{cfg: cfg, log: cfg.Log.With("hermes", cfg.Wallet.Hermes()), added: new(big.Int)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Go(a.run)
	return a, nil
}

// Close stops topping up and waits for a top-up in flight. Idempotent.
func (a *AutoTopUp) Close() error {
	a.once.Do(func() {
		a.cancel()
		a.wg.Wait()
	})
	return nil
}

func (a *AutoTopUp) run() {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		if err := a.check(a.ctx); err != nil && a.ctx.Err() == nil {
			a.log.Warn("automatic top-up", "err", err)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check tops up if the channel is low and the limits allow it.
func (a *AutoTopUp) check(ctx context.Context) error {
	if a.full || (!a.last.IsZero() && time.Since(a.last) < a.cfg.MinGap) {
		return nil
	}
	c, hub, me := a.cfg.Chain, a.cfg.Wallet.Hermes(), a.cfg.Consumer.Address()
	ch, err := c.ConsumerChannel(ctx, me, hub)
	if err != nil {
		return err
	}
	promised, _ := a.cfg.Wallet.Promised()
	spendable := new(big.Int).Sub(ch.Deposited(), promised)
	if spendable.Cmp(a.cfg.Below) >= 0 || ch.Withdrawing() {
		return nil
	}
	res := TopUpResult{Spendable: spendable, Amount: new(big.Int).Set(a.cfg.Amount)}
	a.last = time.Now()
	res.Txs, res.Err = a.topUp(ctx, spendable)
	if errors.Is(res.Err, ErrTopUpLimit) {
		a.full = true
	}
	if res.Err == nil {
		a.added.Add(a.added, a.cfg.Amount)
		a.log.Info("topped the channel up automatically", "amount", a.cfg.Amount, "spendable", spendable,
			"gas", GasCost(res.Txs...), "added", a.added)
	}
	if a.cfg.OnTopUp != nil {
		a.cfg.OnTopUp(res)
	}
	return res.Err
}

func (a *AutoTopUp) topUp(ctx context.Context, spendable *big.Int) ([]Tx, error) {
	c, hub, me, amount := a.cfg.Chain, a.cfg.Wallet.Hermes(), a.cfg.Consumer.Address(), a.cfg.Amount
	if next := new(big.Int).Add(a.added, amount); next.Cmp(a.cfg.Max) > 0 {
		return nil, fmt.Errorf("%w: %s of at most %s added since start; the channel with hermes %s can spend %s: raise the limit or top up by hand (`mystp2p account topup`)",
			ErrTopUpLimit, a.added, a.cfg.Max, hub, spendable)
	}
	if st, err := c.Hub(ctx, hub); err != nil {
		return nil, err
	} else if st.Leaving() {
		return nil, fmt.Errorf("%w: hermes %s takes no top-ups: pay through another hermes", ErrHermesLeaving, hub)
	}
	gas, err := c.GasBalance(ctx, me)
	if err != nil {
		return nil, err
	}
	if gas.Sign() == 0 {
		return nil, fmt.Errorf("%w: %s has no ether on chain %d to pay for a top-up; send it some, the channel can spend %s",
			ErrNoGas, me, c.ChainID(), spendable)
	}
	have, err := c.TokenBalance(ctx, me)
	if err != nil {
		return nil, err
	}
	if have.Cmp(amount) < 0 {
		return nil, fmt.Errorf("%w: a top-up of %s needs that many tokens, %s holds %s; the channel can spend %s",
			ErrNoTokens, amount, me, have, spendable)
	}
	txs, err := c.TopUpTx(ctx, a.cfg.Consumer, me, hub, amount)
	if err != nil {
		return txs, fmt.Errorf("top up %s: %w", amount, err)
	}
	return txs, nil
}
