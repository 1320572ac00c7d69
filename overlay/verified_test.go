package overlay

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/identity"
)

// The second decode of the same bytes comes from verifiedProposals: it must
// still check the time window against its own clock, and hand out a copy
// that no caller can change for the next one.
func TestDecodeProposalRemembersOnlyTheSignature(t *testing.T) {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	sp := testProposal(t, id)
	sp.Proposal.HermesTerms = nil
	raw, _ := sp.Encode()

	first, err := DecodeProposal(raw, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := verifiedProposals.Get(sha256Of(raw)); !ok {
		t.Fatal("a verified proposal was not remembered")
	}
	// A caller that changes what it got changes nothing for the next one.
	first.Proposal.Addrs[0] = "/ip4/10.0.0.1/udp/1/quic-v1"
	first.Proposal.Hermes = append(first.Proposal.Hermes[:0], "0xbad")
	first.Signature[0] ^= 0xff
	second, err := DecodeProposal(raw, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(sp)
	got, _ := json.Marshal(second)
	if string(got) != string(want) {
		t.Fatalf("remembered proposal changed:\n got %s\nwant %s", got, want)
	}

	// The time window is checked on every decode, remembered or not.
	if _, err := DecodeProposal(raw, testNow.Add(11*time.Minute)); !errors.Is(err, ErrProposalExpired) {
		t.Fatalf("expired proposal: err = %v, want ErrProposalExpired", err)
	}
	if _, err := DecodeProposal(raw, testNow.Add(-MaxClockSkew-time.Minute)); !errors.Is(err, ErrProposalFuture) {
		t.Fatalf("proposal from the future: err = %v, want ErrProposalFuture", err)
	}
}

// Bytes that fail are not remembered, and one changed byte is other bytes.
func TestDecodeProposalDoesNotRememberFailures(t *testing.T) {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	sp := testProposal(t, id)
	sp.Signature[10] ^= 1
	raw, _ := sp.Encode()
	for range 2 {
		if _, err := DecodeProposal(raw, testNow); !errors.Is(err, ErrProposalSignature) {
			t.Fatalf("err = %v, want ErrProposalSignature", err)
		}
	}
	if _, ok := verifiedProposals.Get(sha256Of(raw)); ok {
		t.Fatal("a proposal with a bad signature was remembered")
	}
	// Expired at first sight: the signature was good, so it is remembered,
	// and a later decode still says expired.
	good := testProposal(t, id)
	raw, _ = good.Encode()
	for range 2 {
		if _, err := DecodeProposal(raw, testNow.Add(time.Hour)); !errors.Is(err, ErrProposalExpired) {
			t.Fatalf("err = %v, want ErrProposalExpired", err)
		}
	}
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
