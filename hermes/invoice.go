package hermes

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// InvoiceSize is the fixed size of an encoded Invoice.
const InvoiceSize = 32 + 32 + 32 + 32 + 20 + 8 // 156

// Invoice is what a provider asks a consumer to pay (see Money flow in the
// package doc). It travels
// over the provider's authenticated libp2p stream and is not signed.
type Invoice struct {
	AgreementID    [32]byte
	AgreementTotal *big.Int // cumulative price of the session so far, without fee
	Fee            *big.Int // cumulative hermes fee for the session so far
	Hashlock       [32]byte // keccak256(R), R chosen by the provider for this invoice
	Provider       common.Address
	ChainID        uint64
}

// MarshalBinary encodes the invoice in its fixed 156-byte layout:
// agreementID ‖ pad32(total) ‖ pad32(fee) ‖ hashlock ‖ provider ‖ uint64 chainID.
func (v *Invoice) MarshalBinary() ([]byte, error) {
	if !validUint256(v.AgreementTotal) || !validUint256(v.Fee) {
		return nil, fmt.Errorf("%w: invoice total or fee is not a uint256", ErrMalformed)
	}
	b := make([]byte, InvoiceSize)
	copy(b[0:32], v.AgreementID[:])
	putUint256(b[32:64], v.AgreementTotal)
	putUint256(b[64:96], v.Fee)
	copy(b[96:128], v.Hashlock[:])
	copy(b[128:148], v.Provider[:])
	binary.BigEndian.PutUint64(b[148:156], v.ChainID)
	return b, nil
}

// UnmarshalBinary decodes exactly InvoiceSize bytes.
func (v *Invoice) UnmarshalBinary(b []byte) error {
	if len(b) != InvoiceSize {
		return fmt.Errorf("%w: invoice is %d bytes, want %d", ErrMalformed, len(b), InvoiceSize)
	}
	*v = Invoice{
		AgreementID:    [32]byte(b[0:32]),
		AgreementTotal: new(big.Int).SetBytes(b[32:64]),
		Fee:            new(big.Int).SetBytes(b[64:96]),
		Hashlock:       [32]byte(b[96:128]),
		Provider:       common.Address(b[128:148]),
		ChainID:        binary.BigEndian.Uint64(b[148:156]),
	}
	return nil
}
