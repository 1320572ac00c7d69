package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
)

// A provider that stopped between the hermes's answer and its own write
// gets the promise back from the hermes: with its R it settles for it.
func TestCatchUpRecoversUnstoredPromise(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	if changed, err := CatchUp(ctx, n.client, n.provStore); err != nil || changed {
		t.Fatalf("nothing issued yet: changed %v, %v", changed, err)
	}
	// The provider stores its R before invoicing; the hermes issues a
	// promise the provider never stores.
	p := pay(t, n.wallet, [32]byte{0xca}, n.provID.Address(), 1000, 1000, 25)
	if err := n.provStore.PutR(p.r); err != nil {
		t.Fatal(err)
	}
	issued, err := n.client.RequestPromise(ctx, p.m, p.r)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := CatchUp(ctx, n.client, n.provStore)
	if err != nil || !changed {
		t.Fatalf("catch up: changed %v, %v", changed, err)
	}
	e, err := n.provStore.Earning(n.hermesID.Address())
	if err != nil || e.Promise == nil || e.Promise.Amount.Cmp(issued.Amount) != 0 || Hashlock(e.R) != issued.Hashlock {
		t.Fatalf("earning after catch-up %+v, %v", e, err)
	}
	if changed, err := CatchUp(ctx, n.client, n.provStore); err != nil || changed {
		t.Fatalf("second catch-up: changed %v, %v", changed, err)
	}
	paid, err := n.settler(n.provID, n.provStore, nil).SettleProvider(ctx, n.hermesID.Address())
	if err != nil || paid.Int64() != 1000 {
		t.Fatalf("settled %v, %v; want 1000", paid, err)
	}

	// A promise locked with an R the store never had is not taken.
	p = pay(t, n.wallet, [32]byte{0xcb}, n.provID.Address(), 500, 500, 13)
	if _, err := n.client.RequestPromise(ctx, p.m, p.r); err != nil {
		t.Fatal(err)
	}
	if changed, err := CatchUp(ctx, n.client, n.provStore); !errors.Is(err, ErrHashlockMismatch) || changed {
		t.Fatalf("unknown R: changed %v, %v", changed, err)
	}
}

// A payment the provider stored but never exchanged (it stopped in
// between) is exchanged on restart; one the consumer's channel has moved
// past is given up, once.
func TestResumeExchanges(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	prov, hub := n.provID.Address(), n.hermesID.Address()
	stored := func(agreement byte, total, fee int64) [32]byte {
		t.Helper()
		p := pay(t, n.wallet, [32]byte{agreement}, prov, total, total, fee)
		if err := n.provStore.PutR(p.r); err != nil {
			t.Fatal(err)
		}
		rec := &sessionRecord{Consumer: n.consID.Address(), Hermes: hub, Last: p.m, Fee: big.NewInt(fee), Exchanged: new(big.Int)}
		if err := n.provStore.putSession([32]byte{agreement}, rec); err != nil {
			t.Fatal(err)
		}
		return p.m.AgreementID
	}
	a := stored(0xd1, 1000, 25)
	got, err := ResumeExchanges(ctx, n.client, n.provStore)
	if err != nil || got != 1 {
		t.Fatalf("resume: %d exchanged, %v; want 1", got, err)
	}
	e, err := n.provStore.Earning(hub)
	if err != nil || e.Promise == nil || e.Unsettled().Int64() != 1000 {
		t.Fatalf("earning after resume %+v, %v", e, err)
	}
	if rec, _, _ := n.provStore.session(a); rec.Exchanged.Int64() != 1000 {
		t.Fatalf("session still unexchanged: %s", rec.Exchanged)
	}
	if got, err := ResumeExchanges(ctx, n.client, n.provStore); err != nil || got != 0 {
		t.Fatalf("second resume: %d, %v", got, err)
	}

	// Stored, but the consumer then paid another session through the hub.
	b := stored(0xd2, 500, 13)
	later := pay(t, n.wallet, [32]byte{0xd3}, prov, 300, 300, 8)
	if _, err := n.client.RequestPromise(ctx, later.m, later.r); err == nil {
		t.Fatal("a payment on top of an unexchanged one was accepted")
	}
	st, err := n.hub.Consumer(ctx, n.consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.wallet.Rebase(st.Promised, st.Fee); err != nil {
		t.Fatal(err)
	}
	later = pay(t, n.wallet, [32]byte{0xd3}, prov, 300, 300, 8)
	if _, err := n.client.RequestPromise(ctx, later.m, later.r); err != nil {
		t.Fatal(err)
	}
	if got, err := ResumeExchanges(ctx, n.client, n.provStore); err != nil || got != 0 {
		t.Fatalf("superseded payment: %d exchanged, %v; want 0 and no error", got, err)
	}
	if rec, _, _ := n.provStore.session(b); rec.Exchanged.Int64() != 500 {
		t.Fatalf("superseded payment not given up: exchanged %s", rec.Exchanged)
	}
}
