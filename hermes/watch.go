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
)

// DefaultWatchInterval is how often a Watcher looks at the chain when
// WatcherConfig.Interval is zero. It must stay well below the Registry's
// withdraw delay in time (7200 blocks on real chains, about a day).
const DefaultWatchInterval = 10 * time.Second

// WatcherConfig is what a Watcher needs. Chain, Hub and Settler are required.
type WatcherConfig struct {
	Chain   *Chain
	Hub     *Hub
	Settler *Settler
	// Interval is how often the chain is read (default DefaultWatchInterval).
	Interval time.Duration
	// OnSettled, if set, hears each consumer promise settled because its
	// consumer announced a withdrawal, from the Watcher's goroutine; it must
	// not call Close.
	OnSettled func(consumer common.Address, moved *big.Int)
	Log       *slog.Logger
}

// Watcher keeps a hub's promises good against what happens on chain. When
// a consumer announces a withdrawal it stops the hub taking new promises on
// that channel and settles the ones the hub holds before the withdrawal
// is due, retrying each round until then; when the hub announces its own
// leave it stops the hub issuing new promises.
//
// It reads the chain every Interval: a plain JSON-RPC endpoint over HTTP
// has no subscriptions, so polling is the one way that works everywhere.
// On start it looks at the channel of every consumer the hub holds
// promises of, so announcements made while the hub was down are caught
// too (if their delay has not run out).
type Watcher struct {
	cfg WatcherConfig
	log *slog.Logger

	// Owned by the run goroutine.
	next    uint64                    // first block not yet scanned; 0 before the first round
	pending map[common.Address]uint64 // consumer → due block of its withdrawal

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewWatcher starts watching; the first round runs at once.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	switch {
	case cfg.Chain == nil:
		return nil, errors.New("watcher: Chain is required")
	case cfg.Hub == nil:
		return nil, errors.New("watcher: Hub is required")
	case cfg.Settler == nil:
		return nil, errors.New("watcher: Settler is required")
	case cfg.Interval < 0:
		return nil, fmt.Errorf("watcher: Interval %v is negative", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultWatchInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, log: cfg.Log.With("hermes", cfg.Hub.Address()), pending: make(map[common.Address]uint64)}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.wg.Go(w.run)
	return w, nil
}

// Close stops watching and waits for a round in flight. Idempotent.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		w.cancel()
		w.wg.Wait()
	})
	return nil
}

func (w *Watcher) run() {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.round(w.ctx); err != nil && w.ctx.Err() == nil {
			w.log.Warn("watching the chain", "err", err)
		}
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round reads what changed on chain since the last round and settles what
// withdrawing consumers promised.
func (w *Watcher) round(ctx context.Context) error {
	hub := w.cfg.Hub
	head, err := w.cfg.Chain.BlockNumber(ctx)
	if err != nil {
		return err
	}
	st, err := w.cfg.Chain.Hub(ctx, hub.Address())
	if err != nil {
		return err
	}
	if st.Leaving() {
		hub.setLeaving()
	}
	if w.next == 0 {
		if err := w.scanConsumers(ctx); err != nil {
			return err
		}
	} else if head >= w.next {
		anns, err := w.cfg.Chain.WithdrawalAnnouncements(ctx, hub.Address(), w.next, head)
		if err != nil {
			return err
		}
		for _, a := range anns {
			w.note(a.Consumer, a.Due)
		}
	}
	w.next = head + 1
	var errs []error
	for consumer, due := range w.pending {
		moved, err := w.cfg.Settler.SettleConsumer(ctx, hub, consumer)
		switch {
		case errors.Is(err, ErrNothingToSettle):
		case err != nil:
			errs = append(errs, fmt.Errorf("settle withdrawing consumer %s (due at block %d, chain at %d): %w", consumer, due, head, err))
			continue
		default:
			w.log.Info("settled the promises of a withdrawing consumer", "consumer", consumer, "amount", moved, "due", due)
			if w.cfg.OnSettled != nil {
				w.cfg.OnSettled(consumer, moved)
			}
		}
		// A promise whose R arrives later is settled in a later round, until
		// the withdrawal is due.
		if head >= due {
			delete(w.pending, consumer)
		}
	}
	return errors.Join(errs...)
}

// scanConsumers looks at the channel of every consumer the hub holds
// promises of.
func (w *Watcher) scanConsumers(ctx context.Context) error {
	consumers, err := w.cfg.Hub.Consumers()
	if err != nil {
		return err
	}
	for _, c := range consumers {
		ch, err := w.cfg.Chain.ConsumerChannel(ctx, c, w.cfg.Hub.Address())
		if err != nil {
			return err
		}
		if ch.Withdrawing() {
			w.note(c, ch.WithdrawBlock)
		}
	}
	return nil
}

func (w *Watcher) note(consumer common.Address, due uint64) {
	w.cfg.Hub.noteWithdrawal(consumer, due)
	if _, ok := w.pending[consumer]; !ok {
		w.log.Info("consumer announced a withdrawal", "consumer", consumer, "due", due)
	}
	w.pending[consumer] = due
}
