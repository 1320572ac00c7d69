package overlay

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
)

// payable keeps only the providers a consumer can pay, and says why none
// is left.
func TestPayableRefusals(t *testing.T) {
	sp := testProposal(t, mustID(t)) // charges through hermes 0x…aa
	// Without a payment, only free providers will do.
	_, err := payable([]*SignedProposal{sp}, nil)
	if !errors.Is(err, ErrNoProposals) || !strings.Contains(err.Error(), "--hermes") {
		t.Fatalf("charging providers without a payment: %v", err)
	}
	// A balance below a session's start is refused before any provider is asked.
	consumer := mustID(t)
	w, err := hermes.NewWallet(consumer, common.HexToAddress("0x00000000000000000000000000000000000000aa"), 1337, new(big.Int), new(big.Int))
	if err != nil {
		t.Fatal(err)
	}
	poor := &ConsumerPayment{Wallet: w, MaxFeeBp: 300, deposited: big.NewInt(1), feeBp: 250}
	_, err = payable([]*SignedProposal{sp}, poor)
	if !errors.Is(err, ErrInsufficientBalance) || !strings.Contains(err.Error(), "account topup") {
		t.Fatalf("a poor consumer: %v", err)
	}
}
