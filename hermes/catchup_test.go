package hermes

import (
	"context"
	"errors"
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
