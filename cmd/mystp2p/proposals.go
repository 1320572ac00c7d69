package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/peercache"
)

func cmdProposals(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "proposals", "proposals --bootstrap ADDR | --bridge LINE [filters] [--json]")
	var (
		idf     idFlags
		nf      netFlags
		bridges bridgeFlag
	)
	idf.register(fs)
	nf.register(fs)
	bridges.register(fs)
	// Listing needs no stable identity: by default a throwaway key, which
	// reveals nothing, and like connect --ephemeral a peer cache only in a
	// --data-dir given.
	ephemeral := fs.Bool("ephemeral", true, "use a throwaway identity instead of the keystore, as connect --ephemeral does (--ephemeral=false: list as this node's identity, with the peer cache of its data directory)")
	country := fs.String("country", "", "only providers in this country (ISO 3166 alpha-2)")
	service := fs.String("service", overlay.ServiceWireGuard, "service type: wireguard (VPN providers) or hermes (payment hubs)")
	ipType := fs.String("ip-type", "", "only residential, hosting or mobile")
	maxHour := fs.String("max-price-hour", "", "only providers charging at most this per hour (tokens)")
	maxGiB := fs.String("max-price-gib", "", "only providers charging at most this per GiB (tokens)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	wait := fs.Duration("wait", 2*time.Second, "how long to listen to gossip before answering")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *service != overlay.ServiceWireGuard && *service != overlay.ServiceHermes {
		return exitUsage{fmt.Errorf("--service %q: want %s or %s", *service, overlay.ServiceWireGuard, overlay.ServiceHermes)}
	}
	q := overlay.Query{Service: *service, Country: strings.ToUpper(*country), IPType: *ipType}
	var err error
	if q.MaxPriceHr, err = optTokens("--max-price-hour", *maxHour); err != nil {
		return err
	}
	if q.MaxPriceGiB, err = optTokens("--max-price-gib", *maxGiB); err != nil {
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
	viaBridge, err := bridges.peers()
	if err != nil {
		return err
	}
	bootstrap = withBridges(viaBridge, bootstrap)
	var cache *peercache.Cache
	if !*ephemeral || dataDirSet(fs) {
		var closeCache func()
		cache, closeCache = openPeerCache(e, idf.dataDir)
		defer closeCache()
	}
	if len(bootstrap) == 0 && (cache == nil || cache.Len() == 0) {
		return exitUsage{fmt.Errorf("proposals needs at least one --bootstrap peer or --bridge line (or a peer cache from an earlier run, with --data-dir)")}
	}
	var id *identity.Identity
	if *ephemeral {
		id, err = identity.Generate()
	} else {
		id, err = idf.unlock(e)
	}
	if err != nil {
		return err
	}
	hc, err := nf.hostConfig(id, relays, nil)
	if err != nil {
		return err
	}
	hc.BridgeSecrets = bridges.remember(cache)
	node, err := overlay.New(ctx, overlay.Config{
		Host:      hc,
		Bootstrap: bootstrap,
		PeerCache: cache,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	defer node.Close()
	dctx, cancel := context.WithTimeout(ctx, *wait+20*time.Second)
	defer cancel()
	select {
	case <-time.After(*wait):
	case <-ctx.Done():
		return ctx.Err()
	}
	ps, err := node.Discover(dctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]overlay.Proposal, len(ps))
		for i, sp := range ps {
			out[i] = sp.Proposal
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	if *service == overlay.ServiceHermes {
		fmt.Fprintln(tw, "HERMES\tADDRESS\tFEE BP\tCHAIN\tREGISTRY\tAGE")
		for _, sp := range ps {
			p := sp.Proposal
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", p.Provider, p.HermesAddress().Hex(), p.HermesTerms.FeeBp,
				p.HermesTerms.ChainID, p.HermesTerms.Registry, time.Since(p.Issued()).Round(time.Second))
		}
	} else {
		fmt.Fprintln(tw, "PROVIDER\tCOUNTRY\tIP TYPE\tPER HOUR\tPER GIB\tPAY THROUGH\tAGE")
		for _, sp := range ps {
			p := sp.Proposal
			hour, gib, pay := overlay.FormatTokens(p.HourPrice()), overlay.FormatTokens(p.GiBPrice()), strings.Join(p.Hermes, ",")
			if !p.Charges() {
				hour, gib, pay = "0", "0", "free"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Provider, p.Country, p.IPType, hour, gib, pay,
				time.Since(p.Issued()).Round(time.Second))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Fprintln(e.stderr, "no matching proposals (widen the filters or check --bootstrap)")
	}
	return nil
}

func optTokens(flag, s string) (*big.Int, error) {
	if s == "" {
		return nil, nil
	}
	v, err := overlay.ParseTokens(s)
	if err != nil {
		return nil, exitUsage{fmt.Errorf("%s: %w", flag, err)}
	}
	return v, nil
}
