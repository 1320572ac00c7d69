package hermes

import (
	"context"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// TestSeveralHermes: two hubs in one network; a provider earns through both,
// each consumer pays through the hub its channel is with.
func TestSeveralHermes(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	c := n.tc.chain

	// A second hermes and a second consumer whose channel is with it.
	hermes2, cons2 := mustIdentity(t), mustIdentity(t)
	for _, id := range []common.Address{hermes2.Address(), cons2.Address()} {
		if err := c.Transfer(ctx, n.hermesID, id, big.NewInt(2_000_000)); err != nil {
			t.Fatal(err)
		}
		if err := fundEther(n, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RegisterHermes(ctx, hermes2, big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	if err := c.TopUp(ctx, cons2, cons2.Address(), hermes2.Address(), big.NewInt(1_000_000)); err != nil {
		t.Fatal(err)
	}
	hub2Host, cons2Host := newHost(t, hermes2), newHost(t, cons2)
	store2, err := OpenStore(filepath.Join(t.TempDir(), "hub2.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store2.Close() })
	hub2, err := NewHub(HubConfig{Signer: hermes2, ChainID: 1337, FeeBp: 100, Store: store2, Balances: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub2.Close() })
	if err := hub2.Serve(hub2Host); err != nil {
		t.Fatal(err)
	}
	connect(t, n.provHost, hub2Host)
	connect(t, n.provHost, cons2Host)
	payer2, err := NewPayer(cons2Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { payer2.Close() })
	wallet2, err := NewWallet(cons2, hermes2.Address(), 1337, new(big.Int), new(big.Int))
	if err != nil {
		t.Fatal(err)
	}
	client2, err := NewHubClient(n.provHost, hub2Host.ID())
	if err != nil {
		t.Fatal(err)
	}

	m1, m2 := &meter{}, &meter{}
	_, inv1 := n.session([32]byte{0x51}, m1, m1, nil)
	if _, err := payer2.Pay(Terms{AgreementID: [32]byte{0x52}, Provider: n.provHost.ID(), Price: testPrice, Wallet: wallet2, MaxFeeBp: 100, Usage: m2.usage}); err != nil {
		t.Fatal(err)
	}
	inv2 := n.invoicer([32]byte{0x52}, m2, func(cfg *InvoicerConfig) {
		cfg.Consumer, cfg.Hermes, cfg.HermesFeeBp = cons2Host.ID(), client2, 100
	})
	m1.add(time.Minute, 0)
	m2.add(2*time.Minute, 0)
	for _, inv := range []*Invoicer{inv1, inv2} {
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	earnings, err := n.provStore.Earnings()
	if err != nil || len(earnings) != 2 {
		t.Fatalf("earnings %+v, %v", earnings, err)
	}
	s := n.settler(n.provID, n.provStore, nil)
	want := map[common.Address]int64{n.hermesID.Address(): 60_000, hermes2.Address(): 120_000}
	for h, amount := range want {
		paid, err := s.SettleProvider(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if paid.Int64() != amount {
			t.Fatalf("hermes %s paid %s, want %d", h, paid, amount)
		}
	}
	if got := n.tokenBalance(n.beneficiary); got != 180_000 {
		t.Fatalf("beneficiary has %d", got)
	}
}

// fundEther gives addr gas money from the deployer.
func fundEther(n *testNet, addr common.Address) error {
	return sendEther(n.tc, addr, ether(1))
}

// TestHubAgainstModel drives a hub with random payments from several
// consumers to several providers, interleaved, and compares every promise
// it issues with a naive model of the rules.
func TestHubAgainstModel(t *testing.T) {
	const feeBp = 300
	f := newHubFixture(t, feeBp)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	type consumer struct {
		w      *Wallet
		totals map[[32]byte]int64 // agreement → total paid
		fees   map[[32]byte]int64
		owner  map[[32]byte]common.Address
		spent  int64
	}
	var consumers []*consumer
	for range 4 {
		id := mustIdentity(t)
		f.balances.set(id.Address(), 2_000_000)
		consumers = append(consumers, &consumer{w: newWallet(t, id, f.hermes.Address()), totals: map[[32]byte]int64{}, fees: map[[32]byte]int64{}, owner: map[[32]byte]common.Address{}})
	}
	providers := make([]common.Address, 3)
	for i := range providers {
		providers[i] = mustIdentity(t).Address()
	}
	model := map[common.Address][2]int64{} // provider → cumulative amount, fee
	for step := range 200 {
		c := consumers[rng.IntN(len(consumers))]
		agreement := [32]byte{byte(rng.IntN(3))}
		prov := c.owner[agreement]
		if prov == (common.Address{}) {
			prov = providers[rng.IntN(len(providers))]
			c.owner[agreement] = prov
		}
		dTotal := int64(rng.IntN(5000))
		total := c.totals[agreement] + dTotal
		needFee := RequiredFee(big.NewInt(total), feeBp).Int64()
		dFee := needFee - c.fees[agreement]
		bad := rng.IntN(4) == 0 // sometimes pay too little fee or overspend
		if bad {
			if rng.IntN(2) == 0 && dFee > 0 {
				dFee--
			} else {
				dTotal += 2_000_000
				total += 2_000_000
			}
		}
		if dTotal+dFee == 0 {
			continue
		}
		p := pay(t, c.w, agreement, prov, total, dTotal, dFee)
		got, err := f.hub.Exchange(ctx, prov, p.m, p.r)
		overspend := c.spent+dTotal+dFee > 2_000_000
		feeShort := c.fees[agreement]+dFee < needFee
		if overspend || feeShort {
			if err == nil {
				t.Fatalf("step %d: hub accepted a bad payment (overspend %v, fee short %v)", step, overspend, feeShort)
			}
			// The consumer's wallet moved on; resync it to what the hub accepted.
			amount, fee := big.NewInt(c.spent), big.NewInt(0)
			for _, v := range c.fees {
				fee.Add(fee, big.NewInt(v))
			}
			c.w.amount, c.w.fee = amount, fee
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		c.totals[agreement], c.fees[agreement] = total, c.fees[agreement]+dFee
		c.spent += dTotal + dFee
		m := model[prov]
		m[0] += dTotal + dFee
		m[1] += dFee
		model[prov] = m
		if got.Amount.Int64() != m[0] || got.Fee.Int64() != m[1] {
			t.Fatalf("step %d: hub issued %s/%s, model %d/%d", step, got.Amount, got.Fee, m[0], m[1])
		}
	}
	for _, prov := range providers {
		st, err := f.hub.Provider(prov)
		if err != nil {
			t.Fatal(err)
		}
		if m := model[prov]; m[0] != 0 && (st.Latest == nil || st.Latest.Amount.Int64() != m[0]) {
			t.Fatalf("provider %s: hub %+v, model %v", prov, st.Latest, m)
		}
	}
}
