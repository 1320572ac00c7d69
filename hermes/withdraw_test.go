package hermes

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// raw sends a Registry call without the Go API's checks, to reach the
// contract's own reverts.
func (w *contractWorld) raw(t *testing.T, from *identity.Identity, method string, data []byte) error {
	t.Helper()
	_, err := w.chain.transact(context.Background(), from, w.chain.registry, method, data)
	return err
}

func (w *contractWorld) channel(t *testing.T, consumer common.Address) ChannelState {
	t.Helper()
	ch, err := w.chain.ConsumerChannel(context.Background(), consumer, w.hermes.Address())
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (w *contractWorld) hub(t *testing.T) HubState {
	t.Helper()
	h, err := w.chain.Hub(context.Background(), w.hermes.Address())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantNotDue fails unless err is a *NotDueError asking to wait blocks more.
func wantNotDue(t *testing.T, err error, what string, blocks uint64) {
	t.Helper()
	var nd *NotDueError
	if !errors.As(err, &nd) || !errors.Is(err, ErrNotDue) {
		t.Fatalf("got %v, want a %s not yet due", err, what)
	}
	if nd.What != what || nd.Blocks() != blocks {
		t.Fatalf("got %q, want %s not due for %d more blocks", err, what, blocks)
	}
	if want := "wait " + big.NewInt(int64(blocks)).String() + " more blocks"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
}

func TestContractConsumerWithdrawal(t *testing.T) {
	w := newContractWorld(t)
	ctx := context.Background()
	c := w.chain
	H, C := w.hermes.Address(), w.consumer.Address()
	zero := common.Address{}

	// Nothing to withdraw from an empty channel.
	wantRevert(t, w.raw(t, w.stranger, "announceWithdrawal", c.reg.PackAnnounceWithdrawal(H)), "nothing to withdraw")
	if _, err := c.AnnounceWithdrawal(ctx, w.stranger, H); !errors.Is(err, ErrNothingToWithdraw) {
		t.Fatalf("announce on an empty channel: %v", err)
	}
	// Completing what was never announced.
	wantRevert(t, w.raw(t, w.consumer, "withdraw", c.reg.PackWithdraw(H, C)), "withdrawal not announced")
	if _, err := c.Withdraw(ctx, w.consumer, H, C); !errors.Is(err, ErrNoWithdrawal) || !strings.Contains(err.Error(), "wait 5 blocks") {
		t.Fatalf("withdraw without announcing: %v", err)
	}

	due, err := c.AnnounceWithdrawal(ctx, w.consumer, H)
	if err != nil {
		t.Fatal(err)
	}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if due != head+testWithdrawDelay || w.channel(t, C).WithdrawBlock != due {
		t.Fatalf("due at block %d, announced in block %d with a delay of %d", due, head, testWithdrawDelay)
	}
	wantRevert(t, w.raw(t, w.consumer, "announceWithdrawal", c.reg.PackAnnounceWithdrawal(H)), "withdrawal already announced")
	if _, err := c.AnnounceWithdrawal(ctx, w.consumer, H); !errors.Is(err, ErrWithdrawalAnnounced) {
		t.Fatalf("second announcement: %v", err)
	}
	wantRevert(t, w.raw(t, w.consumer, "withdraw", c.reg.PackWithdraw(H, C)), "withdrawal not yet due")
	head, _ = c.BlockNumber(ctx)
	_, err = c.Withdraw(ctx, w.consumer, H, C)
	wantNotDue(t, err, "withdrawal", due-head)

	// During the delay the hermes settles what the consumer promised.
	p, r := w.promise(t, w.consumer, C, 1337, 3000, 75)
	if err := c.SettlePromise(ctx, w.hermes, C, H, p, r); err != nil {
		t.Fatal(err)
	}
	w.mine(int(due - head))
	wantRevert(t, w.raw(t, w.consumer, "withdraw", c.reg.PackWithdraw(H, zero)), "withdraw to zero address")
	before := w.balance(t, C)
	got, err := c.Withdraw(ctx, w.consumer, H, C)
	if err != nil {
		t.Fatal(err)
	}
	if got.Int64() != 7000 || w.balance(t, C)-before != 7000 {
		t.Fatalf("withdrew %s (balance +%d), want 7000", got, w.balance(t, C)-before)
	}
	if ch := w.channel(t, C); ch.Balance.Sign() != 0 || ch.Withdrawing() || ch.Settled.Int64() != 3000 {
		t.Fatalf("channel after withdrawal %+v", ch)
	}
	// What was promised beyond what is settled is gone with the balance.
	late, lr := w.promise(t, w.consumer, C, 1337, 3500, 80)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, late, lr), "insufficient channel balance")
	// The channel can be topped up and withdrawn again.
	if err := c.TopUp(ctx, w.consumer, C, H, big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnnounceWithdrawal(ctx, w.consumer, H); err != nil {
		t.Fatal(err)
	}
}

func TestContractHermesLeave(t *testing.T) {
	w := newContractWorld(t)
	ctx := context.Background()
	c := w.chain
	H, C, P := w.hermes.Address(), w.consumer.Address(), w.provider.Address()
	zero := common.Address{}

	if err := c.HermesWithdraw(ctx, w.hermes, H, big.NewInt(1)); !errors.Is(err, ErrExceedsFees) {
		t.Fatalf("fee withdrawal without fees: %v", err)
	}
	if err := c.HermesWithdraw(ctx, w.stranger, H, big.NewInt(1)); !errors.Is(err, ErrHermesNotRegistered) {
		t.Fatalf("fee withdrawal by a stranger: %v", err)
	}
	wantRevert(t, w.raw(t, w.stranger, "announceLeave", c.reg.PackAnnounceLeave()), "hermes not registered")
	if _, err := c.AnnounceLeave(ctx, w.stranger); !errors.Is(err, ErrHermesNotRegistered) {
		t.Fatalf("leave by a stranger: %v", err)
	}
	wantRevert(t, w.raw(t, w.stranger, "withdrawStake", c.reg.PackWithdrawStake(H)), "hermes not registered")
	wantRevert(t, w.raw(t, w.hermes, "withdrawStake", c.reg.PackWithdrawStake(H)), "leave not announced")
	if _, err := c.WithdrawStake(ctx, w.hermes, H); !errors.Is(err, ErrNotLeaving) {
		t.Fatalf("stake without leaving: %v", err)
	}

	due, err := c.AnnounceLeave(ctx, w.hermes)
	if err != nil {
		t.Fatal(err)
	}
	if st := w.hub(t); !st.Leaving() || st.LeaveBlock != due {
		t.Fatalf("hub after announcing its leave %+v, due %d", st, due)
	}
	wantRevert(t, w.raw(t, w.hermes, "announceLeave", c.reg.PackAnnounceLeave()), "leave already announced")
	if _, err := c.AnnounceLeave(ctx, w.hermes); !errors.Is(err, ErrLeaveAnnounced) {
		t.Fatalf("second leave: %v", err)
	}
	// No new channel capacity for a leaving hub.
	wantRevert(t, c.TopUp(ctx, w.consumer, C, H, big.NewInt(1)), "hermes is leaving")
	wantRevert(t, w.raw(t, w.hermes, "withdrawStake", c.reg.PackWithdrawStake(H)), "leave not yet due")
	head, _ := c.BlockNumber(ctx)
	_, err = c.WithdrawStake(ctx, w.hermes, H)
	wantNotDue(t, err, "leave", due-head)

	// During the delay a provider settles (paid from the stake, as nothing
	// is pulled yet) and the hub pulls the consumer's promise (which repays
	// the stake and backs the fee).
	q, s := w.promise(t, w.hermes, P, 1337, 1000, 25)
	if err := c.SettleProvider(ctx, w.provider, P, H, q, s); err != nil {
		t.Fatal(err)
	}
	if st := w.hub(t); st.Stake.Int64() != 4025 || st.Lent.Int64() != 975 || st.FeesPending.Int64() != 25 || st.Fees.Sign() != 0 {
		t.Fatalf("hub after a settlement ahead of consumer funds %+v", st)
	}
	p, r := w.promise(t, w.consumer, C, 1337, 1000, 25)
	if err := c.SettlePromise(ctx, w.hermes, C, H, p, r); err != nil {
		t.Fatal(err)
	}
	if st := w.hub(t); st.Stake.Int64() != 5000 || st.Lent.Sign() != 0 || st.FeesPending.Sign() != 0 || st.Fees.Int64() != 25 || st.Owed.Sign() != 0 {
		t.Fatalf("hub after pulling the consumer funds %+v", st)
	}

	w.mine(int(due - head))
	wantRevert(t, w.raw(t, w.hermes, "withdrawStake", c.reg.PackWithdrawStake(zero)), "withdraw to zero address")
	before := w.balance(t, H)
	got, err := c.WithdrawStake(ctx, w.hermes, H)
	if err != nil {
		t.Fatal(err)
	}
	if got.Int64() != 5000 || w.balance(t, H)-before != 5000 {
		t.Fatalf("stake paid %s (balance +%d), want 5000", got, w.balance(t, H)-before)
	}
	wantRevert(t, w.raw(t, w.hermes, "withdrawStake", c.reg.PackWithdrawStake(H)), "no stake left")
	if _, err := c.WithdrawStake(ctx, w.hermes, H); !errors.Is(err, ErrNothingToWithdraw) {
		t.Fatalf("second stake withdrawal: %v", err)
	}
	// Earned fees stay withdrawable after leaving.
	if err := c.HermesWithdraw(ctx, w.hermes, H, big.NewInt(25)); err != nil {
		t.Fatal(err)
	}
	wantRevert(t, c.RegisterHermes(ctx, w.hermes, big.NewInt(5000)), "hermes already registered")
}

// TestAttackHubTakesConsumerFunds: a hub pulls its consumer's promise into
// the Registry while its provider holds the matching promise unsettled,
// then tries to take the money: as fees, and by leaving. It gets its stake
// and nothing else, and the provider is paid in full afterwards.
func TestAttackHubTakesConsumerFunds(t *testing.T) {
	w := newContractWorld(t)
	ctx := context.Background()
	c := w.chain
	H, C, P := w.hermes.Address(), w.consumer.Address(), w.provider.Address()

	cp, cr := w.promise(t, w.consumer, C, 1337, 2050, 50)
	pp, pr := w.promise(t, w.hermes, P, 1337, 2050, 50) // what the provider holds
	if err := c.SettlePromise(ctx, w.hermes, C, H, cp, cr); err != nil {
		t.Fatal(err)
	}
	if st := w.hub(t); st.Owed.Int64() != 2050 || st.Fees.Sign() != 0 {
		t.Fatalf("hub after the pull %+v", st)
	}
	wantRevert(t, w.raw(t, w.hermes, "hermesWithdraw", c.reg.PackHermesWithdraw(H, big.NewInt(1))), "amount exceeds earned fees")
	if err := c.HermesWithdraw(ctx, w.hermes, H, big.NewInt(2050)); !errors.Is(err, ErrExceedsFees) {
		t.Fatalf("fee withdrawal of pulled consumer funds: %v", err)
	}
	due, err := c.AnnounceLeave(ctx, w.hermes)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := c.BlockNumber(ctx)
	w.mine(int(due - head))
	before := w.balance(t, H)
	got, err := c.WithdrawStake(ctx, w.hermes, H)
	if err != nil {
		t.Fatal(err)
	}
	if got.Int64() != 5000 || w.balance(t, H)-before != 5000 {
		t.Fatalf("leaving hub took %s, want its stake of 5000", got)
	}
	wantRevert(t, w.raw(t, w.hermes, "hermesWithdraw", c.reg.PackHermesWithdraw(H, big.NewInt(1))), "amount exceeds earned fees")

	// The provider settles after the hub has gone: the owed funds pay it.
	if err := c.SettleProvider(ctx, w.provider, P, H, pp, pr); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, P); got != 2000 {
		t.Fatalf("provider paid %d, want 2000", got)
	}
	// Only now is the fee the hub's.
	if st := w.hub(t); st.Owed.Sign() != 0 || st.Fees.Int64() != 50 {
		t.Fatalf("hub after the provider settled %+v", st)
	}
	if err := c.HermesWithdraw(ctx, w.hermes, H, big.NewInt(51)); !errors.Is(err, ErrExceedsFees) {
		t.Fatalf("withdrawal beyond the fee: %v", err)
	}
	if err := c.HermesWithdraw(ctx, w.hermes, H, big.NewInt(50)); err != nil {
		t.Fatal(err)
	}
	// What the Registry still holds is the consumer's unspent balance.
	if reg := w.balance(t, c.Registry()); reg != 10_000-2050 {
		t.Fatalf("registry holds %d, want the consumer's %d", reg, 10_000-2050)
	}
}

// watchWorld is a contract world with a hub node: store, hub, settler and
// watcher, the hub's consumer channel read from the chain.
type watchWorld struct {
	*contractWorld
	hub     *Hub
	settler *Settler
	settled chan common.Address
}

func newWatchWorld(t *testing.T) *watchWorld {
	t.Helper()
	w := &watchWorld{contractWorld: newContractWorld(t), settled: make(chan common.Address, 16)}
	store, _ := openTestStore(t)
	var err error
	if w.hub, err = NewHub(HubConfig{Signer: w.hermes, ChainID: 1337, FeeBp: 250, Store: store, Balances: w.chain}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.hub.Close() })
	if w.settler, err = NewSettler(SettlerConfig{Chain: w.chain, From: w.hermes, Store: store}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.settler.Close() })
	return w
}

func (w *watchWorld) watch(t *testing.T) {
	t.Helper()
	wa, err := NewWatcher(WatcherConfig{Chain: w.chain, Hub: w.hub, Settler: w.settler, Interval: 10 * time.Millisecond,
		OnSettled: func(c common.Address, _ *big.Int) { w.settled <- c }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wa.Close() })
}

func (w *watchWorld) waitSettled(t *testing.T, consumer common.Address) {
	t.Helper()
	select {
	case c := <-w.settled:
		if c != consumer {
			t.Fatalf("watcher settled %s, want %s", c, consumer)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the watcher did not settle consumer %s's promises", consumer)
	}
}

// TestAttackConsumerWithdrawsWhatItPromised: a consumer pays a provider
// through the hub, then withdraws its channel. The hub's watcher sees the
// announcement and settles the promise before the withdrawal is due, and
// refuses new promises meanwhile: the consumer gets back only what it did
// not promise, and the provider is paid. Once done, the channel works again.
// A consumer that announced while the hub was down is caught at start.
func TestAttackConsumerWithdrawsWhatItPromised(t *testing.T) {
	w := newWatchWorld(t)
	ctx := context.Background()
	c := w.chain
	H, C, P := w.hermes.Address(), w.consumer.Address(), w.provider.Address()

	// A second consumer, paid and announced before the watcher starts.
	early := w.stranger
	if err := c.Mint(ctx, early, early.Address(), big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	if err := c.TopUp(ctx, early, early.Address(), H, big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	pe := pay(t, newWallet(t, early, H), [32]byte{9}, P, 400, 400, 10)
	if _, err := w.hub.Exchange(ctx, P, pe.m, pe.r); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnnounceWithdrawal(ctx, early, H); err != nil {
		t.Fatal(err)
	}

	wallet := newWallet(t, w.consumer, H)
	p1 := pay(t, wallet, [32]byte{1}, P, 2000, 2000, 50)
	issued, err := w.hub.Exchange(ctx, P, p1.m, p1.r)
	if err != nil {
		t.Fatal(err)
	}
	w.watch(t)
	w.waitSettled(t, early.Address())
	if ch := w.channel(t, early.Address()); ch.Settled.Int64() != 410 {
		t.Fatalf("early consumer's channel %+v, want 410 settled", ch)
	}

	due, err := c.AnnounceWithdrawal(ctx, w.consumer, H)
	if err != nil {
		t.Fatal(err)
	}
	w.waitSettled(t, C)
	ch := w.channel(t, C)
	if ch.Settled.Int64() != 2050 || ch.Balance.Int64() != 10_000-2050 {
		t.Fatalf("channel after the watcher settled %+v", ch)
	}
	// No new promises while the withdrawal runs.
	p2 := pay(t, wallet, [32]byte{1}, P, 3000, 1000, 25)
	if _, err := w.hub.Exchange(ctx, P, p2.m, p2.r); !errors.Is(err, ErrConsumerWithdrawing) {
		t.Fatalf("exchange during the withdrawal: %v", err)
	}
	head, _ := c.BlockNumber(ctx)
	if head >= due {
		t.Fatalf("settled at block %d, after the withdrawal was due at %d", head, due)
	}
	w.mine(int(due - head))
	before := w.balance(t, C)
	got, err := c.Withdraw(ctx, w.consumer, H, C)
	if err != nil {
		t.Fatal(err)
	}
	if got.Int64() != 10_000-2050 || w.balance(t, C)-before != got.Int64() {
		t.Fatalf("consumer withdrew %s, want what it did not promise, %d", got, 10_000-2050)
	}
	// The provider is paid what the hub promised it for both consumers
	// (its promise is cumulative): 400 + 2000.
	if err := c.SettleProvider(ctx, w.provider, P, H, issued, p1.r); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, P); got != 2400 {
		t.Fatalf("provider paid %d, want 2400", got)
	}

	// Withdrawal done and topped up again: the hub takes promises again.
	if err := c.TopUp(ctx, w.consumer, C, H, big.NewInt(5000)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.hub.Exchange(ctx, P, p2.m, p2.r); err != nil {
		t.Fatalf("exchange after the withdrawal and a top-up: %v", err)
	}
}

// TestWatcherStopsLeavingHub: once the hub has announced its leave on
// chain, its watcher stops it issuing promises.
func TestWatcherStopsLeavingHub(t *testing.T) {
	w := newWatchWorld(t)
	ctx := context.Background()
	w.watch(t)
	if _, err := w.chain.AnnounceLeave(ctx, w.hermes); err != nil {
		t.Fatal(err)
	}
	// Leaving has no event to wait on: the watcher itself polls the chain.
	tstest.WaitFor(t, 20*time.Second, "the hub learns of its leave", w.hub.Leaving)
	p := pay(t, newWallet(t, w.consumer, w.hermes.Address()), [32]byte{1}, w.provider.Address(), 100, 100, 3)
	if _, err := w.hub.Exchange(ctx, w.provider.Address(), p.m, p.r); !errors.Is(err, ErrHermesLeaving) {
		t.Fatalf("exchange with a leaving hub: %v", err)
	}
}

func TestWatcherConfigAndClose(t *testing.T) {
	w := newWatchWorld(t)
	for name, cfg := range map[string]WatcherConfig{
		"no chain":          {Hub: w.hub, Settler: w.settler},
		"no hub":            {Chain: w.chain, Settler: w.settler},
		"no settler":        {Chain: w.chain, Hub: w.hub},
		"negative interval": {Chain: w.chain, Hub: w.hub, Settler: w.settler, Interval: -time.Second},
	} {
		if _, err := NewWatcher(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	base := tstest.Goroutines()
	wa, err := NewWatcher(WatcherConfig{Chain: w.chain, Hub: w.hub, Settler: w.settler})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := wa.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := base.Leaked(); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryParamsValidation(t *testing.T) {
	tc := newTestChain(t)
	ctx := context.Background()
	for name, p := range map[string]RegistryParams{
		"no minimum stake":       {WithdrawDelay: 1, LeaveDelay: 1},
		"negative minimum stake": {MinStake: big.NewInt(-1), WithdrawDelay: 1, LeaveDelay: 1},
		"no withdraw delay":      {MinStake: big.NewInt(1), LeaveDelay: 1},
		"no leave delay":         {MinStake: big.NewInt(1), WithdrawDelay: 1},
	} {
		if _, err := Deploy(ctx, tc.sim.Client(), tc.deployer, p, func() { tc.sim.Commit() }); err == nil {
			t.Errorf("%s: deployed", name)
		}
	}
	d, err := Deploy(ctx, tc.sim.Client(), tc.deployer, RegistryParams{MinStake: big.NewInt(1), WithdrawDelay: 3, LeaveDelay: 4}, func() { tc.sim.Commit() })
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain(ctx, tc.sim.Client(), d.Registry)
	if err != nil {
		t.Fatal(err)
	}
	wd, err1 := c.WithdrawDelay(ctx)
	ld, err2 := c.LeaveDelay(ctx)
	if wd != 3 || ld != 4 || err1 != nil || err2 != nil {
		t.Fatalf("delays %d, %d (%v, %v), want 3 and 4", wd, ld, err1, err2)
	}
}

func TestBlockTime(t *testing.T) {
	tc := newTestChain(t)
	ctx := context.Background()
	tc.mine(3)
	if err := tc.sim.AdjustTime(100 * time.Second); err != nil {
		t.Fatal(err)
	}
	tc.mine(1)
	// AdjustTime mines the block it moves; then one more.
	bt, err := tc.chain.BlockTime(ctx, 2)
	if err != nil || bt < 50*time.Second {
		t.Fatalf("block time over the last two blocks %s, %v; want at least 50s", bt, err)
	}
	all, err := tc.chain.BlockTime(ctx, 1_000_000) // more than the chain has
	if err != nil || all <= 0 || all > bt {
		t.Fatalf("block time over the whole chain %s, %v; want between 0 and %s", all, err, bt)
	}
}
