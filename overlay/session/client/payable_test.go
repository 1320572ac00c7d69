package client

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
)

// payable keeps only the providers a consumer can pay, and says why none
// is left, without naming a command's flags.
func TestPayableRefusals(t *testing.T) {
	sp := chargingProposal(t) // charges through hermes 0x…aa
	// Without a payment, only free providers will do.
	_, err := payable([]*overlay.SignedProposal{sp}, nil)
	if !errors.Is(err, ErrNoProposals) || !errors.Is(err, ErrNeedsPayment) || strings.Contains(err.Error(), "--") {
		t.Fatalf("charging providers without a payment: %v", err)
	}
	// A balance below a session's start is refused before any provider is asked.
	w, err := hermes.NewWallet(mustID(t), common.HexToAddress("0x00000000000000000000000000000000000000aa"), 1337, new(big.Int), new(big.Int))
	if err != nil {
		t.Fatal(err)
	}
	poor := &Payment{Wallet: w, MaxFeeBp: 300, deposited: big.NewInt(1), feeBp: 250}
	_, err = payable([]*overlay.SignedProposal{sp}, poor)
	if !errors.Is(err, ErrInsufficientBalance) || strings.Contains(err.Error(), "--") {
		t.Fatalf("a poor consumer: %v", err)
	}
	// A balance that covers the start keeps the provider.
	rich := &Payment{Wallet: w, MaxFeeBp: 300, deposited: big.NewInt(1e18), feeBp: 250}
	if ps, err := payable([]*overlay.SignedProposal{sp}, rich); err != nil || len(ps) != 1 {
		t.Fatalf("a consumer who can pay: %v, %d providers", err, len(ps))
	}
}

func chargingProposal(t testing.TB) *overlay.SignedProposal {
	t.Helper()
	now := time.Now()
	sp, err := overlay.SignProposal(overlay.Proposal{
		Format: overlay.ProposalFormat, Service: overlay.ServiceWireGuard, Country: "DE", IPType: overlay.IPResidential,
		PriceHour: "50000000000000000", PriceGiB: "200000000000000000",
		Hermes: []string{"0x00000000000000000000000000000000000000aa"},
		Addrs:  []string{"/ip4/127.0.0.1/udp/4001/quic-v1"},
		Seq:    7, IssuedAt: now.UnixMilli(), ExpiresAt: now.Add(10 * time.Minute).UnixMilli(),
	}, mustID(t))
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func mustID(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
