package hermes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	bolt "go.etcd.io/bbolt"

	"github.com/mystp2p/mystp2p/identity"
)

// BalanceSource tells a hub what a consumer channel holds on chain.
// *Chain implements it.
type BalanceSource interface {
	ConsumerChannel(ctx context.Context, consumer, hermes common.Address) (ChannelState, error)
}

var _ BalanceSource = (*Chain)(nil)

// HubConfig is what a Hub needs. Signer, Store and Balances are required.
type HubConfig struct {
	Signer   identity.Signer // the hermes identity; signs provider promises
	ChainID  uint64
	FeeBp    uint16 // hermes fee in basis points of the agreement total (250 = 2.5 %)
	Store    *Store
	Balances BalanceSource
	Log      *slog.Logger // optional
	// RequestTimeout bounds one served request (default DefaultRequestTimeout).
	RequestTimeout time.Duration
}

// Hub is the core of a hermes: it checks consumer promises and exchange
// messages and issues promises on the providers' channels.
// It is safe for concurrent use; requests on different channels run in
// parallel and share fsyncs.
type Hub struct {
	cfg  HubConfig
	addr common.Address
	log  *slog.Logger

	locks  keyedMutex
	closed atomic.Bool
	srv    struct {
		mu      sync.Mutex
		host    host.Host
		closed  bool
		ctx     context.Context
		cancel  context.CancelFunc
		wg      sync.WaitGroup
		timeout time.Duration
	}

	// leaving is set once the hub has announced its leave on chain: it
	// issues no new promises.
	leaving atomic.Bool

	mu        sync.Mutex // guards the caches below
	consumers map[[32]byte]*consumerRecord
	providers map[[32]byte]*providerRecord
	agreed    map[[64]byte]*agreementRecord
	deposited map[[32]byte]*big.Int // consumer channel → deposits seen on chain
	// withdrawing holds consumer channels with an announced withdrawal
	// (channel → due block): the hub accepts no new promises on them.
	withdrawing map[[32]byte]uint64
}

// NewHub makes a hub from cfg.
func NewHub(cfg HubConfig) (*Hub, error) {
	switch {
	case cfg.Signer == nil:
		return nil, errors.New("hermes hub: Signer is required")
	case cfg.Store == nil:
		return nil, errors.New("hermes hub: Store is required")
	case cfg.Balances == nil:
		return nil, errors.New("hermes hub: Balances is required")
	case cfg.FeeBp > 10000:
		return nil, fmt.Errorf("hermes hub: fee %d bp exceeds 10000", cfg.FeeBp)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg:       cfg,
		addr:      cfg.Signer.Address(),
		log:       log.With("hermes", cfg.Signer.Address()),
		consumers: make(map[[32]byte]*consumerRecord),
		providers: make(map[[32]byte]*providerRecord),
		agreed:    make(map[[64]byte]*agreementRecord),
		deposited: make(map[[32]byte]*big.Int),

		withdrawing: make(map[[32]byte]uint64),
	}
	h.srv.ctx, h.srv.cancel = context.WithCancel(context.Background())
	h.srv.timeout = cfg.RequestTimeout
	if h.srv.timeout <= 0 {
		h.srv.timeout = DefaultRequestTimeout
	}
	return h, nil
}

// Address is the hermes's address (its ID on chain).
func (h *Hub) Address() common.Address { return h.addr }

// FeeBp is the hub's fee in basis points.
func (h *Hub) FeeBp() uint16 { return h.cfg.FeeBp }

// Leaving reports whether the hub knows it has announced its leave; it then
// refuses new exchanges with ErrHermesLeaving. A Watcher sets it from the
// chain.
func (h *Hub) Leaving() bool { return h.leaving.Load() }

func (h *Hub) setLeaving() {
	if !h.leaving.Swap(true) {
		h.log.Info("hermes is leaving: no new promises from now on")
	}
}

// noteWithdrawal records that consumer announced a withdrawal due at block
// due: no new promises on its channel until it is done.
func (h *Hub) noteWithdrawal(consumer common.Address, due uint64) {
	cch := ChannelID(consumer, h.addr)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.withdrawing[cch] = due
}

// ChainID is the chain the hub's promises are for.
func (h *Hub) ChainID() uint64 { return h.cfg.ChainID }

// RequiredFee is the cumulative hermes fee due on an agreement total:
// floor(total × feeBp / 10000).
func RequiredFee(total *big.Int, feeBp uint16) *big.Int {
	f := new(big.Int).SetUint64(uint64(feeBp))
	f.Mul(f, total)
	return f.Quo(f, bigBasisPoints)
}

var bigBasisPoints = big.NewInt(10000)

// Exchange checks a consumer's exchange message presented by provider and
// issues the hermes promise on the provider's channel, with the same
// hashlock and the fee the consumer paid. r is the R of the promise's
// hashlock; the zero value means "revealed later with RevealR", and then no
// further promise is issued to provider until it is. The new state is
// fsynced before Exchange returns.
func (h *Hub) Exchange(ctx context.Context, provider common.Address, m *ExchangeMessage, r [32]byte) (Promise, error) {
	if h.closed.Load() {
		return Promise{}, ErrClosed
	}
	consumer, err := m.Verify()
	if err != nil {
		return Promise{}, err
	}
	p := &m.Promise
	switch {
	case m.Hermes != h.addr:
		return Promise{}, fmt.Errorf("%w: exchange names hermes %s, this is %s", ErrWrongHermes, m.Hermes, h.addr)
	case m.Provider != provider:
		return Promise{}, fmt.Errorf("%w: exchange names provider %s, presented by %s", ErrWrongProvider, m.Provider, provider)
	case p.ChainID != h.cfg.ChainID:
		return Promise{}, fmt.Errorf("%w: promise for chain %d, hub is on %d", ErrWrongChain, p.ChainID, h.cfg.ChainID)
	case p.ChannelID != ChannelID(consumer, h.addr):
		return Promise{}, fmt.Errorf("%w: promise channel %x is not consumer %s's", ErrWrongChannel, p.ChannelID, consumer)
	case consumer == provider || consumer == h.addr || provider == h.addr:
		return Promise{}, fmt.Errorf("%w: consumer, provider and hermes must differ", ErrWrongChannel)
	}
	if h.leaving.Load() {
		return Promise{}, fmt.Errorf("%w: hermes %s announced its leave and issues no new promises (find another hermes)", ErrHermesLeaving, h.addr)
	}
	revealed := r != [32]byte{}
	if revealed && Hashlock(r) != p.Hashlock {
		return Promise{}, fmt.Errorf("%w: R does not hash to the promise's hashlock", ErrHashlockMismatch)
	}
	cch, pch := p.ChannelID, ChannelID(provider, h.addr)
	unlock := h.locks.lock(cch, pch)
	defer unlock()

	if err := h.checkNotWithdrawing(ctx, cch, consumer); err != nil {
		return Promise{}, err
	}
	cs, err := h.consumer(cch, consumer)
	if err != nil {
		return Promise{}, err
	}
	ps, err := h.provider(pch, provider)
	if err != nil {
		return Promise{}, err
	}
	if ps.Pending {
		return Promise{}, fmt.Errorf("%w: provider %s must reveal the R of hashlock %x first", ErrUnrevealedR, provider, ps.PendingConsumer.Hashlock)
	}
	ak := agreementKey(cch, m.AgreementID)
	ag, err := h.agreement(ak)
	if err != nil {
		return Promise{}, err
	}
	if ag == nil {
		ag = &agreementRecord{Provider: provider, Total: new(big.Int), Fee: new(big.Int)}
	} else if ag.Provider != provider {
		return Promise{}, fmt.Errorf("%w: agreement %x belongs to provider %s", ErrWrongProvider, m.AgreementID, ag.Provider)
	}

	dAmount := new(big.Int).Sub(p.Amount, cs.Amount)
	dFee := new(big.Int).Sub(p.Fee, cs.Fee)
	dTotal := new(big.Int).Sub(m.AgreementTotal, ag.Total)
	switch {
	case dAmount.Sign() <= 0:
		return Promise{}, fmt.Errorf("%w: promise amount %s, last accepted %s", ErrNotIncreasing, p.Amount, cs.Amount)
	case dFee.Sign() < 0:
		return Promise{}, fmt.Errorf("%w: promise fee %s, last accepted %s", ErrNotIncreasing, p.Fee, cs.Fee)
	case dTotal.Sign() < 0:
		return Promise{}, fmt.Errorf("%w: agreement total %s, last accepted %s", ErrNotIncreasing, m.AgreementTotal, ag.Total)
	case new(big.Int).Add(dTotal, dFee).Cmp(dAmount) != 0:
		return Promise{}, fmt.Errorf("%w: amount grew by %s, total by %s and fee by %s", ErrAmountMismatch, dAmount, dTotal, dFee)
	}
	agFee := new(big.Int).Add(ag.Fee, dFee)
	if need := RequiredFee(m.AgreementTotal, h.cfg.FeeBp); agFee.Cmp(need) < 0 {
		return Promise{}, fmt.Errorf("%w: agreement fee %s, need %s (%d bp of %s)", ErrFeeTooLow, agFee, need, h.cfg.FeeBp, m.AgreementTotal)
	}
	if err := h.checkDeposit(ctx, cch, consumer, p.Amount); err != nil {
		return Promise{}, err
	}

	issued := Promise{
		ChainID:   h.cfg.ChainID,
		ChannelID: pch,
		Amount:    new(big.Int).Add(ps.Amount, dAmount),
		Fee:       new(big.Int).Add(ps.Fee, dFee),
		Hashlock:  p.Hashlock,
	}
	if err := issued.Sign(h.cfg.Signer); err != nil {
		return Promise{}, err
	}

	// Records are never changed in place, so they may share the clone's
	// and the issued promise's amounts.
	consumerPromise := p.Clone()
	ncs := *cs
	ncs.Amount, ncs.Fee, ncs.Latest = consumerPromise.Amount, consumerPromise.Fee, &consumerPromise
	nps := *ps
	nps.Amount, nps.Fee, nps.Latest = issued.Amount, issued.Fee, &issued
	if revealed {
		ncs.Settle, ncs.SettleR = &consumerPromise, r
	} else {
		nps.Pending, nps.PendingChannel, nps.PendingConsumer = true, cch, &consumerPromise
	}
	nag := &agreementRecord{Provider: provider, Total: new(big.Int).Set(m.AgreementTotal), Fee: agFee}
	if err := h.persist(cch, &ncs, pch, &nps, ak, nag); err != nil {
		return Promise{}, err
	}
	h.mu.Lock()
	h.consumers[cch], h.providers[pch], h.agreed[ak] = &ncs, &nps, nag
	h.mu.Unlock()
	return issued, nil
}

// RevealR accepts the R of provider's pending promise, which lets the hub
// settle the consumer promise behind it and issue provider new promises.
func (h *Hub) RevealR(provider common.Address, r [32]byte) error {
	if h.closed.Load() {
		return ErrClosed
	}
	pch := ChannelID(provider, h.addr)
	unlock := h.locks.lock(pch)
	ps, err := h.provider(pch, provider)
	unlock()
	if err != nil {
		return err
	}
	if !ps.Pending {
		return fmt.Errorf("%w: provider %s has no promise waiting for R", ErrHashlockMismatch, provider)
	}
	cch := ps.PendingChannel
	unlock = h.locks.lock(cch, pch)
	defer unlock()
	if ps, err = h.provider(pch, provider); err != nil {
		return err
	}
	if !ps.Pending || ps.PendingChannel != cch {
		return fmt.Errorf("%w: provider %s has no promise waiting for R", ErrHashlockMismatch, provider)
	}
	if Hashlock(r) != ps.PendingConsumer.Hashlock {
		return fmt.Errorf("%w: R does not hash to the pending hashlock", ErrHashlockMismatch)
	}
	cs, err := h.consumer(cch, common.Address{})
	if err != nil {
		return err
	}
	ncs := *cs
	if ncs.Settle == nil || ncs.Settle.Amount.Cmp(ps.PendingConsumer.Amount) < 0 {
		ncs.Settle, ncs.SettleR = ps.PendingConsumer, r
	}
	nps := *ps
	nps.Pending, nps.PendingChannel, nps.PendingConsumer = false, [32]byte{}, nil
	if err := h.persist(cch, &ncs, pch, &nps, [64]byte{}, nil); err != nil {
		return err
	}
	h.mu.Lock()
	h.consumers[cch], h.providers[pch] = &ncs, &nps
	h.mu.Unlock()
	return nil
}

// ProviderState is what the hub has issued to a provider.
type ProviderState struct {
	Latest  *Promise // last promise issued; nil if none
	Pending bool     // waiting for the R of Latest
}

// Provider returns what the hub has issued to provider.
func (h *Hub) Provider(provider common.Address) (ProviderState, error) {
	pch := ChannelID(provider, h.addr)
	unlock := h.locks.lock(pch)
	defer unlock()
	ps, err := h.provider(pch, provider)
	if err != nil {
		return ProviderState{}, err
	}
	var latest *Promise
	if ps.Latest != nil {
		c := ps.Latest.Clone()
		latest = &c
	}
	return ProviderState{Latest: latest, Pending: ps.Pending}, nil
}

// ConsumerState is what a consumer may spend through a hub.
type ConsumerState struct {
	Deposited *big.Int // everything topped up on chain (the cap of cumulative promises)
	Promised  *big.Int // cumulative amount of the last promise the hub accepted
	Fee       *big.Int // cumulative fee of that promise
	FeeBp     uint16   // the hub's fee
	Latest    *Promise // that promise, signed by the consumer (nil if none): proof of Promised and Fee
}

// Spendable is Deposited − Promised.
func (c ConsumerState) Spendable() *big.Int { return new(big.Int).Sub(c.Deposited, c.Promised) }

// Consumer returns consumer's channel state as the hub sees it, refreshing
// the on-chain deposit.
func (h *Hub) Consumer(ctx context.Context, consumer common.Address) (ConsumerState, error) {
	cch := ChannelID(consumer, h.addr)
	unlock := h.locks.lock(cch)
	defer unlock()
	cs, err := h.consumer(cch, consumer)
	if err != nil {
		return ConsumerState{}, err
	}
	ch, err := h.refreshDeposit(ctx, cch, consumer)
	if err != nil {
		return ConsumerState{}, err
	}
	dep := ch.Deposited()
	st := ConsumerState{Deposited: dep, Promised: new(big.Int).Set(cs.Amount), Fee: new(big.Int).Set(cs.Fee), FeeBp: h.cfg.FeeBp}
	if cs.Latest != nil {
		l := cs.Latest.Clone()
		st.Latest = &l
	}
	return st, nil
}

// settleable returns consumer's highest promise with a known R.
func (h *Hub) settleable(consumer common.Address) (*Promise, [32]byte, *big.Int, error) {
	cch := ChannelID(consumer, h.addr)
	unlock := h.locks.lock(cch)
	defer unlock()
	cs, err := h.consumer(cch, consumer)
	if err != nil {
		return nil, [32]byte{}, nil, err
	}
	if cs.Settle == nil {
		return nil, [32]byte{}, cs.Settled, nil
	}
	p := cs.Settle.Clone()
	return &p, cs.SettleR, new(big.Int).Set(cs.Settled), nil
}

// markConsumerSettled records that consumer's channel is settled up to amount.
func (h *Hub) markConsumerSettled(consumer common.Address, amount *big.Int) error {
	cch := ChannelID(consumer, h.addr)
	unlock := h.locks.lock(cch)
	defer unlock()
	cs, err := h.consumer(cch, consumer)
	if err != nil {
		return err
	}
	if cs.Settled.Cmp(amount) >= 0 {
		return nil
	}
	ncs := *cs
	ncs.Settled = new(big.Int).Set(amount)
	if err := h.persist(cch, &ncs, [32]byte{}, nil, [64]byte{}, nil); err != nil {
		return err
	}
	h.mu.Lock()
	h.consumers[cch] = &ncs
	h.mu.Unlock()
	return nil
}

// Consumers lists every consumer the hub holds promises of.
func (h *Hub) Consumers() ([]common.Address, error) {
	var out []common.Address
	err := h.cfg.Store.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHubConsumers).ForEach(func(_, v []byte) error {
			var c consumerRecord
			if err := c.unmarshal(v); err != nil {
				return err
			}
			out = append(out, c.Consumer)
			return nil
		})
	})
	return out, err
}

// checkNotWithdrawing fails with ErrConsumerWithdrawing while the channel
// has an announced withdrawal. A channel marked so is read again from the
// chain, which clears the mark once the withdrawal is complete.
func (h *Hub) checkNotWithdrawing(ctx context.Context, cch [32]byte, consumer common.Address) error {
	h.mu.Lock()
	_, marked := h.withdrawing[cch]
	h.mu.Unlock()
	if !marked {
		return nil
	}
	ch, err := h.refreshDeposit(ctx, cch, consumer)
	if err != nil {
		return err
	}
	return withdrawingError(consumer, ch)
}

func withdrawingError(consumer common.Address, ch ChannelState) error {
	if !ch.Withdrawing() {
		return nil
	}
	return fmt.Errorf("%w: consumer %s announced a withdrawal due at block %d; it may pay again once it has completed it and topped up",
		ErrConsumerWithdrawing, consumer, ch.WithdrawBlock)
}

// checkDeposit fails with ErrOverspend unless amount fits the channel's
// deposits. The cached deposit changes only by top-ups, which raise it,
// and withdrawals, which a Watcher reports when they are announced (and
// the hub then refuses the channel until they are complete, see
// checkNotWithdrawing), so the chain is asked only when a promise exceeds
// the cached deposit.
func (h *Hub) checkDeposit(ctx context.Context, cch [32]byte, consumer common.Address, amount *big.Int) error {
	h.mu.Lock()
	dep := h.deposited[cch]
	h.mu.Unlock()
	if dep != nil && amount.Cmp(dep) <= 0 {
		return nil
	}
	ch, err := h.refreshDeposit(ctx, cch, consumer)
	if err != nil {
		return err
	}
	if err := withdrawingError(consumer, ch); err != nil {
		return err
	}
	if dep = ch.Deposited(); amount.Cmp(dep) > 0 {
		return fmt.Errorf("%w: consumer %s promised %s, channel holds %s in all", ErrOverspend, consumer, amount, dep)
	}
	return nil
}

// refreshDeposit reads consumer's channel from the chain and updates the
// cached deposit and withdrawal mark.
func (h *Hub) refreshDeposit(ctx context.Context, cch [32]byte, consumer common.Address) (ChannelState, error) {
	st, err := h.cfg.Balances.ConsumerChannel(ctx, consumer, h.addr)
	if err != nil {
		return ChannelState{}, fmt.Errorf("hermes: read consumer %s's channel: %w", consumer, err)
	}
	h.mu.Lock()
	h.deposited[cch] = st.Deposited()
	if st.Withdrawing() {
		h.withdrawing[cch] = st.WithdrawBlock
	} else {
		delete(h.withdrawing, cch)
	}
	h.mu.Unlock()
	return st, nil
}

// consumer returns the cached or stored record of a consumer channel (a
// fresh one if none); the caller holds the channel's lock.
func (h *Hub) consumer(cch [32]byte, consumer common.Address) (*consumerRecord, error) {
	h.mu.Lock()
	cs := h.consumers[cch]
	h.mu.Unlock()
	if cs != nil {
		return cs, nil
	}
	cs = newConsumerRecord(consumer)
	if _, err := h.cfg.Store.get(bucketHubConsumers, cch[:], cs.unmarshal); err != nil {
		return nil, fmt.Errorf("hermes: load consumer channel: %w", err)
	}
	h.mu.Lock()
	h.consumers[cch] = cs
	h.mu.Unlock()
	return cs, nil
}

func (h *Hub) provider(pch [32]byte, provider common.Address) (*providerRecord, error) {
	h.mu.Lock()
	ps := h.providers[pch]
	h.mu.Unlock()
	if ps != nil {
		return ps, nil
	}
	ps = newProviderRecord(provider)
	if _, err := h.cfg.Store.get(bucketHubProviders, pch[:], ps.unmarshal); err != nil {
		return nil, fmt.Errorf("hermes: load provider channel: %w", err)
	}
	h.mu.Lock()
	h.providers[pch] = ps
	h.mu.Unlock()
	return ps, nil
}

// agreement returns the agreement record, nil if the agreement is new.
func (h *Hub) agreement(ak [64]byte) (*agreementRecord, error) {
	h.mu.Lock()
	ag := h.agreed[ak]
	h.mu.Unlock()
	if ag != nil {
		return ag, nil
	}
	ag = new(agreementRecord)
	ok, err := h.cfg.Store.get(bucketHubAgreements, ak[:], ag.unmarshal)
	if err != nil {
		return nil, fmt.Errorf("hermes: load agreement: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return ag, nil
}

// persist durably writes the given records together (one log record,
// shared with concurrent writes); nil records are skipped.
func (h *Hub) persist(cch [32]byte, cs *consumerRecord, pch [32]byte, ps *providerRecord, ak [64]byte, ag *agreementRecord) error {
	// One buffer holds all three values; each is capped so none can grow
	// into the next.
	buf := make([]byte, 0, 1536)
	var puts [3]put
	n := 0
	if cs != nil {
		b, err := cs.appendBinary(buf)
		if err != nil {
			return err
		}
		puts[n] = put{bucket: bucketHubConsumers, key: cch[:], value: b[len(buf):len(b):len(b)]}
		n, buf = n+1, b
	}
	if ps != nil {
		b, err := ps.appendBinary(buf)
		if err != nil {
			return err
		}
		puts[n] = put{bucket: bucketHubProviders, key: pch[:], value: b[len(buf):len(b):len(b)]}
		n, buf = n+1, b
	}
	if ag != nil {
		b := ag.appendBinary(buf)
		puts[n] = put{bucket: bucketHubAgreements, key: ak[:], value: b[len(buf):len(b):len(b)]}
		n++
	}
	if err := h.cfg.Store.batch(puts[:n]...); err != nil {
		return fmt.Errorf("hermes: write state: %w", err)
	}
	return nil
}

// keyedMutex locks channels by ID. Several keys are locked in byte order, so
// two requests sharing channels cannot deadlock.
type keyedMutex struct {
	mu sync.Mutex
	m  map[[32]byte]*sync.Mutex
}

func (k *keyedMutex) get(key [32]byte) *sync.Mutex {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[[32]byte]*sync.Mutex)
	}
	l := k.m[key]
	if l == nil {
		l = new(sync.Mutex)
		k.m[key] = l
	}
	return l
}

func (k *keyedMutex) lock(keys ...[32]byte) (unlock func()) {
	switch len(keys) {
	case 1:
		l := k.get(keys[0])
		l.Lock()
		return l.Unlock
	case 2:
		a, b := keys[0], keys[1]
		switch c := bytes.Compare(a[:], b[:]); {
		case c == 0:
			return k.lock(a)
		case c > 0:
			a, b = b, a
		}
		la, lb := k.get(a), k.get(b)
		la.Lock()
		lb.Lock()
		return func() {
			lb.Unlock()
			la.Unlock()
		}
	}
	panic("hermes: keyedMutex.lock takes one or two keys")
}
