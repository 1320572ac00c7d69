package identity

import "errors"

// ErrNotSecp256k1 means a key or peer ID is not secp256k1, so it has no
// Ethereum address.
var ErrNotSecp256k1 = errors.New("not a secp256k1 key")

// ErrBadSignature means a signature is malformed or does not recover.
var ErrBadSignature = errors.New("bad signature")

// ErrWrongPassphrase means the keystore could not decrypt a key with the
// passphrase given.
var ErrWrongPassphrase = errors.New("wrong passphrase for keystore")

// ErrNoIdentity means the keystore holds no key.
var ErrNoIdentity = errors.New("no identity in keystore (create one with `mystp2p identity new`)")

// ErrAmbiguousIdentity means the keystore holds several keys and none was
// chosen: name one by its address.
var ErrAmbiguousIdentity = errors.New("keystore holds several identities: choose one by its address")

// ErrNoKeystoreDir means no keystore directory was given.
var ErrNoKeystoreDir = errors.New("keystore directory is empty")
