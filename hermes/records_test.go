package hermes

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
)

// Both real and simulated clients can drive a Chain.
var (
	_ ChainBackend = (*ethclient.Client)(nil)
	_ ChainBackend = simulated.Client(nil)
)

// roundTripFuzz checks that a decoder never panics and that whatever it
// accepts re-encodes to the same bytes.
func roundTripFuzz(t *testing.T, b []byte, decode func([]byte) error, encode func() ([]byte, error)) {
	t.Helper()
	if err := decode(b); err != nil {
		return
	}
	out, err := encode()
	if err != nil {
		t.Fatalf("decoded value does not encode: %v", err)
	}
	if !bytes.Equal(out, b) {
		t.Fatalf("round trip changed bytes:\n in %x\nout %x", b, out)
	}
}

func seedRecords(f *testing.F) {
	m := goldenExchange(f)
	p := m.Promise
	cr := consumerRecord{Consumer: m.Provider, Amount: p.Amount, Fee: p.Fee, Latest: &p, Settle: &p, SettleR: [32]byte{9}, Settled: p.Fee}
	pr := providerRecord{Provider: m.Provider, Amount: p.Amount, Fee: p.Fee, Latest: &p, Pending: true, PendingChannel: [32]byte{7}, PendingConsumer: &p}
	sr := sessionRecord{Consumer: m.Provider, Hermes: m.Hermes, Last: &m, Fee: p.Fee, Exchanged: p.Fee}
	er := Earning{Promise: &p, R: [32]byte{3}, Settled: p.Fee, FeeSettled: p.Fee}
	q := p.Clone() // Settle equal to Latest but not the same promise: written out in full
	cr2 := cr
	cr2.Settle = &q
	for _, enc := range []func() ([]byte, error){cr.marshal, cr2.marshal, pr.marshal, sr.marshal, er.marshal} {
		b, err := enc()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ps, _ := encodeProviderState(ProviderState{Latest: &p, Pending: true})
	f.Add(ps)
	st := Settlement{Amount: p.Amount, Paid: p.Fee, Fee: p.Fee, Tx: Tx{Hash: common.Hash{5}, Block: 12, GasUsed: 80_000, GasPrice: big.NewInt(1_000_000_007)}}
	f.Add(st.marshal())
	cs, _ := encodeConsumerState(ConsumerState{Deposited: p.Amount, Promised: p.Fee, Fee: p.Fee, FeeBp: 250, Latest: &p})
	f.Add(cs)
	f.Add([]byte{})
}

func FuzzStoreRecords(f *testing.F) {
	seedRecords(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c consumerRecord
		roundTripFuzz(t, b, c.unmarshal, c.marshal)
		var p providerRecord
		roundTripFuzz(t, b, p.unmarshal, p.marshal)
		var a agreementRecord
		roundTripFuzz(t, b, a.unmarshal, func() ([]byte, error) { return a.marshal(), nil })
		var s sessionRecord
		roundTripFuzz(t, b, s.unmarshal, s.marshal)
		var e Earning
		roundTripFuzz(t, b, func(b []byte) error { return e.unmarshal(e.Hermes, b) }, e.marshal)
		var st Settlement
		roundTripFuzz(t, b, func(b []byte) error { return st.unmarshal(st.Hermes, b) }, func() ([]byte, error) { return st.marshal(), nil })
	})
}

func FuzzWireStates(f *testing.F) {
	seedRecords(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ps ProviderState
		roundTripFuzz(t, b, func(b []byte) (err error) { ps, err = decodeProviderState(b); return err },
			func() ([]byte, error) { return encodeProviderState(ps) })
		var cs ConsumerState
		roundTripFuzz(t, b, func(b []byte) (err error) { cs, err = decodeConsumerState(b); return err },
			func() ([]byte, error) { return encodeConsumerState(cs) })
		// Error frames decode to something that errors.Is a sentinel, or fail.
		if err := decodeError(b); err == nil {
			t.Fatal("decodeError returned nil")
		}
	})
}

func FuzzFrame(f *testing.F) {
	f.Add([]byte{msgInvoice, 0, 2, 1, 2})
	f.Add([]byte{msgError, 0xff, 0xff})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, err := readFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := writeFrame(&out, typ, body); err != nil {
			t.Fatalf("read frame does not write: %v", err)
		}
		if !bytes.Equal(out.Bytes(), b[:frameHeader+len(body)]) {
			t.Fatal("frame round trip changed bytes")
		}
	})
}

func TestRecordsRejectTrailingBytes(t *testing.T) {
	m := goldenExchange(t)
	sr := sessionRecord{Consumer: m.Provider, Hermes: m.Hermes, Last: &m, Fee: m.Promise.Fee, Exchanged: m.Promise.Fee}
	b, err := sr.marshal()
	if err != nil {
		t.Fatal(err)
	}
	var back sessionRecord
	if err := back.unmarshal(append(b, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	if err := back.unmarshal(b[:len(b)-1]); err == nil {
		t.Fatal("truncated record accepted")
	}
	if err := back.unmarshal(b); err != nil || back.Last.AgreementTotal.Cmp(m.AgreementTotal) != 0 {
		t.Fatalf("round trip: %v", err)
	}
}

// A consumer record whose Settle is its Latest writes the promise once and
// reads back with the two the same; one that settles another promise keeps
// both.
func TestConsumerRecordSettleIsLatest(t *testing.T) {
	m := goldenExchange(t)
	p := m.Promise
	older := p.Clone()
	older.Amount = new(big.Int).Sub(p.Amount, big.NewInt(1))
	for _, tc := range []struct {
		name   string
		settle *Promise
		size   int
	}{
		{"settles latest", &p, 20 + 32 + 32 + 1 + PromiseSize + 1 + 32 + 32},
		{"settles an older promise", &older, 20 + 32 + 32 + 2*(1+PromiseSize) + 32 + 32},
		{"nothing to settle", nil, 20 + 32 + 32 + 1 + PromiseSize + 1 + 32 + 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := consumerRecord{Consumer: m.Provider, Amount: p.Amount, Fee: p.Fee, Latest: &p, Settle: tc.settle, SettleR: [32]byte{9}, Settled: p.Fee}
			b, err := cr.marshal()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.size {
				t.Fatalf("record is %d bytes, want %d", len(b), tc.size)
			}
			var back consumerRecord
			if err := back.unmarshal(b); err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.settle == nil && back.Settle != nil:
				t.Fatal("settle appeared")
			case tc.settle == &p && back.Settle != back.Latest:
				t.Fatal("settle is no longer the latest promise")
			case tc.settle != nil && (back.Settle == nil || back.Settle.Amount.Cmp(tc.settle.Amount) != 0 || !bytes.Equal(back.Settle.Signature, tc.settle.Signature)):
				t.Fatalf("settle read back as %+v", back.Settle)
			}
		})
	}
	// Flag 2 with no latest promise to refer to is malformed.
	cr := consumerRecord{Consumer: m.Provider, Amount: p.Amount, Fee: p.Fee, Settled: p.Fee}
	b, err := cr.marshal()
	if err != nil {
		t.Fatal(err)
	}
	b[20+32+32+1] = flagSameAsLatest
	var back consumerRecord
	if err := back.unmarshal(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("settle-is-latest without a latest promise: got %v, want ErrMalformed", err)
	}
}
