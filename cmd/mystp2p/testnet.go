package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/tunnel"
)

func cmdTestnet(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return exitUsage{errors.New("testnet: say up, run or chain")}
	}
	sub, args := args[0], args[1:]
	if sub == "node" {
		// One node of a namespace lab, started by `testnet run --netns`.
		cfg, err := testnet.ParseChildArgs(args)
		if err != nil {
			return exitUsage{fmt.Errorf("testnet node: %w", err)}
		}
		return testnet.RunChild(ctx, cfg, e.stdout)
	}
	if sub == testnet.CensorChildCommand {
		// One process of the censor lab, started by `testnet run --netns --scenario censor`.
		if len(args) != 1 {
			return exitUsage{fmt.Errorf("testnet %s: want one JSON argument", sub)}
		}
		return testnet.RunCensorChild(ctx, args[0], e.stdout)
	}
	if sub == "chain" {
		return cmdTestnetChain(ctx, e, args)
	}
	fs := newFlagSet(e, "testnet "+sub, "testnet "+sub+" [flags]")
	providers := fs.Int("providers", 5, "number of providers")
	ttl := fs.Duration("proposal-ttl", 0, "proposal lifetime (default: 1m for up, 15s for run)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	pprofAddr := fs.String("pprof", "", "serve Go profiles (/debug/pprof/) on this loopback `IP:port`")
	var scenario, report *string
	var consumers, hubs *int
	var netns, labDebug *bool
	var level *int
	var fetch *int64
	socks := tunnel.DefaultSOCKSAddr
	if sub == "run" {
		scenario = fs.String("scenario", testnet.ScenarioDiscovery, "scenario: "+strings.Join(testnet.Scenarios, ", "))
		report = fs.String("report", "", "write the JSON report to this file")
		consumers = fs.Int("consumers", 1, "consumers opening sessions at once (sessions and payments scenarios)")
		hubs = fs.Int("hermes", 2, "hermes hubs (payments scenario)")
		fetch = fs.Int64("fetch-bytes", 16<<20, "bytes each session downloads from the origin (sessions and payments scenarios)")
		netns = fs.Bool("netns", false, "run every node in its own network namespace behind real NAT (root; nat-matrix, censor)")
		level = fs.Int("level", -1, fmt.Sprintf("censor scenario: run only this level, 0 to %d (default: all)", testnet.CensorLevels-1))
		labDebug = fs.Bool("lab-debug", false, "with --netns: print every node's log after the run")
	} else {
		fs.StringVar(&socks, "socks", socks, "SOCKS5 address of the testnet's consumer (loopback)")
	}
	switch sub {
	case "up", "run":
	default:
		return exitUsage{fmt.Errorf("testnet: unknown subcommand %q (want up, run or chain)", sub)}
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *providers < 0 || *providers > 1000 {
		return exitUsage{fmt.Errorf("--providers %d: want 0 to 1000", *providers)}
	}
	log, err := newLogger(e.stderr, *logLevel)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		stop, err := servePprof(*pprofAddr)
		if err != nil {
			return exitUsage{err}
		}
		defer stop()
	}
	cfg := testnet.Config{Providers: *providers, ProposalTTL: *ttl, Logger: log}
	if sub == "run" {
		if *consumers < 1 || *consumers > 200 {
			return exitUsage{fmt.Errorf("--consumers %d: want 1 to 200", *consumers)}
		}
		if *fetch < 0 || *fetch > 1<<30 {
			return exitUsage{fmt.Errorf("--fetch-bytes %d: want 0 to 1 GiB", *fetch)}
		}
		if *hubs < 1 || *hubs > 16 {
			return exitUsage{fmt.Errorf("--hermes %d: want 1 to 16", *hubs)}
		}
		cfg.Consumers, cfg.FetchBytes, cfg.Hermes = *consumers, *fetch, *hubs
		var rep *testnet.Report
		switch {
		case *netns && *scenario == testnet.ScenarioCensor:
			return runCensorScenario(ctx, e, *level, *fetch, *report, *labDebug)
		case *scenario == testnet.ScenarioCensor:
			return exitUsage{fmt.Errorf("--scenario %s needs --netns (and root)", testnet.ScenarioCensor)}
		case *netns && *scenario == testnet.ScenarioFailover:
			return runFailoverScenario(ctx, e, *providers, *report, *labDebug)
		case *scenario == testnet.ScenarioFailover:
			return exitUsage{fmt.Errorf("--scenario %s needs --netns (and root)", testnet.ScenarioFailover)}
		case *netns && *scenario == testnet.ScenarioNATMatrix:
			rep, err = testnet.RunNATMatrix(ctx, testnet.NATMatrixConfig{FetchBytes: *fetch, Logger: e.stderr, Debug: *labDebug})
		case *netns || *scenario == testnet.ScenarioNATMatrix:
			return exitUsage{fmt.Errorf("--netns goes with --scenario %s, %s or %s (and back)", testnet.ScenarioNATMatrix, testnet.ScenarioCensor, testnet.ScenarioFailover)}
		default:
			rep, err = testnet.Run(ctx, *scenario, cfg)
		}
		if errors.Is(err, testnet.ErrUnknownScenario) {
			return exitUsage{err}
		}
		if err != nil {
			return err
		}
		rep.WriteTable(e.stdout)
		if *report != "" {
			if err := rep.WriteJSON(*report); err != nil {
				return err
			}
		}
		if !rep.Pass {
			return fmt.Errorf("scenario %s failed", rep.Scenario)
		}
		return nil
	}

	start := time.Now()
	net, err := testnet.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer net.Close()
	fmt.Fprintf(e.stdout, "testnet up in %.1f s: 1 relay, 1 consumer, %d providers\n", time.Since(start).Seconds(), *providers)
	fmt.Fprintf(e.stdout, "relay/bootstrap %s\n", net.Relay.ID())
	printAddrs(e.stdout, net.Relay.AddrInfo())
	for i, p := range net.Providers() {
		pp := p.Proposal.Proposal
		fmt.Fprintf(e.stdout, "provider %d %s (%s, %s)\n", i, p.Node.ID(), pp.Country, pp.IPType)
		printAddrs(e.stdout, p.Node.AddrInfo())
	}
	fmt.Fprintf(e.stdout, "origin %s\n", net.Origin.URL())
	fmt.Fprintf(e.stdout, "list proposals with:\n  mystp2p proposals --bootstrap %s\n", net.Relay.AddrInfo().Addrs[0].String()+"/p2p/"+net.Relay.ID().String())
	fmt.Fprintf(e.stdout, "consumer %s connecting\n", net.Consumer.ID())
	err = net.ConsumerRole.Run(ctx, client.ConsumeConfig{
		SOCKSAddr:     socks,
		AutoReconnect: true,
		Progress:      func(stage string) { fmt.Fprintln(e.stdout, "  "+stage) },
		OnSession: func(*client.Session) {
			fmt.Fprintf(e.stdout, "try it:\n  curl --socks5-hostname %s %s\npress Ctrl-C to stop\n", socks, net.Origin.URL())
		},
	})
	if err != nil && ctx.Err() == nil {
		return err
	}
	fmt.Fprintln(e.stdout, "stopping testnet")
	return nil
}

// runCensorScenario runs the censor lab at one level (level ≥ 0) or all,
// prints its table and writes its report.
func runCensorScenario(ctx context.Context, e env, level int, fetch int64, report string, debug bool) error {
	cfg := testnet.CensorConfig{FetchBytes: fetch, Logger: e.stderr, Debug: debug}
	if level < -1 || level >= testnet.CensorLevels {
		return exitUsage{fmt.Errorf("--level %d: want 0 to %d", level, testnet.CensorLevels-1)}
	}
	if level >= 0 {
		cfg.Levels = []int{level}
	}
	rep, err := testnet.RunCensor(ctx, cfg)
	if err != nil {
		return err
	}
	rep.WriteTable(e.stdout)
	if report != "" {
		if err := rep.WriteJSON(report); err != nil {
			return err
		}
	}
	if !rep.Pass {
		return fmt.Errorf("scenario %s failed", rep.Scenario)
	}
	return nil
}

// runFailoverScenario runs the failover lab, prints its table and writes
// its report.
func runFailoverScenario(ctx context.Context, e env, providers int, report string, debug bool) error {
	rep, err := testnet.RunFailover(ctx, testnet.FailoverConfig{Providers: providers, Logger: e.stderr, Debug: debug})
	if err != nil {
		return err
	}
	rep.WriteTable(e.stdout)
	if report != "" {
		if err := rep.WriteJSON(report); err != nil {
			return err
		}
	}
	if !rep.Pass {
		return fmt.Errorf("scenario %s failed", rep.Scenario)
	}
	return nil
}

// cmdTestnetChain runs a development chain with the hermes contracts for
// other mystp2p processes: hermes hubs, paying consumers and providers.
func cmdTestnetChain(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "testnet chain", "testnet chain [--listen 127.0.0.1:8545] [--fund ADDR]... [flags]")
	listen := fs.String("listen", "127.0.0.1:8545", "loopback IP:port of the JSON-RPC endpoint")
	var fund listFlag
	fs.Var(&fund, "fund", "give this address 10 ether for gas and --fund-tokens test tokens (repeatable)")
	fundTokens := fs.String("fund-tokens", "100", "test tokens for each --fund address")
	minStake := fs.String("min-stake", "1", "the least stake, in tokens, the Registry takes from a hermes")
	if err := parse(fs, args); err != nil {
		return err
	}
	if ap, err := netip.ParseAddrPort(*listen); err != nil || !ap.Addr().IsLoopback() {
		return exitUsage{fmt.Errorf("--listen %q: want a loopback IP:port such as 127.0.0.1:8545 (the dev chain has test keys' money: keep it local)", *listen)}
	}
	var addrs []common.Address
	for _, a := range fund {
		if !common.IsHexAddress(a) {
			return exitUsage{fmt.Errorf("--fund %q is not an address (0x + 40 hex digits; see `mystp2p identity show`)", a)}
		}
		addrs = append(addrs, common.HexToAddress(a))
	}
	amount, err := tokenAmount("--fund-tokens", *fundTokens)
	if err != nil {
		return err
	}
	stake, err := tokenAmount("--min-stake", *minStake)
	if err != nil {
		return err
	}
	chain, err := devchain.New(ctx, devchain.Config{Listen: *listen, MinStake: stake})
	if err != nil {
		return err
	}
	defer chain.Close()
	ether := new(big.Int).Mul(big.NewInt(10), big.NewInt(params.Ether))
	for _, a := range addrs {
		if err := chain.Fund(ctx, a, ether, amount); err != nil {
			return fmt.Errorf("fund %s: %w", a.Hex(), err)
		}
	}
	fmt.Fprintf(e.stdout, "dev chain %d on %s\nregistry %s\ntoken %s (anyone may mint it)\n",
		devchain.ChainID, chain.RPCURL(), chain.Deployment.Registry.Hex(), chain.Deployment.Token.Hex())
	for _, a := range addrs {
		fmt.Fprintf(e.stdout, "funded %s with 10 ether and %s tokens\n", a.Hex(), tokens(amount))
	}
	fmt.Fprintf(e.stdout, "point other commands at it with:\n  export MYSTP2P_CHAIN_RPC=%s MYSTP2P_CONTRACT=%s\npress Ctrl-C to stop (the chain lives in memory only)\n",
		chain.RPCURL(), chain.Deployment.Registry.Hex())
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping chain")
	return nil
}
