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
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/identity"
)

// InvoicerConfig is what a provider's Invoicer needs for one session.
// Host, Consumer, Hermes, Store, Price and Usage are required.
type InvoicerConfig struct {
	Host        host.Host // the provider's host; its identity is paid
	Consumer    peer.ID
	AgreementID [32]byte
	Hermes      *HubClient // the hermes the consumer pays through
	HermesFeeBp uint16     // the fee that hermes charges (invoiced to the consumer)
	ChainID     uint64
	Store       *Store
	Price       Price
	Usage       func() Usage // the provider's measurement of the session

	// Interval between invoices (default 1 minute).
	Interval time.Duration
	// Tick is how often usage is checked (default 1 second).
	Tick time.Duration
	// Threshold: invoice early once this much is unpaid (default: the price
	// of one minute plus 16 MiB).
	Threshold *big.Int
	// MaxUnpaid: once a failed or refused invoice leaves more than this
	// unpaid, the consumer is reported as not paying (default 2 × Threshold).
	MaxUnpaid *big.Int

	// OnNotPaying is called once, from the goroutine running the failed
	// round, with an error wrapping ErrConsumerNotPaying; the session owner
	// must then end the session. It must not call Close (end the session
	// from another goroutine, or watch NotPaying instead). Unpaid service is
	// bounded by MaxUnpaid plus the price of what is used during one Tick and
	// one request timeout (10 s).
	OnNotPaying func(error)
	// OnPromise is called after each hermes promise has been stored, e.g.
	// to trigger settlement (Settler.Notify).
	OnPromise func(hermes common.Address, p Promise)
	// OnInvoice, if set, hears how each invoice sent to the consumer went:
	// nil once its payment was checked and stored. For metrics; it must
	// not block.
	OnInvoice func(err error)
	// OnExchange, if set, hears how long each request for a hermes
	// promise took and its error. For metrics; it must not block.
	OnExchange func(took time.Duration, err error)
	Log        *slog.Logger
}

// Invoicer invoices one session's consumer over /mystp2p/pay/1, checks and
// stores every payment, and exchanges it at the hermes for a promise the
// provider can settle. Rs, payments and hermes promises are stored durably
// before they are relied on.
type Invoicer struct {
	cfg      InvoicerConfig
	self     common.Address
	consumer common.Address
	log      *slog.Logger

	mu        sync.Mutex       // serialises invoice rounds (held during I/O); guards the fields below
	last      *ExchangeMessage // last payment received from the consumer
	recvTotal *big.Int         // agreement total of last
	recvFee   *big.Int         // agreement fee of last
	paidTotal *big.Int         // agreement total the hermes accepted: what counts as paid
	lastAt    time.Time
	invoices  int
	promises  int
	notPaying error

	// snap is what Paid, Stats and Err report, updated after each change so
	// they never wait for a round's network I/O.
	snap struct {
		sync.Mutex
		paid               *big.Int
		invoices, promises int
		notPaying          error
	}

	done   chan struct{} // closed when the consumer is reported
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewInvoicer starts invoicing. Payments recorded for the same agreement
// before a restart are resumed from the Store.
func NewInvoicer(cfg InvoicerConfig) (*Invoicer, error) {
	switch {
	case cfg.Host == nil:
		return nil, errors.New("invoicer: Host is required")
	case cfg.Hermes == nil:
		return nil, errors.New("invoicer: Hermes is required")
	case cfg.Store == nil:
		return nil, errors.New("invoicer: Store is required")
	case cfg.Usage == nil:
		return nil, errors.New("invoicer: Usage is required")
	case cfg.Interval < 0 || cfg.Tick < 0:
		return nil, errors.New("invoicer: Interval and Tick must not be negative")
	}
	if err := cfg.Price.Validate(); err != nil {
		return nil, fmt.Errorf("invoicer: %w", err)
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Tick == 0 {
		cfg.Tick = time.Second
	}
	if cfg.Threshold == nil {
		cfg.Threshold = cfg.Price.Cost(Usage{Duration: time.Minute, Bytes: 16 << 20})
	}
	if cfg.MaxUnpaid == nil {
		cfg.MaxUnpaid = new(big.Int).Mul(cfg.Threshold, big.NewInt(2))
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	self, err := identity.AddressOf(cfg.Host.ID())
	if err != nil {
		return nil, fmt.Errorf("invoicer: own identity: %w", err)
	}
	consumer, err := identity.AddressOf(cfg.Consumer)
	if err != nil {
		return nil, fmt.Errorf("invoicer: consumer %s: %w", cfg.Consumer, err)
	}
	v := &Invoicer{
		cfg: cfg, self: self, consumer: consumer,
		log:       cfg.Log.With("peer", cfg.Consumer, "session", fmt.Sprintf("%x", cfg.AgreementID[:8]), "hermes", cfg.Hermes.Address()),
		recvTotal: new(big.Int), recvFee: new(big.Int), paidTotal: new(big.Int), lastAt: time.Now(),
		done: make(chan struct{}),
	}
	rec, ok, err := cfg.Store.session(cfg.AgreementID)
	if err != nil {
		return nil, fmt.Errorf("invoicer: load session: %w", err)
	}
	if ok && rec.Last != nil {
		if rec.Consumer != consumer || rec.Hermes != cfg.Hermes.Address() {
			return nil, fmt.Errorf("invoicer: agreement %x is stored for another consumer or hermes", cfg.AgreementID)
		}
		v.last = rec.Last
		v.recvTotal.Set(rec.Last.AgreementTotal)
		v.recvFee.Set(rec.Fee)
		v.paidTotal.Set(rec.Exchanged)
	}
	v.publishLocked()
	v.ctx, v.cancel = context.WithCancel(context.Background())
	v.wg.Go(v.run)
	return v, nil
}

// Close stops invoicing, cancels a round in flight and waits for it. It
// sends no final invoice; call InvoiceNow first for that. InvoiceNow returns
// ErrClosed afterwards. Idempotent.
func (v *Invoicer) Close() error {
	v.once.Do(func() {
		v.cancel()
		v.wg.Wait()
	})
	return nil
}

// Paid is the agreement total the consumer has paid with promises the
// hermes accepted.
func (v *Invoicer) Paid() *big.Int {
	v.snap.Lock()
	defer v.snap.Unlock()
	return new(big.Int).Set(v.snap.paid)
}

// Stats returns how many invoices were paid and hermes promises received.
func (v *Invoicer) Stats() (invoices, promises int) {
	v.snap.Lock()
	defer v.snap.Unlock()
	return v.snap.invoices, v.snap.promises
}

// Err is the reason the consumer was reported as not paying, or nil.
func (v *Invoicer) Err() error {
	v.snap.Lock()
	defer v.snap.Unlock()
	return v.snap.notPaying
}

// publishLocked copies the reported fields into the snapshot.
func (v *Invoicer) publishLocked() {
	v.snap.Lock()
	defer v.snap.Unlock()
	v.snap.paid = new(big.Int).Set(v.paidTotal)
	v.snap.invoices, v.snap.promises, v.snap.notPaying = v.invoices, v.promises, v.notPaying
}

func (v *Invoicer) run() {
	t := time.NewTicker(v.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-v.ctx.Done():
			return
		case <-t.C:
		}
		v.mu.Lock()
		stop := v.notPaying != nil
		due := v.dueLocked()
		v.mu.Unlock()
		if stop {
			return
		}
		if due {
			if err := v.InvoiceNow(v.ctx); err != nil && !errors.Is(err, context.Canceled) {
				v.log.Debug("invoice round failed", "err", err)
			}
		}
	}
}

// dueLocked: an invoice is due when something is unpaid and either the
// interval has passed or the unpaid amount reached the threshold.
func (v *Invoicer) dueLocked() bool {
	unpaid := new(big.Int).Sub(v.cfg.Price.Cost(v.cfg.Usage()), v.paidTotal)
	if unpaid.Sign() <= 0 {
		return false
	}
	return unpaid.Cmp(v.cfg.Threshold) >= 0 || time.Since(v.lastAt) >= v.cfg.Interval
}

// InvoiceNow runs one invoice round: invoice current usage, check and store
// the consumer's payment, exchange it at the hermes and store the hermes
// promise. A payment counts only once the hermes has accepted it, so a
// consumer whose channel is empty does not get paid-for service. If more
// than MaxUnpaid stays unpaid after a failed round, it reports the consumer
// (OnNotPaying) and returns ErrConsumerNotPaying.
func (v *Invoicer) InvoiceNow(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(v.ctx, stop)()
	v.mu.Lock()
	report, err := v.invoiceLocked(ctx)
	v.mu.Unlock()
	if report {
		v.log.Warn("consumer is not paying", "err", err)
		close(v.done)
		if v.cfg.OnNotPaying != nil {
			v.cfg.OnNotPaying(err)
		}
	}
	return err
}

// invoiceLocked runs a round; report is true when this round found the
// consumer not paying.
func (v *Invoicer) invoiceLocked(ctx context.Context) (report bool, err error) {
	if v.ctx.Err() != nil {
		return false, ErrClosed
	}
	if v.notPaying != nil {
		return false, v.notPaying
	}
	total := v.cfg.Price.Cost(v.cfg.Usage())
	if total.Cmp(v.paidTotal) <= 0 {
		return false, nil
	}
	v.lastAt = time.Now()
	if total.Cmp(v.recvTotal) > 0 {
		err = v.collectLocked(ctx, total)
		if v.cfg.OnInvoice != nil {
			v.cfg.OnInvoice(err)
		}
	}
	if err == nil && v.last != nil && v.recvTotal.Cmp(v.paidTotal) > 0 {
		err = v.exchangeLocked(ctx)
	}
	if err == nil || ctx.Err() != nil {
		return false, err
	}
	unpaid := new(big.Int).Sub(total, v.paidTotal)
	if unpaid.Cmp(v.cfg.MaxUnpaid) <= 0 {
		return false, err
	}
	v.notPaying = fmt.Errorf("%w: %s unpaid (limit %s): %w", ErrConsumerNotPaying, unpaid, v.cfg.MaxUnpaid, err)
	v.publishLocked()
	return true, v.notPaying
}

// NotPaying is closed once the consumer has been reported as not paying
// (then Err says why).
func (v *Invoicer) NotPaying() <-chan struct{} { return v.done }

// collectLocked invoices total and stores the consumer's checked payment.
func (v *Invoicer) collectLocked(ctx context.Context, total *big.Int) error {
	fee := RequiredFee(total, v.cfg.HermesFeeBp)
	if fee.Cmp(v.recvFee) < 0 {
		fee.Set(v.recvFee)
	}
	r, lock, err := NewR()
	if err != nil {
		return err
	}
	if err := v.cfg.Store.PutR(r); err != nil {
		return fmt.Errorf("store R: %w", err)
	}
	inv := Invoice{AgreementID: v.cfg.AgreementID, AgreementTotal: total, Fee: fee, Hashlock: lock, Provider: v.self, ChainID: v.cfg.ChainID}
	body, err := inv.MarshalBinary()
	if err != nil {
		return err
	}
	ans, err := roundTrip(ctx, v.cfg.Host, v.cfg.Consumer, PayProtocol, DefaultRequestTimeout, msgInvoice, body, msgExchange)
	if err != nil {
		return fmt.Errorf("invoice %s: %w", total, err)
	}
	var m ExchangeMessage
	if err := m.UnmarshalBinary(ans); err != nil {
		return err
	}
	if err := v.checkPaymentLocked(&m, &inv); err != nil {
		return fmt.Errorf("payment for %s: %w", total, err)
	}
	if err := v.storeLocked(&m, fee, v.paidTotal); err != nil {
		return err
	}
	v.last, v.recvTotal, v.recvFee = &m, new(big.Int).Set(total), fee
	v.invoices++
	v.publishLocked()
	return nil
}

// exchangeLocked presents the last payment to the hermes and stores the
// hermes promise.
func (v *Invoicer) exchangeLocked(ctx context.Context) error {
	r, ok, err := v.cfg.Store.R(v.last.Promise.Hashlock)
	if err != nil {
		return fmt.Errorf("load R: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: R of the last payment is not stored", ErrHashlockMismatch)
	}
	prev, err := v.cfg.Store.Earning(v.cfg.Hermes.Address())
	if err != nil {
		return err
	}
	asked := time.Now()
	hp, err := v.cfg.Hermes.RequestPromise(ctx, v.last, r)
	if v.cfg.OnExchange != nil {
		v.cfg.OnExchange(time.Since(asked), err)
	}
	if err != nil {
		return fmt.Errorf("exchange payment at hermes: %w", err)
	}
	// The hermes promises at least what this payment adds (net of fees);
	// promises for other sessions can only add more.
	net := new(big.Int).Sub(hp.Amount, hp.Fee)
	if prev.Promise != nil {
		net.Sub(net, new(big.Int).Sub(prev.Promise.Amount, prev.Promise.Fee))
	}
	if due := new(big.Int).Sub(v.recvTotal, v.paidTotal); net.Cmp(due) < 0 {
		return fmt.Errorf("%w: hermes promise adds %s, payment adds %s", ErrAmountMismatch, net, due)
	}
	if err := v.cfg.Store.putHermesPromise(v.cfg.Hermes.Address(), hp, r); err != nil {
		return fmt.Errorf("store hermes promise: %w", err)
	}
	if err := v.storeLocked(v.last, v.recvFee, v.recvTotal); err != nil {
		return err
	}
	v.paidTotal = new(big.Int).Set(v.recvTotal)
	v.promises++
	v.publishLocked()
	v.log.Debug("hermes promise stored", "amount", hp.Amount)
	if v.cfg.OnPromise != nil {
		v.cfg.OnPromise(v.cfg.Hermes.Address(), hp)
	}
	return nil
}

func (v *Invoicer) storeLocked(m *ExchangeMessage, fee, exchanged *big.Int) error {
	rec := &sessionRecord{Consumer: v.consumer, Hermes: v.cfg.Hermes.Address(), Last: m, Fee: fee, Exchanged: exchanged}
	if err := v.cfg.Store.putSession(v.cfg.AgreementID, rec); err != nil {
		return fmt.Errorf("store payment: %w", err)
	}
	return nil
}

// checkPaymentLocked checks a consumer's answer to inv.
func (v *Invoicer) checkPaymentLocked(m *ExchangeMessage, inv *Invoice) error {
	signer, err := m.Verify()
	if err != nil {
		return err
	}
	p := &m.Promise
	switch {
	case signer != v.consumer:
		return fmt.Errorf("%w: payment signed by %s, consumer is %s", ErrBadSignature, signer, v.consumer)
	case m.AgreementID != inv.AgreementID || m.AgreementTotal.Cmp(inv.AgreementTotal) != 0:
		return fmt.Errorf("%w: payment is for agreement %x total %s", ErrAmountMismatch, m.AgreementID, m.AgreementTotal)
	case m.Provider != v.self:
		return fmt.Errorf("%w: payment names provider %s", ErrWrongProvider, m.Provider)
	case m.Hermes != v.cfg.Hermes.Address():
		return fmt.Errorf("%w: payment through hermes %s", ErrWrongHermes, m.Hermes)
	case p.ChainID != v.cfg.ChainID:
		return fmt.Errorf("%w: promise for chain %d", ErrWrongChain, p.ChainID)
	case p.ChannelID != ChannelID(v.consumer, m.Hermes):
		return fmt.Errorf("%w: promise for channel %x", ErrWrongChannel, p.ChannelID)
	case p.Hashlock != inv.Hashlock:
		return fmt.Errorf("%w: promise is not locked with the invoiced hashlock", ErrHashlockMismatch)
	}
	if v.last != nil {
		// Same channel: the promise must grow by exactly what was invoiced
		// unless payments for other sessions came in between (then by more).
		grew := new(big.Int).Sub(p.Amount, v.last.Promise.Amount)
		owed := new(big.Int).Sub(inv.AgreementTotal, v.recvTotal)
		owed.Add(owed, new(big.Int).Sub(inv.Fee, v.recvFee))
		if grew.Cmp(owed) < 0 {
			return fmt.Errorf("%w: promise grew by %s, invoice asks %s", ErrAmountMismatch, grew, owed)
		}
	}
	return nil
}
