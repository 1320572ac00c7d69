package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/peercache"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

func cmdConnect(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "connect", "connect [--country CC | --provider ID] [--socks 127.0.0.1:1080] --bootstrap ADDR | --bridge LINE [flags]")
	var (
		idf     idFlags
		nf      netFlags
		bridges bridgeFlag
	)
	idf.register(fs)
	nf.register(fs)
	bridges.register(fs)
	country := fs.String("country", "", "only providers in this country (ISO 3166 alpha-2)")
	provider := fs.String("provider", "", "use this provider (peer ID)")
	ipType := fs.String("ip-type", "", "only residential, hosting or mobile")
	maxHour := fs.String("max-price-hour", "", "refuse providers charging more per hour (tokens)")
	maxGiB := fs.String("max-price-gib", "", "refuse providers charging more per GiB (tokens)")
	socksAddr := fs.String("socks", tunnel.DefaultSOCKSAddr, "SOCKS5 listen address (loopback unless --socks-allow-lan)")
	socksLAN := fs.Bool("socks-allow-lan", false, "allow a non-loopback SOCKS5 address (anyone who reaches it uses your session)")
	socksUser := fs.String("socks-user", "", "require this SOCKS5 username (RFC 1929)")
	socksPass := fs.String("socks-pass", "", "and this password")
	reconnect := fs.Bool("auto-reconnect", false, "when the provider disappears, move to the next best one")
	transport := fs.String("transport", "", "force the WireGuard transport: udp-mux or udp (direct), or stream (through libp2p)")
	obfs := fs.String("obfs", "prefer", "WireGuard obfuscation: prefer (mask UDP when the provider agrees), require (never send WireGuard a censor can see: masked UDP or inside libp2p only), or off")
	ephemeral := fs.Bool("ephemeral", false, "use a throwaway identity instead of the keystore")
	tunName := fs.String("tun", "", "instead of SOCKS5, carry all of this host's traffic on a TUN device of this name, e.g. mystp2p0 (root; routes and DNS are restored on exit)")
	tunDNS := fs.Bool("tun-dns", true, "with --tun, resolve names at the provider (rewrites /etc/resolv.conf until exit)")
	hub := fs.String("hermes", "", "pay providers through the hermes hub with this `ID`, its 0x address or peer ID; top the channel up first with \"mystp2p account topup\" (without it only free providers will do)")
	maxFee := fs.Uint("max-hermes-fee-bp", 500, "refuse a hermes whose fee is above this, in basis points")
	localAPI := fs.Bool("local-api", true, "serve the local API and dashboard on loopback (`mystp2p status`, `mystp2p dashboard`; docs/API.md)")
	apiAddr := fs.String("api-listen", "", "the local API's `address`, 127.0.0.1:PORT (default: a free port)")
	var cf chainFlags
	cf.register(fs)
	autoTopUp := fs.String("auto-topup", "", "with --hermes, top the channel up on chain by this many `tokens` from your own wallet whenever it runs low (needs --network, or --chain-rpc and --contract)")
	topUpBelow := fs.String("topup-below", "", "with --auto-topup, top up once the channel can spend fewer than this many `tokens`")
	topUpEvery := fs.Duration("topup-every", hermes.DefaultTopUpGap, "with --auto-topup, at most one top-up (or failed try) per this `duration`")
	topUpMax := fs.String("topup-max", "", "with --auto-topup, the most all top-ups of this run may add, in `tokens` (default 10 × --auto-topup)")
	if err := parseConfig(e, fs, consumerRole, args); err != nil {
		return err
	}
	q := overlay.Query{Service: overlay.ServiceWireGuard, Country: strings.ToUpper(*country), IPType: *ipType}
	var err error
	if *provider != "" {
		if q.Provider, err = peer.Decode(*provider); err != nil {
			return exitUsage{fmt.Errorf("--provider %q is not a peer ID: %w", *provider, err)}
		}
	}
	if q.MaxPriceHr, err = optTokens("--max-price-hour", *maxHour); err != nil {
		return err
	}
	if q.MaxPriceGiB, err = optTokens("--max-price-gib", *maxGiB); err != nil {
		return err
	}
	var hubID hermesID
	if *hub != "" {
		if hubID, err = parseHermesID("--hermes", *hub); err != nil {
			return err
		}
		if *ephemeral {
			return exitUsage{errors.New("--hermes pays from your identity's channel: it does not go with --ephemeral")}
		}
	}
	topUp, err := topUpConfig(*autoTopUp, *topUpBelow, *topUpMax, *topUpEvery, *hub != "")
	if err != nil {
		return err
	}
	if *maxFee > overlay.MaxHermesFeeBp {
		return exitUsage{fmt.Errorf("--max-hermes-fee-bp %d: at most %d", *maxFee, overlay.MaxHermesFeeBp)}
	}
	if *apiAddr != "" {
		if err := role.CheckAPIAddr(*apiAddr); err != nil {
			return exitUsage{fmt.Errorf("--api-listen: %w", err)}
		}
	}
	obfsMode, err := client.ParseObfsMode(*obfs)
	if err != nil {
		return exitUsage{fmt.Errorf("--obfs: %w", err)}
	}
	if *transport != "" {
		if _, err := wgpath.Parse(*transport); err != nil {
			return exitUsage{fmt.Errorf("--transport: %w", err)}
		}
	}
	var socksOpts []tunnel.SOCKSOption
	if *socksLAN {
		socksOpts = append(socksOpts, tunnel.WithAllowNonLoopback())
	}
	if (*socksUser == "") != (*socksPass == "") {
		return exitUsage{errors.New("--socks-user and --socks-pass go together")}
	}
	if *socksUser != "" {
		socksOpts = append(socksOpts, tunnel.WithSOCKSAuth(*socksUser, *socksPass))
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
	// The peer cache lives in the data directory; an ephemeral consumer
	// keeps one only in a data directory it was given.
	var cache *peercache.Cache
	if !*ephemeral || dataDirSet(fs) {
		var closeCache func()
		cache, closeCache = openPeerCache(e, idf.dataDir)
		defer closeCache()
	}
	if len(bootstrap) == 0 && (cache == nil || cache.Len() == 0) {
		return exitUsage{errors.New("connect needs at least one --bootstrap peer or --bridge line (or a peer cache from an earlier run)")}
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
	if *hub != "" {
		fmt.Fprintf(e.stdout, "finding hermes %s\n", hubID)
	}
	hc, err := nf.hostConfig(id, relays, reg)
	if err != nil {
		return err
	}
	hc.BridgeSecrets = bridges.remember(cache)
	if topUp != nil {
		chain, closeChain, err := cf.dial(ctx, e, "connect --auto-topup")
		if err != nil {
			return err
		}
		defer closeChain()
		if err := needFunds(ctx, chain, id.Address(), topUp.Amount, "an automatic top-up"); err != nil {
			fmt.Fprintf(e.stderr, "warning: %v; the session runs on what the channel holds until the wallet can pay\n", err)
		}
		topUp.Chain = chain
		topUp.OnTopUp = func(r hermes.TopUpResult) {
			if r.Err != nil {
				fmt.Fprintf(e.stderr, "warning: automatic top-up failed: %v (next try in %s)\n", r.Err, topUp.MinGap)
				return
			}
			fmt.Fprintf(e.stdout, "topped up %s tokens automatically (the channel could spend %s); gas %s ether, tx %s\n",
				tokens(r.Amount), tokens(r.Spendable), tokens(hermes.GasCost(r.Txs...)), r.Txs[len(r.Txs)-1].Hash.Hex())
		}
	}
	ccfg := role.ConsumerConfig{
		Node: overlay.Config{
			Host:      hc,
			Bootstrap: bootstrap,
			PeerCache: cache,
			Logger:    log,
		},
		Hermes: hubID.raw, MaxHermesFeeBp: uint16(*maxFee),
		LocalAPI: *localAPI && (!*ephemeral || dataDirSet(fs)), DataDir: idf.dataDir, APIAddr: *apiAddr, Version: version,
		AutoTopUp: topUp,
	}
	if ccfg.LocalAPI {
		if err := os.MkdirAll(idf.dataDir, 0o700); err != nil {
			return fmt.Errorf("data dir for the local API: %w", err)
		}
	}
	cons, err := role.StartConsumer(ctx, ccfg)
	if errors.Is(err, role.ErrAPIInUse) {
		fmt.Fprintf(e.stderr, "%v; running without a local API\n", err)
		ccfg.LocalAPI = false
		cons, err = role.StartConsumer(ctx, ccfg)
	}
	if errors.Is(err, role.ErrNothingToSpend) {
		return fmt.Errorf("%w: top up with `mystp2p account topup --amount N --hermes %s`", err, hubID.raw)
	}
	if err != nil {
		return err
	}
	defer cons.Close()
	if cons.API != nil {
		fmt.Fprintf(e.stdout, "local API on %s: `mystp2p status` and `mystp2p dashboard` (--data-dir %s) use it\n", cons.API.Addr(), idf.dataDir)
	}
	if pay := cons.Payment; pay != nil {
		st := cons.Hub
		fmt.Fprintf(e.stdout, "paying through hermes %s: %s tokens to spend, fee %d bp\n", hubID, tokens(st.Spendable()), st.FeeBp)
		defer func() {
			amount, fee := pay.Wallet.Promised()
			fmt.Fprintf(e.stdout, "promised to hermes %s so far: %s tokens (%s of it fees), %s left to spend\n",
				hubID, tokens(amount), tokens(fee), tokens(pay.Spendable()))
		}()
	}
	var tun *client.TUNOptions
	if *tunName != "" {
		tun = &client.TUNOptions{Name: *tunName, DNS: *tunDNS}
	}
	err = cons.Run(ctx, client.ConsumeConfig{
		Query: q, Transport: wgpath.Transport(*transport), SOCKSAddr: *socksAddr, SOCKSOptions: socksOpts, TUN: tun,
		AutoReconnect: *reconnect, Obfuscation: obfsMode,
		Progress: func(stage string) { fmt.Fprintln(e.stdout, stage) },
	})
	if errors.Is(err, client.ErrInsufficientBalance) {
		err = fmt.Errorf("%w: top up with `mystp2p account topup --amount N --hermes %s`", err, hubID.raw)
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(e.stdout, "session closed")
		return nil
	}
	if err == nil {
		fmt.Fprintln(e.stdout, "session closed")
	}
	return err
}

// topUpConfig reads connect's auto top-up flags; nil without --auto-topup.
func topUpConfig(amount, below, max string, every time.Duration, haveHermes bool) (*hermes.AutoTopUpConfig, error) {
	if amount == "" {
		if below != "" || max != "" {
			return nil, exitUsage{errors.New("--topup-below and --topup-max go with --auto-topup AMOUNT")}
		}
		return nil, nil
	}
	if !haveHermes {
		return nil, exitUsage{errors.New("--auto-topup tops up your channel with a hermes: give --hermes ID too")}
	}
	cfg := &hermes.AutoTopUpConfig{MinGap: every}
	var err error
	if cfg.Amount, err = tokenAmount("--auto-topup", amount); err != nil {
		return nil, err
	}
	if below == "" {
		return nil, exitUsage{errors.New("--auto-topup needs --topup-below TOKENS: the spendable balance under which to top up")}
	}
	if cfg.Below, err = tokenAmount("--topup-below", below); err != nil {
		return nil, err
	}
	if every <= 0 {
		return nil, exitUsage{fmt.Errorf("--topup-every %s: must be above 0", every)}
	}
	if max != "" {
		if cfg.Max, err = tokenAmount("--topup-max", max); err != nil {
			return nil, err
		}
		if cfg.Max.Cmp(cfg.Amount) < 0 {
			return nil, exitUsage{fmt.Errorf("--topup-max %s is below one top-up of --auto-topup %s: raise it", max, amount)}
		}
	}
	return cfg, nil
}
