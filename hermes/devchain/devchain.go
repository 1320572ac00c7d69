package devchain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// ChainID is the development chain's ID, that of go-ethereum's simulated
// backend.
const ChainID = 1337

// DefaultMineEvery is how often a chain served over RPC looks at its
// transaction pool when Config.MineEvery is zero.
const DefaultMineEvery = 100 * time.Millisecond

// Config configures a development chain.
type Config struct {
	// MinStake is the least stake, in token base units, the Registry
	// takes from a hermes. Required.
	MinStake *big.Int
	// Listen is the loopback IP:port of the HTTP JSON-RPC endpoint; port 0
	// picks a free one. Empty: the chain is not served, and only
	// transactions sent through Chain.Chain are mined.
	Listen string
	// MineEvery is how often, when served, the chain mines what other
	// processes sent. Zero means DefaultMineEvery.
	MineEvery time.Duration
	// Prefund are given 1000 ether for gas in the genesis block.
	Prefund []common.Address
	// WithdrawDelay and LeaveDelay are the Registry's delays in blocks
	// (zero: DefaultWithdrawDelay and DefaultLeaveDelay).
	WithdrawDelay, LeaveDelay uint64
	// BlockEvery, when the chain is served, mines a block (empty if
	// nothing waits) at least this often, so that delays in blocks pass
	// with time as on a real chain. Zero means DefaultBlockEvery; negative
	// mines only when transactions wait.
	BlockEvery time.Duration
}

// Delays of the development chain's Registry, in blocks: a minute and two
// at DefaultBlockEvery, short for trying withdrawals by hand and long
// against a hermes's default watch interval (10 s).
const (
	DefaultWithdrawDelay = 60
	DefaultLeaveDelay    = 120
)

// DefaultBlockEvery is how often a served chain mines a block when
// Config.BlockEvery is zero.
const DefaultBlockEvery = time.Second

// Chain is a running development chain.
type Chain struct {
	// Chain is the hermes view of the chain. Every transaction sent through
	// it is mined at once.
	Chain *hermes.Chain
	// Deployment is where the contracts are.
	Deployment hermes.Deployment

	backend    *simulated.Backend
	deployer   *identity.Identity
	mu         sync.Mutex // serialises Commit
	deployerMu sync.Mutex // one transaction of the deployer at a time (nonces)
	closeOnce  sync.Once
	closeErr   error

	// Set when served over RPC.
	rpcURL     string
	pool       *rpc.Client // asks the transaction pool what waits
	stopMining chan struct{}
	mined      chan struct{} // closed when mineLoop has returned
}

// thousandEther is what the deployer and each Config.Prefund address get
// at genesis.
var thousandEther = new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))

// New starts a chain and deploys the contracts. ctx bounds the start only:
// the chain runs until Close.
func New(ctx context.Context, cfg Config) (*Chain, error) {
	if cfg.MinStake == nil {
		return nil, errors.New("devchain: Config.MinStake is required")
	}
	if cfg.MinStake.Sign() < 0 {
		return nil, fmt.Errorf("devchain: Config.MinStake %s is negative", cfg.MinStake)
	}
	if cfg.MineEvery < 0 {
		return nil, fmt.Errorf("devchain: Config.MineEvery %s is negative", cfg.MineEvery)
	}
	if cfg.MineEvery == 0 {
		cfg.MineEvery = DefaultMineEvery
	}
	if cfg.BlockEvery == 0 {
		cfg.BlockEvery = DefaultBlockEvery
	}
	params := hermes.RegistryParams{MinStake: cfg.MinStake, WithdrawDelay: cfg.WithdrawDelay, LeaveDelay: cfg.LeaveDelay}
	if params.WithdrawDelay == 0 {
		params.WithdrawDelay = DefaultWithdrawDelay
	}
	if params.LeaveDelay == 0 {
		params.LeaveDelay = DefaultLeaveDelay
	}
	var opts []func(*node.Config, *ethconfig.Config)
	var ep endpoint
	if cfg.Listen != "" {
		var err error
		if ep, err = listenEndpoint(cfg.Listen); err != nil {
			return nil, err
		}
		opts = append(opts, ep.nodeOption)
	}
	c, err := start(ctx, params, cfg.Prefund, opts)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		if err := c.serve(ctx, ep, cfg.MineEvery, cfg.BlockEvery); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return c, nil
}

// start starts a simulated backend with the given node options, funds
// prefund and deploys the contracts.
func start(ctx context.Context, params hermes.RegistryParams, prefund []common.Address, opts []func(*node.Config, *ethconfig.Config)) (*Chain, error) {
	deployer, err := identity.Generate()
	if err != nil {
		return nil, fmt.Errorf("devchain: deployer key: %w", err)
	}
	alloc := types.GenesisAlloc{deployer.Address(): {Balance: thousandEther}}
	for _, a := range prefund {
		alloc[a] = types.Account{Balance: thousandEther}
	}
	backend, err := newBackend(alloc, opts)
	if err != nil {
		return nil, err
	}
	c := &Chain{backend: backend, deployer: deployer}
	if c.Deployment, err = hermes.Deploy(ctx, backend.Client(), deployer, params, c.commit); err != nil {
		return nil, errors.Join(fmt.Errorf("devchain: deploy contracts: %w", err), backend.Close())
	}
	if c.Chain, err = hermes.NewChain(ctx, backend.Client(), c.Deployment.Registry, hermes.WithMiner(c.commit)); err != nil {
		return nil, errors.Join(fmt.Errorf("devchain: %w", err), backend.Close())
	}
	return c, nil
}

// newBackend is simulated.NewBackend, which panics when its node cannot
// start (a port already taken), with the panic turned into an error.
func newBackend(alloc types.GenesisAlloc, opts []func(*node.Config, *ethconfig.Config)) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("devchain: start simulated chain: %w", e)
			} else {
				err = fmt.Errorf("devchain: start simulated chain: %v", r)
			}
		}
	}()
	return simulated.NewBackend(alloc, opts...), nil
}

// commit mines the pending transactions into a block.
func (c *Chain) commit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.backend.Commit()
}

// Close stops mining, the RPC endpoint and the chain, and waits for the
// goroutines it started. Idempotent: later calls return the first's error.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		if c.stopMining != nil {
			close(c.stopMining)
			<-c.mined
		}
		if err := c.backend.Close(); err != nil {
			c.closeErr = fmt.Errorf("devchain: close: %w", err)
		}
	})
	return c.closeErr
}

// Mine adds n blocks (empty unless transactions wait), as time passing on
// a real chain would.
func (c *Chain) Mine(n int) {
	for range n {
		c.commit()
	}
}

// Fund gives addr ether for gas and tokens.
func (c *Chain) Fund(ctx context.Context, addr common.Address, ether, tokens *big.Int) error {
	if err := c.SendEther(ctx, addr, ether); err != nil {
		return err
	}
	return c.MintTokens(ctx, addr, tokens)
}

// MintTokens mints amount test tokens to `to`.
func (c *Chain) MintTokens(ctx context.Context, to common.Address, amount *big.Int) error {
	c.deployerMu.Lock()
	defer c.deployerMu.Unlock()
	if err := c.Chain.Mint(ctx, c.deployer, to, amount); err != nil {
		return fmt.Errorf("devchain: mint tokens: %w", err)
	}
	return nil
}

// SendEther sends wei from the deployer to `to` (gas money for addresses
// not in Config.Prefund) and mines it.
func (c *Chain) SendEther(ctx context.Context, to common.Address, wei *big.Int) error {
	c.deployerMu.Lock()
	defer c.deployerMu.Unlock()
	if err := c.Chain.SendEther(ctx, c.deployer, to, wei); err != nil {
		return fmt.Errorf("devchain: %w", err)
	}
	return nil
}
