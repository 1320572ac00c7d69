package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

func TestConsumerRefusesOvercharge(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	cm, pm := &meter{}, &meter{}
	notPaying := make(chan error, 1)
	ps, inv := n.session([32]byte{0xb1}, cm, pm, func(c *InvoicerConfig) {
		c.MaxUnpaid = big.NewInt(100_000)
		c.OnNotPaying = func(err error) { notPaying <- err }
	})
	// Within tolerance (5 % + 10 s + 1 MiB): paid.
	pm.add(100*time.Second, 0)
	cm.add(90*time.Second, 0)
	if err := inv.InvoiceNow(ctx); err != nil {
		t.Fatal(err)
	}
	// The provider claims 60 s more than the consumer saw: refused, nothing paid.
	pm.add(60*time.Second, 0)
	err := inv.InvoiceNow(ctx)
	if !errors.Is(err, ErrOvercharge) || errors.Is(err, ErrConsumerNotPaying) {
		t.Fatalf("overcharge: %v", err)
	}
	if total, _ := ps.Paid(); total.Int64() != 100_000 {
		t.Fatalf("consumer paid %s after refusing", total)
	}
	if _, refused := ps.Invoices(); refused != 1 {
		t.Fatalf("refused %d", refused)
	}
	// Unpaid grows past MaxUnpaid: the consumer is reported, once.
	pm.add(60*time.Second, 0)
	err = inv.InvoiceNow(ctx)
	if !errors.Is(err, ErrConsumerNotPaying) || !errors.Is(err, ErrOvercharge) {
		t.Fatalf("not paying: %v", err)
	}
	select {
	case got := <-notPaying:
		if !errors.Is(got, ErrConsumerNotPaying) {
			t.Fatalf("callback got %v", got)
		}
	default:
		t.Fatal("OnNotPaying was not called")
	}
	if !errors.Is(inv.Err(), ErrConsumerNotPaying) || !errors.Is(inv.InvoiceNow(ctx), ErrConsumerNotPaying) {
		t.Fatal("invoicer forgot the consumer is not paying")
	}
	select {
	case <-inv.NotPaying():
	default:
		t.Fatal("NotPaying not closed")
	}
}

func TestConsumerStopsPaying(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	cm, pm := &meter{}, &meter{}
	notPaying := make(chan error, 1)
	ps, _ := n.session([32]byte{0xb2}, cm, pm, func(c *InvoicerConfig) {
		c.Tick = 5 * time.Millisecond
		c.Threshold = big.NewInt(10_000)
		c.MaxUnpaid = big.NewInt(30_000)
		c.OnNotPaying = func(err error) { notPaying <- err }
	})
	ps.Close() // the consumer walks away: invoices for this session are refused
	pm.add(20*time.Second, 0)
	cm.add(20*time.Second, 0)
	// Unpaid 20000 ≤ 30000: not yet reported; at 40000 it is.
	pm.add(20*time.Second, 0)
	select {
	case err := <-notPaying:
		if !errors.Is(err, ErrConsumerNotPaying) || !errors.Is(err, ErrRejected) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consumer that stopped paying was not reported")
	}
}

func TestConsumerWithoutFundsIsNotPaying(t *testing.T) {
	n := newNetwork(t, 50_000) // enough for 48 s of service with the fee
	ctx := context.Background()
	cm, pm := &meter{}, &meter{}
	_, inv := n.session([32]byte{0xb3}, cm, pm, func(c *InvoicerConfig) { c.MaxUnpaid = big.NewInt(20_000) })
	pm.add(40*time.Second, 0)
	cm.add(40*time.Second, 0)
	if err := inv.InvoiceNow(ctx); err != nil {
		t.Fatal(err)
	}
	// The consumer signs, but the hermes refuses: the channel is exhausted.
	pm.add(20*time.Second, 0)
	cm.add(20*time.Second, 0)
	err := inv.InvoiceNow(ctx)
	if !errors.Is(err, ErrOverspend) || errors.Is(err, ErrConsumerNotPaying) {
		t.Fatalf("got %v", err)
	}
	if inv.Paid().Int64() != 40_000 {
		t.Fatalf("paid %s: a refused payment must not count", inv.Paid())
	}
	pm.add(20*time.Second, 0)
	cm.add(20*time.Second, 0)
	if err := inv.InvoiceNow(ctx); !errors.Is(err, ErrConsumerNotPaying) || !errors.Is(err, ErrOverspend) {
		t.Fatalf("got %v", err)
	}
}

func TestHubProtocolRevealAndBadPeers(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	P := n.provID.Address()
	pay1 := pay(t, n.wallet, [32]byte{0xc1}, P, 1000, 1000, 25)
	// Promise without R: the hub waits for the reveal.
	p, err := n.client.RequestPromise(ctx, pay1.m, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Amount.Int64() != 1025 {
		t.Fatalf("amount %s", p.Amount)
	}
	if st, err := n.client.Provider(ctx); err != nil || !st.Pending {
		t.Fatalf("state %+v, %v", st, err)
	}
	pay2 := pay(t, n.wallet, [32]byte{0xc1}, P, 2000, 1000, 25)
	if _, err := n.client.RequestPromise(ctx, pay2.m, pay2.r); !errors.Is(err, ErrUnrevealedR) {
		t.Fatalf("before reveal: %v", err)
	}
	var re *RemoteError
	if err := n.client.RevealR(ctx, pay2.r); !errors.As(err, &re) || !errors.Is(err, ErrHashlockMismatch) {
		t.Fatalf("wrong reveal: %v", err)
	}
	if err := n.client.RevealR(ctx, pay1.r); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.RequestPromise(ctx, pay2.m, pay2.r); err != nil {
		t.Fatal(err)
	}
	// The consumer's own client cannot cash the provider's payment.
	consClient, _ := NewHubClient(n.consHost, n.hubHost.ID())
	pay3 := pay(t, n.wallet, [32]byte{0xc1}, P, 3000, 1000, 25)
	if _, err := consClient.RequestPromise(ctx, pay3.m, pay3.r); !errors.Is(err, ErrWrongProvider) {
		t.Fatalf("stolen payment: %v", err)
	}

	// Protocol violations reset the stream and leave nothing behind.
	bad := []struct {
		name string
		raw  []byte
	}{
		{"unknown type", []byte{0x7f, 0, 0}},
		{"oversized", []byte{msgPromiseRequest, 0xff, 0xff}},
		{"short promise request", append([]byte{msgPromiseRequest, 0, 10}, make([]byte, 10)...)},
		{"garbage exchange", append([]byte{msgPromiseRequest, 0x01, 0xaa}, make([]byte, 426)...)},
		{"truncated header", []byte{msgRevealR}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s, err := n.provHost.NewStream(ctx, n.hubHost.ID(), HermesProtocol)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			// The hub may reset the stream before our half-close: that is
			// the expected answer to a violation, and readFrame sees it.
			_ = s.CloseWrite()
			typ, body, err := readFrame(s)
			if err == nil && typ == msgError {
				// A refusal is acceptable for semantically bad content.
				if !errors.Is(decodeError(body), ErrMalformed) && !errors.Is(decodeError(body), ErrBadSignature) {
					t.Fatalf("unexpected refusal %v", decodeError(body))
				}
				return
			}
			if err == nil {
				t.Fatalf("got answer type %#x", typ)
			}
		})
	}
	st, err := n.hub.Consumer(ctx, n.consID.Address())
	if err != nil || st.Promised.Int64() != 2050 {
		t.Fatalf("bad peers changed state: %+v, %v", st, err)
	}
}

func TestPayerRefusesStrangersAndGarbage(t *testing.T) {
	n := newNetwork(t, 10_000_000)
	ctx := context.Background()
	cm := &meter{}
	cm.add(time.Hour, 0)
	if _, err := n.payer.Pay(Terms{AgreementID: [32]byte{0xd1}, Provider: n.provHost.ID(), Price: testPrice, Wallet: n.wallet, MaxFeeBp: 300, Usage: cm.usage}); err != nil {
		t.Fatal(err)
	}
	_, lock, _ := NewR()
	inv := Invoice{AgreementID: [32]byte{0xd1}, AgreementTotal: big.NewInt(1000), Fee: big.NewInt(25), Hashlock: lock, Provider: n.provID.Address(), ChainID: 1337}
	body, _ := inv.MarshalBinary()
	// The hermes host is not the session's provider.
	if _, err := roundTrip(ctx, n.hubHost, n.consHost.ID(), PayProtocol, time.Second, msgInvoice, body, msgExchange); !errors.Is(err, ErrRejected) {
		t.Fatalf("stranger's invoice: %v", err)
	}
	// Fee above the consumer's limit.
	high := inv
	high.Fee = big.NewInt(31)
	hb, _ := high.MarshalBinary()
	if _, err := roundTrip(ctx, n.provHost, n.consHost.ID(), PayProtocol, time.Second, msgInvoice, hb, msgExchange); !errors.Is(err, ErrFeeTooHigh) {
		t.Fatalf("high fee: %v", err)
	}
	// Wrong frame types and sizes reset the stream.
	for _, raw := range [][]byte{{msgInvoice, 0, 3, 1, 2, 3}, {msgPromiseRequest, 0, 0}, {msgInvoice, 0xff, 0xff}} {
		if _, err := rawExchange(ctx, n.provHost, n.consHost.ID(), raw); err == nil {
			t.Fatalf("frame %x was answered", raw[:3])
		}
	}
	if amount, _ := n.wallet.Promised(); amount.Sign() != 0 {
		t.Fatalf("wallet promised %s to bad invoices", amount)
	}
	// The real provider's valid invoice is paid.
	if _, err := roundTrip(ctx, n.provHost, n.consHost.ID(), PayProtocol, time.Second, msgInvoice, body, msgExchange); err != nil {
		t.Fatal(err)
	}
}

// rawExchange writes raw bytes on a pay stream and reads one frame back.
func rawExchange(ctx context.Context, h interface {
	NewStream(context.Context, peer.ID, ...protocol.ID) (network.Stream, error)
}, p peer.ID, raw []byte) ([]byte, error) {
	s, err := h.NewStream(ctx, p, PayProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := s.Write(raw); err != nil {
		return nil, err
	}
	_ = s.CloseWrite()
	typ, body, err := readFrame(s)
	if err != nil {
		return nil, err
	}
	if typ == msgError {
		return nil, decodeError(body)
	}
	return body, nil
}

// TestConsumerQueryNeedsProof: a hermes that claims a consumer promised more
// than it signed is caught by the client.
func TestConsumerQueryNeedsProof(t *testing.T) {
	consumer, liar, other := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	ch, lh := newHost(t, consumer), newHost(t, liar)
	connect(t, ch, lh)
	forged := Promise{ChainID: 1337, ChannelID: ChannelID(consumer.Address(), liar.Address()), Amount: big.NewInt(1000), Fee: big.NewInt(0)}
	if err := forged.Sign(other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		st   ConsumerState
		want error
	}{
		{"no proof", ConsumerState{Deposited: big.NewInt(5000), Promised: big.NewInt(1000), Fee: new(big.Int)}, ErrBadSignature},
		{"proof by someone else", ConsumerState{Deposited: big.NewInt(5000), Promised: big.NewInt(1000), Fee: new(big.Int), Latest: &forged}, ErrBadSignature},
		{"proof of another amount", ConsumerState{Deposited: big.NewInt(5000), Promised: big.NewInt(2000), Fee: new(big.Int), Latest: &forged}, ErrAmountMismatch},
	}
	client, err := NewHubClient(ch, lh.ID())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := encodeConsumerState(tc.st)
			if err != nil {
				t.Fatal(err)
			}
			lh.SetStreamHandler(HermesProtocol, func(s network.Stream) {
				defer s.Close()
				if _, _, err := readFrame(s); err != nil {
					s.Reset()
					return
				}
				_ = writeFrame(s, msgConsumerState, body)
			})
			if _, err := client.Consumer(context.Background(), consumer.Address()); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
