package hermes

import (
	"context"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/identity"
)

func newHost(t testing.TB, id *identity.Identity) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.Identity(id.LibP2PKey()), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// meter is a usage measurement the test moves by hand.
type meter struct {
	mu sync.Mutex
	u  Usage
}

func (m *meter) add(d time.Duration, bytes uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.u.Duration += d
	m.u.Bytes += bytes
}

func (m *meter) usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.u
}

// testNet is a hermes, a consumer and a provider on loopback libp2p hosts
// and a simulated chain with the contracts deployed.
type testNet struct {
	t                           *testing.T
	tc                          *testChain
	hermesID, consID, provID    *identity.Identity
	beneficiary                 common.Address
	hubHost, consHost, provHost host.Host
	hubStorePath, provStorePath string
	hubStore, provStore         *Store
	hub                         *Hub
	payer                       *Payer
	wallet                      *Wallet
	client                      *HubClient // provider's client of the hub
}

var testPrice = Price{PerHour: big.NewInt(3_600_000), PerGiB: big.NewInt(1_000_000)} // 1000/s, ~0.00093/byte

const testFeeBp = 250

func newNetwork(t *testing.T, deposit int64) *testNet {
	t.Helper()
	n := &testNet{t: t, hermesID: mustIdentity(t), consID: mustIdentity(t), provID: mustIdentity(t)}
	n.beneficiary = mustIdentity(t).Address()
	n.tc = newTestChain(t, n.hermesID, n.consID, n.provID)
	ctx := context.Background()
	c := n.tc.chain
	for _, id := range []*identity.Identity{n.hermesID, n.consID} {
		if err := c.Mint(ctx, id, id.Address(), big.NewInt(100_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RegisterHermes(ctx, n.hermesID, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	if deposit > 0 {
		if err := c.TopUp(ctx, n.consID, n.consID.Address(), n.hermesID.Address(), big.NewInt(deposit)); err != nil {
			t.Fatal(err)
		}
	}
	n.hubHost, n.consHost, n.provHost = newHost(t, n.hermesID), newHost(t, n.consID), newHost(t, n.provID)
	connect(t, n.provHost, n.hubHost)
	connect(t, n.provHost, n.consHost)
	connect(t, n.consHost, n.hubHost)
	dir := t.TempDir()
	n.hubStorePath, n.provStorePath = filepath.Join(dir, "hub.db"), filepath.Join(dir, "prov.db")
	n.startHub()
	n.openProviderStore()

	var err error
	if n.client, err = NewHubClient(n.provHost, n.hubHost.ID()); err != nil {
		t.Fatal(err)
	}
	// The consumer learns its state from the hermes and starts a wallet.
	consClient, err := NewHubClient(n.consHost, n.hubHost.ID())
	if err != nil {
		t.Fatal(err)
	}
	st, err := consClient.Consumer(ctx, n.consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if st.Deposited.Int64() != deposit || st.FeeBp != testFeeBp {
		t.Fatalf("consumer state %+v", st)
	}
	if n.wallet, err = NewWallet(n.consID, consClient.Address(), c.ChainID(), st.Promised, st.Fee); err != nil {
		t.Fatal(err)
	}
	if n.payer, err = NewPayer(n.consHost); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.payer.Close() })
	return n
}

// startHub opens the hub's store and serves the hub (again after a restart).
func (n *testNet) startHub() {
	t := n.t
	s, err := OpenStore(n.hubStorePath)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHub(HubConfig{Signer: n.hermesID, ChainID: 1337, FeeBp: testFeeBp, Store: s, Balances: n.tc.chain})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Serve(n.hubHost); err != nil {
		t.Fatal(err)
	}
	n.hub, n.hubStore = h, s
	t.Cleanup(func() { h.Close(); s.Close() })
}

// stopHub is a crash of the hub process: the handler goes, the file is closed.
func (n *testNet) stopHub() {
	if err := errors.Join(n.hub.Close(), n.hubStore.Close()); err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNet) openProviderStore() {
	s, err := OpenStore(n.provStorePath)
	if err != nil {
		n.t.Fatal(err)
	}
	n.provStore = s
	n.t.Cleanup(func() { s.Close() })
}

// session starts paying and invoicing one session metered by cm (consumer)
// and pm (provider).
func (n *testNet) session(agreement [32]byte, cm, pm *meter, mod func(*InvoicerConfig)) (*PaySession, *Invoicer) {
	t := n.t
	ps, err := n.payer.Pay(Terms{AgreementID: agreement, Provider: n.provHost.ID(), Price: testPrice, Wallet: n.wallet, MaxFeeBp: 300, Usage: cm.usage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	return ps, n.invoicer(agreement, pm, mod)
}

func (n *testNet) invoicer(agreement [32]byte, pm *meter, mod func(*InvoicerConfig)) *Invoicer {
	cfg := InvoicerConfig{
		Host: n.provHost, Consumer: n.consHost.ID(), AgreementID: agreement, Hermes: n.client,
		HermesFeeBp: testFeeBp, ChainID: 1337, Store: n.provStore, Price: testPrice, Usage: pm.usage,
		Interval: time.Hour, Tick: time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := NewInvoicer(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { v.Close() })
	return v
}

func (n *testNet) settler(id *identity.Identity, store *Store, mod func(*SettlerConfig)) *Settler {
	cfg := SettlerConfig{Chain: n.tc.chain, From: id, Store: store, Beneficiary: n.beneficiary}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSettler(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { s.Close() })
	return s
}

func (n *testNet) tokenBalance(a common.Address) int64 {
	b, err := n.tc.chain.TokenBalance(context.Background(), a)
	if err != nil {
		n.t.Fatal(err)
	}
	return b.Int64()
}

func TestPaymentsEndToEnd(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	cm, pm := &meter{}, &meter{}
	ps, inv := n.session([32]byte{0xa1}, cm, pm, nil)

	// Three rounds of usage; the consumer measures slightly less (within tolerance).
	for i := range 3 {
		pm.add(60*time.Second, 100<<20)
		cm.add(59*time.Second, 99<<20)
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	want := testPrice.Cost(pm.usage())
	if inv.Paid().Cmp(want) != 0 {
		t.Fatalf("paid %s, want %s", inv.Paid(), want)
	}
	total, fee := ps.Paid()
	if total.Cmp(want) != 0 || fee.Cmp(RequiredFee(want, testFeeBp)) != 0 {
		t.Fatalf("consumer paid %s fee %s", total, fee)
	}
	if i, p := inv.Stats(); i != 3 || p != 3 {
		t.Fatalf("stats: %d invoices, %d promises", i, p)
	}
	e, err := n.provStore.Earning(n.hermesID.Address())
	if err != nil || e.Promise == nil {
		t.Fatalf("earning %+v, %v", e, err)
	}
	if e.Unsettled().Cmp(want) != 0 {
		t.Fatalf("unsettled %s, want %s", e.Unsettled(), want)
	}
	// A consumer restarting its wallet gets its own signed promise as proof.
	consClient, err := NewHubClient(n.consHost, n.hubHost.ID())
	if err != nil {
		t.Fatal(err)
	}
	cst, err := consClient.Consumer(ctx, n.consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if wa, wf := n.wallet.Promised(); cst.Latest == nil || cst.Promised.Cmp(wa) != 0 || cst.Fee.Cmp(wf) != 0 {
		t.Fatalf("hermes says %s/%s, wallet %s/%s", cst.Promised, cst.Fee, wa, wf)
	}
	// The provider's view at the hermes matches its store.
	st, err := n.client.Provider(ctx)
	if err != nil || st.Latest == nil || st.Latest.Amount.Cmp(e.Promise.Amount) != 0 {
		t.Fatalf("provider state %+v, %v", st, err)
	}

	// Settle both sides and check the books to the base unit.
	ps2 := n.settler(n.provID, n.provStore, nil)
	paid, err := ps2.SettleProvider(ctx, n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if paid.Cmp(want) != 0 || n.tokenBalance(n.beneficiary) != want.Int64() {
		t.Fatalf("settled %s, beneficiary has %d, want %s", paid, n.tokenBalance(n.beneficiary), want)
	}
	if _, err := ps2.SettleProvider(ctx, n.hermesID.Address()); !errors.Is(err, ErrNothingToSettle) {
		t.Fatalf("second settlement: %v", err)
	}
	// The store keeps the settlement: what it paid, the fee it took, and
	// what its transaction cost in gas, as the chain's receipt says.
	sts, err := n.provStore.Settlements(n.hermesID.Address())
	if err != nil || len(sts) != 1 {
		t.Fatalf("settlements %+v, %v; want 1", sts, err)
	}
	rec := sts[0]
	if rec.Paid.Cmp(want) != 0 || rec.Fee.Cmp(e.Promise.Fee) != 0 || rec.Amount.Cmp(e.Promise.Amount) != 0 {
		t.Fatalf("settlement paid %s fee %s of %s; want %s, %s of %s", rec.Paid, rec.Fee, rec.Amount, want, e.Promise.Fee, e.Promise.Amount)
	}
	rc, err := n.tc.sim.Client().TransactionReceipt(ctx, rec.Tx.Hash)
	if err != nil {
		t.Fatalf("receipt of settlement tx %s: %v", rec.Tx.Hash, err)
	}
	if rc.GasUsed == 0 || rec.Tx.GasUsed != rc.GasUsed || rec.Tx.GasPrice.Cmp(rc.EffectiveGasPrice) != 0 || rec.Tx.Block != rc.BlockNumber.Uint64() {
		t.Fatalf("settlement tx %+v, receipt gas %d price %s block %s", rec.Tx, rc.GasUsed, rc.EffectiveGasPrice, rc.BlockNumber)
	}
	if rec.Tx.GasCost().Sign() <= 0 {
		t.Fatalf("settlement cost %s wei of gas", rec.Tx.GasCost())
	}
	pulled := make(chan *big.Int, 1)
	n.settler(n.hermesID, n.hubStore, func(c *SettlerConfig) {
		c.Hub, c.HubInterval = n.hub, 5*time.Millisecond
		c.OnConsumersSettled = func(moved *big.Int) { pulled <- moved }
	})
	var moved *big.Int
	select {
	case moved = <-pulled:
	case <-time.After(10 * time.Second):
		t.Fatal("the hub's settler did not pull consumer funds")
	}
	spent := new(big.Int).Add(want, RequiredFee(want, testFeeBp))
	if moved.Cmp(spent) != 0 {
		t.Fatalf("hub pulled %s, consumer spent %s", moved, spent)
	}
	ch, _ := n.tc.chain.ConsumerChannel(ctx, n.consID.Address(), n.hermesID.Address())
	if ch.Settled.Cmp(spent) != 0 {
		t.Fatalf("consumer channel settled %s, want %s", ch.Settled, spent)
	}
	hub, _ := n.tc.chain.Hub(ctx, n.hermesID.Address())
	fees := new(big.Int).Sub(hub.Pool(), hub.Stake)
	if new(big.Int).Add(paid, fees).Cmp(spent) != 0 {
		t.Fatalf("books: spent %s != provider %s + hermes fees %s", spent, paid, fees)
	}
}

func TestInvoicerEarlyAndAutoSettle(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	cm, pm := &meter{}, &meter{}
	settled := make(chan *big.Int, 1)
	s := n.settler(n.provID, n.provStore, func(c *SettlerConfig) {
		c.Threshold = big.NewInt(50_000)
		c.OnSettled = func(_ common.Address, paid *big.Int) { settled <- paid }
	})
	promised := make(chan Promise, 16)
	_, inv := n.session([32]byte{0xa2}, cm, pm, func(c *InvoicerConfig) {
		c.Tick = 5 * time.Millisecond // checks usage often, interval stays 1 h
		c.Threshold = big.NewInt(40_000)
		c.OnPromise = func(h common.Address, p Promise) {
			s.Notify(h, p)
			promised <- p
		}
	})
	// Below the threshold: nothing is invoiced however often usage is checked.
	pm.add(10*time.Second, 0)
	cm.add(10*time.Second, 0)
	// Crossing it: an early invoice is sent on the next tick.
	pm.add(50*time.Second, 0)
	cm.add(50*time.Second, 0)
	select {
	case p := <-promised:
		if p.Amount.Cmp(new(big.Int).Add(big.NewInt(60_000), RequiredFee(big.NewInt(60_000), testFeeBp))) != 0 {
			t.Fatalf("promise amount %s", p.Amount)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no early invoice")
	}
	if inv.Paid().Int64() != 60_000 {
		t.Fatalf("paid %s", inv.Paid())
	}
	// The settler settles above its threshold by itself.
	select {
	case paid := <-settled:
		if paid.Int64() != 60_000 || n.tokenBalance(n.beneficiary) != 60_000 {
			t.Fatalf("settled %s, beneficiary has %d", paid, n.tokenBalance(n.beneficiary))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no automatic settlement")
	}
}
