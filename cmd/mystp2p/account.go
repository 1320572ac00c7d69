package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/overlay"
)

func cmdAccount(ctx context.Context, e env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "topup":
			return cmdTopUp(ctx, e, args[1:])
		case "withdraw":
			return cmdAccountWithdraw(ctx, e, args[1:])
		}
	}
	fs := newFlagSet(e, "account", "account [topup|withdraw] --chain-rpc URL --contract ADDR [--hermes ID] [--bootstrap ADDR] [flags]")
	var (
		idf     idFlags
		nf      netFlags
		cf      chainFlags
		hermesF listFlag
	)
	idf.register(fs)
	nf.register(fs)
	cf.register(fs)
	fs.Var(&hermesF, "hermes", "show the channel with this hermes, by 0x address or peer ID (repeatable; default: every hermes found with --bootstrap)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var hubs []hermesID
	for _, h := range hermesF {
		id, err := parseHermesID("--hermes", h)
		if err != nil {
			return err
		}
		hubs = append(hubs, id)
	}
	bootstrap, relays, err := nf.peers()
	if err != nil {
		return err
	}
	chain, closeChain, err := cf.dial(ctx, e, "account")
	if err != nil {
		return err
	}
	defer closeChain()
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	addr := id.Address()
	gas, err := chain.GasBalance(ctx, addr)
	if err != nil {
		return err
	}
	tok, err := chain.TokenBalance(ctx, addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "identity %s (peer %s)\nchain %d, registry %s\nether (gas) %s\ntokens      %s\n",
		addr.Hex(), id.PeerID(), chain.ChainID(), chain.Registry().Hex(), tokens(gas), tokens(tok))
	if err := printHub(ctx, e, chain, addr); err != nil {
		return err
	}

	// What each hermes says this identity may spend needs the network.
	spendable := map[string]string{}
	if len(bootstrap) > 0 {
		log, err := newLogger(e.stderr, nf.logLevel)
		if err != nil {
			return err
		}
		hc, err := nf.hostConfig(id, relays, nil)
		if err != nil {
			return err
		}
		node, err := overlay.New(ctx, overlay.Config{
			Host:      hc,
			Bootstrap: bootstrap,
			Logger:    log,
		})
		if err != nil {
			return err
		}
		defer node.Close()
		var ads []*overlay.SignedProposal
		if len(hubs) == 0 {
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			ads, err = node.DiscoverHermes(dctx)
			cancel()
			if err != nil {
				return fmt.Errorf("find hermes hubs: %w", err)
			}
			for _, ad := range ads {
				hubs = append(hubs, hermesID{addr: ad.Proposal.HermesAddress(), peer: ad.Proposal.Provider})
			}
		}
		for _, h := range hubs {
			hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			st, err := hubBalance(hctx, node, h)
			cancel()
			if err != nil {
				spendable[h.addr.Hex()] = "unknown: " + err.Error()
				continue
			}
			spendable[h.addr.Hex()] = fmt.Sprintf("%s (promised %s, of which the hermes fee at %d bp took %s)",
				tokens(st.Spendable()), tokens(st.Promised), st.FeeBp, tokens(st.Fee))
		}
	}
	if len(hubs) == 0 {
		fmt.Fprintln(e.stdout, "no hermes named: give --hermes ID, or --bootstrap ADDR to list the channels with every hermes on the network")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HERMES\tDEPOSITED\tHELD\tSPENDABLE AT HERMES\tWITHDRAWAL")
	for _, h := range hubs {
		ch, err := chain.ConsumerChannel(ctx, addr, h.addr)
		if err != nil {
			return err
		}
		sp, ok := spendable[h.addr.Hex()]
		if !ok {
			sp = "(give --bootstrap to ask the hermes)"
		}
		wd := "-"
		if ch.Withdrawing() {
			wd = "due at " + blocksLeft(ctx, chain, ch.WithdrawBlock)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h, tokens(ch.Deposited()), tokens(ch.Balance), sp, wd)
	}
	return tw.Flush()
}

// printHub shows what the Registry holds for addr if it is a hermes.
func printHub(ctx context.Context, e env, chain *hermes.Chain, addr common.Address) error {
	st, err := chain.Hub(ctx, addr)
	if err != nil || !st.Registered {
		return err
	}
	fmt.Fprintf(e.stdout, "hermes: stake %s, owed to providers %s, fees earned %s (withdraw with `mystp2p hermes withdraw`), fees waiting for consumer funds %s\n",
		tokens(st.Stake), tokens(st.Owed), tokens(st.Fees), tokens(st.FeesPending))
	if st.Leaving() {
		fmt.Fprintf(e.stdout, "hermes is leaving: stake due at %s (`mystp2p hermes leave --complete`)\n", blocksLeft(ctx, chain, st.LeaveBlock))
	}
	return nil
}

// hubBalance asks a hermes what this node's channel with it may still spend.
func hubBalance(ctx context.Context, node *overlay.Node, h hermesID) (hermes.ConsumerState, error) {
	name := h.raw
	if name == "" {
		name = h.peer.String()
	}
	ad, err := node.FindHermes(ctx, name)
	if err != nil {
		return hermes.ConsumerState{}, err
	}
	client, err := node.HermesClient(ad)
	if err != nil {
		return hermes.ConsumerState{}, err
	}
	return client.Consumer(ctx, node.Identity().Address())
}

func cmdTopUp(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "account topup", "account topup --amount N --hermes ID --chain-rpc URL --contract ADDR [flags]")
	var (
		idf idFlags
		cf  chainFlags
	)
	idf.register(fs)
	cf.register(fs)
	amount := fs.String("amount", "", "tokens to add to the channel (required), e.g. 10")
	hub := fs.String("hermes", "", "the hermes whose channel to top up, by 0x address or peer ID (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	value, err := tokenAmount("--amount", *amount)
	if err != nil {
		return err
	}
	if *hub == "" {
		return exitUsage{errors.New("account topup needs --hermes ID: the hub you will pay through (list them with `mystp2p proposals --service hermes`)")}
	}
	h, err := parseHermesID("--hermes", *hub)
	if err != nil {
		return err
	}
	chain, closeChain, err := cf.dial(ctx, e, "account topup")
	if err != nil {
		return err
	}
	defer closeChain()
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	if err := needHermes(ctx, chain, h.addr, h.String()); err != nil {
		return err
	}
	if st, err := chain.Hub(ctx, h.addr); err != nil {
		return err
	} else if st.Leaving() {
		return fmt.Errorf("hermes %s is leaving (it announced so on chain) and takes no top-ups: pick another hermes (`mystp2p proposals --service hermes`)", h)
	}
	if err := needFunds(ctx, chain, id.Address(), value, "a top-up"); err != nil {
		return err
	}
	txs, err := chain.TopUpTx(ctx, id, id.Address(), h.addr, value)
	if err != nil {
		return fmt.Errorf("top up: %w", err)
	}
	ch, err := chain.ConsumerChannel(ctx, id.Address(), h.addr)
	if err != nil {
		return err
	}
	var gasUsed uint64
	for _, t := range txs {
		gasUsed += t.GasUsed
	}
	fmt.Fprintf(e.stdout, "topped up %s tokens: your channel with hermes %s now holds %s (%s deposited in all)\ngas: %d in %d transactions, %s ether (last tx %s)\n",
		tokens(value), h, tokens(ch.Balance), tokens(ch.Deposited()), gasUsed, len(txs), tokens(hermes.GasCost(txs...)), txs[len(txs)-1].Hash.Hex())
	return nil
}
