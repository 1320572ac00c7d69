package hermes

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/mystp2p/mystp2p/identity"
)

// Sizes of the fixed binary layouts.
const (
	SignatureSize = 65
	PromiseSize   = 5*32 + SignatureSize // 225
)

// maxUint256 bounds every amount: they must fit in a Solidity uint256.
var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// Promise is a signed, cumulative payment promise on a channel.
// Amount and Fee are cumulative over the channel's life; Fee is the part of
// Amount that goes to the hermes.
type Promise struct {
	ChainID   uint64
	ChannelID [32]byte
	Amount    *big.Int
	Fee       *big.Int
	Hashlock  [32]byte
	Signature []byte // 65 bytes, V = 27/28
}

// ChannelID is keccak256(abi.encodePacked(party, hermes)), the ID the Registry
// contract uses for a consumer's and a provider's channel with a hermes.
func ChannelID(party, hermes common.Address) [32]byte {
	k := getKeccak()
	copy(k.buf[0:20], party[:])
	copy(k.buf[20:40], hermes[:])
	return k.sum256(40)
}

// NewR returns a fresh random R and its hashlock keccak256(R).
func NewR() (r, hashlock [32]byte, err error) {
	if _, err := rand.Read(r[:]); err != nil {
		return r, hashlock, fmt.Errorf("generate R: %w", err)
	}
	return r, Hashlock(r), nil
}

// Hashlock is keccak256(R).
func Hashlock(r [32]byte) [32]byte { return keccak256(r[:]) }

// Hash is keccak256(pad32(chainID) ‖ channelID ‖ pad32(amount) ‖ pad32(fee) ‖
// hashlock), equal to Solidity's keccak256(abi.encodePacked(chainId,
// channelId, amount, fee, hashlock)). Amount and Fee must be set and fit in
// 256 bits (Sign, Verify and MarshalBinary check this).
func (p *Promise) Hash() [32]byte {
	k := getKeccak()
	p.putHashed(k.buf[:160])
	return k.sum256(160)
}

// putHashed writes the promise's 160 hashed bytes into b.
func (p *Promise) putHashed(b []byte) {
	clear(b[:24])
	binary.BigEndian.PutUint64(b[24:32], p.ChainID)
	copy(b[32:64], p.ChannelID[:])
	putUint256(b[64:96], p.Amount)
	putUint256(b[96:128], p.Fee)
	copy(b[128:160], p.Hashlock[:])
}

// Sign sets the promise's signature by s.
func (p *Promise) Sign(s identity.Signer) error {
	if err := p.checkAmounts(); err != nil {
		return err
	}
	h := p.Hash()
	sig, err := s.SignHash(h[:])
	if err != nil {
		return fmt.Errorf("sign promise: %w", err)
	}
	p.Signature = sig
	return nil
}

// Signer recovers the address that signed the promise.
func (p *Promise) Signer() (common.Address, error) {
	if err := p.checkAmounts(); err != nil {
		return common.Address{}, err
	}
	if err := checkLowS(p.Signature); err != nil {
		return common.Address{}, fmt.Errorf("promise: %w", err)
	}
	h := p.Hash()
	a, err := identity.RecoverAddress(h[:], p.Signature)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: promise: %v", ErrBadSignature, err)
	}
	return a, nil
}

// Verify checks that want signed the promise.
func (p *Promise) Verify(want common.Address) error {
	got, err := p.Signer()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: promise signed by %s, want %s", ErrBadSignature, got, want)
	}
	return nil
}

func (p *Promise) checkAmounts() error {
	if !validUint256(p.Amount) || !validUint256(p.Fee) {
		return fmt.Errorf("%w: promise amount or fee is not a uint256", ErrMalformed)
	}
	if p.Fee.Cmp(p.Amount) > 0 {
		return fmt.Errorf("%w: promise fee %s exceeds amount %s", ErrMalformed, p.Fee, p.Amount)
	}
	return nil
}

// MarshalBinary encodes the promise in its fixed 225-byte layout: the 160
// bytes that are hashed, then the 65-byte signature.
func (p *Promise) MarshalBinary() ([]byte, error) {
	return p.appendBinary(make([]byte, 0, PromiseSize))
}

func (p *Promise) appendBinary(b []byte) ([]byte, error) {
	if err := p.checkAmounts(); err != nil {
		return nil, err
	}
	if len(p.Signature) != SignatureSize {
		return nil, fmt.Errorf("%w: promise signature is %d bytes, want %d", ErrMalformed, len(p.Signature), SignatureSize)
	}
	var f [160]byte
	p.putHashed(f[:])
	b = append(b, f[:]...)
	return append(b, p.Signature...), nil
}

// UnmarshalBinary decodes exactly PromiseSize bytes.
func (p *Promise) UnmarshalBinary(b []byte) error {
	if len(b) != PromiseSize {
		return fmt.Errorf("%w: promise is %d bytes, want %d", ErrMalformed, len(b), PromiseSize)
	}
	for _, c := range b[:24] {
		if c != 0 {
			return fmt.Errorf("%w: promise chain ID exceeds 64 bits", ErrMalformed)
		}
	}
	q := Promise{
		ChainID:   binary.BigEndian.Uint64(b[24:32]),
		ChannelID: [32]byte(b[32:64]),
		Amount:    new(big.Int).SetBytes(b[64:96]),
		Fee:       new(big.Int).SetBytes(b[96:128]),
		Hashlock:  [32]byte(b[128:160]),
		Signature: append([]byte(nil), b[160:PromiseSize]...),
	}
	if q.Fee.Cmp(q.Amount) > 0 {
		return fmt.Errorf("%w: promise fee exceeds amount", ErrMalformed)
	}
	*p = q
	return nil
}

// Clone returns a deep copy.
func (p *Promise) Clone() Promise {
	q := *p
	q.Amount = new(big.Int).Set(p.Amount)
	q.Fee = new(big.Int).Set(p.Fee)
	q.Signature = append([]byte(nil), p.Signature...)
	return q
}

func validUint256(x *big.Int) bool { return x != nil && x.Sign() >= 0 && x.BitLen() <= 256 }

// putUint256 writes x (which must be a valid uint256) big-endian into 32 bytes.
func putUint256(dst []byte, x *big.Int) {
	if x == nil {
		clear(dst[:32])
		return
	}
	x.FillBytes(dst[:32])
}

// secp256k1HalfN is half the curve order, big-endian: the contract, like
// Ethereum transactions, accepts only signatures with S at or below it.
var secp256k1HalfN = [32]byte(new(big.Int).Rsh(ethcrypto.S256().Params().N, 1).FillBytes(make([]byte, 32)))

// checkLowS rejects malleable high-S signatures the contract would refuse.
func checkLowS(sig []byte) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sig), SignatureSize)
	}
	if bytes.Compare(sig[32:64], secp256k1HalfN[:]) > 0 {
		return fmt.Errorf("%w: high S value", ErrBadSignature)
	}
	return nil
}
