// Package hermestest provides helpers for tests of code that uses hermes:
// an in-process development chain with the contracts deployed (a thin
// wrapper of devchain) and an in-memory hermes.BalanceSource. Production
// code uses devchain directly.
package hermestest

import (
	"context"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
)

// ChainID is the simulated chain's ID.
const ChainID = devchain.ChainID

// SimChain is an in-process development chain. Every transaction sent
// through its Chain is mined at once.
type SimChain = devchain.Chain

// NewSimChain starts a chain, gives each of ids 1000 ether for gas, and
// deploys the contracts with a Registry requiring minStake of hermes hubs.
func NewSimChain(ctx context.Context, minStake *big.Int, ids ...*identity.Identity) (*SimChain, error) {
	prefund := make([]common.Address, len(ids))
	for i, id := range ids {
		prefund[i] = id.Address()
	}
	return devchain.New(ctx, devchain.Config{MinStake: minStake, Prefund: prefund})
}

// Balances is an in-memory hermes.BalanceSource: consumer → deposited.
type Balances struct {
	mu   sync.Mutex
	deps map[common.Address]*big.Int
}

var _ hermes.BalanceSource = (*Balances)(nil)

// Set sets what consumer's channel holds.
func (b *Balances) Set(consumer common.Address, deposited *big.Int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deps == nil {
		b.deps = make(map[common.Address]*big.Int)
	}
	b.deps[consumer] = new(big.Int).Set(deposited)
}

// ConsumerChannel implements hermes.BalanceSource.
func (b *Balances) ConsumerChannel(_ context.Context, consumer, _ common.Address) (hermes.ChannelState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := new(big.Int)
	if v := b.deps[consumer]; v != nil {
		d.Set(v)
	}
	return hermes.ChannelState{Balance: d, Settled: new(big.Int), FeeSettled: new(big.Int)}, nil
}
