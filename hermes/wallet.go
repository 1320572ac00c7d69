package hermes

import (
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
)

// Wallet is a consumer's side of its channel with one hermes: the cumulative
// amount and fee of its last promise. Every session paying through that
// hermes shares one Wallet, so promises keep growing across sessions.
// Start it from what the hermes last accepted (Client.Consumer).
type Wallet struct {
	signer  identity.Signer
	hermes  common.Address
	chainID uint64

	mu     sync.Mutex
	amount *big.Int
	fee    *big.Int
}

// NewWallet makes a wallet whose last promise had the given cumulative amount and fee.
func NewWallet(signer identity.Signer, hermes common.Address, chainID uint64, promised, fee *big.Int) (*Wallet, error) {
	if signer == nil {
		return nil, fmt.Errorf("hermes wallet: signer is required")
	}
	if !validUint256(promised) || !validUint256(fee) || fee.Cmp(promised) > 0 {
		return nil, fmt.Errorf("%w: wallet amount %v, fee %v", ErrMalformed, promised, fee)
	}
	return &Wallet{signer: signer, hermes: hermes, chainID: chainID, amount: new(big.Int).Set(promised), fee: new(big.Int).Set(fee)}, nil
}

// Hermes is the hermes the wallet's channel is with.
func (w *Wallet) Hermes() common.Address { return w.hermes }

// ChainID is the chain the wallet's promises are for.
func (w *Wallet) ChainID() uint64 { return w.chainID }

// Promised returns the cumulative amount and fee of the wallet's last promise.
func (w *Wallet) Promised() (amount, fee *big.Int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return new(big.Int).Set(w.amount), new(big.Int).Set(w.fee)
}

// Pay signs an exchange message that raises the channel's promise by dTotal
// + dFee and binds it to an agreement now totalling total with provider.
func (w *Wallet) Pay(agreement [32]byte, provider common.Address, hashlock [32]byte, total, dTotal, dFee *big.Int) (*ExchangeMessage, error) {
	if dTotal.Sign() < 0 || dFee.Sign() < 0 || dTotal.Sign()+dFee.Sign() == 0 {
		return nil, fmt.Errorf("%w: payment of %s + fee %s", ErrNotIncreasing, dTotal, dFee)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	amount := new(big.Int).Add(w.amount, dTotal)
	amount.Add(amount, dFee)
	fee := new(big.Int).Add(w.fee, dFee)
	m := &ExchangeMessage{
		Promise: Promise{
			ChainID:   w.chainID,
			ChannelID: ChannelID(w.signer.Address(), w.hermes),
			Amount:    new(big.Int).Set(amount),
			Fee:       new(big.Int).Set(fee),
			Hashlock:  hashlock,
		},
		AgreementID:    agreement,
		AgreementTotal: new(big.Int).Set(total),
		Provider:       provider,
		Hermes:         w.hermes,
	}
	if err := m.Sign(w.signer); err != nil {
		return nil, err
	}
	w.amount, w.fee = amount, fee
	return m, nil
}

// Rebase restarts the wallet from what the hermes last accepted (its
// Consumer state, checked against the consumer's own signed promise). A
// promise the consumer signed that never reached the hermes — its provider
// stopped before exchanging it — is given up: the next payment builds on
// what the hermes has, which it would otherwise refuse (ErrAmountMismatch).
// Call it only while no session pays from the wallet.
func (w *Wallet) Rebase(promised, fee *big.Int) error {
	if !validUint256(promised) || !validUint256(fee) || fee.Cmp(promised) > 0 {
		return fmt.Errorf("%w: wallet amount %v, fee %v", ErrMalformed, promised, fee)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.amount, w.fee = new(big.Int).Set(promised), new(big.Int).Set(fee)
	return nil
}
