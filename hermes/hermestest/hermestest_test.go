package hermestest

import (
	"context"
	"math/big"
	"testing"

	"github.com/mystp2p/mystp2p/identity"
)

func TestSimChain(t *testing.T) {
	ctx := context.Background()
	hub, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSimChain(ctx, big.NewInt(10), hub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	late, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendEther(ctx, late.Address(), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*identity.Identity{hub, late} {
		if err := s.MintTokens(ctx, id.Address(), big.NewInt(100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Chain.RegisterHermes(ctx, hub, big.NewInt(10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Chain.TopUp(ctx, late, late.Address(), hub.Address(), big.NewInt(40)); err != nil {
		t.Fatal(err)
	}
	ch, err := s.Chain.ConsumerChannel(ctx, late.Address(), hub.Address())
	if err != nil || ch.Deposited().Int64() != 40 {
		t.Fatalf("channel %+v, %v", ch, err)
	}
	var b Balances
	b.Set(late.Address(), big.NewInt(5))
	if st, _ := b.ConsumerChannel(ctx, late.Address(), hub.Address()); st.Deposited().Int64() != 5 {
		t.Fatalf("fake balance %s", st.Deposited())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
