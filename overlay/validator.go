package overlay

import (
	"fmt"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/dht"
	"github.com/mystp2p/mystp2p/gossip"
)

// validateGossip is the gossipsub validator for ProposalTopic.
func (n *Node) validateGossip(_ peer.ID, data []byte) (gossip.Entry, error) {
	sp, err := DecodeProposal(data, n.cfg.Now())
	if err != nil {
		return gossip.Entry{}, err
	}
	return entryOf(sp, data), nil
}

func entryOf(sp *SignedProposal, raw []byte) gossip.Entry {
	return gossip.Entry{
		Key:     sp.Proposal.Provider.String(),
		Seq:     sp.Proposal.Seq,
		Expires: sp.Proposal.Expires(),
		Value:   sp,
		Raw:     raw,
	}
}

// recordValidator checks proposals stored in the DHT under
// /mystp2p-rec/<provider ID> and picks the newest.
type recordValidator struct{ now func() time.Time }

func (v recordValidator) Validate(key string, value []byte) error {
	sp, err := DecodeProposal(value, v.now())
	if err != nil {
		return err
	}
	want := dht.RecordKey(sp.Proposal.Provider.String())
	if key != want {
		return fmt.Errorf("%w: record key %q does not match provider (want %q)", ErrProposalSignature, key, want)
	}
	return nil
}

func (v recordValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, val := range values {
		sp, err := DecodeProposal(val, v.now())
		if err != nil || !strings.HasSuffix(key, sp.Proposal.Provider.String()) {
			continue
		}
		if best < 0 || sp.Proposal.Seq > bestSeq {
			best, bestSeq = i, sp.Proposal.Seq
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%w: no valid record among %d", ErrProposalMalformed, len(values))
	}
	return best, nil
}
