package hermes

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/mystp2p/mystp2p/identity"
)

// ExchangeMessageSize is the fixed size of an encoded ExchangeMessage.
const ExchangeMessageSize = PromiseSize + 32 + 32 + 20 + 20 + SignatureSize // 394

// ExchangeMessage is the consumer's answer to an invoice: its promise on its
// channel with the hermes, bound to one agreement (session) with one
// provider. The consumer signs it with the same key as the promise.
type ExchangeMessage struct {
	Promise        Promise
	AgreementID    [32]byte
	AgreementTotal *big.Int // cumulative price of the agreement, without fee
	Provider       common.Address
	Hermes         common.Address
	Signature      []byte
}

// Hash is keccak256(promise hash ‖ agreementID ‖ pad32(agreementTotal) ‖
// provider ‖ hermes). Its 136-byte preimage can never be mistaken for a
// promise's 160-byte one.
func (m *ExchangeMessage) Hash() [32]byte { return m.hash(m.Promise.Hash()) }

func (m *ExchangeMessage) hash(ph [32]byte) [32]byte {
	k := getKeccak()
	b := k.buf[:136]
	copy(b[0:32], ph[:])
	copy(b[32:64], m.AgreementID[:])
	putUint256(b[64:96], m.AgreementTotal)
	copy(b[96:116], m.Provider[:])
	copy(b[116:136], m.Hermes[:])
	return k.sum256(136)
}

func (m *ExchangeMessage) check() error {
	if err := m.Promise.checkAmounts(); err != nil {
		return err
	}
	if !validUint256(m.AgreementTotal) {
		return fmt.Errorf("%w: agreement total is not a uint256", ErrMalformed)
	}
	return nil
}

// Sign signs the promise and then the exchange message with s.
func (m *ExchangeMessage) Sign(s identity.Signer) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := m.Promise.Sign(s); err != nil {
		return err
	}
	h := m.Hash()
	sig, err := s.SignHash(h[:])
	if err != nil {
		return fmt.Errorf("sign exchange message: %w", err)
	}
	m.Signature = sig
	return nil
}

// Verify checks that the message and its promise are both signed by one
// key, and returns that key's address (the consumer). The promise's signer
// is recovered, V and all, exactly as the contract will; the message's own
// signature is then verified against that key, which is cheaper than a
// second recovery.
func (m *ExchangeMessage) Verify() (common.Address, error) {
	if err := m.check(); err != nil {
		return common.Address{}, err
	}
	if err := checkLowS(m.Promise.Signature); err != nil {
		return common.Address{}, fmt.Errorf("promise: %w", err)
	}
	if err := checkLowS(m.Signature); err != nil {
		return common.Address{}, fmt.Errorf("exchange message: %w", err)
	}
	if v := m.Signature[64]; v != 27 && v != 28 {
		return common.Address{}, fmt.Errorf("%w: exchange message V=%d", ErrBadSignature, v)
	}
	ph := m.Promise.Hash()
	pub, err := recoverPubkey(ph, m.Promise.Signature)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: promise: %v", ErrBadSignature, err)
	}
	h := m.hash(ph)
	if !ethcrypto.VerifySignature(pub, h[:], m.Signature[:64]) {
		return common.Address{}, fmt.Errorf("%w: exchange message not signed by the promise's signer", ErrBadSignature)
	}
	a := keccak256(pub[1:])
	return common.Address(a[12:]), nil
}

// recoverPubkey is identity.RecoverAddress returning the 65-byte public key,
// which Verify needs to check a second signature without recovering again.
func recoverPubkey(hash [32]byte, sig []byte) ([]byte, error) {
	if len(sig) != SignatureSize {
		return nil, fmt.Errorf("signature is %d bytes, want %d", len(sig), SignatureSize)
	}
	v := sig[64]
	if v != 27 && v != 28 {
		return nil, fmt.Errorf("V=%d", v)
	}
	var s [SignatureSize]byte
	copy(s[:], sig)
	s[64] = v - 27
	return ethcrypto.Ecrecover(hash[:], s[:])
}

// MarshalBinary encodes the message in its fixed 394-byte layout.
func (m *ExchangeMessage) MarshalBinary() ([]byte, error) {
	return m.appendBinary(make([]byte, 0, ExchangeMessageSize))
}

func (m *ExchangeMessage) appendBinary(b []byte) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if len(m.Signature) != SignatureSize {
		return nil, fmt.Errorf("%w: exchange signature is %d bytes, want %d", ErrMalformed, len(m.Signature), SignatureSize)
	}
	b, err := m.Promise.appendBinary(b)
	if err != nil {
		return nil, err
	}
	var f [104]byte
	copy(f[0:32], m.AgreementID[:])
	putUint256(f[32:64], m.AgreementTotal)
	copy(f[64:84], m.Provider[:])
	copy(f[84:104], m.Hermes[:])
	b = append(b, f[:]...)
	return append(b, m.Signature...), nil
}

// UnmarshalBinary decodes exactly ExchangeMessageSize bytes.
func (m *ExchangeMessage) UnmarshalBinary(b []byte) error {
	if len(b) != ExchangeMessageSize {
		return fmt.Errorf("%w: exchange message is %d bytes, want %d", ErrMalformed, len(b), ExchangeMessageSize)
	}
	var n ExchangeMessage
	if err := n.Promise.UnmarshalBinary(b[:PromiseSize]); err != nil {
		return err
	}
	f := b[PromiseSize:]
	n.AgreementID = [32]byte(f[0:32])
	n.AgreementTotal = new(big.Int).SetBytes(f[32:64])
	n.Provider = common.Address(f[64:84])
	n.Hermes = common.Address(f[84:104])
	n.Signature = append([]byte(nil), f[104:104+SignatureSize]...)
	*m = n
	return nil
}
