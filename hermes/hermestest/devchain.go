package hermestest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// DevChainConfig configures a development chain served over JSON-RPC.
type DevChainConfig struct {
	// Listen is the loopback IP:port of the HTTP JSON-RPC endpoint
	// (default 127.0.0.1 on a free port).
	Listen string
	// MinStake is what the Registry requires of a hermes (default 1 token).
	MinStake *big.Int
	// MineEvery is how often pending transactions are mined (default 100 ms).
	MineEvery time.Duration
}

// devMineEvery is the default pause between looks at the transaction pool.
const devMineEvery = 100 * time.Millisecond

// NewDevChain starts a simulated chain with the contracts deployed that
// other processes reach over HTTP JSON-RPC at RPCURL (eth, net, web3 and
// txpool namespaces, loopback only). Transactions sent over RPC are mined within
// MineEvery. Fund gives an address gas money and test tokens.
func NewDevChain(ctx context.Context, cfg DevChainConfig) (*SimChain, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("dev chain listen address %q: want a loopback IP:port such as 127.0.0.1:8545", cfg.Listen)
	}
	if ap.Port() == 0 {
		// The node takes a port number, not a listener: find a free one.
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("dev chain: find a free port: %w", err)
		}
		ap = netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
	}
	if cfg.MinStake == nil {
		cfg.MinStake = big.NewInt(params.Ether)
	}
	if cfg.MineEvery <= 0 {
		cfg.MineEvery = devMineEvery
	}
	rpcOpt := func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost = ap.Addr().String()
		nc.HTTPPort = int(ap.Port())
		nc.HTTPModules = []string{"eth", "net", "web3", "txpool"}
		nc.HTTPVirtualHosts = []string{"localhost", ap.Addr().String()}
	}
	s, err := newSimChain(ctx, cfg.MinStake, []func(*node.Config, *ethconfig.Config){rpcOpt})
	if err != nil {
		return nil, err
	}
	s.rpcURL = "http://" + net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())))
	if s.pool, err = rpc.DialContext(ctx, s.rpcURL); err != nil {
		return nil, errors.Join(fmt.Errorf("dev chain: dial own RPC: %w", err), s.Close())
	}
	s.stopMining = make(chan struct{})
	s.mined = make(chan struct{})
	go s.mineLoop(cfg.MineEvery)
	return s, nil
}

// RPCURL is the chain's HTTP JSON-RPC endpoint ("" for a chain made by
// NewSimChain).
func (s *SimChain) RPCURL() string { return s.rpcURL }

// mineLoop mines whatever other processes sent until Close.
func (s *SimChain) mineLoop(every time.Duration) {
	defer close(s.mined)
	t := time.NewTicker(every)
	defer t.Stop()
	defer s.pool.Close()
	for {
		select {
		case <-s.stopMining:
			return
		case <-t.C:
		}
		// The pending block is rebuilt only every few seconds; the pool's
		// own count is current.
		ctx, cancel := context.WithTimeout(context.Background(), every*10)
		var status struct{ Pending hexutil.Uint }
		err := s.pool.CallContext(ctx, &status, "txpool_status")
		cancel()
		if err == nil && status.Pending > 0 {
			s.commit()
		}
	}
}

// Fund gives addr ether for gas and tokens.
func (s *SimChain) Fund(ctx context.Context, addr [20]byte, ether, tokens *big.Int) error {
	if err := s.SendEther(ctx, addr, ether); err != nil {
		return err
	}
	return s.MintTokens(ctx, addr, tokens)
}

// newSimChain starts a simulated backend with the given node options, funds
// ids and deploys the contracts.
func newSimChain(ctx context.Context, minStake *big.Int, opts []func(*node.Config, *ethconfig.Config), ids ...*identity.Identity) (_ *SimChain, err error) {
	deployer, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	thousand := new(big.Int).Mul(big.NewInt(1000), big.NewInt(params.Ether))
	alloc := types.GenesisAlloc{deployer.Address(): {Balance: thousand}}
	for _, id := range ids {
		alloc[id.Address()] = types.Account{Balance: thousand}
	}
	backend, err := newBackend(alloc, opts)
	if err != nil {
		return nil, err
	}
	s := &SimChain{Backend: backend, Deployer: deployer}
	if s.Deployment, err = hermes.Deploy(ctx, s.Backend.Client(), deployer, minStake, s.commit); err != nil {
		return nil, errors.Join(err, s.Backend.Close())
	}
	if s.Chain, err = hermes.NewChain(ctx, s.Backend.Client(), s.Deployment.Registry, hermes.WithMiner(s.commit)); err != nil {
		return nil, errors.Join(err, s.Backend.Close())
	}
	return s, nil
}

// newBackend is simulated.NewBackend, which panics when its node cannot
// start (a port already taken), with the panic turned into an error.
func newBackend(alloc types.GenesisAlloc, opts []func(*node.Config, *ethconfig.Config)) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start simulated chain: %v", r)
		}
	}()
	return simulated.NewBackend(alloc, opts...), nil
}
