package hermes

import (
	"bytes"
	"errors"
	"math/big"
	"testing"
)

func TestExchangeSignVerify(t *testing.T) {
	m := goldenExchange(t)
	id, _ := identityFromHex(t, goldenKey)
	got, err := m.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if got != id.Address() {
		t.Fatalf("verified as %s, want %s", got, id.Address())
	}
	other := mustIdentity(t)
	tests := []struct {
		name   string
		mutate func(*ExchangeMessage)
		want   error
	}{
		{"amount changed", func(m *ExchangeMessage) { m.Promise.Amount = big.NewInt(1e18 + 1) }, ErrBadSignature},
		{"fee changed", func(m *ExchangeMessage) { m.Promise.Fee = big.NewInt(1) }, ErrBadSignature},
		{"chain changed", func(m *ExchangeMessage) { m.Promise.ChainID = 1 }, ErrBadSignature},
		{"hashlock changed", func(m *ExchangeMessage) { m.Promise.Hashlock[0] ^= 1 }, ErrBadSignature},
		{"total changed", func(m *ExchangeMessage) { m.AgreementTotal = big.NewInt(2) }, ErrBadSignature},
		{"provider changed", func(m *ExchangeMessage) { m.Provider[0] ^= 1 }, ErrBadSignature},
		{"promise signed by another key", func(m *ExchangeMessage) {
			if err := m.Promise.Sign(other); err != nil {
				t.Fatal(err)
			}
		}, ErrBadSignature},
		{"short signature", func(m *ExchangeMessage) { m.Signature = m.Signature[:64] }, ErrBadSignature},
		{"high S promise", func(m *ExchangeMessage) { m.Promise.Signature = highS(m.Promise.Signature) }, ErrBadSignature},
		{"high S exchange", func(m *ExchangeMessage) { m.Signature = highS(m.Signature) }, ErrBadSignature},
		{"bad V", func(m *ExchangeMessage) { m.Signature[64] = 30 }, ErrBadSignature},
		{"fee above amount", func(m *ExchangeMessage) { m.Promise.Fee = new(big.Int).Add(m.Promise.Amount, big.NewInt(1)) }, ErrMalformed},
		{"amount beyond uint256", func(m *ExchangeMessage) { m.Promise.Amount = new(big.Int).Lsh(big.NewInt(1), 256) }, ErrMalformed},
		{"negative total", func(m *ExchangeMessage) { m.AgreementTotal = big.NewInt(-1) }, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := goldenExchange(t)
			m.Signature = append([]byte(nil), m.Signature...)
			m.Promise.Signature = append([]byte(nil), m.Promise.Signature...)
			tc.mutate(&m)
			if _, err := m.Verify(); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	m := goldenExchange(t)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d ExchangeMessage
	if err := d.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short exchange: %v", err)
	}
	if err := d.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long exchange: %v", err)
	}
	bad := bytes.Clone(b)
	bad[0] = 1 // chain ID beyond 64 bits
	if err := d.UnmarshalBinary(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wide chain ID: %v", err)
	}
	bad = bytes.Clone(b)
	copy(bad[96:128], bytes.Repeat([]byte{0xff}, 32)) // fee > amount
	if err := d.UnmarshalBinary(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("fee above amount: %v", err)
	}
	var inv Invoice
	if err := inv.UnmarshalBinary(make([]byte, InvoiceSize+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long invoice: %v", err)
	}
	unsigned := goldenPromise()
	if _, err := unsigned.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsigned promise encoded: %v", err)
	}
}

func FuzzPromiseDecode(f *testing.F) {
	m := goldenExchange(f)
	b, _ := m.Promise.MarshalBinary()
	f.Add(b)
	f.Add(make([]byte, PromiseSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Promise
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded promise does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip changed bytes")
		}
		_, _ = p.Signer()
	})
}

func FuzzExchangeDecode(f *testing.F) {
	m := goldenExchange(f)
	b, _ := m.MarshalBinary()
	f.Add(b)
	f.Add(make([]byte, ExchangeMessageSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m ExchangeMessage
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded exchange does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip changed bytes")
		}
		_, _ = m.Verify()
	})
}

func FuzzInvoiceDecode(f *testing.F) {
	f.Add(make([]byte, InvoiceSize))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Invoice
		if err := v.UnmarshalBinary(b); err != nil {
			return
		}
		out, err := v.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded invoice does not encode: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("round trip changed bytes")
		}
	})
}
