package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
)

// NetworkFile is the network file's name in the data directory, where
// chain deploy writes it without --out.
const NetworkFile = "network.json"

func cmdChain(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "deploy" {
		return cmdChainDeploy(ctx, e, args[1:])
	}
	return exitUsage{errors.New("usage: mystp2p chain deploy --chain-rpc URL (--token 0x… | --test-token) --min-stake N [flags] (see mystp2p chain deploy -h)")}
}

// cmdChainDeploy deploys a Registry, and a test token if asked, with the
// identity's key, and writes the network file the other commands read.
func cmdChainDeploy(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "chain deploy", "chain deploy --chain-rpc URL (--token 0x… | --test-token) --min-stake N [--withdraw-delay B] [--leave-delay B] [--out FILE] [flags]")
	var idf idFlags
	idf.register(fs)
	rpcURL := fs.String("chain-rpc", "", "Ethereum JSON-RPC URL to deploy on (http, ws or IPC path; else $MYSTP2P_CHAIN_RPC)")
	token := fs.String("token", "", "address 0x… of the ERC-20 token hermes channels hold")
	testToken := fs.Bool("test-token", false, "deploy a fresh test token (anyone may mint it: for test networks only) instead of --token")
	mint := fs.String("mint", "1000000", "with --test-token: tokens to mint to this identity, to fund hubs and consumers with")
	minStake := fs.String("min-stake", "", "least stake, in tokens, of a hermes (required; 0 allowed)")
	withdrawDelay := fs.Uint64("withdraw-delay", hermes.DefaultWithdrawDelay, "blocks a consumer waits between announcing a withdrawal and completing it (its hermes's time to settle)")
	leaveDelay := fs.Uint64("leave-delay", hermes.DefaultLeaveDelay, "blocks a hermes waits between announcing its leave and taking its stake (its providers' time to settle)")
	out := fs.String("out", "", "write the network file here (default <data-dir>/"+NetworkFile+")")
	force := fs.Bool("force", false, "replace an existing network file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rpcURL == "" {
		*rpcURL = e.getenv("MYSTP2P_CHAIN_RPC")
	}
	if *rpcURL == "" {
		return exitUsage{errors.New("chain deploy needs --chain-rpc URL (or $MYSTP2P_CHAIN_RPC): the chain to deploy on")}
	}
	if (*token == "") == !*testToken {
		return exitUsage{errors.New("chain deploy needs one of --token 0x… (an existing ERC-20) and --test-token (a fresh token for a test network)")}
	}
	if *token != "" && !common.IsHexAddress(*token) {
		return exitUsage{fmt.Errorf("--token %q is not an address (0x + 40 hex digits)", *token)}
	}
	mintSet := false
	fs.Visit(func(f *flag.Flag) { mintSet = mintSet || f.Name == "mint" })
	if mintSet && !*testToken {
		return exitUsage{errors.New("--mint mints test tokens: it goes with --test-token only")}
	}
	var mintAmount *big.Int
	if *testToken {
		v, err := overlay.ParseTokens(*mint)
		if err != nil {
			return exitUsage{fmt.Errorf("--mint: %w", err)}
		}
		mintAmount = v
	}
	if *minStake == "" {
		return exitUsage{errors.New("chain deploy needs --min-stake N: the least stake, in tokens, a hermes must put up (0 allowed)")}
	}
	stake, err := overlay.ParseTokens(*minStake)
	if err != nil {
		return exitUsage{fmt.Errorf("--min-stake: %w", err)}
	}
	if *withdrawDelay == 0 || *leaveDelay == 0 {
		return exitUsage{fmt.Errorf("--withdraw-delay %d, --leave-delay %d: each at least 1 block", *withdrawDelay, *leaveDelay)}
	}
	path := *out
	if path == "" {
		path = filepath.Join(idf.dataDir, NetworkFile)
	}
	if _, err := os.Stat(path); err == nil && !*force {
		return exitUsage{fmt.Errorf("network file %s exists (it may name a deployment still in use): give another --out, or --force to replace it", path)}
	}
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}

	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	client, err := ethclient.DialContext(dctx, *rpcURL)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to chain at %s: %w", *rpcURL, err)
	}
	defer client.Close()
	// Every transaction below waits for its receipt: bound them all.
	ctx, cancel = context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("chain at %s: read chain ID: %w", *rpcURL, err)
	}
	gas, err := client.BalanceAt(ctx, id.Address(), nil)
	if err != nil {
		return fmt.Errorf("chain at %s: ether balance of %s: %w", *rpcURL, id.Address().Hex(), err)
	}
	if gas.Sign() == 0 {
		return fmt.Errorf("%s has no ether on chain %s to pay for the deployment: send it some first", id.Address().Hex(), chainID)
	}
	params := hermes.RegistryParams{MinStake: stake, WithdrawDelay: *withdrawDelay, LeaveDelay: *leaveDelay}
	var tokenAddr common.Address
	if *testToken {
		if tokenAddr, err = hermes.DeployTestToken(ctx, client, id, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "deployed test token %s\n", tokenAddr.Hex())
	} else {
		tokenAddr = common.HexToAddress(*token)
	}
	reg, err := hermes.DeployRegistry(ctx, client, id, tokenAddr, params, nil)
	if errors.Is(err, hermes.ErrNoCode) || errors.Is(err, hermes.ErrNotERC20) {
		return fmt.Errorf("%w (check --token: is it the ERC-20's address on chain %s?)", err, chainID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "deployed registry %s\n", reg.Hex())
	// Read the deployment back as every other command will.
	chain, err := hermes.NewChain(ctx, client, reg, hermes.WithTxTimeout(5*time.Minute))
	if err != nil {
		return fmt.Errorf("registry %s: %w", reg.Hex(), err)
	}
	if chain.Token() != tokenAddr {
		return fmt.Errorf("registry %s holds token %s, deployed with %s", reg.Hex(), chain.Token().Hex(), tokenAddr.Hex())
	}
	if mintAmount != nil && mintAmount.Sign() > 0 {
		if err := chain.Mint(ctx, id, id.Address(), mintAmount); err != nil {
			return fmt.Errorf("mint test tokens: %w", err)
		}
	}
	head, err := chain.BlockNumber(ctx)
	if err != nil {
		return err
	}
	n := &networkFile{
		ChainID: chain.ChainID(), ChainRPC: *rpcURL, Contract: reg.Hex(), Token: tokenAddr.Hex(),
		MinStake: stake.String(), WithdrawDelay: *withdrawDelay, LeaveDelay: *leaveDelay,
		Deployer: id.Address().Hex(), Block: head,
	}
	if err := writeNetwork(path, n, *force); err != nil {
		return fmt.Errorf("the contracts are deployed (registry %s, token %s) but %w: write it by hand (see README)", reg.Hex(), tokenAddr.Hex(), err)
	}
	fmt.Fprintf(e.stdout, "# chain %d: registry %s, token %s, min stake %s tokens, withdraw delay %d blocks, leave delay %d blocks\n",
		n.ChainID, n.Contract, n.Token, tokens(stake), n.WithdrawDelay, n.LeaveDelay)
	if mintAmount != nil && mintAmount.Sign() > 0 {
		fmt.Fprintf(e.stdout, "# minted %s test tokens to %s\n", tokens(mintAmount), id.Address().Hex())
	}
	fmt.Fprintf(e.stdout, "# network file %s (give other commands --network %s, or set:)\n", path, path)
	fmt.Fprintf(e.stdout, "MYSTP2P_CHAIN_RPC=%s\nMYSTP2P_CONTRACT=%s\n", n.ChainRPC, n.Contract)
	return nil
}
