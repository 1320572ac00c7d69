package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/server"
)

func orUnlimited(s *sizeFlag) string {
	if s.n == 0 {
		return "unlimited"
	}
	return s.String()
}

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
	threshold := fs.String("settle-threshold", "1", "settle on chain automatically once this many `tokens` are unsettled with a hermes (0: only with \"mystp2p settle\")")
	invoiceEvery := fs.Duration("invoice-interval", time.Minute, "how often paying consumers are invoiced (also early, once a minute's price plus 16 MiB is unpaid)")
	beneficiary := fs.String("beneficiary", "", "address 0x… that settlements pay (registered on chain; default: as registered, else this identity)")
	ttl := fs.Duration("proposal-ttl", overlay.DefaultProposalTTL, "proposal lifetime; re-announced every third of it")
	dhtModeF := fs.String("dht-mode", "auto", dhtModeHelp)
	dhtServer := fs.Bool("dht-server", false, "deprecated: the same as --dht-mode server")
	maxSessions := fs.Int("max-sessions", 10, "most concurrent consumer sessions")
	sessionRate, totalRate, monthlyCap := &sizeFlag{perSecond: true}, &sizeFlag{perSecond: true}, &sizeFlag{}
	fs.Var(sessionRate, "session-rate", "most `bytes/s` one session moves, each direction, e.g. 10MiB/s (0: unlimited)")
	fs.Var(totalRate, "total-rate", "most `bytes/s` all sessions together move, each direction, e.g. 50MiB/s (0: unlimited)")
	fs.Var(monthlyCap, "monthly-cap", "most `bytes` of traffic per calendar month (UTC), both directions, e.g. 500GiB; at the cap sessions end and new ones are refused until the month ends (0: unlimited)")
	var exitPolicy listFlag
	apiAddr := fs.String("api-listen", "", "the local API's and dashboard's `address`, 127.0.0.1:PORT (default: a free port)")
	fs.Var(&exitPolicy, "exit-policy", "exit policy changes (repeatable, comma-separated): allow-private, allow-loopback, deny:CIDR, deny-port:N; the default denies loopback, private, link-local, multicast, this host's networks and port 25")
	exitAllowPrivate := fs.Bool("exit-allow-private", false, "let consumers reach private (RFC 1918) networks, for labs")
	if err := parseConfig(e, fs, providerRole, args); err != nil {
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
	if *apiAddr != "" {
		if err := role.CheckAPIAddr(*apiAddr); err != nil {
			return exitUsage{fmt.Errorf("--api-listen: %w", err)}
		}
	}
	policy, err := role.ParseExitRules(exitPolicy)
	if err != nil {
		return exitUsage{fmt.Errorf("--exit-policy: %w", err)}
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
		return exitUsage{fmt.Errorf("provide needs at least one --bootstrap peer to announce to")}
	}
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	reg, stopMetrics, err := nf.serveMetrics(e)
	if err != nil {
		return err
	}
	defer stopMetrics()
	cache, closeCache := openPeerCache(e, idf.dataDir)
	defer closeCache()
	hc, err := nf.hostConfig(id, relays, reg)
	if err != nil {
		return err
	}
	cfg := role.ProviderConfig{
		Node: overlay.Config{
			Host:        hc,
			Bootstrap:   bootstrap,
			DHTMode:     dhtMode,
			PeerCache:   cache,
			ProposalTTL: *ttl,
			Logger:      log,
		},
		Offer: offer, MaxSessions: *maxSessions, Policy: policy,
		DataDir: idf.dataDir, SettleThreshold: autoSettle, InvoiceInterval: *invoiceEvery, LocalAPI: true,
		APIAddr: *apiAddr, Version: version, ExitRules: []string(exitPolicy),
		Warn: func(s string) { fmt.Fprintln(e.stderr, "warning:", s) },
		OnSettled: func(h common.Address, paid *big.Int) {
			fmt.Fprintf(e.stdout, "settled %s tokens earned through hermes %s\n", tokens(paid), h.Hex())
		},
	}
	if *beneficiary != "" {
		cfg.Beneficiary = common.HexToAddress(*beneficiary)
	}
	if len(offer.Hermes) > 0 {
		chain, closeChain, err := cf.dial(ctx, e, "a provider that takes payments")
		if err != nil {
			return err
		}
		defer closeChain()
		cfg.Chain = chain
	}
	limits := server.Limits{SessionRate: sessionRate.n, TotalRate: totalRate.n, MonthlyCap: monthlyCap.n}
	cfg.Limits = limits
	prov, err := role.StartProvider(ctx, cfg)
	if err != nil {
		return err
	}
	defer prov.Close()
	node, sp := prov.Node, prov.Proposal
	p := sp.Proposal
	fmt.Fprintf(e.stdout, "providing %s in %s (%s) at %s/h and %s/GiB as %s\n", p.Service, p.Country, p.IPType,
		overlay.FormatTokens(p.HourPrice()), overlay.FormatTokens(p.GiBPrice()), node.ID())
	if len(p.Hermes) > 0 {
		fmt.Fprintf(e.stdout, "consumers pay through hermes %s; see `mystp2p earnings`\n", strings.Join(p.Hermes, ", "))
	} else {
		fmt.Fprintln(e.stdout, "free service: consumers do not pay")
	}
	if limits != (server.Limits{}) {
		used, _ := prov.Sessions.MonthUsage()
		fmt.Fprintf(e.stdout, "limits: %s per session, %s in all, monthly cap %s (%s used this month)\n",
			orUnlimited(sessionRate), orUnlimited(totalRate), orUnlimited(monthlyCap), formatSize(used, false))
	}
	printAddrs(e.stdout, node.AddrInfo())
	stopping := notifyServing(e, fmt.Sprintf("providing in %s as %s", p.Country, node.ID()))
	<-ctx.Done()
	stopping()
	fmt.Fprintln(e.stdout, "stopping")
	return nil
}
