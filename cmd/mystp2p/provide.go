package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/mystp2p/mystp2p/overlay"
)

func cmdProvide(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "provide", "provide --country CC --ip-type TYPE --price-hour X --price-gib Y --bootstrap ADDR [flags]")
	var (
		idf    idFlags
		nf     netFlags
		hermes listFlag
	)
	idf.register(fs)
	nf.register(fs)
	country := fs.String("country", "", "ISO 3166 alpha-2 country of this node's exit (required), e.g. DE")
	ipType := fs.String("ip-type", overlay.IPResidential, "exit IP type: residential, hosting or mobile")
	priceHour := fs.String("price-hour", "", "price per hour in tokens (required), e.g. 0.05")
	priceGiB := fs.String("price-gib", "", "price per GiB in tokens (required), e.g. 0.2")
	fs.Var(&hermes, "hermes", "accepted hermes hub address 0x… (repeatable)")
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
	offer := overlay.Offer{Country: strings.ToUpper(*country), IPType: *ipType, Hermes: hermes}
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
	sp, err := node.Advertise(ctx, offer)
	if err != nil {
		return err
	}
	if err := node.ServeSessions(overlay.ServeConfig{MaxSessions: *maxSessions, Policy: policy}); err != nil {
		return err
	}
	p := sp.Proposal
	fmt.Fprintf(e.stdout, "providing %s in %s (%s) at %s/h and %s/GiB as %s\n", p.Service, p.Country, p.IPType,
		overlay.FormatTokens(p.HourPrice()), overlay.FormatTokens(p.GiBPrice()), node.ID())
	printAddrs(e.stdout, node.AddrInfo())
	<-ctx.Done()
	fmt.Fprintln(e.stdout, "stopping")
	return nil
}
