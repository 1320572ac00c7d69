package hermestest

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/mystp2p/mystp2p/hermes"
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

// TestDevChainOverRPC drives the dev chain as another process would: an
// ethclient over HTTP, with no miner of its own.
func TestDevChainOverRPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := NewDevChain(ctx, DevChainConfig{MinStake: big.NewInt(10)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !strings.HasPrefix(s.RPCURL(), "http://127.0.0.1:") {
		t.Fatalf("RPC URL %q is not on loopback", s.RPCURL())
	}
	consumer, hub := mustID(t), mustID(t)
	for _, id := range []*identity.Identity{consumer, hub} {
		if err := s.Fund(ctx, id.Address(), big.NewInt(1e18), big.NewInt(100)); err != nil {
			t.Fatal(err)
		}
	}
	client, err := ethclient.DialContext(ctx, s.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	remote, err := hermes.NewChain(ctx, client, s.Deployment.Registry)
	if err != nil {
		t.Fatal(err)
	}
	if remote.ChainID() != ChainID || remote.Token() != s.Deployment.Token {
		t.Fatalf("remote chain %d token %s, want %d %s", remote.ChainID(), remote.Token(), ChainID, s.Deployment.Token)
	}
	if err := remote.RegisterHermes(ctx, hub, big.NewInt(10)); err != nil {
		t.Fatal(err)
	}
	if err := remote.TopUp(ctx, consumer, consumer.Address(), hub.Address(), big.NewInt(40)); err != nil {
		t.Fatal(err)
	}
	ch, err := remote.ConsumerChannel(ctx, consumer.Address(), hub.Address())
	if err != nil || ch.Deposited().Int64() != 40 {
		t.Fatalf("channel %+v, %v", ch, err)
	}
	// A revert reason travels over RPC.
	err = remote.TopUp(ctx, consumer, consumer.Address(), hub.Address(), big.NewInt(1000))
	var re *hermes.RevertError
	if !errors.As(err, &re) {
		t.Fatalf("top-up beyond the balance: %v, want a revert", err)
	}
	if _, err := NewDevChain(ctx, DevChainConfig{Listen: "0.0.0.0:0"}); err == nil {
		t.Fatal("dev chain on all interfaces accepted")
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
