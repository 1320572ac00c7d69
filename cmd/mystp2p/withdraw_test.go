package main

import (
	"context"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
)

// signedPromise makes a promise on party's channel with hub, signed by signer.
func signedPromise(t *testing.T, signer *identity.Identity, party, hub common.Address, amount, fee *big.Int) (hermes.Promise, [32]byte) {
	t.Helper()
	r, lock, err := hermes.NewR()
	if err != nil {
		t.Fatal(err)
	}
	p := hermes.Promise{ChainID: devchain.ChainID, ChannelID: hermes.ChannelID(party, hub), Amount: amount, Fee: fee, Hashlock: lock}
	if err := p.Sign(signer); err != nil {
		t.Fatal(err)
	}
	return p, r
}

// TestWithdrawCLI: a consumer withdraws its channel and a hermes its fees
// and then its stake, each in two steps around the Registry's delay, and
// every wrong step gets an error that says what to do.
func TestWithdrawCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	chain, err := devchain.New(ctx, devchain.Config{Listen: "127.0.0.1:0", MinStake: big.NewInt(params.Ether),
		WithdrawDelay: 3, LeaveDelay: 4, BlockEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	t.Setenv("MYSTP2P_CHAIN_RPC", chain.RPCURL())
	t.Setenv("MYSTP2P_CONTRACT", chain.Deployment.Registry.Hex())
	hubDir, hubID := newDataDir(t, "hermes")
	consDir, consID := newDataDir(t, "consumer")
	provDir, provID := newDataDir(t, "provider")
	ether := big.NewInt(params.Ether)
	tok := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), ether) }
	for _, id := range []*identity.Identity{hubID, consID, provID} {
		if err := chain.Fund(ctx, id.Address(), ether, tok(100)); err != nil {
			t.Fatal(err)
		}
	}
	c := chain.Chain
	if err := c.RegisterHermes(ctx, hubID, tok(5)); err != nil {
		t.Fatal(err)
	}
	hub := hubID.Address().Hex()
	wantErr := func(what, contains string, args ...string) error {
		t.Helper()
		out, _, err := runCmd(t, ctx, args...)
		if err == nil || !strings.Contains(err.Error(), contains) {
			t.Fatalf("%s: got %v (printed %q), want an error saying %q", what, err, out, contains)
		}
		return err
	}
	// waitOut mines the blocks a not-yet-due error asks to wait for. (The
	// dev chain may mine an empty block beside a transaction sent in this
	// process, so the count is read, not assumed.)
	waitOut := func(err error) {
		t.Helper()
		m := regexp.MustCompile(`wait (\d+) more blocks`).FindStringSubmatch(err.Error())
		n, _ := strconv.Atoi(m[1])
		if n < 1 {
			t.Fatalf("%v: want at least 1 block to wait", err)
		}
		chain.Mine(n)
	}
	run := func(what string, match string, args ...string) string {
		t.Helper()
		out, _, err := runCmd(t, ctx, args...)
		if err != nil || !regexp.MustCompile(match).MatchString(out) {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		return out
	}

	// Consumer: bad input first.
	wantErr("no hermes", "needs --hermes", "account", "withdraw", "--data-dir", consDir)
	wantErr("bad --to", "--to", "account", "withdraw", "--data-dir", consDir, "--hermes", hub, "--to", "nobody")
	wantErr("empty channel", "holds no tokens", "account", "withdraw", "--data-dir", consDir, "--hermes", hub)
	run("topup", `now holds 10 `, "account", "topup", "--data-dir", consDir, "--hermes", hub, "--amount", "10")
	wantErr("complete before announcing", "account withdraw --hermes "+hub+"` first", "account", "withdraw", "--data-dir", consDir, "--hermes", hub, "--complete")
	run("announce", `withdrawal announced: .* holds 10 tokens.* due at block \d+, \d+ blocks from now(.|\n)*gas: [1-9]\d*, [0-9.]+ ether \(tx 0x`,
		"account", "withdraw", "--data-dir", consDir, "--hermes", hub)
	run("announce again", `under way \(10 tokens held\): due at block \d+, \d+ blocks from now`,
		"account", "withdraw", "--data-dir", consDir, "--hermes", hub)
	run("account during the withdrawal", hub+`\s+10\s+10\s+\(give --bootstrap to ask the hermes\)\s+due at block \d+, \d+ blocks from now`,
		"account", "--data-dir", consDir, "--hermes", hub)
	// The hermes settles a promise of 2 tokens during the delay.
	cp, cr := signedPromise(t, consID, consID.Address(), hubID.Address(), tok(2), new(big.Int))
	if err := c.SettlePromise(ctx, hubID, consID.Address(), hubID.Address(), cp, cr); err != nil {
		t.Fatal(err)
	}
	waitOut(wantErr("complete too early", "withdrawal not yet due: wait ", "account", "withdraw", "--data-dir", consDir, "--hermes", hub, "--complete"))
	before, _ := c.TokenBalance(ctx, consID.Address())
	run("complete", `^withdrew 8 tokens from your channel .*\ngas: [1-9]\d*, [0-9.]+ ether \(tx 0x[0-9a-f]{64}\)`, "account", "withdraw", "--data-dir", consDir, "--hermes", hub, "--complete")
	after, _ := c.TokenBalance(ctx, consID.Address())
	if d := new(big.Int).Sub(after, before); d.Cmp(tok(8)) != 0 {
		t.Fatalf("consumer's tokens grew by %s, want 8 tokens", d)
	}

	// Hermes fees: the provider's settlement of 2 tokens with a fee of 0.5.
	wantErr("fees of a non-hermes", "not a registered hermes", "hermes", "withdraw", "--data-dir", provDir, "--all")
	wantErr("no amount", "--amount N", "hermes", "withdraw", "--data-dir", hubDir)
	wantErr("no fees yet", "holds 0 tokens of earned fees", "hermes", "withdraw", "--data-dir", hubDir, "--amount", "1")
	half := new(big.Int).Div(ether, big.NewInt(2))
	pp, pr := signedPromise(t, hubID, provID.Address(), hubID.Address(), tok(2), half)
	if err := c.SettleProvider(ctx, provID, provID.Address(), hubID.Address(), pp, pr); err != nil {
		t.Fatal(err)
	}
	run("hermes account", `(?m)^hermes: stake 5, owed to providers 0, fees earned 0.5 `, "account", "--data-dir", hubDir)
	wantErr("more than the fees", "holds 0.5 tokens of earned fees", "hermes", "withdraw", "--data-dir", hubDir, "--amount", "1")
	run("fees", `^withdrew 0.5 tokens of earned fees to `+hub, "hermes", "withdraw", "--data-dir", hubDir, "--all")

	// Hermes stake: announce, wait, withdraw.
	wantErr("leave --complete first", "`mystp2p hermes leave` first", "hermes", "leave", "--data-dir", hubDir, "--complete")
	run("leave", `leave announced: .*stake of 5 tokens is due at block \d+, \d+ blocks from now`, "hermes", "leave", "--data-dir", hubDir)
	run("leave again", `is leaving: its stake of 5 tokens is due at block \d+, \d+ blocks from now`, "hermes", "leave", "--data-dir", hubDir)
	wantErr("topup of a leaving hermes", "is leaving (it announced so on chain) and takes no top-ups", "account", "topup", "--data-dir", consDir, "--hermes", hub, "--amount", "1")
	waitOut(wantErr("stake too early", "leave not yet due: wait ", "hermes", "leave", "--data-dir", hubDir, "--complete"))
	run("stake", `^stake of 5 tokens paid to `+hub, "hermes", "leave", "--data-dir", hubDir, "--complete")
	wantErr("stake twice", "no stake left", "hermes", "leave", "--data-dir", hubDir, "--complete")
}
