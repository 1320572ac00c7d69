package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestRestartMidSession closes both the provider's and the hermes's stores
// in the middle of a session (as a kill -9 would leave them: everything
// acknowledged is on disk), reopens them, goes on and settles: nothing
// earned is lost and the books balance.
func TestRestartMidSession(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	agreement := [32]byte{0xe1}
	cm, pm := &meter{}, &meter{}
	ps, inv := n.session(agreement, cm, pm, nil)
	for range 2 {
		pm.add(30*time.Second, 10<<20)
		cm.add(30*time.Second, 10<<20)
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := inv.Paid()

	// Crash: provider and hermes lose their processes; only the files remain.
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.provStore.Close(); err != nil {
		t.Fatal(err)
	}
	n.stopHub()
	if _, err := n.client.Provider(ctx); err == nil {
		t.Fatal("stopped hermes still answers")
	}
	// Closed stores refuse work.
	if err := n.provStore.PutR([32]byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed store: %v", err)
	}

	// Restart both.
	n.startHub()
	n.openProviderStore()
	inv = n.invoicer(agreement, pm, nil)
	if inv.Paid().Cmp(before) != 0 {
		t.Fatalf("after restart the invoicer knows %s paid, want %s", inv.Paid(), before)
	}
	e, err := n.provStore.Earning(n.hermesID.Address())
	if err != nil || e.Promise == nil || e.Unsettled().Cmp(before) != 0 {
		t.Fatalf("earnings after restart %+v, %v", e, err)
	}
	for range 2 {
		pm.add(30*time.Second, 10<<20)
		cm.add(30*time.Second, 10<<20)
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := testPrice.Cost(pm.usage())
	if total, _ := ps.Paid(); inv.Paid().Cmp(want) != 0 || total.Cmp(want) != 0 {
		t.Fatalf("paid %s (consumer: %s), want %s", inv.Paid(), total, want)
	}

	// Settle after the restart, on both sides, and check the books.
	paid, err := n.settler(n.provID, n.provStore, nil).SettleProvider(ctx, n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if paid.Cmp(want) != 0 {
		t.Fatalf("settled %s, want %s", paid, want)
	}
	moved, err := n.settler(n.hermesID, n.hubStore, nil).SettleConsumers(ctx, n.hub)
	if err != nil {
		t.Fatal(err)
	}
	spent := new(big.Int).Add(want, RequiredFee(want, testFeeBp))
	if moved.Cmp(spent) != 0 {
		t.Fatalf("hub pulled %s, consumer spent %s", moved, spent)
	}
	hub, err := n.tc.chain.Hub(ctx, n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if fees := new(big.Int).Sub(hub.Pool(), hub.Stake); new(big.Int).Add(paid, fees).Cmp(spent) != 0 {
		t.Fatalf("books: spent %s != settled %s + fees %s", spent, paid, fees)
	}
}

// TestSettleRecordsEarlierSettlement: a provider that settled on chain but
// crashed before recording it learns so from the chain, without paying gas twice.
func TestSettleRecordsEarlierSettlement(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	cm, pm := &meter{}, &meter{}
	_, inv := n.session([32]byte{0xe2}, cm, pm, nil)
	pm.add(time.Minute, 0)
	cm.add(time.Minute, 0)
	if err := inv.InvoiceNow(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := n.provStore.Earning(n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	// Settled directly on chain, as if the store write after it was lost.
	if err := n.tc.chain.SettleProvider(ctx, n.provID, n.provID.Address(), n.hermesID.Address(), *e.Promise, e.R); err != nil {
		t.Fatal(err)
	}
	s := n.settler(n.provID, n.provStore, nil)
	if _, err := s.SettleProvider(ctx, n.hermesID.Address()); !errors.Is(err, ErrNothingToSettle) {
		t.Fatalf("got %v", err)
	}
	e, err = n.provStore.Earning(n.hermesID.Address())
	if err != nil || e.Unsettled().Sign() != 0 || e.Settled.Cmp(e.Promise.Amount) != 0 {
		t.Fatalf("earning after catch-up %+v, %v", e, err)
	}
	all, err := n.provStore.Earnings()
	if err != nil || len(all) != 1 || all[0].Hermes != n.hermesID.Address() {
		t.Fatalf("earnings %+v, %v", all, err)
	}
}

// TestPaymentSurvivesHermesOutage: the consumer pays while the hermes is
// down; the payment is kept and exchanged once the hermes is back, even
// across a provider restart, so nothing earned is lost.
func TestPaymentSurvivesHermesOutage(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	agreement := [32]byte{0xe3}
	cm, pm := &meter{}, &meter{}
	_, inv := n.session(agreement, cm, pm, nil)
	pm.add(time.Minute, 0)
	cm.add(time.Minute, 0)
	n.stopHub()
	if err := inv.InvoiceNow(ctx); err == nil || errors.Is(err, ErrConsumerNotPaying) {
		t.Fatalf("exchange with hermes down: %v", err)
	}
	if inv.Paid().Sign() != 0 {
		t.Fatalf("paid %s before the hermes accepted", inv.Paid())
	}
	// Provider restarts too, then the hermes comes back.
	if err := errors.Join(inv.Close(), n.provStore.Close()); err != nil {
		t.Fatal(err)
	}
	n.openProviderStore()
	n.startHub()
	inv = n.invoicer(agreement, pm, nil)
	if err := inv.InvoiceNow(ctx); err != nil {
		t.Fatal(err)
	}
	if inv.Paid().Int64() != 60_000 {
		t.Fatalf("paid %s after recovery", inv.Paid())
	}
	if i, p := inv.Stats(); i != 0 || p != 1 {
		t.Fatalf("recovery sent %d invoices and got %d promises, want 0 and 1", i, p)
	}
	paid, err := n.settler(n.provID, n.provStore, nil).SettleProvider(ctx, n.hermesID.Address())
	if err != nil || paid.Int64() != 60_000 {
		t.Fatalf("settled %v, %v", paid, err)
	}
}

// TestHubPendingRevealSurvivesRestart: a promise issued before R was
// revealed is remembered across a hub restart.
func TestHubPendingRevealSurvivesRestart(t *testing.T) {
	f := newHubFixture(t, 0)
	ctx := context.Background()
	consumer, provider := mustIdentity(t), mustIdentity(t)
	f.balances.set(consumer.Address(), 10_000)
	w := newWallet(t, consumer, f.hermes.Address())
	p1 := pay(t, w, [32]byte{1}, provider.Address(), 100, 100, 0)
	if _, err := f.hub.Exchange(ctx, provider.Address(), p1.m, [32]byte{}); err != nil {
		t.Fatal(err)
	}
	h2 := f.newHub(t, 0)
	p2 := pay(t, w, [32]byte{1}, provider.Address(), 200, 100, 0)
	if _, err := h2.Exchange(ctx, provider.Address(), p2.m, p2.r); !errors.Is(err, ErrUnrevealedR) {
		t.Fatalf("after restart: %v", err)
	}
	if err := h2.RevealR(provider.Address(), p1.r); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.Exchange(ctx, provider.Address(), p2.m, p2.r); err != nil {
		t.Fatal(err)
	}
	sp, r, _, err := h2.settleable(consumer.Address())
	if err != nil || sp == nil || sp.Amount.Int64() != 200 || r != p2.r {
		t.Fatalf("settleable %+v, %v", sp, err)
	}
}
