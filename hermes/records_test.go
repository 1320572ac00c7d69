package hermes

import (
	"bytes"
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
	for _, enc := range []func() ([]byte, error){cr.marshal, pr.marshal, sr.marshal, er.marshal} {
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
