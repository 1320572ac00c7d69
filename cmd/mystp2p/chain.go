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
	network  string
	// net is the --network file, once fill has read it.
	net *networkFile
	// contractFromFile is set when the Registry's address came from net.
	contractFromFile bool
}

func (f *chainFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.rpc, "chain-rpc", "", "Ethereum JSON-RPC URL (http, ws or IPC path; else from --network, else $MYSTP2P_CHAIN_RPC)")
	fs.StringVar(&f.contract, "contract", "", "address 0x… of the hermes Registry contract (else from --network, else $MYSTP2P_CONTRACT)")
	fs.StringVar(&f.network, "network", "", "read the chain's RPC URL and Registry from this network `file`, as `mystp2p chain deploy` writes it")
}

// fill takes what the flags leave out from the --network file, then from
// the environment.
func (f *chainFlags) fill(e env) error {
	if f.network != "" && f.net == nil {
		n, err := readNetwork(f.network)
		if err != nil {
			return err
		}
		f.net = n
		if f.rpc == "" {
			f.rpc = n.ChainRPC
		}
		if f.contract == "" {
			f.contract, f.contractFromFile = n.Contract, true
		}
	}
	if f.rpc == "" {
		f.rpc = e.getenv("MYSTP2P_CHAIN_RPC")
	}
	if f.contract == "" {
		f.contract = e.getenv("MYSTP2P_CONTRACT")
	}
	return nil
}

// dial connects to the chain and binds the Registry. Close the client after.
func (f *chainFlags) dial(ctx context.Context, e env, why string) (*hermes.Chain, func(), error) {
	if err := f.fill(e); err != nil {
		return nil, nil, err
	}
	if f.rpc == "" || f.contract == "" {
		return nil, nil, exitUsage{fmt.Errorf("%s needs --network FILE, or --chain-rpc URL and --contract 0x… (the Registry), or $MYSTP2P_CHAIN_RPC and $MYSTP2P_CONTRACT", why)}
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
	if err := f.checkNetwork(dctx, client); err != nil {
		client.Close()
		return nil, nil, err
	}
	chain, err := hermes.NewChain(dctx, client, common.HexToAddress(f.contract), hermes.WithTxTimeout(5*time.Minute))
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("chain at %s, contract %s: %w (is it the hermes Registry on this chain?)", f.rpc, f.contract, err)
	}
	if n := f.net; n != nil && f.contractFromFile && n.Token != "" && chain.Token() != common.HexToAddress(n.Token) {
		client.Close()
		return nil, nil, fmt.Errorf("--network %s: registry %s holds token %s, the file says %s: the file is not for this contract",
			f.network, chain.Registry().Hex(), chain.Token().Hex(), n.Token)
	}
	return chain, client.Close, nil
}

// checkNetwork refuses a chain whose ID is not the --network file's, and
// a Registry address from the file that holds no code there.
func (f *chainFlags) checkNetwork(ctx context.Context, client *ethclient.Client) error {
	n := f.net
	if n == nil {
		return nil
	}
	if n.ChainID != 0 {
		id, err := client.ChainID(ctx)
		if err != nil {
			return fmt.Errorf("chain at %s: read chain ID: %w", f.rpc, err)
		}
		if !id.IsUint64() || id.Uint64() != n.ChainID {
			return fmt.Errorf("--network %s is for chain %d, but %s serves chain %s: give the RPC URL of chain %d", f.network, n.ChainID, f.rpc, id, n.ChainID)
		}
	}
	if f.contractFromFile {
		code, err := client.CodeAt(ctx, common.HexToAddress(f.contract), nil)
		if err != nil {
			return fmt.Errorf("chain at %s: read code of %s: %w", f.rpc, f.contract, err)
		}
		if len(code) == 0 {
			return fmt.Errorf("--network %s: no contract at %s on the chain at %s: the file is for another chain, or the chain was reset", f.network, f.contract, f.rpc)
		}
	}
	return nil
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
