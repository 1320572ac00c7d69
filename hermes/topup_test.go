package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// spendableOnChain is what the consumer's channel may still spend: the
// chain's deposit less what its wallet promised.
func (n *testNet) spendableOnChain(t *testing.T) *big.Int {
	t.Helper()
	ch, err := n.tc.chain.ConsumerChannel(context.Background(), n.consID.Address(), n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	promised, _ := n.wallet.Promised()
	return new(big.Int).Sub(ch.Deposited(), promised)
}

// TestAutoTopUpKeepsLongSessionGoing: a session that pays over three times
// what the channel held at start goes on to the end, because the consumer
// tops its channel up from its own wallet whenever it runs low; the hub
// takes the larger promises once the top-ups are on chain.
func TestAutoTopUpKeepsLongSessionGoing(t *testing.T) {
	const deposit = 200_000
	n := newNetwork(t, deposit)
	ctx := context.Background()
	below := big.NewInt(130_000) // two rounds of about 62 500 each
	results := make(chan TopUpResult, 32)
	a, err := NewAutoTopUp(AutoTopUpConfig{Chain: n.tc.chain, Consumer: n.consID, Wallet: n.wallet,
		Amount: big.NewInt(deposit), Below: below, Interval: 5 * time.Millisecond, MinGap: time.Millisecond,
		OnTopUp: func(r TopUpResult) { results <- r }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	cm, pm := &meter{}, &meter{}
	_, inv := n.session([32]byte{0x70}, cm, pm, nil)
	const rounds = 10
	for i := range rounds {
		// The top-up runs beside the session: a round starts once the
		// channel can pay it, as it would a minute later on a real chain.
		tstest.WaitFor(t, 20*time.Second, "the channel is topped up above the threshold", func() bool {
			return n.spendableOnChain(t).Cmp(below) >= 0
		})
		pm.add(60*time.Second, 1<<20)
		cm.add(60*time.Second, 1<<20)
		if err := inv.InvoiceNow(ctx); err != nil {
			t.Fatalf("round %d of %d: %v", i+1, rounds, err)
		}
	}
	promised, _ := n.wallet.Promised()
	if promised.Cmp(big.NewInt(3*deposit)) <= 0 {
		t.Fatalf("the session promised %s: too little to need top-ups (want over %d)", promised, 3*deposit)
	}
	ch, err := n.tc.chain.ConsumerChannel(ctx, n.consID.Address(), n.hermesID.Address())
	if err != nil {
		t.Fatal(err)
	}
	topUps := 0
	for len(results) > 0 {
		r := <-results
		if r.Err != nil {
			t.Fatalf("a top-up failed: %v", r.Err)
		}
		if r.Spendable.Cmp(below) >= 0 || len(r.Txs) != 2 || GasCost(r.Txs...).Sign() <= 0 {
			t.Fatalf("top-up %+v: want one below %s, in two transactions that cost gas", r, below)
		}
		topUps++
	}
	if want := big.NewInt(deposit * int64(1+topUps)); topUps < 3 || ch.Deposited().Cmp(want) != 0 {
		t.Fatalf("%d top-ups, channel holds %s in all; want at least 3 and %s", topUps, ch.Deposited(), want)
	}
	if st, err := n.hub.Consumer(ctx, n.consID.Address()); err != nil || st.Promised.Cmp(promised) != 0 {
		t.Fatalf("hub accepted %+v, %v; consumer promised %s", st, err, promised)
	}
}

// TestAutoTopUpLimitsAndEmptyWallet: a top-up the wallet cannot pay is a
// warning, not a crash, and is tried again after MinGap; the limit stops
// top-ups once reached.
func TestAutoTopUpLimitsAndEmptyWallet(t *testing.T) {
	n := newNetwork(t, 1000)
	ctx := context.Background()
	c := n.tc.chain
	for name, cfg := range map[string]AutoTopUpConfig{
		"no chain":         {Consumer: n.consID, Wallet: n.wallet, Amount: big.NewInt(1), Below: big.NewInt(1)},
		"no wallet":        {Chain: c, Consumer: n.consID, Amount: big.NewInt(1), Below: big.NewInt(1)},
		"zero amount":      {Chain: c, Consumer: n.consID, Wallet: n.wallet, Amount: new(big.Int), Below: big.NewInt(1)},
		"no threshold":     {Chain: c, Consumer: n.consID, Wallet: n.wallet, Amount: big.NewInt(1)},
		"limit below one":  {Chain: c, Consumer: n.consID, Wallet: n.wallet, Amount: big.NewInt(2), Below: big.NewInt(1), Max: big.NewInt(1)},
		"negative min gap": {Chain: c, Consumer: n.consID, Wallet: n.wallet, Amount: big.NewInt(1), Below: big.NewInt(1), MinGap: -1},
	} {
		if _, err := NewAutoTopUp(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// Spend the wallet's tokens elsewhere: the top-up cannot be paid.
	have, err := c.TokenBalance(ctx, n.consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Transfer(ctx, n.consID, n.provID.Address(), have); err != nil {
		t.Fatal(err)
	}
	results := make(chan TopUpResult, 32)
	base := tstest.Goroutines()
	a, err := NewAutoTopUp(AutoTopUpConfig{Chain: c, Consumer: n.consID, Wallet: n.wallet,
		Amount: big.NewInt(500), Below: big.NewInt(5000), Max: big.NewInt(500), Interval: 5 * time.Millisecond, MinGap: time.Millisecond,
		OnTopUp: func(r TopUpResult) { results <- r }})
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string) TopUpResult {
		t.Helper()
		select {
		case r := <-results:
			return r
		case <-time.After(20 * time.Second):
			t.Fatalf("no top-up tried: %s", what)
			return TopUpResult{}
		}
	}
	if r := next("with an empty wallet"); !errors.Is(r.Err, ErrNoTokens) || r.Txs != nil {
		t.Fatalf("top-up from an empty wallet: %+v", r)
	}
	// Tried again after MinGap; once the wallet has tokens it goes through,
	// and then the limit of one top-up is reached.
	if err := c.Mint(ctx, n.consID, n.consID.Address(), big.NewInt(10_000)); err != nil {
		t.Fatal(err)
	}
	var r TopUpResult
	for r = next("after the wallet got tokens"); errors.Is(r.Err, ErrNoTokens); r = next("after the wallet got tokens") {
	}
	if r.Err != nil || len(r.Txs) != 2 {
		t.Fatalf("top-up once the wallet has tokens: %+v", r)
	}
	if r := next("over the limit"); !errors.Is(r.Err, ErrTopUpLimit) {
		t.Fatalf("second top-up with a limit of one: %+v", r)
	}
	if ch, err := c.ConsumerChannel(ctx, n.consID.Address(), n.hermesID.Address()); err != nil || ch.Deposited().Int64() != 1500 {
		t.Fatalf("channel %+v, %v; want 1500 deposited", ch, err)
	}
	if err := errors.Join(a.Close(), a.Close()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		t.Fatalf("a top-up tried after the limit: %+v", r)
	default:
	}
	if err := base.Leaked(); err != nil {
		t.Fatal(err)
	}
}
