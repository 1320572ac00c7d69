package main

import (
	"context"
	"flag"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
)

// chainFlags are the flags of every command that talks to the chain.
type chainFlags struct {
	rpc      string
	contract string
}

func (f *chainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.rpc, "chain-rpc", "", "Ethereum JSON-RPC URL (http, ws or IPC path; else $MYSTP2P_CHAIN_RPC)")
	fs.StringVar(&f.contract, "contract", "", "address 0x… of the hermes Registry contract (else $MYSTP2P_CONTRACT)")
}

// fill takes what the flags leave out from the environment.
func (f *chainFlags) fill(e env) {
	if f.rpc == "" {
		f.rpc = e.getenv("MYSTP2P_CHAIN_RPC")
	}
	if f.contract == "" {
		f.contract = e.getenv("MYSTP2P_CONTRACT")
	}
}

// dial connects to the chain and binds the Registry. Close the client after.
func (f *chainFlags) dial(ctx context.Context, e env, why string) (*hermes.Chain, func(), error) {
	f.fill(e)
	if f.rpc == "" || f.contract == "" {
		return nil, nil, exitUsage{fmt.Errorf("%s needs --chain-rpc URL and --contract 0x… (the Registry), or $MYSTP2P_CHAIN_RPC and $MYSTP2P_CONTRACT", why)}
	}
	if !common.IsHexAddress(f.contract) {
		return nil, nil, exitUsage{fmt.Errorf("--contract %q is not an address (0x + 40 hex digits)", f.contract)}
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := ethclient.DialContext(dctx, f.rpc)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to chain at %s: %w", f.rpc, err)
	}
	chain, err := hermes.NewChain(dctx, client, common.HexToAddress(f.contract), hermes.WithTxTimeout(5*time.Minute))
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("chain at %s, contract %s: %w (is it the hermes Registry on this chain?)", f.rpc, f.contract, err)
	}
	return chain, client.Close, nil
}

// hermesID is a hermes hub named on the command line: by 0x address, or by
// peer ID, which also gives its address.
type hermesID struct {
	addr common.Address
	peer peer.ID // empty when named by address
	raw  string
}

func parseHermesID(flagName, s string) (hermesID, error) {
	s = strings.TrimSpace(s)
	if common.IsHexAddress(s) {
		return hermesID{addr: common.HexToAddress(s), raw: s}, nil
	}
	pid, err := peer.Decode(s)
	if err != nil {
		return hermesID{}, exitUsage{fmt.Errorf("%s %q: want the hermes's 0x address or its peer ID (see `mystp2p proposals --service hermes`)", flagName, s)}
	}
	addr, err := identity.AddressOf(pid)
	if err != nil {
		return hermesID{}, exitUsage{fmt.Errorf("%s %s: %w", flagName, pid, err)}
	}
	return hermesID{addr: addr, peer: pid, raw: s}, nil
}

func (h hermesID) String() string {
	if h.peer != "" {
		return fmt.Sprintf("%s (%s)", h.peer, h.addr.Hex())
	}
	return h.addr.Hex()
}

// tokenAmount parses a positive token amount flag ("10", "0.5").
func tokenAmount(flagName, s string) (*big.Int, error) {
	if s == "" {
		return nil, exitUsage{fmt.Errorf("%s is required, in tokens, e.g. 10 or 0.5", flagName)}
	}
	v, err := overlay.ParseTokens(s)
	if err != nil {
		return nil, exitUsage{fmt.Errorf("%s: %w", flagName, err)}
	}
	if v.Sign() <= 0 {
		return nil, exitUsage{fmt.Errorf("%s %s: must be above 0", flagName, s)}
	}
	return v, nil
}

// tokens formats base units as tokens.
func tokens(v *big.Int) string { return overlay.FormatTokens(v) }

// needFunds refuses to spend tokens that addr does not hold, or to send
// transactions from it without ether for gas; what names the spending.
func needFunds(ctx context.Context, chain *hermes.Chain, addr common.Address, tokensNeeded *big.Int, what string) error {
	if err := needGas(ctx, chain, addr); err != nil {
		return err
	}
	have, err := chain.TokenBalance(ctx, addr)
	if err != nil {
		return err
	}
	if have.Cmp(tokensNeeded) < 0 {
		return fmt.Errorf("%s of %s tokens: %s holds only %s", what, tokens(tokensNeeded), addr.Hex(), tokens(have))
	}
	return nil
}

// needHermes refuses a hermes that is not registered on the chain's
// Registry; name is how the user gave it.
func needHermes(ctx context.Context, chain *hermes.Chain, h common.Address, name string) error {
	if err := role.CheckHermes(ctx, chain, h); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// needGas refuses to send transactions from an address without ether.
func needGas(ctx context.Context, chain *hermes.Chain, addr common.Address) error {
	gas, err := chain.GasBalance(ctx, addr)
	if err != nil {
		return err
	}
	if gas.Sign() == 0 {
		return fmt.Errorf("%s has no ether on chain %d to pay for gas: send it some first", addr.Hex(), chain.ChainID())
	}
	return nil
}

// openStore opens a payment store in the data directory.
func openStore(dataDir, name string) (*hermes.Store, error) {
	s, err := role.OpenStore(dataDir, name)
	if err != nil {
		return nil, fmt.Errorf("%w: stop it or give another --data-dir", err)
	}
	return s, nil
}
