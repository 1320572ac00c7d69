package identity

import (
	"errors"
	"fmt"
	"os"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
)

// Keystore is a directory of scrypt-encrypted key files in go-ethereum's
// format, readable by geth and other Ethereum tools.
type Keystore struct {
	ks  *keystore.KeyStore
	dir string
}

// KeystoreOption tunes a Keystore.
type KeystoreOption func(*keystoreConfig)

type keystoreConfig struct{ light bool }

// WithLightScrypt uses go-ethereum's light scrypt parameters. It is meant for
// tests and testnets, where hundreds of keys are made; real nodes keep the
// standard (slow, strong) parameters.
func WithLightScrypt() KeystoreOption { return func(c *keystoreConfig) { c.light = true } }

// OpenKeystore opens (creating if needed, mode 0700) the keystore in dir.
func OpenKeystore(dir string, opts ...KeystoreOption) (*Keystore, error) {
	var cfg keystoreConfig
	for _, o := range opts {
		o(&cfg)
	}
	if dir == "" {
		return nil, ErrNoKeystoreDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create keystore directory: %w", err)
	}
	n, p := keystore.StandardScryptN, keystore.StandardScryptP
	if cfg.light {
		n, p = keystore.LightScryptN, keystore.LightScryptP
	}
	return &Keystore{ks: keystore.NewKeyStore(dir, n, p), dir: dir}, nil
}

// Dir is the keystore directory.
func (k *Keystore) Dir() string { return k.dir }

// New creates, encrypts and stores a fresh identity.
func (k *Keystore) New(passphrase string) (*Identity, error) {
	if passphrase == "" {
		return nil, errors.New("refusing an empty passphrase: keys are encrypted at rest")
	}
	id, err := Generate()
	if err != nil {
		return nil, err
	}
	if _, err := k.ks.ImportECDSA(id.key, passphrase); err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	return id, nil
}

// Import stores an existing identity encrypted with passphrase.
func (k *Keystore) Import(id *Identity, passphrase string) error {
	if passphrase == "" {
		return errors.New("refusing an empty passphrase: keys are encrypted at rest")
	}
	if _, err := k.ks.ImportECDSA(id.key, passphrase); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	return nil
}

// Addresses lists the identities in the keystore.
func (k *Keystore) Addresses() []common.Address {
	accs := k.ks.Accounts()
	out := make([]common.Address, len(accs))
	for i, a := range accs {
		out[i] = a.Address
	}
	return out
}

// Unlock decrypts the identity with address addr, or the only identity when
// addr is the zero address.
func (k *Keystore) Unlock(addr common.Address, passphrase string) (*Identity, error) {
	accs := k.ks.Accounts()
	var acc accounts.Account
	switch {
	case addr != (common.Address{}):
		found := false
		for _, a := range accs {
			if a.Address == addr {
				acc, found = a, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("identity %s is not in keystore %s", addr.Hex(), k.dir)
		}
	case len(accs) == 0:
		return nil, fmt.Errorf("%w: %s", ErrNoIdentity, k.dir)
	case len(accs) > 1:
		return nil, ErrAmbiguousIdentity
	default:
		acc = accs[0]
	}
	blob, err := os.ReadFile(acc.URL.Path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := keystore.DecryptKey(blob, passphrase)
	if err != nil {
		if errors.Is(err, keystore.ErrDecrypt) {
			return nil, fmt.Errorf("%w %s: %s", ErrWrongPassphrase, k.dir, acc.Address.Hex())
		}
		return nil, fmt.Errorf("decrypt key: %w", err)
	}
	return FromECDSA(key.PrivateKey)
}
