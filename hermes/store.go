package hermes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Buckets of the store. Hub and provider state may share one file.
var (
	bucketHubConsumers  = []byte("hub/consumers")  // consumer channel ID → consumerRecord
	bucketHubProviders  = []byte("hub/providers")  // provider channel ID → providerRecord
	bucketHubAgreements = []byte("hub/agreements") // consumer channel ID ‖ agreement ID → agreementRecord
	bucketProvR         = []byte("prov/r")         // hashlock → R
	bucketProvSessions  = []byte("prov/sessions")  // agreement ID → sessionRecord
	bucketProvEarnings  = []byte("prov/earnings")  // hermes address → earningRecord
	// hermes address ‖ cumulative settled amount (uint256) → Settlement
	bucketProvSettlements = []byte("prov/settlements")
)

// Store is the durable state of a hermes hub and of a provider, kept in a
// bbolt file. Every write is fsynced before the call returns. Concurrent
// writes are group-committed, as with bbolt's Batch but without its timer:
// writes queue up while a commit is in flight, and the one writer goroutine
// then takes every waiting write into one transaction and one fsync. A lone
// write is committed at once; under load the groups grow by themselves, which
// is what lets a hub answer thousands of promise requests per second.
//
// All methods return ErrClosed after Close.
type Store struct {
	db       *bolt.DB
	maxGroup int

	queue struct {
		sync.Mutex
		groups []*writeGroup // waiting for the writer, oldest first
		closed bool
	}
	wake chan struct{} // holds a token when the queue has news for the writer
	wg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// writeGroup is writes that share one commit. done is closed when the
// commit has finished; then err is every write's result, unless the group
// failed and was retried write by write, which leaves the results in errs.
type writeGroup struct {
	fns  []func(*bolt.Tx) error
	done chan struct{}
	err  error
	errs []error
}

// StoreOption configures a Store.
type StoreOption func(*Store) error

// WithMaxGroup sets how many writes may share one commit (default 4096).
func WithMaxGroup(n int) StoreOption {
	return func(s *Store) error {
		if n <= 0 {
			return fmt.Errorf("max group %d: must be positive", n)
		}
		s.maxGroup = n
		return nil
	}
}

// OpenStore opens (creating if needed) the store at path.
func OpenStore(path string, opts ...StoreOption) (*Store, error) {
	s := &Store{maxGroup: 4096, wake: make(chan struct{}, 1)}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("store option: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		NoFreelistSync:  true, // rebuilt on open; saves page writes per commit
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("open hermes store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHubConsumers, bucketHubProviders, bucketHubAgreements, bucketProvR, bucketProvSessions, bucketProvEarnings, bucketProvSettlements} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("init hermes store %s: %w", path, err), db.Close())
	}
	s.db = db
	s.wg.Go(s.commitLoop)
	return s, nil
}

// Close finishes pending writes and closes the file. Idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.queue.Lock()
		s.queue.closed = true
		s.queue.Unlock()
		s.signal()
		s.wg.Wait()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// signal wakes the writer goroutine if it waits.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// batch runs fn in a group-committed, fsynced write transaction. fn may run
// more than once and must only put values.
func (s *Store) batch(fn func(*bolt.Tx) error) error {
	s.queue.Lock()
	if s.queue.closed {
		s.queue.Unlock()
		return ErrClosed
	}
	var g *writeGroup
	q := s.queue.groups
	if n := len(q); n > 0 && len(q[n-1].fns) < s.maxGroup {
		g = q[n-1]
	} else {
		g = &writeGroup{done: make(chan struct{})}
		s.queue.groups = append(q, g)
	}
	i := len(g.fns)
	g.fns = append(g.fns, fn)
	s.queue.Unlock()
	if i == 0 {
		s.signal() // a group's first write wakes the writer; the others find it queued
	}
	<-g.done
	if g.errs != nil {
		return g.errs[i]
	}
	return g.err
}

// commitLoop is the one writer: it commits the queued groups in order, and
// returns once the store is closed and nothing is left to write.
func (s *Store) commitLoop() {
	for {
		s.queue.Lock()
		for len(s.queue.groups) == 0 {
			if s.queue.closed {
				s.queue.Unlock()
				return
			}
			s.queue.Unlock()
			<-s.wake
			s.queue.Lock()
		}
		g := s.queue.groups[0]
		s.queue.groups[0] = nil
		s.queue.groups = s.queue.groups[1:]
		s.queue.Unlock()
		s.commit(g)
	}
}

// commit writes a group in one transaction; if that fails, each write is
// retried alone so one bad write cannot fail the others.
func (s *Store) commit(g *writeGroup) {
	g.err = s.db.Update(func(tx *bolt.Tx) error {
		for _, fn := range g.fns {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if g.err != nil && len(g.fns) > 1 {
		g.errs = make([]error, len(g.fns))
		for i, fn := range g.fns {
			g.errs[i] = s.db.Update(fn)
		}
	}
	close(g.done)
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// get decodes the value at key into dec; ok is false when absent.
func (s *Store) get(bucket, key []byte, dec func([]byte) error) (ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(key)
		if v == nil {
			return nil
		}
		ok = true
		return dec(v)
	})
	return ok, err
}

// consumerRecord is what a hub knows of a consumer channel.
type consumerRecord struct {
	Consumer common.Address
	Amount   *big.Int // cumulative amount of the last accepted promise
	Fee      *big.Int // cumulative fee of the last accepted promise
	Latest   *Promise // the last accepted promise: proof of Amount and Fee
	Settle   *Promise // highest promise whose R is known: what the hub can settle
	SettleR  [32]byte
	Settled  *big.Int // amount already settled on chain
}

func newConsumerRecord(consumer common.Address) *consumerRecord {
	return &consumerRecord{Consumer: consumer, Amount: new(big.Int), Fee: new(big.Int), Settled: new(big.Int)}
}

func (c *consumerRecord) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 640)}
	w.addr(c.Consumer)
	w.amount(c.Amount)
	w.amount(c.Fee)
	if err := w.promise(c.Latest); err != nil {
		return nil, err
	}
	if err := w.promise(c.Settle); err != nil {
		return nil, err
	}
	w.bytes(c.SettleR[:])
	w.amount(c.Settled)
	return w.b, nil
}

func (c *consumerRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*c = consumerRecord{Consumer: r.addr(), Amount: r.amount(), Fee: r.amount(), Latest: r.promise(), Settle: r.promise(), SettleR: r.bytes32(), Settled: r.amount()}
	return r.done()
}

// providerRecord is what a hub knows of a provider channel.
type providerRecord struct {
	Provider common.Address
	Amount   *big.Int // cumulative amount of the last issued promise
	Fee      *big.Int
	Latest   *Promise // last issued promise
	// A promise issued without R: the hub waits for the provider to reveal it.
	Pending         bool
	PendingChannel  [32]byte // consumer channel of the pending promise
	PendingConsumer *Promise // the consumer promise R unlocks
}

func newProviderRecord(provider common.Address) *providerRecord {
	return &providerRecord{Provider: provider, Amount: new(big.Int), Fee: new(big.Int)}
}

func (p *providerRecord) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 600)}
	w.addr(p.Provider)
	w.amount(p.Amount)
	w.amount(p.Fee)
	if err := w.promise(p.Latest); err != nil {
		return nil, err
	}
	w.flag(p.Pending)
	w.bytes(p.PendingChannel[:])
	if err := w.promise(p.PendingConsumer); err != nil {
		return nil, err
	}
	return w.b, nil
}

func (p *providerRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*p = providerRecord{Provider: r.addr(), Amount: r.amount(), Fee: r.amount(), Latest: r.promise(), Pending: r.flag(), PendingChannel: r.bytes32(), PendingConsumer: r.promise()}
	return r.done()
}

// agreementRecord is what a hub knows of one session paid from a consumer channel.
type agreementRecord struct {
	Provider common.Address
	Total    *big.Int // cumulative agreement total paid
	Fee      *big.Int // cumulative hermes fee paid for this agreement
}

func (a *agreementRecord) marshal() []byte {
	w := recordWriter{b: make([]byte, 0, 84)}
	w.addr(a.Provider)
	w.amount(a.Total)
	w.amount(a.Fee)
	return w.b
}

func (a *agreementRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*a = agreementRecord{Provider: r.addr(), Total: r.amount(), Fee: r.amount()}
	return r.done()
}

func agreementKey(channel, agreement [32]byte) (k [64]byte) {
	copy(k[:], channel[:])
	copy(k[32:], agreement[:])
	return k
}

// sessionRecord is what a provider knows of a session it invoices.
type sessionRecord struct {
	Consumer common.Address
	Hermes   common.Address
	Last     *ExchangeMessage // last valid payment from the consumer
	Fee      *big.Int         // cumulative fee of the agreement paid with Last
	// Exchanged is the agreement total the hermes has accepted.
	Exchanged *big.Int
}

func (s *sessionRecord) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 450)}
	w.addr(s.Consumer)
	w.addr(s.Hermes)
	w.amount(s.Fee)
	w.amount(s.Exchanged)
	w.flag(s.Last != nil)
	if s.Last != nil {
		var err error
		if w.b, err = s.Last.appendBinary(w.b); err != nil {
			return nil, err
		}
	}
	return w.b, nil
}

func (s *sessionRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*s = sessionRecord{Consumer: r.addr(), Hermes: r.addr(), Fee: r.amount(), Exchanged: r.amount()}
	if r.flag() {
		s.Last = new(ExchangeMessage)
		if err := s.Last.UnmarshalBinary(r.take(ExchangeMessageSize)); err != nil && r.err == nil {
			r.err = err
		}
	}
	return r.done()
}

// Earning is what a provider has earned through one hermes.
type Earning struct {
	Hermes     common.Address
	Promise    *Promise // latest hermes promise; nil if none yet
	R          [32]byte // unlocks Promise
	Settled    *big.Int // cumulative amount of the last settlement on chain
	FeeSettled *big.Int
}

// Unsettled is what settling the latest promise would pay the beneficiary:
// (amount − settled) − (fee − feeSettled).
func (e Earning) Unsettled() *big.Int {
	if e.Promise == nil {
		return new(big.Int)
	}
	u := new(big.Int).Sub(e.Promise.Amount, e.Settled)
	u.Sub(u, new(big.Int).Sub(e.Promise.Fee, e.FeeSettled))
	if u.Sign() < 0 {
		return new(big.Int)
	}
	return u
}

func (e *Earning) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 350)}
	if err := w.promise(e.Promise); err != nil {
		return nil, err
	}
	w.bytes(e.R[:])
	w.amount(e.Settled)
	w.amount(e.FeeSettled)
	return w.b, nil
}

func (e *Earning) unmarshal(hermes common.Address, b []byte) error {
	r := recordReader{b: b}
	*e = Earning{Hermes: hermes, Promise: r.promise(), R: r.bytes32(), Settled: r.amount(), FeeSettled: r.amount()}
	return r.done()
}

// PutR durably records an R a provider is about to invoice with.
func (s *Store) PutR(r [32]byte) error {
	lock := Hashlock(r)
	return s.batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketProvR).Put(lock[:], r[:]) })
}

// R returns the R behind a hashlock, if this provider made it.
func (s *Store) R(hashlock [32]byte) (r [32]byte, ok bool, err error) {
	ok, err = s.get(bucketProvR, hashlock[:], func(v []byte) error {
		if len(v) != 32 {
			return fmt.Errorf("%w: stored R is %d bytes", ErrMalformed, len(v))
		}
		r = [32]byte(v)
		return nil
	})
	return r, ok, err
}

func (s *Store) session(agreement [32]byte) (*sessionRecord, bool, error) {
	var rec sessionRecord
	ok, err := s.get(bucketProvSessions, agreement[:], rec.unmarshal)
	return &rec, ok, err
}

func (s *Store) putSession(agreement [32]byte, rec *sessionRecord) error {
	v, err := rec.marshal()
	if err != nil {
		return err
	}
	return s.batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketProvSessions).Put(agreement[:], v) })
}

// pendingSession is a provider's session whose last payment the hermes
// has not accepted.
type pendingSession struct {
	agreement [32]byte
	rec       *sessionRecord
}

// unexchangedSessions lists the sessions paying through hermes whose last
// payment was stored but not exchanged.
func (s *Store) unexchangedSessions(hermes common.Address) ([]pendingSession, error) {
	var out []pendingSession
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvSessions).ForEach(func(k, v []byte) error {
			var rec sessionRecord
			if err := rec.unmarshal(v); err != nil {
				return err
			}
			if rec.Hermes == hermes && rec.Last != nil && rec.Last.AgreementTotal.Cmp(rec.Exchanged) > 0 {
				out = append(out, pendingSession{agreement: [32]byte(k), rec: &rec})
			}
			return nil
		})
	})
	return out, err
}

// Earning returns what the provider has earned through hermes.
func (s *Store) Earning(hermes common.Address) (Earning, error) {
	e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
	_, err := s.get(bucketProvEarnings, hermes[:], func(v []byte) error { return e.unmarshal(hermes, v) })
	return e, err
}

// Earnings lists what the provider has earned through every hermes.
func (s *Store) Earnings() ([]Earning, error) {
	var out []Earning
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvEarnings).ForEach(func(k, v []byte) error {
			var e Earning
			if len(k) != common.AddressLength {
				return fmt.Errorf("%w: earnings key is %d bytes", ErrMalformed, len(k))
			}
			if err := e.unmarshal(common.Address(k), v); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// putHermesPromise stores a newer hermes promise and its R, keeping the
// settled amounts. Older or equal promises are ignored.
func (s *Store) putHermesPromise(hermes common.Address, p Promise, r [32]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProvEarnings)
		e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
		if v := b.Get(hermes[:]); v != nil {
			if err := e.unmarshal(hermes, v); err != nil {
				return err
			}
		}
		if e.Promise != nil && e.Promise.Amount.Cmp(p.Amount) >= 0 {
			return nil
		}
		e.Promise, e.R = &p, r
		v, err := e.marshal()
		if err != nil {
			return err
		}
		return b.Put(hermes[:], v)
	})
}

// Settlement is one provider settlement on chain, as the provider sent it.
type Settlement struct {
	Hermes common.Address
	Amount *big.Int // cumulative amount of the settled promise
	Paid   *big.Int // what this settlement paid the beneficiary
	Fee    *big.Int // the hermes fee this settlement took
	Tx     Tx
}

func (st *Settlement) marshal() []byte {
	w := recordWriter{b: make([]byte, 0, 32*5+8+8)}
	w.amount(st.Amount)
	w.amount(st.Paid)
	w.amount(st.Fee)
	w.bytes(st.Tx.Hash[:])
	w.bytes(binary.BigEndian.AppendUint64(nil, st.Tx.Block))
	w.bytes(binary.BigEndian.AppendUint64(nil, st.Tx.GasUsed))
	w.amount(st.Tx.GasPrice)
	return w.b
}

func (st *Settlement) unmarshal(hermes common.Address, b []byte) error {
	r := recordReader{b: b}
	*st = Settlement{Hermes: hermes, Amount: r.amount(), Paid: r.amount(), Fee: r.amount()}
	st.Tx.Hash = common.Hash(r.bytes32())
	st.Tx.Block = binary.BigEndian.Uint64(r.take(8))
	st.Tx.GasUsed = binary.BigEndian.Uint64(r.take(8))
	st.Tx.GasPrice = r.amount()
	return r.done()
}

func settlementKey(hermes common.Address, amount *big.Int) []byte {
	k := make([]byte, common.AddressLength+32)
	copy(k, hermes[:])
	putUint256(k[common.AddressLength:], amount)
	return k
}

// Settlements lists the provider's settlements through hermes, oldest
// first. Settlements found already done on chain (after a crash between
// the transaction and the store write) have no record here.
func (s *Store) Settlements(hermes common.Address) ([]Settlement, error) {
	var out []Settlement
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProvSettlements).Cursor()
		for k, v := c.Seek(hermes[:]); k != nil && bytes.HasPrefix(k, hermes[:]); k, v = c.Next() {
			var st Settlement
			if err := st.unmarshal(hermes, v); err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// markSettled records a settlement on chain of a promise with amount and
// fee, and st, if not nil, in the same transaction.
func (s *Store) markSettled(hermes common.Address, amount, fee *big.Int, st *Settlement) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProvEarnings)
		e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
		if v := b.Get(hermes[:]); v != nil {
			if err := e.unmarshal(hermes, v); err != nil {
				return err
			}
		}
		if e.Settled.Cmp(amount) >= 0 {
			return nil
		}
		e.Settled, e.FeeSettled = new(big.Int).Set(amount), new(big.Int).Set(fee)
		v, err := e.marshal()
		if err != nil {
			return err
		}
		if st != nil {
			if err := tx.Bucket(bucketProvSettlements).Put(settlementKey(hermes, amount), st.marshal()); err != nil {
				return err
			}
		}
		return b.Put(hermes[:], v)
	})
}

// update runs fn in its own fsynced write transaction (read-modify-write).
func (s *Store) update(fn func(*bolt.Tx) error) error {
	err := s.db.Update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
