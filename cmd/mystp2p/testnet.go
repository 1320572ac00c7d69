package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mystp2p/mystp2p/testnet"
)

func cmdTestnet(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return exitUsage{errors.New("testnet: say up or run")}
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "testnet "+sub, "testnet "+sub+" [flags]")
	providers := fs.Int("providers", 5, "number of providers")
	ttl := fs.Duration("proposal-ttl", 0, "proposal lifetime (default: 1m for up, 15s for run)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	var scenario, report *string
	if sub == "run" {
		scenario = fs.String("scenario", testnet.ScenarioDiscovery, "scenario: "+strings.Join(testnet.Scenarios, ", "))
		report = fs.String("report", "", "write the JSON report to this file")
	}
	switch sub {
	case "up", "run":
	default:
		return exitUsage{fmt.Errorf("testnet: unknown subcommand %q (want up or run)", sub)}
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
	cfg := testnet.Config{Providers: *providers, ProposalTTL: *ttl, Logger: log}
	if sub == "run" {
		rep, err := testnet.Run(ctx, *scenario, cfg)
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
	fmt.Fprintf(e.stdout, "consumer %s\n", net.Consumer.ID())
	fmt.Fprintf(e.stdout, "list proposals with:\n  mystp2p proposals --bootstrap %s\n", net.Relay.AddrInfo().Addrs[0].String()+"/p2p/"+net.Relay.ID().String())
	fmt.Fprintln(e.stdout, "press Ctrl-C to stop")
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping testnet")
	return nil
}
