// Package identity holds a node's one secp256k1 key. The same key is the
// libp2p peer key and the Ethereum key, so anything a peer signs (a
// proposal, a promise) is provably from the address that gets paid.
//
// Keys are kept in go-ethereum's encrypted keystore (scrypt). Nothing in this
// package logs a key or a passphrase.
package identity

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Signer signs 32-byte hashes with an identity's key. Signatures are 65 bytes,
// R ‖ S ‖ V with V = 27 or 28, over the raw hash (no personal-message prefix),
// as the Registry contract's ecrecover expects (hermes/contracts/src).
type Signer interface {
	Address() common.Address
	SignHash(hash []byte) ([]byte, error)
}

// Identity is an unlocked secp256k1 key.
type Identity struct {
	key  *ecdsa.PrivateKey
	addr common.Address
	id   peer.ID
	p2p  p2pcrypto.PrivKey
}

var _ Signer = (*Identity)(nil)

// Generate makes a fresh random identity.
func Generate() (*Identity, error) {
	k, err := ethcrypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("generate secp256k1 key: %w", err)
	}
	return FromECDSA(k)
}

// FromECDSA wraps an existing secp256k1 private key.
func FromECDSA(k *ecdsa.PrivateKey) (*Identity, error) {
	if k == nil || k.Curve != ethcrypto.S256() {
		return nil, ErrNotSecp256k1
	}
	priv, err := p2pcrypto.UnmarshalSecp256k1PrivateKey(ethcrypto.FromECDSA(k))
	if err != nil {
		return nil, fmt.Errorf("convert key for libp2p: %w", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("derive peer ID: %w", err)
	}
	return &Identity{key: k, addr: ethcrypto.PubkeyToAddress(k.PublicKey), id: id, p2p: priv}, nil
}

// FromHex parses a hex-encoded 32-byte private key (tests and testnets).
func FromHex(s string) (*Identity, error) {
	k, err := ethcrypto.HexToECDSA(s)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return FromECDSA(k)
}

// Address is the identity's Ethereum address.
func (i *Identity) Address() common.Address { return i.addr }

// PeerID is the identity's libp2p peer ID.
func (i *Identity) PeerID() peer.ID { return i.id }

// LibP2PKey is the key to give libp2p.Identity.
func (i *Identity) LibP2PKey() p2pcrypto.PrivKey { return i.p2p }

// PrivateKey is the raw key, for go-ethereum transactors.
func (i *Identity) PrivateKey() *ecdsa.PrivateKey { return i.key }

// SignHash signs a 32-byte hash; V is 27 or 28.
func (i *Identity) SignHash(hash []byte) ([]byte, error) {
	if len(hash) != 32 {
		return nil, fmt.Errorf("sign: hash is %d bytes, want 32", len(hash))
	}
	sig, err := ethcrypto.Sign(hash, i.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	sig[64] += 27
	return sig, nil
}

// String never shows the key.
func (i *Identity) String() string { return i.addr.Hex() }

// RecoverAddress returns the address that made sig (V 27/28 or 0/1) over hash.
func RecoverAddress(hash, sig []byte) (common.Address, error) {
	if len(hash) != 32 {
		return common.Address{}, fmt.Errorf("%w: hash is %d bytes, want 32", ErrBadSignature, len(hash))
	}
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("%w: %d bytes, want 65", ErrBadSignature, len(sig))
	}
	s := make([]byte, 65)
	copy(s, sig)
	if s[64] >= 27 {
		s[64] -= 27
	}
	if s[64] > 1 {
		return common.Address{}, fmt.Errorf("%w: V=%d", ErrBadSignature, sig[64])
	}
	pub, err := ethcrypto.SigToPub(hash, s)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return ethcrypto.PubkeyToAddress(*pub), nil
}

// AddressOf returns the Ethereum address behind a secp256k1 peer ID. Peer IDs
// of other key types have no address and give ErrNotSecp256k1.
func AddressOf(id peer.ID) (common.Address, error) {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("peer %s: %w", id, err)
	}
	sp, ok := pub.(*p2pcrypto.Secp256k1PublicKey)
	if !ok {
		return common.Address{}, fmt.Errorf("peer %s: %w", id, ErrNotSecp256k1)
	}
	raw, err := sp.Raw()
	if err != nil {
		return common.Address{}, err
	}
	ep, err := ethcrypto.DecompressPubkey(raw)
	if err != nil {
		return common.Address{}, fmt.Errorf("peer %s: %w", id, err)
	}
	return ethcrypto.PubkeyToAddress(*ep), nil
}
