package hermes

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
)

// fakeBalances is an in-memory BalanceSource.
type fakeBalances struct {
	mu   sync.Mutex
	deps map[common.Address]*big.Int
}

func (f *fakeBalances) set(consumer common.Address, v int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deps == nil {
		f.deps = make(map[common.Address]*big.Int)
	}
	f.deps[consumer] = big.NewInt(v)
}

func (f *fakeBalances) ConsumerChannel(_ context.Context, consumer, _ common.Address) (ChannelState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.deps[consumer]
	if d == nil {
		d = new(big.Int)
	}
	return ChannelState{Balance: new(big.Int).Set(d), Settled: new(big.Int), FeeSettled: new(big.Int)}, nil
}

func openTestStore(t testing.TB, opts ...StoreOption) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hermes.db")
	s, err := OpenStore(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

type hubFixture struct {
	hub      *Hub
	hermes   *identity.Identity
	balances *fakeBalances
	store    *Store
	path     string
}

func newHubFixture(t testing.TB, feeBp uint16) *hubFixture {
	t.Helper()
	f := &hubFixture{hermes: mustIdentity(t), balances: &fakeBalances{}}
	f.store, f.path = openTestStore(t)
	f.hub = f.newHub(t, feeBp)
	return f
}

func (f *hubFixture) newHub(t testing.TB, feeBp uint16) *Hub {
	h, err := NewHub(HubConfig{Signer: f.hermes, ChainID: 1337, FeeBp: feeBp, Store: f.store, Balances: f.balances})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// payment is one consumer→provider exchange with its R.
type payment struct {
	m *ExchangeMessage
	r [32]byte
}

func pay(t testing.TB, w *Wallet, agreement [32]byte, provider common.Address, total, dTotal, dFee int64) payment {
	t.Helper()
	r, lock, err := NewR()
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Pay(agreement, provider, lock, big.NewInt(total), big.NewInt(dTotal), big.NewInt(dFee))
	if err != nil {
		t.Fatal(err)
	}
	return payment{m, r}
}

func newWallet(t testing.TB, id identity.Signer, hermes common.Address) *Wallet {
	t.Helper()
	w, err := NewWallet(id, hermes, 1337, new(big.Int), new(big.Int))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestHubExchange(t *testing.T) {
	f := newHubFixture(t, 250)
	ctx := context.Background()
	consumer, provider := mustIdentity(t), mustIdentity(t)
	f.balances.set(consumer.Address(), 100_000)
	w := newWallet(t, consumer, f.hermes.Address())
	agr := [32]byte{1}
	P := provider.Address()

	// 10000 + 250 fee, then 20000 (+10000) + 500 (+250).
	p1 := pay(t, w, agr, P, 10000, 10000, 250)
	got, err := f.hub.Exchange(ctx, P, p1.m, p1.r)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(f.hermes.Address()); err != nil {
		t.Fatal(err)
	}
	if got.Amount.Int64() != 10250 || got.Fee.Int64() != 250 || got.Hashlock != p1.m.Promise.Hashlock || got.ChannelID != ChannelID(P, f.hermes.Address()) {
		t.Fatalf("issued %+v", got)
	}
	p2 := pay(t, w, agr, P, 20000, 10000, 250)
	got, err = f.hub.Exchange(ctx, P, p2.m, p2.r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount.Int64() != 20500 || got.Fee.Int64() != 500 {
		t.Fatalf("second promise %s/%s", got.Amount, got.Fee)
	}
	// A second consumer paying the same provider adds to the provider's channel.
	c2 := mustIdentity(t)
	f.balances.set(c2.Address(), 1000)
	w2 := newWallet(t, c2, f.hermes.Address())
	p3 := pay(t, w2, [32]byte{2}, P, 400, 400, 10)
	got, err = f.hub.Exchange(ctx, P, p3.m, p3.r)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount.Int64() != 20910 || got.Fee.Int64() != 510 {
		t.Fatalf("third promise %s/%s", got.Amount, got.Fee)
	}
	st, err := f.hub.Consumer(ctx, consumer.Address())
	if err != nil {
		t.Fatal(err)
	}
	if st.Deposited.Int64() != 100_000 || st.Promised.Int64() != 20500 || st.Spendable().Int64() != 79500 || st.FeeBp != 250 {
		t.Fatalf("consumer state %+v", st)
	}

	// State survives a restart of the hub on the same store.
	h2 := f.newHub(t, 250)
	if _, err := h2.Exchange(ctx, P, p2.m, p2.r); !errors.Is(err, ErrNotIncreasing) {
		t.Fatalf("replay after restart: %v", err)
	}
	ps, err := h2.Provider(P)
	if err != nil || ps.Latest == nil || ps.Latest.Amount.Int64() != 20910 || ps.Pending {
		t.Fatalf("provider state after restart %+v, %v", ps, err)
	}
}

func TestHubRefuses(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) env {
		f := newHubFixture(t, 100)
		e := env{f: f, consumer: mustIdentity(t), provider: mustIdentity(t)}
		f.balances.set(e.consumer.Address(), 10_000)
		e.w = newWallet(t, e.consumer, f.hermes.Address())
		// One accepted payment, so increases can be tested.
		p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 1000, 1000, 10)
		if _, err := f.hub.Exchange(ctx, e.provider.Address(), p.m, p.r); err != nil {
			t.Fatal(err)
		}
		return e
	}
	resign := func(t *testing.T, e env, m *ExchangeMessage) {
		if err := m.Sign(e.consumer); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, e env) error
		want error
	}{
		{"bad exchange signature", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.AgreementTotal = big.NewInt(1999)
			return e.exchange(p)
		}, ErrBadSignature},
		{"promise signed by someone else", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			if err := p.m.Promise.Sign(e.provider); err != nil {
				t.Fatal(err)
			}
			return e.exchange(p)
		}, ErrBadSignature},
		{"replay", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			if err := e.exchange(p); err != nil {
				t.Fatal(err)
			}
			return e.exchange(p)
		}, ErrNotIncreasing},
		{"amount not increasing", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.Promise.Amount = big.NewInt(1010)
			p.m.Promise.Fee = big.NewInt(10)
			resign(t, e, p.m)
			return e.exchange(p)
		}, ErrNotIncreasing},
		{"fee decreasing", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.Promise.Fee = big.NewInt(5)
			resign(t, e, p.m)
			return e.exchange(p)
		}, ErrNotIncreasing},
		{"agreement total decreasing", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.AgreementTotal = big.NewInt(999)
			resign(t, e, p.m)
			return e.exchange(p)
		}, ErrNotIncreasing},
		{"amount larger than agreement increase", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 1500, 1000, 10)
			return e.exchange(p)
		}, ErrAmountMismatch},
		{"fee too low", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 3000, 2000, 0)
			return e.exchange(p)
		}, ErrFeeTooLow},
		{"overspend", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 10000, 9000, 90)
			return e.exchange(p)
		}, ErrOverspend},
		{"hashlock mismatch", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.r[0] ^= 1
			return e.exchange(p)
		}, ErrHashlockMismatch},
		{"unrevealed previous R", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			if _, err := e.f.hub.Exchange(ctx, e.provider.Address(), p.m, [32]byte{}); err != nil {
				t.Fatal(err)
			}
			p2 := pay(t, e.w, [32]byte{1}, e.provider.Address(), 3000, 1000, 10)
			err := e.exchange(p2)
			// Revealing a wrong R does not help; the right one does.
			if err := e.f.hub.RevealR(e.provider.Address(), p2.r); !errors.Is(err, ErrHashlockMismatch) {
				t.Fatalf("wrong reveal: %v", err)
			}
			if err := e.f.hub.RevealR(e.provider.Address(), p.r); err != nil {
				t.Fatal(err)
			}
			if err := e.exchange(p2); err != nil {
				t.Fatalf("after reveal: %v", err)
			}
			return err
		}, ErrUnrevealedR},
		{"presented by another provider", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			_, err := e.f.hub.Exchange(ctx, e.consumer.Address(), p.m, p.r)
			return err
		}, ErrWrongProvider},
		{"agreement of another provider", func(t *testing.T, e env) error {
			other := mustIdentity(t)
			p := pay(t, e.w, [32]byte{1}, other.Address(), 2000, 1000, 10)
			_, err := e.f.hub.Exchange(ctx, other.Address(), p.m, p.r)
			return err
		}, ErrWrongProvider},
		{"other hermes", func(t *testing.T, e env) error {
			w := newWallet(t, e.consumer, e.provider.Address())
			p := pay(t, w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			return e.exchange(p)
		}, ErrWrongHermes},
		{"wrong chain", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.Promise.ChainID = 1
			resign(t, e, p.m)
			return e.exchange(p)
		}, ErrWrongChain},
		{"wrong channel", func(t *testing.T, e env) error {
			p := pay(t, e.w, [32]byte{1}, e.provider.Address(), 2000, 1000, 10)
			p.m.Promise.ChannelID = ChannelID(e.provider.Address(), e.f.hermes.Address())
			resign(t, e, p.m)
			return e.exchange(p)
		}, ErrWrongChannel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			if err := tc.run(t, e); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

type env struct {
	f                  *hubFixture
	consumer, provider *identity.Identity
	w                  *Wallet
}

func (e env) exchange(p payment) error {
	_, err := e.f.hub.Exchange(context.Background(), e.provider.Address(), p.m, p.r)
	return err
}

// TestHubOutOfOrderSessions: two sessions of one consumer with two
// providers; the later-signed payment arrives first, is refused, and is
// accepted once the earlier one has been exchanged.
func TestHubOutOfOrderSessions(t *testing.T) {
	f := newHubFixture(t, 0)
	ctx := context.Background()
	consumer, p1, p2 := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	f.balances.set(consumer.Address(), 10_000)
	w := newWallet(t, consumer, f.hermes.Address())
	a := pay(t, w, [32]byte{1}, p1.Address(), 100, 100, 0)
	b := pay(t, w, [32]byte{2}, p2.Address(), 50, 50, 0)
	if _, err := f.hub.Exchange(ctx, p2.Address(), b.m, b.r); !errors.Is(err, ErrAmountMismatch) {
		t.Fatalf("overtaking payment: %v", err)
	}
	if _, err := f.hub.Exchange(ctx, p1.Address(), a.m, a.r); err != nil {
		t.Fatal(err)
	}
	got, err := f.hub.Exchange(ctx, p2.Address(), b.m, b.r)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got.Amount.Int64() != 50 {
		t.Fatalf("p2 promised %s, want 50", got.Amount)
	}
}
