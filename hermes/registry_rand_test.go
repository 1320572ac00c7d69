package hermes

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
)

// TestRegistryAccountingRandom drives the Registry with random payments,
// consumer pulls, provider settlements, fee withdrawals and a leave, and
// checks it against a naive model after every step:
//   - the tokens the Registry holds are the consumer channels plus the
//     hub's stake, owed funds and fees;
//   - owed − lent − feesPending = pulled − settled gross (model counters),
//     and owed is zero while the stake has lent or fees are pending;
//   - in the end, once every consumer promise is pulled, every provider is
//     paid in full, whatever the hub withdrew and even after it left.
func TestRegistryAccountingRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()

	hub := mustIdentity(t)
	consumers := []*identity.Identity{mustIdentity(t), mustIdentity(t)}
	providers := []*identity.Identity{mustIdentity(t), mustIdentity(t), mustIdentity(t)}
	tc := newTestChain(t, append(append([]*identity.Identity{hub}, consumers...), providers...)...)
	c := tc.chain
	H := hub.Address()
	for _, id := range append([]*identity.Identity{hub}, consumers...) {
		if err := c.Mint(ctx, id, id.Address(), big.NewInt(1_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RegisterHermes(ctx, hub, big.NewInt(5000)); err != nil {
		t.Fatal(err)
	}
	for _, id := range consumers {
		if err := c.TopUp(ctx, id, id.Address(), H, big.NewInt(500_000)); err != nil {
			t.Fatal(err)
		}
	}

	type cum struct{ amount, fee int64 }
	var (
		cons    = make([]cum, len(consumers)) // cumulative consumer promises
		prov    = make([]cum, len(providers)) // cumulative hub promises to providers
		pulled  = make([]int64, len(consumers))
		settled = make([]cum, len(providers))
		stepNo  int
		// How often the interesting paths ran, for the log.
		lentSeen, refused, stakeTaken int
	)
	sign := func(signer *identity.Identity, party common.Address, v cum) (Promise, [32]byte) {
		r, lock, err := NewR()
		if err != nil {
			t.Fatal(err)
		}
		p := Promise{ChainID: 1337, ChannelID: ChannelID(party, H), Amount: big.NewInt(v.amount), Fee: big.NewInt(v.fee), Hashlock: lock}
		if err := p.Sign(signer); err != nil {
			t.Fatal(err)
		}
		return p, r
	}
	tokenBal := func(a common.Address) int64 {
		b, err := c.TokenBalance(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return b.Int64()
	}
	hubState := func() HubState {
		st, err := c.Hub(ctx, H)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	check := func(what string) {
		t.Helper()
		st := hubState()
		held := new(big.Int).Set(st.Pool())
		for _, id := range consumers {
			ch, err := c.ConsumerChannel(ctx, id.Address(), H)
			if err != nil {
				t.Fatal(err)
			}
			held.Add(held, ch.Balance)
		}
		if got := tokenBal(c.Registry()); got != held.Int64() {
			t.Fatalf("step %d (%s): registry holds %d tokens, channels + hub balances are %s", stepNo, what, got, held)
		}
		var in, out int64
		for _, p := range pulled {
			in += p
		}
		for _, s := range settled {
			out += s.amount
		}
		lhs := new(big.Int).Sub(st.Owed, st.Lent)
		lhs.Sub(lhs, st.FeesPending)
		if lhs.Int64() != in-out {
			t.Fatalf("step %d (%s): owed %s − lent %s − fees pending %s ≠ pulled %d − settled %d", stepNo, what, st.Owed, st.Lent, st.FeesPending, in, out)
		}
		if st.Lent.Sign() > 0 {
			lentSeen++
		}
		if st.Owed.Sign() > 0 && (st.Lent.Sign() > 0 || st.FeesPending.Sign() > 0) {
			t.Fatalf("step %d (%s): owed %s beside lent %s or fees pending %s", stepNo, what, st.Owed, st.Lent, st.FeesPending)
		}
	}
	pull := func(i int) {
		if cons[i].amount == pulled[i] {
			return
		}
		p, r := sign(consumers[i], consumers[i].Address(), cons[i])
		if err := c.SettlePromise(ctx, hub, consumers[i].Address(), H, p, r); err != nil {
			t.Fatalf("step %d: pull consumer %d: %v", stepNo, i, err)
		}
		pulled[i] = cons[i].amount
	}
	settle := func(j int, mustPay bool) {
		if prov[j] == settled[j] {
			return
		}
		st := hubState()
		paid := (prov[j].amount - settled[j].amount) - (prov[j].fee - settled[j].fee)
		p, r := sign(hub, providers[j].Address(), prov[j])
		before := tokenBal(providers[j].Address())
		err := c.SettleProvider(ctx, providers[j], providers[j].Address(), H, p, r)
		var re *RevertError
		short := paid > new(big.Int).Add(st.Owed, st.Stake).Int64()
		switch {
		case err == nil && short:
			t.Fatalf("step %d: provider %d paid %d, more than owed %s + stake %s", stepNo, j, paid, st.Owed, st.Stake)
		case err == nil:
			if got := tokenBal(providers[j].Address()) - before; got != paid {
				t.Fatalf("step %d: provider %d got %d, want %d", stepNo, j, got, paid)
			}
			settled[j] = prov[j]
		case errors.As(err, &re) && re.Reason == "hermes pool insufficient" && short && !mustPay:
			refused++
		default:
			t.Fatalf("step %d: provider %d settling %d (owed %s, stake %s): %v", stepNo, j, paid, st.Owed, st.Stake, err)
		}
	}

	var leaveDue uint64
	// Pulls are rarer than settlements, so that the stake lends and runs
	// short; the leave comes in the second half.
	const steps = 200
	for stepNo = 0; stepNo < steps; stepNo++ {
		what := ""
		op := rng.IntN(10)
		if op == 9 && stepNo < steps/2 {
			op = 5
		}
		switch {
		case op < 4 && leaveDue == 0: // a payment: hub promises stay in step with consumer promises
			what = "pay"
			i, j := rng.IntN(len(consumers)), rng.IntN(len(providers))
			x := 1 + rng.Int64N(800)
			fee := x / 40
			cons[i].amount += x + fee
			cons[i].fee += fee
			prov[j].amount += x + fee
			prov[j].fee += fee
		case op < 5:
			what = "pull"
			pull(rng.IntN(len(consumers)))
		case op < 8:
			what = "settle"
			settle(rng.IntN(len(providers)), false)
		case op == 8:
			what = "withdraw fees"
			st := hubState()
			if st.Fees.Sign() > 0 {
				before := tokenBal(H)
				if err := c.HermesWithdraw(ctx, hub, H, st.Fees); err != nil {
					t.Fatalf("step %d: withdraw fees %s: %v", stepNo, st.Fees, err)
				}
				if got := tokenBal(H) - before; got != st.Fees.Int64() {
					t.Fatalf("step %d: fee withdrawal paid %d, want %s", stepNo, got, st.Fees)
				}
			}
			over := new(big.Int).Add(hubState().Fees, big.NewInt(1))
			if err := c.HermesWithdraw(ctx, hub, H, over); !errors.Is(err, ErrExceedsFees) {
				t.Fatalf("step %d: withdrawing %s, beyond the fees: %v", stepNo, over, err)
			}
		default:
			what = "leave"
			if leaveDue == 0 {
				var err error
				if leaveDue, err = c.AnnounceLeave(ctx, hub); err != nil {
					t.Fatal(err)
				}
			} else if head, _ := c.BlockNumber(ctx); head >= leaveDue {
				if _, err := c.WithdrawStake(ctx, hub, H); err == nil {
					stakeTaken++
				} else if !errors.Is(err, ErrNothingToWithdraw) {
					t.Fatalf("step %d: withdraw stake: %v", stepNo, err)
				}
			}
		}
		check(what)
	}

	t.Logf("%d steps with the stake lent, %d settlements refused for want of funds, %d stake withdrawals midway", lentSeen, refused, stakeTaken)

	// The end: the hub leaves with what it may take, every consumer
	// promise is pulled, and every provider is paid in full.
	stepNo = -1
	if leaveDue == 0 {
		var err error
		if leaveDue, err = c.AnnounceLeave(ctx, hub); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := c.BlockNumber(ctx)
	if head < leaveDue {
		tc.mine(int(leaveDue - head))
	}
	if _, err := c.WithdrawStake(ctx, hub, H); err != nil && !errors.Is(err, ErrNothingToWithdraw) {
		t.Fatal(err)
	}
	if st := hubState(); st.Fees.Sign() > 0 {
		if err := c.HermesWithdraw(ctx, hub, H, st.Fees); err != nil {
			t.Fatal(err)
		}
	}
	for i := range consumers {
		pull(i)
	}
	check("all pulled")
	var fees int64
	for j := range providers {
		settle(j, true)
		fees += prov[j].fee
	}
	check("all settled")
	for j, id := range providers {
		if got, want := tokenBal(id.Address()), prov[j].amount-prov[j].fee; got != want {
			t.Fatalf("provider %d holds %d, was promised %d", j, got, want)
		}
	}
	if st := hubState(); st.Owed.Sign() != 0 || st.Lent.Sign() != 0 || st.FeesPending.Sign() != 0 {
		t.Fatalf("hub after everything settled %+v", st)
	}
	// What the hub takes in all is its stake (what it lent came back with
	// the pulls) and the fees.
	if st := hubState(); st.Fees.Sign() > 0 {
		if err := c.HermesWithdraw(ctx, hub, H, st.Fees); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WithdrawStake(ctx, hub, H); err != nil && !errors.Is(err, ErrNothingToWithdraw) {
		t.Fatal(err)
	}
	if got, want := tokenBal(H), int64(1_000_000)+fees; got != want {
		t.Fatalf("hub holds %d tokens, want its 1000000 and fees %d", got, want)
	}
}
