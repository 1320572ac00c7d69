package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
)

// A payment that never reached the hermes blocks the next one until the
// wallet restarts from what the hermes accepted.
func TestWalletRebaseAfterLostPayment(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	prov := n.provID.Address()
	first := pay(t, n.wallet, [32]byte{0xa1}, prov, 1000, 1000, 25)
	if _, err := n.hub.Exchange(ctx, prov, first.m, first.r); err != nil {
		t.Fatal(err)
	}
	// Signed, handed to a provider that stopped before exchanging it.
	_ = pay(t, n.wallet, [32]byte{0xa2}, prov, 700, 700, 18)
	next := pay(t, n.wallet, [32]byte{0xa3}, prov, 500, 500, 13)
	if _, err := n.hub.Exchange(ctx, prov, next.m, next.r); !errors.Is(err, ErrAmountMismatch) {
		t.Fatalf("payment on top of a lost one: %v, want ErrAmountMismatch", err)
	}
	st, err := n.hub.Consumer(ctx, n.consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.wallet.Rebase(st.Promised, st.Fee); err != nil {
		t.Fatal(err)
	}
	if a, f := n.wallet.Promised(); a.Int64() != 1025 || f.Int64() != 25 {
		t.Fatalf("rebased wallet at %s/%s, want 1025/25", a, f)
	}
	next = pay(t, n.wallet, [32]byte{0xa4}, prov, 500, 500, 13)
	if _, err := n.hub.Exchange(ctx, prov, next.m, next.r); err != nil {
		t.Fatalf("payment after the rebase: %v", err)
	}
	if err := n.wallet.Rebase(big.NewInt(1), big.NewInt(2)); err == nil {
		t.Fatal("a fee above the amount was taken")
	}
}
