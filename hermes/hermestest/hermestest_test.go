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
	if s.Chain.ChainID() != ChainID {
		t.Fatalf("chain ID %d, want %d", s.Chain.ChainID(), ChainID)
	}
	// hub was given gas money at genesis: it can register without SendEther.
	if err := s.MintTokens(ctx, hub.Address(), big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Chain.RegisterHermes(ctx, hub, big.NewInt(10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBalances(t *testing.T) {
	ctx := context.Background()
	consumer, hub := mustID(t), mustID(t)
	var b Balances
	if st, _ := b.ConsumerChannel(ctx, consumer.Address(), hub.Address()); st.Deposited().Sign() != 0 {
		t.Fatalf("unset balance %s", st.Deposited())
	}
	b.Set(consumer.Address(), big.NewInt(5))
	if st, _ := b.ConsumerChannel(ctx, consumer.Address(), hub.Address()); st.Deposited().Int64() != 5 {
		t.Fatalf("fake balance %s", st.Deposited())
	}
}

func mustID(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
