package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// TestProviderSettlesWhenHubLeaves: a provider holds an unsettled hermes
// promise whose consumer funds the hub never pulled. The hub announces its
// leave; the provider's settler sees it on chain and settles at once,
// within the leave delay, and the hub takes no new sessions. When the hub
// then withdraws its stake, it gets back only what did not pay the
// provider: the provider keeps what it earned.
func TestProviderSettlesWhenHubLeaves(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	c := n.tc.chain
	H := n.hermesID.Address()
	cm, pm := &meter{}, &meter{}
	_, inv := n.session([32]byte{0x1e}, cm, pm, nil)
	for i := range 2 {
		pm.add(60*time.Second, 50<<20)
		cm.add(60*time.Second, 50<<20)
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	earned := testPrice.Cost(pm.usage())
	if e, err := n.provStore.Earning(H); err != nil || e.Unsettled().Cmp(earned) != 0 {
		t.Fatalf("provider holds %+v unsettled, %v; want %s", e, err, earned)
	}

	// The hub's own watcher, and the provider's settler watching for leaves.
	hubSettler := n.settler(n.hermesID, n.hubStore, nil)
	wa, err := NewWatcher(WatcherConfig{Chain: c, Hub: n.hub, Settler: hubSettler, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wa.Close() })
	leaving := make(chan uint64, 4)
	settled := make(chan *big.Int, 4)
	ps := n.settler(n.provID, n.provStore, func(cfg *SettlerConfig) {
		cfg.LeaveInterval = 10 * time.Millisecond
		cfg.OnHubLeaving = func(h common.Address, due uint64) {
			if h == H {
				leaving <- due
			}
		}
		cfg.OnSettled = func(h common.Address, paid *big.Int) {
			if h == H {
				settled <- paid
			}
		}
	})
	if _, ok := ps.Leaving(H); ok {
		t.Fatal("the settler says an active hub is leaving")
	}

	stake0, err := c.Hub(ctx, H)
	if err != nil {
		t.Fatal(err)
	}
	due, err := c.AnnounceLeave(ctx, n.hermesID)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-leaving:
		if got != due {
			t.Fatalf("settler heard the stake is due at block %d, chain says %d", got, due)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the provider's settler did not notice the hub's leave")
	}
	var paid *big.Int
	select {
	case paid = <-settled:
	case <-time.After(20 * time.Second):
		t.Fatal("the provider's settler did not settle with the leaving hub")
	}
	if paid.Cmp(earned) != 0 || n.tokenBalance(n.beneficiary) != earned.Int64() {
		t.Fatalf("settled %s, beneficiary holds %d; want %s", paid, n.tokenBalance(n.beneficiary), earned)
	}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head >= due {
		t.Fatalf("settled by block %d, the stake was due at %d: too late", head, due)
	}
	if got, ok := ps.Leaving(H); !ok || got != due {
		t.Fatalf("Leaving = %d, %v; want %d, true", got, ok, due)
	}

	// No new sessions through the leaving hub: a provider's balance check
	// before a session is refused, and so is a new promise.
	tstest.WaitFor(t, 20*time.Second, "the hub learns of its leave", n.hub.Leaving)
	if _, err := n.client.Consumer(ctx, n.consID.Address()); !errors.Is(err, ErrHermesLeaving) {
		t.Fatalf("balance check at a leaving hub: %v", err)
	}
	pm.add(60*time.Second, 50<<20)
	cm.add(60*time.Second, 50<<20)
	if err := inv.InvoiceNow(ctx); !errors.Is(err, ErrHermesLeaving) {
		t.Fatalf("invoice through a leaving hub: %v", err)
	}

	// The stake comes back once the delay is over, less what paid the
	// provider; the beneficiary keeps its tokens.
	if head < due {
		n.tc.mine(int(due - head))
	}
	got, err := c.WithdrawStake(ctx, n.hermesID, H)
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Sub(stake0.Stake, earned); got.Cmp(want) != 0 {
		t.Fatalf("hub withdrew %s of stake %s; want %s (the stake less what it paid the provider)", got, stake0.Stake, want)
	}
	if n.tokenBalance(n.beneficiary) != earned.Int64() {
		t.Fatalf("beneficiary holds %d after the hub left, want %s", n.tokenBalance(n.beneficiary), earned)
	}
	if _, err := ps.SettleProvider(ctx, H); !errors.Is(err, ErrNothingToSettle) {
		t.Fatalf("settling again after the hub left: %v", err)
	}
}
