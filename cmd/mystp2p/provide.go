package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/server"
)

func cmdProvide(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "provide", "provide --country CC --ip-type TYPE --price-hour X --price-gib Y --bootstrap ADDR [flags]")
	var (
		idf     idFlags
		nf      netFlags
		cf      chainFlags
		hermesF listFlag
	)
	idf.register(fs)
	nf.register(fs)
	cf.register(fs)
	country := fs.String("country", "", "ISO 3166 alpha-2 country of this node's exit (required), e.g. DE")
	ipType := fs.String("ip-type", overlay.IPResidential, "exit IP type: residential, hosting or mobile")
	priceHour := fs.String("price-hour", "", "price per hour in tokens (required), e.g. 0.05")
	priceGiB := fs.String("price-gib", "", "price per GiB in tokens (required), e.g. 0.2")
	fs.Var(&hermesF, "hermes", "a hermes hub consumers may pay through, by 0x address or peer ID (repeatable; needs --chain-rpc and --contract; without it the service is free)")
	threshold := fs.String("settle-threshold", "1", "settle on chain automatically once this many tokens are unsettled with a hermes (0: only with `mystp2p settle`)")
	invoiceEvery := fs.Duration("invoice-interval", time.Minute, "how often paying consumers are invoiced (also early, once a minute's price plus 16 MiB is unpaid)")
	beneficiary := fs.String("beneficiary", "", "address 0x… that settlements pay (registered on chain; default: as registered, else this identity)")
	ttl := fs.Duration("proposal-ttl", overlay.DefaultProposalTTL, "proposal lifetime; re-announced every third of it")
	dhtServer := fs.Bool("dht-server", false, "answer DHT queries (only on a publicly reachable node)")
	maxSessions := fs.Int("max-sessions", 10, "most concurrent consumer sessions")
	var exitPolicy listFlag
	fs.Var(&exitPolicy, "exit-policy", "exit policy changes (repeatable, comma-separated): allow-private, allow-loopback, deny:CIDR, deny-port:N; the default denies loopback, private, link-local, multicast, this host's networks and port 25")
	exitAllowPrivate := fs.Bool("exit-allow-private", false, "let consumers reach private (RFC 1918) networks, for labs")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *country == "" || *priceHour == "" || *priceGiB == "" {
		return exitUsage{fmt.Errorf("provide needs --country, --price-hour and --price-gib")}
	}
	offer := overlay.Offer{Country: strings.ToUpper(*country), IPType: *ipType, Hermes: []string{}}
	for _, h := range hermesF {
		id, err := parseHermesID("--hermes", h)
		if err != nil {
			return err
		}
		offer.Hermes = append(offer.Hermes, id.addr.Hex())
	}
	for _, p := range []struct {
		flag, in string
		out      *string
	}{{"--price-hour", *priceHour, &offer.PriceHour}, {"--price-gib", *priceGiB, &offer.PriceGiB}} {
		v, err := overlay.ParseTokens(p.in)
		if err != nil {
			return exitUsage{fmt.Errorf("%s: %w", p.flag, err)}
		}
		*p.out = v.String()
	}
	if len(offer.Hermes) == 0 && (offer.PriceHour != "0" || offer.PriceGiB != "0") {
		return exitUsage{errors.New("prices above 0 need at least one --hermes for consumers to pay through (with --chain-rpc and --contract); for a free service give --price-hour 0 --price-gib 0")}
	}
	var autoSettle *big.Int
	if v, err := overlay.ParseTokens(*threshold); err != nil {
		return exitUsage{fmt.Errorf("--settle-threshold: %w", err)}
	} else if v.Sign() > 0 {
		autoSettle = v
	}
	if *beneficiary != "" && !common.IsHexAddress(*beneficiary) {
		return exitUsage{fmt.Errorf("--beneficiary %q is not an address (0x + 40 hex digits)", *beneficiary)}
	}
	if *invoiceEvery < time.Second || *invoiceEvery > time.Hour {
		return exitUsage{fmt.Errorf("--invoice-interval %s: want 1s to 1h", *invoiceEvery)}
	}
	if *maxSessions <= 0 {
		return exitUsage{fmt.Errorf("--max-sessions %d must be positive", *maxSessions)}
	}
	if *exitAllowPrivate {
		exitPolicy = append(exitPolicy, "allow-private")
	}
	policy, err := parseExitPolicy(exitPolicy)
	if err != nil {
		return exitUsage{err}
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
		return exitUsage{fmt.Errorf("provide needs at least one --bootstrap peer to announce to")}
	}
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	var payments *server.Payments
	if len(offer.Hermes) > 0 {
		var stop func()
		payments, stop, err = providerPayments(ctx, e, id, idf, cf, offer.Hermes, autoSettle, *beneficiary, log)
		if err != nil {
			return err
		}
		defer stop()
		payments.Interval = *invoiceEvery
	}
	reg, stopMetrics, err := nf.serveMetrics(e)
	if err != nil {
		return err
	}
	defer stopMetrics()
	node, err := overlay.New(ctx, overlay.Config{
		Host:        overlay.HostConfig{Identity: id, Listen: nf.listen, StaticRelays: relays, Metrics: reg},
		Bootstrap:   bootstrap,
		DHTServer:   *dhtServer,
		ProposalTTL: *ttl,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	defer node.Close()
	if payments != nil {
		// Before serving sessions, settle with each hermes what a previous
		// run left half done (it was killed mid-session): payments stored
		// but not exchanged, and promises issued but not stored. A hermes
		// that cannot be reached in time is asked in the background.
		var wg sync.WaitGroup
		defer wg.Wait()
		done := make(chan struct{})
		for _, h := range offer.Hermes {
			wg.Go(func() { recoverPayments(ctx, node, payments.Store, h, log) })
		}
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(recoverWait):
			log.Warn("a hermes did not answer in time; recovering payments with it in the background")
		case <-ctx.Done():
		}
	}
	sp, err := node.Advertise(ctx, offer)
	if err != nil {
		return err
	}
	if *maxSessions <= 0 {
		return exitUsage{fmt.Errorf("--max-sessions %d: must be positive", *maxSessions)}
	}
	if _, err := server.New(server.Config{Node: node, MaxSessions: *maxSessions, Policy: policy, Payments: payments, Logger: log}); err != nil {
		return err
	}
	p := sp.Proposal
	fmt.Fprintf(e.stdout, "providing %s in %s (%s) at %s/h and %s/GiB as %s\n", p.Service, p.Country, p.IPType,
		overlay.FormatTokens(p.HourPrice()), overlay.FormatTokens(p.GiBPrice()), node.ID())
	if len(p.Hermes) > 0 {
		fmt.Fprintf(e.stdout, "consumers pay through hermes %s; see `mystp2p earnings`\n", strings.Join(p.Hermes, ", "))
	} else {
		fmt.Fprintln(e.stdout, "free service: consumers do not pay")
	}
	printAddrs(e.stdout, node.AddrInfo())
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping")
	return nil
}

// providerPayments sets up a charging provider's books: the chain, checks
// that every accepted hermes is registered there, the payment store, the
// beneficiary, automatic settlement above threshold (nil: off) and the
// local API that `earnings` and `settle` use while the provider runs.
func providerPayments(ctx context.Context, e env, id *identity.Identity, idf idFlags, cf chainFlags, hubs []string,
	threshold *big.Int, beneficiary string, log *slog.Logger) (_ *server.Payments, stop func(), err error) {
	var closers []func() error
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	chain, closeChain, err := cf.dial(ctx, e, "a provider that takes payments")
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, func() error { closeChain(); return nil })
	for _, h := range hubs {
		if err := needHermes(ctx, chain, common.HexToAddress(h), "--hermes "+h); err != nil {
			return nil, nil, err
		}
	}
	if gas, err := chain.GasBalance(ctx, id.Address()); err != nil {
		return nil, nil, err
	} else if gas.Sign() == 0 {
		fmt.Fprintf(e.stderr, "warning: %s has no ether for gas; settlements will fail until it has some (earnings stay in the store)\n", id.Address().Hex())
	}
	if beneficiary != "" {
		if err := setBeneficiary(ctx, chain, id, common.HexToAddress(beneficiary)); err != nil {
			return nil, nil, err
		}
	}
	store, err := openStore(idf.dataDir, providerStore)
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, store.Close)
	settler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: chain, From: id, Store: store, Threshold: threshold,
		OnSettled: func(h common.Address, paid *big.Int) {
			fmt.Fprintf(e.stdout, "settled %s tokens earned through hermes %s\n", tokens(paid), h.Hex())
		},
		Log: log.With("role", "settler")})
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, settler.Close)
	b := &books{store: store, chain: chain, id: id, settler: settler}
	api, err := serveLocalAPI(idf.dataDir, b.handler())
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, api.Close)
	return &server.Payments{Store: store, ChainID: chain.ChainID(), Settler: settler}, stop, nil
}

// recoverWait is how long a provider waits at start for its hermes hubs
// to take what a previous run left half done.
const recoverWait = 15 * time.Second

// recoverPayments finds hermes h and has it take the payments a previous
// run stored but never exchanged, then fetches back a promise it issued
// that the store missed.
func recoverPayments(ctx context.Context, node *overlay.Node, store *hermes.Store, h string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ad, err := node.FindHermes(ctx, h)
	if err != nil {
		log.Warn("cannot reach hermes to recover payments", "hermes", h, "err", err)
		return
	}
	client, err := node.HermesClient(ad)
	if err != nil {
		log.Warn("hermes client", "hermes", h, "err", err)
		return
	}
	n, err := hermes.ResumeExchanges(ctx, client, store)
	if err != nil {
		log.Warn("exchanging payments left from the last run", "hermes", h, "err", err)
	}
	if n > 0 {
		log.Info("exchanged payments left from the last run", "hermes", h, "payments", n)
	}
	changed, err := hermes.CatchUp(ctx, client, store)
	switch {
	case err != nil:
		log.Warn("checking hermes for missed promises", "hermes", h, "err", err)
	case changed:
		log.Info("recovered a promise the hermes issued while this provider was stopping", "hermes", h)
	}
}
