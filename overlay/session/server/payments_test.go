package server_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/hermestest"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
)

// paidNet is a relay, a hermes hub node, a provider that charges through
// that hub, and a consumer, on loopback libp2p hosts and a simulated chain.
type paidNet struct {
	sim            *hermestest.SimChain
	relay, hub     *overlay.Node
	prov, cons     *overlay.Node
	hubAddr        string
	provStore      *hermes.Store
	hubStore       *hermes.Store
	hubSvc         *hermes.Hub
	proposal       *overlay.SignedProposal
	payer          *hermes.Payer
	paid           chan server.SessionPaid
	beneficiary    *identity.Identity
	provID, consID *identity.Identity
	hubID          *identity.Identity
	provReg        *prometheus.Registry // the provider's metrics
}

const paidFeeBp = 250

// newPaidNet tops the consumer's channel up with deposit base units; mod,
// if set, adjusts the provider's payment settings.
func newPaidNet(t *testing.T, deposit *big.Int, mod func(*paidNet, *server.Payments)) *paidNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pn := &paidNet{hubID: mustID(t), provID: mustID(t), consID: mustID(t), beneficiary: mustID(t), paid: make(chan server.SessionPaid, 8)}
	sim, err := hermestest.NewSimChain(ctx, big.NewInt(1000), pn.hubID, pn.provID, pn.consID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	pn.sim = sim
	tokens := new(big.Int).Mul(big.NewInt(2), big.NewInt(1e18))
	for _, id := range []*identity.Identity{pn.hubID, pn.consID} {
		if err := sim.MintTokens(ctx, id.Address(), tokens); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Chain.RegisterHermes(ctx, pn.hubID, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	if deposit.Sign() > 0 {
		if err := sim.Chain.TopUp(ctx, pn.consID, pn.consID.Address(), pn.hubID.Address(), deposit); err != nil {
			t.Fatal(err)
		}
	}

	pn.relay = newRelay(t)
	boot := []peer.AddrInfo{pn.relay.AddrInfo()}
	pn.hub = newTestNode(t, overlay.Config{Host: overlay.HostConfig{Identity: pn.hubID}, Bootstrap: boot, DHTServer: true})
	pn.hubStore = openStore(t, "hub.db")
	hub, err := hermes.NewHub(hermes.HubConfig{Signer: pn.hubID, ChainID: hermestest.ChainID, FeeBp: paidFeeBp, Store: pn.hubStore, Balances: sim.Chain})
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Serve(pn.hub.Host()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	pn.hubSvc = hub
	pn.hubAddr = pn.hubID.Address().Hex()

	pn.provReg = prometheus.NewRegistry()
	pn.prov = newTestNode(t, overlay.Config{Host: overlay.HostConfig{Identity: pn.provID, Metrics: pn.provReg}, Bootstrap: boot})
	offer := testOffer
	offer.Hermes = []string{pn.hubAddr}
	if pn.proposal, err = pn.prov.Advertise(ctx, offer); err != nil {
		t.Fatal(err)
	}
	pn.provStore = openStore(t, "prov.db")
	payments := &server.Payments{
		Store: pn.provStore, ChainID: hermestest.ChainID, Interval: 200 * time.Millisecond, Tick: 20 * time.Millisecond,
		OnPaid: func(p server.SessionPaid) { pn.paid <- p },
	}
	if mod != nil {
		mod(pn, payments)
	}
	if err := serve(t, pn.prov, server.Config{MaxSessions: 4, Policy: loopbackPolicy(t), Payments: payments}); err != nil {
		t.Fatal(err)
	}

	pn.cons = newTestNode(t, overlay.Config{Host: overlay.HostConfig{Identity: pn.consID}, Bootstrap: boot})
	if err := pn.cons.Host().Connect(ctx, pn.hub.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	if pn.payer, err = hermes.NewPayer(pn.cons.Host()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pn.payer.Close() })
	return pn
}

func openStore(t *testing.T, name string) *hermes.Store {
	t.Helper()
	s, err := hermes.OpenStore(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// payment is the consumer's payment through hub (whose address is what the
// wallet's channel is with), starting from what the hub says was promised.
func (pn *paidNet) payment(t *testing.T, hub peer.ID) *client.Payment {
	t.Helper()
	addr, err := identity.AddressOf(hub)
	if err != nil {
		t.Fatal(err)
	}
	w, err := hermes.NewWallet(pn.consID, addr, hermestest.ChainID, new(big.Int), new(big.Int))
	if err != nil {
		t.Fatal(err)
	}
	return &client.Payment{Payer: pn.payer, Wallet: w, Hub: hub, MaxFeeBp: 300}
}

func TestPaidSession(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("paid bytes ", 50_000))
	}))
	defer origin.Close()
	pn := newPaidNet(t, big.NewInt(1e18), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pay := pn.payment(t, pn.hub.ID())
	s, err := client.Connect(ctx, pn.cons, client.Config{Proposal: pn.proposal, Payment: pay})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer socks.Close()
	for range 3 {
		before, _ := s.Invoices()
		if body, err := socksGet(t, socks.Addr(), origin.URL); err != nil || !strings.HasPrefix(body, "paid bytes") {
			t.Fatalf("fetch through the paid session: %v", err)
		}
		tstest.WaitFor(t, 30*time.Second, "an invoice for the download", func() bool { n, _ := s.Invoices(); return n > before })
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var got server.SessionPaid
	select {
	case got = <-pn.paid:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider never reported the session's payment")
	}
	total, fee := s.Paid()
	paidInvoices, refused := s.Invoices()
	// Each download was invoiced; an answer lost on the way is paid with
	// the next invoice, so the provider may count fewer than the consumer.
	if got.Session != s.ID || got.Err != nil || got.Invoices < 2 || got.Promises < 1 || got.Promises > got.Invoices {
		t.Fatalf("provider's account of the session: %+v", got)
	}
	if total.Sign() <= 0 || got.Paid.Cmp(total) != 0 {
		t.Fatalf("provider was paid %s, consumer paid %s", got.Paid, total)
	}
	if paidInvoices < got.Invoices || refused != 0 {
		t.Fatalf("consumer paid %d invoices and refused %d, provider sent %d", paidInvoices, refused, got.Invoices)
	}
	if fee.Cmp(hermes.RequiredFee(total, paidFeeBp)) != 0 {
		t.Fatalf("fee %s on %s, want %d bp", fee, total, paidFeeBp)
	}
	// The provider's metrics saw the same invoices, promises and earnings.
	earned, _ := new(big.Rat).SetFrac(total, big.NewInt(1e18)).Float64()
	tstest.WaitFor(t, 10*time.Second, "the session's earnings in the metrics", func() bool {
		return metricValue(t, pn.provReg, "mystp2p_earned_tokens_total", map[string]string{"hermes": pn.hubAddr}) >= earned*0.999999
	})
	if v := metricValue(t, pn.provReg, "mystp2p_earned_tokens_total", nil); v > earned*1.000001 {
		t.Fatalf("metrics earned %v tokens, the session paid %v", v, earned)
	}
	if v := metricValue(t, pn.provReg, "mystp2p_invoices_total", map[string]string{"result": "paid"}); int(v) != got.Invoices {
		t.Fatalf("metrics count %v paid invoices, the session %d", v, got.Invoices)
	}
	if v := metricValue(t, pn.provReg, "mystp2p_promises_total", nil); int(v) != got.Promises {
		t.Fatalf("metrics count %v promises, the session %d", v, got.Promises)
	}
	if v := metricValue(t, pn.provReg, "mystp2p_hermes_exchange_seconds", map[string]string{"result": "ok"}); int(v) < got.Promises {
		t.Fatalf("%v hermes exchanges timed, %d promises", v, got.Promises)
	}
	// The price covers at least the bytes the consumer itself counted.
	price, _ := overlay.ProposalPrice(&pn.proposal.Proposal)
	if st := s.Stats(); total.Cmp(price.Cost(hermes.Usage{Bytes: st.RxBytes + st.TxBytes})) < 0 {
		t.Fatalf("paid %s for %d bytes", total, st.RxBytes+st.TxBytes)
	}
	e, err := pn.provStore.Earning(pn.hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if e.Unsettled().Cmp(total) != 0 {
		t.Fatalf("provider's store holds %s unsettled, the session paid %s", e.Unsettled(), total)
	}
	// The hermes pulls the consumer's promises into its pool, and what the
	// provider earned settles on chain to its beneficiary.
	hubSettler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: pn.sim.Chain, From: pn.hubID, Store: pn.hubStore})
	if err != nil {
		t.Fatal(err)
	}
	defer hubSettler.Close()
	moved, err := hubSettler.SettleConsumers(ctx, pn.hubSvc)
	if err != nil {
		t.Fatal(err)
	}
	if spent := new(big.Int).Add(total, fee); moved.Cmp(spent) != 0 {
		t.Fatalf("hermes pulled %s, consumer spent %s", moved, spent)
	}
	settler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: pn.sim.Chain, From: pn.provID, Store: pn.provStore, Beneficiary: pn.beneficiary.Address()})
	if err != nil {
		t.Fatal(err)
	}
	defer settler.Close()
	settled, err := settler.SettleProvider(ctx, pn.hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	bal, err := pn.sim.Chain.TokenBalance(ctx, pn.beneficiary.Address())
	if err != nil {
		t.Fatal(err)
	}
	if settled.Cmp(total) != 0 || bal.Cmp(total) != 0 {
		t.Fatalf("settled %s, beneficiary holds %s, want %s", settled, bal, total)
	}
}

func TestPaidSessionRefusals(t *testing.T) {
	pn := newPaidNet(t, new(big.Int), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	other := mustID(t) // a hermes this provider does not accept
	for _, tc := range []struct {
		name    string
		payment *client.Payment
		code    session.RejectCode
		hint    string
	}{
		{"free consumer", nil, session.RejectHermes, pn.hubAddr},
		{"hub not accepted", pn.payment(t, other.PeerID()), session.RejectHermes, "does not accept hermes " + other.PeerID().String()},
		{"no balance", pn.payment(t, pn.hub.ID()), session.RejectBalance, "top up your channel with hermes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Connect(ctx, pn.cons, client.Config{Proposal: pn.proposal, Payment: tc.payment})
			var rej *session.RejectedError
			if !errors.As(err, &rej) || rej.Code != tc.code {
				t.Fatalf("err = %v, want a %q rejection", err, tc.code)
			}
			if !strings.Contains(rej.Message, tc.hint) {
				t.Fatalf("rejection %q does not say %q", rej.Message, tc.hint)
			}
			if n := active(pn.prov); n != 0 {
				t.Fatalf("a refused session left %d sessions behind", n)
			}
		})
	}
}

// A consumer whose payer refuses every invoice (here: the hermes fee is
// above what it accepts) loses the session once more than MaxUnpaid is
// unpaid, and the provider reports why.
func TestPaidSessionConsumerNotPaying(t *testing.T) {
	// The first invoice waits 2 s (no early one below a whole token), so the
	// tunnel is up before the consumer refuses it, however loaded the
	// machine; then one base unit unpaid is too much.
	pn := newPaidNet(t, big.NewInt(1e18), func(_ *paidNet, p *server.Payments) {
		p.MaxUnpaid, p.Interval, p.Threshold = big.NewInt(1), 2*time.Second, big.NewInt(1e18)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pay := pn.payment(t, pn.hub.ID())
	pay.MaxFeeBp = 0
	s, err := client.Connect(ctx, pn.cons, client.Config{Proposal: pn.proposal, Payment: pay})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got server.SessionPaid
	select {
	case got = <-pn.paid:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider never ended the unpaid session")
	}
	if !errors.Is(got.Err, hermes.ErrConsumerNotPaying) || got.Paid.Sign() != 0 {
		t.Fatalf("provider's account of the unpaid session: %+v", got)
	}
	// The payment is reported while the session is torn down; it leaves
	// the table right after.
	tstest.WaitFor(t, 10*time.Second, "the unpaid session to leave the provider's table", func() bool { return active(pn.prov) == 0 })
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer never noticed it lost the session")
	}
	if !errors.Is(s.Err(), client.ErrProviderGone) {
		t.Fatalf("session ended with %v", s.Err())
	}
	if paid, refused := s.Invoices(); paid != 0 || refused == 0 {
		t.Fatalf("consumer paid %d invoices and refused %d", paid, refused)
	}
}

// A hub the Registry shows leaving gets no new sessions from a provider
// whose settler saw the announcement, even if the hub itself still answers
// balance checks: promises from it could not be settled after it left.
func TestPaidSessionRefusesLeavingHub(t *testing.T) {
	var settler *hermes.Settler
	pn := newPaidNet(t, big.NewInt(1e18), func(pn *paidNet, p *server.Payments) {
		var err error
		settler, err = hermes.NewSettler(hermes.SettlerConfig{Chain: pn.sim.Chain, From: pn.provID, Store: pn.provStore,
			Threshold: new(big.Int).Lsh(big.NewInt(1), 100), LeaveInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { settler.Close() })
		p.Settler = settler
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A paid session first, so the provider has earned through the hub
	// and its settler watches it.
	s, err := client.Connect(ctx, pn.cons, client.Config{Proposal: pn.proposal, Payment: pn.payment(t, pn.hub.ID())})
	if err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 30*time.Second, "a paid invoice", func() bool { n, _ := s.Invoices(); return n > 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pn.paid:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider never reported the session's payment")
	}
	if _, err := pn.sim.Chain.AnnounceLeave(ctx, pn.hubID); err != nil {
		t.Fatal(err)
	}
	hub := pn.hubID.Address()
	tstest.WaitFor(t, 20*time.Second, "the settler to see the hub leaving", func() bool { _, ok := settler.Leaving(hub); return ok })
	_, err = client.Connect(ctx, pn.cons, client.Config{Proposal: pn.proposal, Payment: pn.payment(t, pn.hub.ID())})
	var rej *session.RejectedError
	if !errors.As(err, &rej) || rej.Code != session.RejectHermes || !strings.Contains(rej.Message, "announced it is leaving the network") {
		t.Fatalf("a session through a leaving hub: %v, want a %s refusal that says it is leaving", err, session.RejectHermes)
	}
}
