package server_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes/hermestest"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// A hub advertises itself; a consumer finds it by address or peer ID, asks
// it for its balance and pays a provider through it, chosen by Consume
// among providers that do and do not accept that hub.
func TestHermesAdvertisedAndUsedByConsume(t *testing.T) {
	deposit := big.NewInt(1e18)
	pn := newPaidNet(t, deposit, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	terms := &overlay.HermesTerms{ChainID: hermestest.ChainID, Registry: pn.sim.Deployment.Registry.Hex(), FeeBp: paidFeeBp}
	if _, err := pn.hub.Advertise(ctx, overlay.Offer{HermesTerms: terms}); err != nil {
		t.Fatal(err)
	}
	if _, err := pn.hub.Advertise(ctx, testOffer); err == nil {
		t.Fatal("a node advertised a second offer")
	}
	// A provider that charges through another hub is skipped.
	other := newTestNode(t, overlay.Config{Bootstrap: []peer.AddrInfo{pn.relay.AddrInfo()}})
	cheap := testOffer
	cheap.PriceGiB, cheap.Hermes = "1", []string{"0x00000000000000000000000000000000000000bb"}
	if _, err := other.Advertise(ctx, cheap); err != nil {
		t.Fatal(err)
	}

	ad, err := pn.cons.FindHermes(ctx, pn.hubAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ad.Proposal.Provider != pn.hub.ID() || *ad.Proposal.HermesTerms != *terms {
		t.Fatalf("found %+v", ad.Proposal)
	}
	if _, err := pn.cons.FindHermes(ctx, pn.hub.ID().String()); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	_, err = pn.cons.FindHermes(short, "0x00000000000000000000000000000000000000cc")
	cancelShort()
	if err == nil || !strings.Contains(err.Error(), "proposals --service hermes") {
		t.Fatalf("unknown hermes: %v", err)
	}
	if _, err := pn.cons.FindHermes(ctx, "nonsense"); err == nil {
		t.Fatal("a hermes named by nonsense was found")
	}
	// VPN queries never list hubs.
	for _, sp := range pn.cons.Cached(overlay.Query{}) {
		if sp.Proposal.Service != overlay.ServiceWireGuard {
			t.Fatalf("a VPN query listed %+v", sp.Proposal)
		}
	}

	if _, _, err := client.PayThrough(ctx, pn.cons, ad, paidFeeBp-1); err == nil || !strings.Contains(err.Error(), "fee") {
		t.Fatalf("a hub above the accepted fee: %v", err)
	}
	pay, st, err := client.PayThrough(ctx, pn.cons, ad, 300)
	if err != nil {
		t.Fatal(err)
	}
	defer pay.Close()
	if st.Spendable().Cmp(deposit) != 0 || pay.Spendable().Cmp(deposit) != 0 || st.FeeBp != paidFeeBp {
		t.Fatalf("spendable %s (%s), fee %d; want %s, %d", st.Spendable(), pay.Spendable(), st.FeeBp, deposit, paidFeeBp)
	}
	sessions := make(chan *client.Session, 1)
	done := make(chan error, 1)
	cctx, stop := context.WithCancel(ctx)
	go func() {
		done <- client.Consume(cctx, pn.cons, client.ConsumeConfig{SOCKSAddr: "127.0.0.1:0", Payment: pay, OnSession: func(s *client.Session) { sessions <- s }})
	}()
	select {
	case s := <-sessions:
		if s.Provider != pn.prov.ID() {
			t.Fatalf("session with %s, want %s (the only provider accepting the hub)", s.Provider, pn.prov.ID())
		}
		tstest.WaitFor(t, 30*time.Second, "a paid invoice", func() bool { n, _ := s.Invoices(); return n > 0 })
	case err := <-done:
		t.Fatalf("Consume: %v", err)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if left := pay.Spendable(); left.Cmp(deposit) >= 0 {
		t.Fatalf("spendable %s after a paid session", left)
	}
}
