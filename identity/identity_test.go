package identity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
)

// A fixed key gives golden values that must never change: the peer ID and
// the address are what other nodes and contracts know us by.
const goldenKey = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

func TestGoldenIdentity(t *testing.T) {
	id, err := FromHex(goldenKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.Address().Hex(), "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"; got != want {
		t.Fatalf("address %s, want %s", got, want)
	}
	addr, err := AddressOf(id.PeerID())
	if err != nil {
		t.Fatal(err)
	}
	if addr != id.Address() {
		t.Fatalf("address from peer ID %s != %s", addr.Hex(), id.Address().Hex())
	}
	if !strings.HasPrefix(id.PeerID().String(), "16Uiu2") {
		t.Fatalf("peer ID %s is not a secp256k1 ID", id.PeerID())
	}
}

func TestSignRecover(t *testing.T) {
	id, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	hash := ethcrypto.Keccak256([]byte("hello"))
	sig, err := id.SignHash(hash)
	if err != nil {
		t.Fatal(err)
	}
	if v := sig[64]; v != 27 && v != 28 {
		t.Fatalf("V = %d, want 27 or 28", v)
	}
	got, err := RecoverAddress(hash, sig)
	if err != nil || got != id.Address() {
		t.Fatalf("recovered %s, %v; want %s", got.Hex(), err, id.Address().Hex())
	}
	bad := bytes.Clone(sig)
	bad[64] = 5
	if _, err := RecoverAddress(hash, bad); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("V=5: err = %v", err)
	}
	if _, err := RecoverAddress(hash, sig[:64]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("short signature: err = %v", err)
	}
	if _, err := id.SignHash([]byte("short")); err == nil {
		t.Fatal("signed a non-32-byte hash")
	}
}

func TestKeystore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ks")
	ks, err := OpenKeystore(dir, WithLightScrypt())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Unlock(common.Address{}, "x"); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("empty keystore: err = %v", err)
	}
	if _, err := ks.New(""); err == nil {
		t.Fatal("accepted an empty passphrase")
	}
	id, err := ks.New("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	// The key file must not contain the private key in the clear.
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("%d key files", len(files))
	}
	blob, _ := os.ReadFile(filepath.Join(dir, files[0].Name()))
	if bytes.Contains(blob, []byte(common.Bytes2Hex(ethcrypto.FromECDSA(id.PrivateKey())))) {
		t.Fatal("private key stored in the clear")
	}
	if _, err := ks.Unlock(common.Address{}, "wrong"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: err = %v", err)
	}
	back, err := ks.Unlock(common.Address{}, "correct horse")
	if err != nil || back.PeerID() != id.PeerID() {
		t.Fatalf("unlock: %v", err)
	}
	// Reopening finds the same key.
	ks2, _ := OpenKeystore(dir, WithLightScrypt())
	if got := ks2.Addresses(); len(got) != 1 || got[0] != id.Address() {
		t.Fatalf("reopened keystore lists %v", got)
	}
	if _, err := ks2.New("second"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.Unlock(common.Address{}, "second"); !errors.Is(err, ErrAmbiguousIdentity) {
		t.Fatalf("two keys, none chosen: err = %v", err)
	}
	if got, err := ks2.Unlock(id.Address(), "correct horse"); err != nil || got.Address() != id.Address() {
		t.Fatalf("unlock chosen: %v", err)
	}
	if fmtd := id.String(); strings.Contains(fmtd, common.Bytes2Hex(ethcrypto.FromECDSA(id.PrivateKey()))) {
		t.Fatal("String() reveals the key")
	}
}
