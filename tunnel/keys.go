package tunnel

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// KeySize is the size in bytes of a WireGuard (Curve25519) key.
const KeySize = 32

// PrivateKey is a WireGuard private key. Generate a fresh one per session
// with GeneratePrivateKey.
type PrivateKey [KeySize]byte

// PublicKey is a WireGuard public key.
type PublicKey [KeySize]byte

// GeneratePrivateKey returns a new clamped Curve25519 private key from
// crypto/rand.
func GeneratePrivateKey() (PrivateKey, error) {
	var k PrivateKey
	if _, err := rand.Read(k[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("generate WireGuard key: %w", err)
	}
	k.clamp()
	return k, nil
}

func (k *PrivateKey) clamp() {
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
}

// PublicKey derives the public key of k.
func (k PrivateKey) PublicKey() PublicKey {
	var pub PublicKey
	curve25519.ScalarBaseMult((*[32]byte)(&pub), (*[32]byte)(&k))
	return pub
}

// IsZero reports whether k is the all-zero (unset) key.
func (k PrivateKey) IsZero() bool { return k == PrivateKey{} }

// IsZero reports whether k is the all-zero (unset) key.
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// String returns the standard base64 form used by wg(8).
func (k PublicKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Hex returns the lowercase hex form used by the WireGuard UAPI.
func (k PublicKey) Hex() string { return hex.EncodeToString(k[:]) }

// Base64 returns the standard base64 form used by wg(8). Private keys have
// no String method so that they are not logged by accident.
func (k PrivateKey) Base64() string { return base64.StdEncoding.EncodeToString(k[:]) }

// Hex returns the lowercase hex form used by the WireGuard UAPI.
func (k PrivateKey) Hex() string { return hex.EncodeToString(k[:]) }

// MarshalText encodes the key in base64, so public keys travel in JSON
// session messages as in wg(8) configuration files.
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText accepts base64 or hex.
func (k *PublicKey) UnmarshalText(b []byte) error {
	p, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// ParsePublicKey parses a key in base64 (44 characters) or hex (64
// characters) form. The all-zero key is rejected.
func ParsePublicKey(s string) (PublicKey, error) {
	b, err := parseKey(s)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey(b), nil
}

// ParsePrivateKey parses a key in base64 or hex form. The all-zero key is
// rejected.
func ParsePrivateKey(s string) (PrivateKey, error) {
	b, err := parseKey(s)
	if err != nil {
		return PrivateKey{}, err
	}
	return PrivateKey(b), nil
}

func parseKey(s string) ([KeySize]byte, error) {
	var out [KeySize]byte
	s = strings.TrimSpace(s)
	var b []byte
	var err error
	switch len(s) {
	case hex.EncodedLen(KeySize):
		b, err = hex.DecodeString(s)
	case base64.StdEncoding.EncodedLen(KeySize):
		b, err = base64.StdEncoding.DecodeString(s)
	default:
		return out, fmt.Errorf("%w: %d characters, want 44 (base64) or 64 (hex)", ErrInvalidKey, len(s))
	}
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if len(b) != KeySize {
		return out, fmt.Errorf("%w: %d bytes", ErrInvalidKey, len(b))
	}
	copy(out[:], b)
	if out == ([KeySize]byte{}) {
		return out, fmt.Errorf("%w: all-zero key", ErrInvalidKey)
	}
	return out, nil
}
