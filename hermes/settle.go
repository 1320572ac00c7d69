package hermes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
)

// SettlerConfig is what a Settler needs. Chain, From and Store are required.
type SettlerConfig struct {
	Chain *Chain
	From  *identity.Identity // the provider (or hermes) identity; pays the gas
	Store *Store
	// Beneficiary, if set, is registered on chain before the first provider
	// settlement so that settlements pay it.
	Beneficiary common.Address
	// Threshold, if set, makes Notify settle a hermes automatically once its
	// unsettled earnings reach it.
	Threshold *big.Int
	// OnSettled, if set, is called after each automatic provider settlement,
	// from the Settler's goroutine; it must not call Close.
	OnSettled func(hermes common.Address, paid *big.Int)
	// Hub and HubInterval, if set, make the settler pull the hub's consumer
	// promises into its pool every HubInterval (SettleConsumers), so the
	// pool keeps covering what providers settle. OnConsumersSettled, if set,
	// is called after each such round that moved something (same rule).
	Hub                *Hub
	HubInterval        time.Duration
	OnConsumersSettled func(moved *big.Int)
	// LeaveInterval is how often a provider's settler reads whether the
	// hubs it earned through announced their leave; it then settles
	// everything unsettled with such a hub at once, within the leave
	// delay, before the hub can take its stake back. 0: every
	// DefaultWatchInterval if Threshold is set (a running provider), else
	// never; negative: never.
	LeaveInterval time.Duration
	// OnHubLeaving, if set, hears once of each hub found leaving (due is
	// the block its stake may be withdrawn from), from the settler's
	// goroutine; it must not call Close.
	OnHubLeaving func(hermes common.Address, due uint64)
	Log          *slog.Logger
}

// Settler turns promises into tokens on chain: a provider's hermes promises
// (to its beneficiary), and a hub's consumer promises (into its pool).
type Settler struct {
	cfg SettlerConfig
	log *slog.Logger

	mu             sync.Mutex // one settlement at a time
	beneficiarySet bool

	leaving struct {
		sync.Mutex
		due map[common.Address]uint64 // hub → block its stake is due
	}

	notify chan common.Address
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewSettler makes a settler; with a Threshold it runs a goroutine that
// settles on Notify.
func NewSettler(cfg SettlerConfig) (*Settler, error) {
	switch {
	case cfg.Chain == nil:
		return nil, errors.New("settler: Chain is required")
	case cfg.From == nil:
		return nil, errors.New("settler: From is required")
	case cfg.Store == nil:
		return nil, errors.New("settler: Store is required")
	}
	if cfg.LeaveInterval == 0 && cfg.Threshold != nil {
		cfg.LeaveInterval = DefaultWatchInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Settler{cfg: cfg, log: cfg.Log, notify: make(chan common.Address, 16)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Threshold != nil {
		s.wg.Go(s.run)
	}
	if cfg.Hub != nil && cfg.HubInterval > 0 {
		s.wg.Go(s.runHub)
	}
	s.leaving.due = make(map[common.Address]uint64)
	if cfg.LeaveInterval > 0 {
		s.wg.Go(s.runLeave)
	}
	return s, nil
}

// Close stops automatic settlement and waits for one in flight; settling
// returns ErrClosed afterwards. Idempotent.
func (s *Settler) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.wg.Wait()
	})
	return nil
}

// Notify tells the settler that earnings through hermes grew (see
// InvoicerConfig.OnPromise). It never blocks.
func (s *Settler) Notify(hermes common.Address, _ Promise) {
	select {
	case s.notify <- hermes:
	default:
	}
}

func (s *Settler) runHub() {
	t := time.NewTicker(s.cfg.HubInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		moved, err := s.SettleConsumers(s.ctx, s.cfg.Hub)
		if err != nil {
			s.log.Warn("settling consumer promises", "err", err)
		}
		if moved != nil && moved.Sign() > 0 {
			s.log.Info("pulled consumer funds into the hermes pool", "amount", moved)
			if s.cfg.OnConsumersSettled != nil {
				s.cfg.OnConsumersSettled(moved)
			}
		}
	}
}

func (s *Settler) run() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case h := <-s.notify:
			e, err := s.cfg.Store.Earning(h)
			if err != nil {
				s.log.Warn("read earnings", "hermes", h, "err", err)
				continue
			}
			if e.Unsettled().Cmp(s.cfg.Threshold) < 0 {
				continue
			}
			if paid, err := s.SettleProvider(s.ctx, h); err != nil {
				s.log.Warn("automatic settlement failed", "hermes", h, "err", err)
			} else {
				s.log.Info("settled automatically", "hermes", h, "amount", paid)
				if s.cfg.OnSettled != nil {
					s.cfg.OnSettled(h, paid)
				}
			}
		}
	}
}

// Leaving reports whether the settler found that hermes announced its
// leave, and the block its stake is due from.
func (s *Settler) Leaving(hermes common.Address) (due uint64, ok bool) {
	s.leaving.Lock()
	defer s.leaving.Unlock()
	due, ok = s.leaving.due[hermes]
	return due, ok
}

func (s *Settler) runLeave() {
	t := time.NewTicker(s.cfg.LeaveInterval)
	defer t.Stop()
	for {
		if err := s.settleLeaving(s.ctx); err != nil && s.ctx.Err() == nil {
			s.log.Warn("settling with leaving hubs", "err", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settleLeaving reads the Registry for every hub the provider earned
// through and settles what is unsettled with those that announced their
// leave. A settlement that fails is tried again next round.
func (s *Settler) settleLeaving(ctx context.Context) error {
	es, err := s.cfg.Store.Earnings()
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range es {
		st, err := s.cfg.Chain.Hub(ctx, e.Hermes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.Leaving() {
			continue
		}
		s.leaving.Lock()
		_, known := s.leaving.due[e.Hermes]
		s.leaving.due[e.Hermes] = st.LeaveBlock
		s.leaving.Unlock()
		if !known {
			s.log.Warn("hermes announced its leave: settling everything earned through it now", "hermes", e.Hermes, "due", st.LeaveBlock)
			if s.cfg.OnHubLeaving != nil {
				s.cfg.OnHubLeaving(e.Hermes, st.LeaveBlock)
			}
		}
		if e.Unsettled().Sign() == 0 {
			continue
		}
		paid, err := s.SettleProvider(ctx, e.Hermes)
		switch {
		case errors.Is(err, ErrNothingToSettle):
		case err != nil:
			errs = append(errs, fmt.Errorf("settle with leaving hermes %s (stake due at block %d): %w", e.Hermes, st.LeaveBlock, err))
		default:
			s.log.Info("settled with a leaving hermes", "hermes", e.Hermes, "amount", paid)
			if s.cfg.OnSettled != nil {
				s.cfg.OnSettled(e.Hermes, paid)
			}
		}
	}
	return errors.Join(errs...)
}

// SettleProvider settles the latest promise of hermes on chain and returns
// what the beneficiary was paid. It returns ErrNothingToSettle when the
// chain has already settled it.
func (s *Settler) SettleProvider(ctx context.Context, hermes common.Address) (*big.Int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil, ErrClosed
	}
	self := s.cfg.From.Address()
	e, err := s.cfg.Store.Earning(hermes)
	if err != nil {
		return nil, err
	}
	if e.Promise == nil {
		return nil, fmt.Errorf("%w: no promise from hermes %s", ErrNothingToSettle, hermes)
	}
	onChain, err := s.cfg.Chain.ProviderChannel(ctx, self, hermes)
	if err != nil {
		return nil, err
	}
	if onChain.Settled.Cmp(e.Promise.Amount) >= 0 {
		// Settled before (perhaps just before a crash): record it.
		if err := s.cfg.Store.markSettled(hermes, onChain.Settled, onChain.FeeSettled, nil); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: hermes %s promise of %s already settled", ErrNothingToSettle, hermes, e.Promise.Amount)
	}
	if s.cfg.Beneficiary != (common.Address{}) && !s.beneficiarySet {
		current, err := s.cfg.Chain.Beneficiary(ctx, self)
		if err != nil {
			return nil, err
		}
		if current != s.cfg.Beneficiary {
			if err := s.cfg.Chain.RegisterIdentity(ctx, s.cfg.From, s.cfg.Beneficiary); err != nil {
				return nil, fmt.Errorf("register beneficiary: %w", err)
			}
		}
		s.beneficiarySet = true
	}
	tx, err := s.cfg.Chain.SettleProviderTx(ctx, s.cfg.From, self, hermes, *e.Promise, e.R)
	if err != nil {
		return nil, err
	}
	fee := new(big.Int).Sub(e.Promise.Fee, onChain.FeeSettled)
	paid := new(big.Int).Sub(e.Promise.Amount, onChain.Settled)
	paid.Sub(paid, fee)
	st := &Settlement{Hermes: hermes, Amount: new(big.Int).Set(e.Promise.Amount), Paid: paid, Fee: fee, Tx: tx}
	if err := s.cfg.Store.markSettled(hermes, e.Promise.Amount, e.Promise.Fee, st); err != nil {
		return nil, err
	}
	s.log.Info("settled hermes promise", "hermes", hermes, "amount", paid, "fee", fee, "tx", tx.Hash, "gas", tx.GasUsed)
	return paid, nil
}

// SettleConsumer moves what consumer promised hub (its highest promise with
// a known R) into the hub's pool and returns the amount moved.
func (s *Settler) SettleConsumer(ctx context.Context, hub *Hub, consumer common.Address) (*big.Int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return nil, ErrClosed
	}
	p, r, settled, err := hub.settleable(consumer)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("%w: no promise of consumer %s with a known R", ErrNothingToSettle, consumer)
	}
	if settled.Cmp(p.Amount) >= 0 {
		return nil, fmt.Errorf("%w: consumer %s settled up to %s", ErrNothingToSettle, consumer, settled)
	}
	onChain, err := s.cfg.Chain.ConsumerChannel(ctx, consumer, hub.Address())
	if err != nil {
		return nil, err
	}
	if onChain.Settled.Cmp(p.Amount) >= 0 {
		if err := hub.markConsumerSettled(consumer, onChain.Settled); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: consumer %s promise of %s already settled", ErrNothingToSettle, consumer, p.Amount)
	}
	if err := s.cfg.Chain.SettlePromise(ctx, s.cfg.From, consumer, hub.Address(), *p, r); err != nil {
		return nil, err
	}
	if err := hub.markConsumerSettled(consumer, p.Amount); err != nil {
		return nil, err
	}
	moved := new(big.Int).Sub(p.Amount, onChain.Settled)
	s.log.Info("settled consumer promise", "consumer", consumer, "amount", moved)
	return moved, nil
}

// SettleConsumers settles every consumer of hub with something to settle
// and returns the total moved into the pool.
func (s *Settler) SettleConsumers(ctx context.Context, hub *Hub) (*big.Int, error) {
	consumers, err := hub.Consumers()
	if err != nil {
		return nil, err
	}
	total := new(big.Int)
	var errs []error
	for _, c := range consumers {
		moved, err := s.SettleConsumer(ctx, hub, c)
		switch {
		case errors.Is(err, ErrNothingToSettle):
		case err != nil:
			errs = append(errs, fmt.Errorf("consumer %s: %w", c, err))
		default:
			total.Add(total, moved)
		}
	}
	return total, errors.Join(errs...)
}
