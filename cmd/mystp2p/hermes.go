package main

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
)

func cmdHermes(ctx context.Context, e env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "withdraw":
			return cmdHermesWithdraw(ctx, e, args[1:])
		case "leave":
			return cmdHermesLeave(ctx, e, args[1:])
		}
	}
	fs := newFlagSet(e, "hermes", "hermes [withdraw|leave] --chain-rpc URL --contract ADDR [--fee-bp 250] [--stake N] --bootstrap ADDR [flags]")
	var (
		idf idFlags
		nf  netFlags
		cf  chainFlags
	)
	idf.register(fs)
	nf.register(fs)
	cf.register(fs)
	feeBp := fs.Uint("fee-bp", 250, "fee in basis points of what consumers pay providers (250 = 2.5 %)")
	stake := fs.String("stake", "", "register this identity as a hermes with this stake in tokens, if it is not registered yet")
	settleEvery := fs.Duration("settle-interval", 10*time.Minute, "how often to pull consumers' promised funds into the hermes pool on chain")
	watchEvery := fs.Duration("watch-interval", hermes.DefaultWatchInterval,
		"how often to read the chain for consumers' withdrawals, whose promises must be settled before they are due (keep it well below the registry's withdraw delay)")
	dhtModeF := fs.String("dht-mode", "auto", dhtModeHelp)
	dhtServer := fs.Bool("dht-server", false, "deprecated: the same as --dht-mode server")
	ttl := fs.Duration("proposal-ttl", overlay.DefaultProposalTTL, "advertisement lifetime; re-announced every third of it")
	if err := parseConfig(e, fs, hermesRole, args); err != nil {
		return err
	}
	if *feeBp > overlay.MaxHermesFeeBp {
		return exitUsage{fmt.Errorf("--fee-bp %d: at most %d (100 %%)", *feeBp, overlay.MaxHermesFeeBp)}
	}
	if *settleEvery < time.Second {
		return exitUsage{fmt.Errorf("--settle-interval %s: at least 1s", *settleEvery)}
	}
	if *watchEvery < time.Second {
		return exitUsage{fmt.Errorf("--watch-interval %s: at least 1s", *watchEvery)}
	}
	var stakeAmount *big.Int
	if *stake != "" {
		var err error
		if stakeAmount, err = tokenAmount("--stake", *stake); err != nil {
			return err
		}
	}
	dhtMode, err := parseDHTMode(*dhtModeF, *dhtServer)
	if err != nil {
		return err
	}
	log, err := newLogger(e.stderr, nf.logLevel)
	if err != nil {
		return err
	}
	bootstrap, relays, err := nf.peers()
	if err != nil {
		return err
	}
	if len(bootstrap) == 0 {
		return exitUsage{fmt.Errorf("hermes needs at least one --bootstrap peer to announce to")}
	}
	chain, closeChain, err := cf.dial(ctx, e, "hermes")
	if err != nil {
		return err
	}
	defer closeChain()
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	if err := registerHermes(ctx, e, chain, id, stakeAmount); err != nil {
		return err
	}
	warnWatchInterval(ctx, e, chain, *watchEvery)
	if st, err := chain.Hub(ctx, id.Address()); err != nil {
		return err
	} else if st.Leaving() {
		fmt.Fprintf(e.stdout, "this hermes is leaving (stake due at block %d): it issues no new promises, and pulls the consumer promises it holds so that its providers are paid\n", st.LeaveBlock)
	}
	reg, stopMetrics, err := nf.serveMetrics(e)
	if err != nil {
		return err
	}
	defer stopMetrics()
	store, err := openStore(idf.dataDir, role.HermesStore)
	if err != nil {
		return err
	}
	defer store.Close()
	hc, err := nf.hostConfig(id, relays, reg)
	if err != nil {
		return err
	}
	hub, err := role.StartHermes(ctx, role.HermesConfig{
		Node: overlay.Config{
			Host:        hc,
			Bootstrap:   bootstrap,
			DHTMode:     dhtMode,
			ProposalTTL: *ttl,
			Logger:      log,
		},
		Chain: chain, Store: store, DataDir: idf.dataDir, LocalAPI: true, FeeBp: uint16(*feeBp), SettleInterval: *settleEvery,
		WatchInterval: *watchEvery,
		OnConsumersSettled: func(moved *big.Int) {
			fmt.Fprintf(e.stdout, "pulled %s tokens of consumer promises into the pool\n", tokens(moved))
		},
	})
	if err != nil {
		return err
	}
	defer hub.Close()
	node := hub.Node
	fmt.Fprintf(e.stdout, "hermes %s (%s) on chain %d, registry %s, fee %d bp\n", node.ID(), id.Address().Hex(),
		chain.ChainID(), chain.Registry().Hex(), *feeBp)
	printAddrs(e.stdout, node.AddrInfo())
	stopping := notifyServing(e, fmt.Sprintf("hermes %s on chain %d", node.ID(), chain.ChainID()))
	<-ctx.Done()
	stopping()
	fmt.Fprintln(e.stdout, "stopping")
	// What consumers promised so far goes into the pool before we stop.
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if moved, err := hub.SettleConsumers(sctx); err != nil {
		fmt.Fprintf(e.stderr, "settling consumer promises on the way out: %v (they stay in the store for the next start)\n", err)
	} else if moved.Sign() > 0 {
		fmt.Fprintf(e.stdout, "pulled %s tokens of consumer promises into the pool\n", tokens(moved))
	}
	return nil
}

// registerHermes makes sure the identity is a registered hermes, staking
// stake if it is not and a stake was given.
func registerHermes(ctx context.Context, e env, chain *hermes.Chain, id *identity.Identity, stake *big.Int) error {
	st, err := chain.Hub(ctx, id.Address())
	if err != nil {
		return err
	}
	if st.Registered {
		return nil
	}
	min, err := chain.MinStake(ctx)
	if err != nil {
		return err
	}
	if stake == nil {
		return fmt.Errorf("%s is not a registered hermes on registry %s: run once with --stake N (at least %s tokens, which this identity must hold, plus ether for gas)",
			id.Address().Hex(), chain.Registry().Hex(), tokens(min))
	}
	if stake.Cmp(min) < 0 {
		return exitUsage{fmt.Errorf("--stake %s: the registry needs at least %s tokens", tokens(stake), tokens(min))}
	}
	if err := needFunds(ctx, chain, id.Address(), stake, "a stake"); err != nil {
		return err
	}
	if err := chain.RegisterHermes(ctx, id, stake); err != nil {
		return fmt.Errorf("register hermes: %w", err)
	}
	fmt.Fprintf(e.stdout, "registered %s as a hermes with a stake of %s tokens\n", id.Address().Hex(), tokens(stake))
	return nil
}

// warnWatchInterval warns when the registry's withdraw delay, at the
// chain's recent block time, leaves the hub fewer than three looks at the
// chain to settle a withdrawing consumer's promises.
func warnWatchInterval(ctx context.Context, e env, chain *hermes.Chain, every time.Duration) {
	delay, err := chain.WithdrawDelay(ctx)
	if err != nil {
		return
	}
	bt, err := chain.BlockTime(ctx, 100)
	if err != nil || bt == 0 {
		return
	}
	if window := time.Duration(delay) * bt; window < 3*every {
		fmt.Fprintf(e.stderr, "warning: consumers' withdrawals are due %d blocks (about %s) after they are announced, and --watch-interval %s reads the chain too seldom to settle their promises in time: lower it below %s\n",
			delay, window.Round(time.Second), every, (window / 3).Round(time.Second))
	}
}
