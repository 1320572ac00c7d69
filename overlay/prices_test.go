package overlay

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// SetPrices re-signs at once with the new prices, which a consumer's fetch
// and the node's later re-signs keep; a bad price changes nothing; a price
// change racing the periodic re-sign never lets the old offer win.
func TestSetPrices(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, Config{Bootstrap: boot, ProposalTTL: 3 * time.Second})
	if _, err := prov.SetPrices("1", "2"); err == nil {
		t.Fatal("SetPrices before Advertise succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.SetPrices("-5", "2"); err == nil {
		t.Fatal("a negative price was taken")
	}
	if cur := prov.CurrentProposal(); cur.Proposal.PriceHour != testOffer.PriceHour {
		t.Fatalf("a refused price changed the proposal to %s", cur.Proposal.PriceHour)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := prov.SetPrices("70000000000000000", "300000000000000000"); err != nil {
				t.Errorf("SetPrices %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	sp := prov.CurrentProposal()
	if sp.Proposal.PriceHour != "70000000000000000" || sp.Proposal.PriceGiB != "300000000000000000" || sp.Proposal.Seq <= first.Proposal.Seq {
		t.Fatalf("after SetPrices: %+v", sp.Proposal)
	}
	cons := newTestNode(t, Config{Bootstrap: boot})
	got, err := cons.FetchProposal(ctx, prov.AddrInfo())
	if err != nil {
		t.Fatal(err)
	}
	if got.Proposal.PriceHour != "70000000000000000" {
		t.Fatalf("fetched price %s", got.Proposal.PriceHour)
	}
	// The periodic re-sign (every TTL/3 = 1 s) keeps the new prices.
	time.Sleep(2500 * time.Millisecond)
	if sp2 := prov.CurrentProposal(); sp2.Proposal.Seq <= sp.Proposal.Seq || sp2.Proposal.PriceHour != "70000000000000000" {
		t.Fatalf("after a re-sign: seq %d (was %d), price %s", sp2.Proposal.Seq, sp.Proposal.Seq, sp2.Proposal.PriceHour)
	}
}
