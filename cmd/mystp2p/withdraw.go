package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// toFlag parses an optional --to address; empty means self.
func toFlag(s string, self common.Address) (common.Address, error) {
	if s == "" {
		return self, nil
	}
	if !common.IsHexAddress(s) {
		return common.Address{}, exitUsage{fmt.Errorf("--to %q is not an address (0x + 40 hex digits)", s)}
	}
	return common.HexToAddress(s), nil
}

// blocksLeft describes how far away block due is.
func blocksLeft(ctx context.Context, chain *hermes.Chain, due uint64) string {
	head, err := chain.BlockNumber(ctx)
	if err != nil || head >= due {
		return fmt.Sprintf("block %d", due)
	}
	return fmt.Sprintf("block %d, %d blocks from now", due, due-head)
}

// cmdAccountWithdraw announces, then completes, the withdrawal of a
// consumer's channel with a hermes.
func cmdAccountWithdraw(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "account withdraw", "account withdraw --hermes ID [--complete] [--to ADDR] --chain-rpc URL --contract ADDR [flags]")
	var (
		idf idFlags
		cf  chainFlags
	)
	idf.register(fs)
	cf.register(fs)
	hub := fs.String("hermes", "", "the hermes whose channel to withdraw from, by 0x address or peer ID (required)")
	complete := fs.Bool("complete", false, "complete a withdrawal announced before, once its delay has passed")
	toF := fs.String("to", "", "pay the withdrawal to this address 0x… (default: this identity)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *hub == "" {
		return exitUsage{errors.New("account withdraw needs --hermes ID: the hub whose channel to withdraw from (see `mystp2p account`)")}
	}
	h, err := parseHermesID("--hermes", *hub)
	if err != nil {
		return err
	}
	chain, closeChain, err := cf.dial(ctx, e, "account withdraw")
	if err != nil {
		return err
	}
	defer closeChain()
	id, err := idf.unlock(e)
	if err != nil {
		return err
	}
	to, err := toFlag(*toF, id.Address())
	if err != nil {
		return err
	}
	again := fmt.Sprintf("mystp2p account withdraw --hermes %s --complete", h.addr.Hex())
	ch, err := chain.ConsumerChannel(ctx, id.Address(), h.addr)
	if err != nil {
		return err
	}
	if *complete {
		if !ch.Withdrawing() {
			return fmt.Errorf("no withdrawal announced from your channel with hermes %s: run `mystp2p account withdraw --hermes %s` first, then complete it once it is due", h, h.addr.Hex())
		}
		if err := needGas(ctx, chain, id.Address()); err != nil {
			return err
		}
		got, tx, err := chain.WithdrawTx(ctx, id, h.addr, to)
		if errors.Is(err, hermes.ErrNotDue) {
			return fmt.Errorf("%w; then run `%s` again", err, again)
		}
		if err != nil {
			return fmt.Errorf("withdraw: %w", err)
		}
		fmt.Fprintf(e.stdout, "withdrew %s tokens from your channel with hermes %s to %s\ngas: %d, %s ether (tx %s)\n",
			tokens(got), h, to.Hex(), tx.GasUsed, tokens(tx.GasCost()), tx.Hash.Hex())
		return nil
	}
	if ch.Withdrawing() {
		fmt.Fprintf(e.stdout, "a withdrawal from your channel with hermes %s is under way (%s tokens held): due at %s; complete it then with `%s`\n",
			h, tokens(ch.Balance), blocksLeft(ctx, chain, ch.WithdrawBlock), again)
		return nil
	}
	if ch.Balance.Sign() == 0 {
		return fmt.Errorf("your channel with hermes %s holds no tokens: nothing to withdraw (see `mystp2p account --hermes %s`)", h, h.addr.Hex())
	}
	if err := needGas(ctx, chain, id.Address()); err != nil {
		return err
	}
	due, tx, err := chain.AnnounceWithdrawalTx(ctx, id, h.addr)
	if err != nil {
		return fmt.Errorf("announce withdrawal: %w", err)
	}
	ch, err = chain.ConsumerChannel(ctx, id.Address(), h.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "withdrawal announced: your channel with hermes %s holds %s tokens; the hermes settles what you promised until it is due at %s\n"+
		"no new sessions pay through this channel meanwhile; complete it then with `%s`\ngas: %d, %s ether (tx %s)\n",
		h, tokens(ch.Balance), blocksLeft(ctx, chain, due), again, tx.GasUsed, tokens(tx.GasCost()), tx.Hash.Hex())
	return nil
}

// hubIdentity dials the chain and unlocks a registered hermes identity.
func hubIdentity(ctx context.Context, e env, idf idFlags, cf chainFlags, why string) (*hermes.Chain, func(), *identity.Identity, hermes.HubState, error) {
	chain, closeChain, err := cf.dial(ctx, e, why)
	if err != nil {
		return nil, nil, nil, hermes.HubState{}, err
	}
	id, err := idf.unlock(e)
	if err != nil {
		closeChain()
		return nil, nil, nil, hermes.HubState{}, err
	}
	st, err := chain.Hub(ctx, id.Address())
	if err != nil {
		closeChain()
		return nil, nil, nil, hermes.HubState{}, err
	}
	if !st.Registered {
		closeChain()
		return nil, nil, nil, hermes.HubState{}, fmt.Errorf("%s is not a registered hermes on registry %s: check --data-dir (or --identity) and --contract",
			id.Address().Hex(), chain.Registry().Hex())
	}
	if err := needGas(ctx, chain, id.Address()); err != nil {
		closeChain()
		return nil, nil, nil, hermes.HubState{}, err
	}
	return chain, closeChain, id, st, nil
}

// cmdHermesWithdraw pays a hub the fees it has earned.
func cmdHermesWithdraw(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "hermes withdraw", "hermes withdraw (--amount N | --all) [--to ADDR] --chain-rpc URL --contract ADDR [flags]")
	var (
		idf idFlags
		cf  chainFlags
	)
	idf.register(fs)
	cf.register(fs)
	amountF := fs.String("amount", "", "tokens of earned fees to withdraw, e.g. 0.5")
	all := fs.Bool("all", false, "withdraw every fee earned so far")
	toF := fs.String("to", "", "pay the fees to this address 0x… (default: this identity)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var amount *big.Int
	switch {
	case *all && *amountF != "":
		return exitUsage{errors.New("hermes withdraw takes --amount N or --all, not both")}
	case !*all && *amountF == "":
		return exitUsage{errors.New("hermes withdraw needs --amount N (tokens of earned fees) or --all")}
	case !*all:
		var err error
		if amount, err = tokenAmount("--amount", *amountF); err != nil {
			return err
		}
	}
	chain, closeChain, id, st, err := hubIdentity(ctx, e, idf, cf, "hermes withdraw")
	if err != nil {
		return err
	}
	defer closeChain()
	to, err := toFlag(*toF, id.Address())
	if err != nil {
		return err
	}
	if amount == nil {
		amount = st.Fees
	}
	if amount.Sign() == 0 || amount.Cmp(st.Fees) > 0 {
		return fmt.Errorf("hermes withdraw of %s tokens: %s holds %s tokens of earned fees (%s more are earned but wait for the consumer funds behind them to be pulled; %s owed to providers and the stake of %s stay: the stake comes back with `mystp2p hermes leave`)",
			tokens(amount), id.Address().Hex(), tokens(st.Fees), tokens(st.FeesPending), tokens(st.Owed), tokens(st.Stake))
	}
	if err := chain.HermesWithdraw(ctx, id, to, amount); err != nil {
		return fmt.Errorf("hermes withdraw: %w", err)
	}
	fmt.Fprintf(e.stdout, "withdrew %s tokens of earned fees to %s\n", tokens(amount), to.Hex())
	return nil
}

// cmdHermesLeave announces a hub's leave, then pays its stake back.
func cmdHermesLeave(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "hermes leave", "hermes leave [--complete] [--to ADDR] --chain-rpc URL --contract ADDR [flags]")
	var (
		idf idFlags
		cf  chainFlags
	)
	idf.register(fs)
	cf.register(fs)
	complete := fs.Bool("complete", false, "withdraw the stake of a leave announced before, once its delay has passed")
	toF := fs.String("to", "", "pay the stake to this address 0x… (default: this identity)")
	if err := parse(fs, args); err != nil {
		return err
	}
	chain, closeChain, id, st, err := hubIdentity(ctx, e, idf, cf, "hermes leave")
	if err != nil {
		return err
	}
	defer closeChain()
	to, err := toFlag(*toF, id.Address())
	if err != nil {
		return err
	}
	if *complete {
		if !st.Leaving() {
			return errors.New("this hermes has not announced its leave: run `mystp2p hermes leave` first, then complete it once it is due")
		}
		got, err := chain.WithdrawStake(ctx, id, to)
		switch {
		case errors.Is(err, hermes.ErrNotDue):
			return fmt.Errorf("%w; then run `mystp2p hermes leave --complete` again", err)
		case errors.Is(err, hermes.ErrNothingToWithdraw):
			return fmt.Errorf("no stake left to withdraw (%s tokens lent to providers come back as consumer promises are pulled; earned fees: `mystp2p hermes withdraw --all`)", tokens(st.Lent))
		case err != nil:
			return fmt.Errorf("hermes leave: %w", err)
		}
		fmt.Fprintf(e.stdout, "stake of %s tokens paid to %s; %s tokens stay owed to providers, %s tokens of fees are yours to withdraw (`mystp2p hermes withdraw --all`)\n",
			tokens(got), to.Hex(), tokens(st.Owed), tokens(st.Fees))
		return nil
	}
	if st.Leaving() {
		fmt.Fprintf(e.stdout, "this hermes is leaving: its stake of %s tokens is due at %s; withdraw it then with `mystp2p hermes leave --complete`\n",
			tokens(st.Stake), blocksLeft(ctx, chain, st.LeaveBlock))
		return nil
	}
	due, err := chain.AnnounceLeave(ctx, id)
	if err != nil {
		return fmt.Errorf("hermes leave: %w", err)
	}
	fmt.Fprintf(e.stdout, "leave announced: the registry takes no more top-ups for this hermes, and a running hub issues no new promises; "+
		"providers can settle, and the hub keeps pulling consumer promises, until the stake of %s tokens is due at %s\n"+
		"withdraw it then with `mystp2p hermes leave --complete`\n", tokens(st.Stake), blocksLeft(ctx, chain, due))
	return nil
}
