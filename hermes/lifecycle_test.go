package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

func TestCloseIsIdempotentAndWaits(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	base := tstest.Goroutines()

	cm, pm := &meter{}, &meter{}
	ps, inv := n.session([32]byte{0xf1}, cm, pm, func(c *InvoicerConfig) { c.Tick = time.Millisecond })
	s := n.settler(n.provID, n.provStore, func(c *SettlerConfig) { c.Threshold = big.NewInt(1) })
	for range 2 {
		if err := errors.Join(inv.Close(), s.Close(), ps.Close()); err != nil {
			t.Fatal(err)
		}
	}
	if err := inv.InvoiceNow(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("InvoiceNow after Close: %v", err)
	}
	if _, err := s.SettleProvider(ctx, n.hermesID.Address()); !errors.Is(err, ErrClosed) {
		t.Fatalf("SettleProvider after Close: %v", err)
	}
	if err := base.Leaked(); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := errors.Join(n.payer.Close(), n.hub.Close()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.payer.Pay(Terms{Wallet: n.wallet, Usage: cm.usage, Price: testPrice, Provider: n.provHost.ID()}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Pay after Close: %v", err)
	}
	if _, err := n.hub.Exchange(ctx, common.Address{}, &ExchangeMessage{}, [32]byte{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Exchange after Close: %v", err)
	}
	if err := n.hub.Serve(n.hubHost); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := n.client.Provider(ctx); err == nil {
		t.Fatal("closed hub still served")
	}
	for range 2 {
		if err := errors.Join(n.hubStore.Close(), n.provStore.Close()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.provStore.Earnings(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Earnings after Close: %v", err)
	}
	if err := base.Leaked(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidation(t *testing.T) {
	store, _ := openTestStore(t)
	id := mustIdentity(t)
	if _, err := NewHub(HubConfig{Signer: id, Store: store}); err == nil {
		t.Fatal("hub without Balances accepted")
	}
	if _, err := NewHub(HubConfig{Signer: id, Store: store, Balances: &fakeBalances{}, FeeBp: 10001}); err == nil {
		t.Fatal("fee above 100 % accepted")
	}
	if _, err := NewInvoicer(InvoicerConfig{}); err == nil {
		t.Fatal("empty invoicer config accepted")
	}
	if _, err := NewSettler(SettlerConfig{From: id, Store: store}); err == nil {
		t.Fatal("settler without chain accepted")
	}
	if _, err := OpenStore(t.TempDir()+"/x.db", WithMaxGroup(0)); err == nil {
		t.Fatal("zero group accepted")
	}
	if _, err := NewWallet(id, common.Address{}, 1, big.NewInt(1), big.NewInt(2)); err == nil {
		t.Fatal("fee above amount accepted")
	}
	if err := (Price{PerHour: big.NewInt(-1), PerGiB: big.NewInt(1)}).Validate(); err == nil {
		t.Fatal("negative price accepted")
	}
}
