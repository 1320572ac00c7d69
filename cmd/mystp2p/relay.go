package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/relay"
)

func cmdRelay(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "relay", "relay [--listen ADDR] [--bootstrap ADDR] [flags]")
	var (
		idf idFlags
		nf  netFlags
	)
	idf.register(fs)
	nf.register(fs)
	ephemeral := fs.Bool("ephemeral", false, "use a throwaway identity instead of the keystore (peer ID changes every start)")
	reach := fs.String("reachability", string(overlay.ReachabilityPublic), "public (a relay must be publicly reachable), private, or auto (ask AutoNAT)")
	carry := fs.Bool("carry-data", false, "also carry WireGuard data for pairs that cannot hole punch (raises the per-connection limits to 1 h and 1 GiB unless --circuit-duration/--circuit-bytes say otherwise)")
	limits := relay.DefaultLimits()
	fs.IntVar(&limits.Reservations, "max-reservations", limits.Reservations, "most peers holding a relay reservation at once")
	fs.IntVar(&limits.CircuitsPerPeer, "max-circuits", limits.CircuitsPerPeer, "most relayed connections per peer")
	fs.DurationVar(&limits.Duration, "circuit-duration", limits.Duration, "time limit of each relayed connection")
	fs.Int64Var(&limits.Data, "circuit-bytes", limits.Data, "byte limit of each relayed connection, each way")
	if err := parseConfig(e, fs, relayRole, args); err != nil {
		return err
	}
	if *carry {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		c := relay.CarryDataLimits()
		if !set["circuit-duration"] {
			limits.Duration = c.Duration
		}
		if !set["circuit-bytes"] {
			limits.Data = c.Data
		}
	}
	if err := limits.Validate(); err != nil {
		return exitUsage{err}
	}
	r := overlay.Reachability(*reach)
	if *reach == "auto" {
		r = overlay.ReachabilityAuto
	} else if r != overlay.ReachabilityPublic && r != overlay.ReachabilityPrivate {
		return exitUsage{fmt.Errorf("--reachability %q: want public, private or auto", *reach)}
	}
	log, err := newLogger(e.stderr, nf.logLevel)
	if err != nil {
		return err
	}
	bootstrap, _, err := nf.peers()
	if err != nil {
		return err
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
	reg, stopMetrics, err := nf.serveMetrics(e)
	if err != nil {
		return err
	}
	defer stopMetrics()
	hc, err := nf.hostConfig(id, nil, reg)
	if err != nil {
		return err
	}
	hc.Reachability = r
	rel, err := role.StartRelay(ctx, role.RelayConfig{
		Node: overlay.Config{
			Host:      hc,
			Bootstrap: bootstrap,
			Logger:    log,
		},
		Limits: &limits,
		// `mystp2p bridge` reads the relay's bridge line from its data
		// directory; an ephemeral relay has one only when given it.
		LocalAPI: !*ephemeral || dataDirSet(fs), DataDir: idf.dataDir,
	})
	if err != nil {
		return err
	}
	defer rel.Close()
	node := rel.Node
	mode := "signalling only"
	if *carry {
		mode = fmt.Sprintf("carrying data: %s and %d bytes per connection", limits.Duration, limits.Data)
	}
	fmt.Fprintf(e.stdout, "relay %s up (%s); bootstrap from:\n", node.ID(), mode)
	printAddrs(e.stdout, node.AddrInfo())
	stopping := notifyServing(e, fmt.Sprintf("relay %s up (%s)", node.ID(), mode))
	<-ctx.Done()
	stopping()
	fmt.Fprintln(e.stdout, "stopping")
	return nil
}
