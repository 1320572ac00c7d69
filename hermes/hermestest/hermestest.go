// Package hermestest provides an in-process chain with the hermes contracts
// deployed, for tests and for `mystp2p testnet`, and an in-memory
// hermes.BalanceSource.
package hermestest

import (
	"context"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// ChainID is the simulated chain's ID.
const ChainID = 1337

// SimChain is go-ethereum's simulated chain (ID 1337) with a TestToken and a
// Registry deployed. Every transaction sent through Chain is mined at once.
type SimChain struct {
	Backend    *simulated.Backend
	Chain      *hermes.Chain
	Deployment hermes.Deployment
	Deployer   *identity.Identity

	mu         sync.Mutex // serialises Commit
	deployerMu sync.Mutex // one transaction of the deployer at a time (nonces)
	once       sync.Once

	// Set by NewDevChain.
	rpcURL     string
	pool       *rpc.Client // asks the transaction pool what waits
	stopMining chan struct{}
	mined      chan struct{}
}

// NewSimChain starts a chain, gives each of ids 1000 ether for gas, and
// deploys the contracts with a Registry requiring minStake of hermes hubs.
func NewSimChain(ctx context.Context, minStake *big.Int, ids ...*identity.Identity) (*SimChain, error) {
	return newSimChain(ctx, minStake, nil, ids...)
}

func (s *SimChain) commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Backend.Commit()
}

// Close stops the chain. Idempotent.
func (s *SimChain) Close() error {
	var err error
	s.once.Do(func() {
		if s.stopMining != nil {
			close(s.stopMining)
			<-s.mined
		}
		err = s.Backend.Close()
	})
	return err
}

// MintTokens mints test tokens to `to`.
func (s *SimChain) MintTokens(ctx context.Context, to common.Address, amount *big.Int) error {
	s.deployerMu.Lock()
	defer s.deployerMu.Unlock()
	return s.Chain.Mint(ctx, s.Deployer, to, amount)
}

// SendEther sends wei from the deployer to `to` (gas money for identities
// made after the chain started).
func (s *SimChain) SendEther(ctx context.Context, to common.Address, wei *big.Int) error {
	s.deployerMu.Lock()
	defer s.deployerMu.Unlock()
	client := s.Backend.Client()
	nonce, err := client.PendingNonceAt(ctx, s.Deployer.Address())
	if err != nil {
		return fmt.Errorf("send ether: %w", err)
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("send ether: %w", err)
	}
	tip := big.NewInt(params.GWei)
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	chainID := big.NewInt(ChainID)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, To: &to, Value: wei,
	}), types.LatestSignerForChainID(chainID), s.Deployer.PrivateKey())
	if err != nil {
		return fmt.Errorf("send ether: %w", err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		return fmt.Errorf("send ether: %w", err)
	}
	s.commit()
	return nil
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
