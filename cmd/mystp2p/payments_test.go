package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// newDataDir makes a data directory with a fresh identity (light scrypt,
// so that every process unlocks it quickly).
func newDataDir(t *testing.T, name string) (string, *identity.Identity) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	ks, err := identity.OpenKeystore(filepath.Join(dir, "keystore"), identity.WithLightScrypt())
	if err != nil {
		t.Fatal(err)
	}
	id, err := ks.New("pw")
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

// fixedListen picks a port free for TCP and UDP on loopback and returns the
// listen flags for it, so that a restarted node comes back where its peers
// knew it (as an operator's node would).
func fixedListen(t *testing.T) []string {
	t.Helper()
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return []string{"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), "--listen", fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", port)}
	}
	t.Fatal("no port free for both TCP and UDP")
	return nil
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// earningsOf reads a provider's earnings with `mystp2p earnings --json`.
func earningsOf(t *testing.T, dir string) role.EarningRow {
	t.Helper()
	out, _, err := runCmd(t, context.Background(), "earnings", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatalf("earnings: %v", err)
	}
	var rows []role.EarningRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("earnings --json printed %q: %v", out, err)
	}
	switch len(rows) {
	case 0:
		return role.EarningRow{Earned: "0", Unsettled: "0", Promised: "0", Fee: "0", Settled: "0", FeeSettled: "0"}
	case 1:
		return rows[0]
	}
	t.Fatalf("earnings through %d hermes, want 1", len(rows))
	return role.EarningRow{}
}

func amount(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("amount %q", s)
	}
	return v
}

// TestPaymentsCLI runs payments as users would, each role its own mystp2p
// process on loopback and a dev chain over JSON-RPC: a hermes registers
// and advertises, a consumer tops up and connects paying through it, a
// provider earns. The provider and then the hermes are killed with
// SIGKILL in the middle of the session and restarted: nothing earned is
// lost, the session goes on paying, the provider settles to its
// beneficiary, and the books balance on chain to the base unit. Then the
// consumer withdraws what it did not spend (the running hermes settles its
// promises first) and the hermes withdraws its fees.
func TestPaymentsCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	// A block a second; the hermes reads the chain every second, well
	// within the withdraw delay.
	chain, err := devchain.New(ctx, devchain.Config{Listen: "127.0.0.1:0", MinStake: big.NewInt(params.Ether), WithdrawDelay: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	t.Setenv("MYSTP2P_CHAIN_RPC", chain.RPCURL())
	t.Setenv("MYSTP2P_CONTRACT", chain.Deployment.Registry.Hex())
	hubDir, hubID := newDataDir(t, "hermes")
	provDir, provID := newDataDir(t, "provider")
	consDir, consID := newDataDir(t, "consumer")
	ether := big.NewInt(params.Ether)
	hundred := new(big.Int).Mul(big.NewInt(100), ether)
	for _, id := range []*identity.Identity{hubID, provID, consID} {
		if err := chain.Fund(ctx, id.Address(), ether, hundred); err != nil {
			t.Fatal(err)
		}
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 4<<20))
	}))
	defer origin.Close()
	start := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	loop := []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}

	relay := startMystp2p(t, "relay", append([]string{"relay", "--ephemeral"}, loop...)...)
	m, _ := relay.Match(0, `^\s+(/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)$`, time.Minute)
	boot := m[1]

	hubArgs := append([]string{"hermes", "--data-dir", hubDir, "--bootstrap", boot, "--fee-bp", "250", "--settle-interval", "1h", "--watch-interval", "1s"}, fixedListen(t)...)
	// A hermes that is not registered says how to register.
	out, _, err := runCmd(t, ctx, append(hubArgs[:len(hubArgs):len(hubArgs)], "--log-level", "error")...)
	if err == nil || !strings.Contains(err.Error(), "--stake") {
		t.Fatalf("unregistered hermes: %v\n%s", err, out)
	}
	phase("hermes starts")
	hub := startMystp2p(t, "hermes", append(hubArgs, "--stake", "5")...)
	hub.Match(0, `^hermes 16Uiu2\S+ \(0x`, time.Minute)
	hubAddr := hubID.Address().Hex()

	provArgs := append([]string{"provide", "--data-dir", provDir, "--bootstrap", boot, "--country", "DE",
		"--price-hour", "0.5", "--price-gib", "2", "--hermes", hubAddr, "--exit-policy", "allow-loopback",
		"--settle-threshold", "0", "--proposal-ttl", "1m", "--invoice-interval", "1s"}, fixedListen(t)...)
	phase("provider starts")
	prov := startMystp2p(t, "provider", provArgs...)
	prov.Match(0, `^providing wireguard`, time.Minute)

	phase("connect without balance")
	// Without a top-up the consumer is refused before any provider is asked.
	socks := freePort(t)
	connArgs := append([]string{"connect", "--data-dir", consDir, "--bootstrap", boot, "--hermes", hubID.PeerID().String(),
		"--socks", socks, "--auto-reconnect"}, loop...)
	_, _, err = runCmd(t, ctx, append(connArgs[:len(connArgs):len(connArgs)], "--log-level", "error")...)
	if err == nil || !strings.Contains(err.Error(), "account topup") {
		t.Fatalf("connect without a balance: %v", err)
	}
	phase("topup")
	// More than the consumer holds: refused before any transaction.
	_, _, err = runCmd(t, ctx, "account", "topup", "--data-dir", consDir, "--hermes", hubAddr, "--amount", "1000")
	if err == nil || !strings.Contains(err.Error(), "holds only 100") {
		t.Fatalf("topup beyond the balance: %v", err)
	}
	// A hermes that is not registered on this contract.
	_, _, err = runCmd(t, ctx, "account", "topup", "--data-dir", consDir, "--hermes", provID.Address().Hex(), "--amount", "1")
	if err == nil || !strings.Contains(err.Error(), "not a registered hermes") {
		t.Fatalf("topup with a provider as hermes: %v", err)
	}
	out, _, err = runCmd(t, ctx, "account", "topup", "--data-dir", consDir, "--hermes", hubID.PeerID().String(), "--amount", "10")
	if err != nil || !strings.Contains(out, "now holds 10 ") || !regexp.MustCompile(`gas: [1-9][0-9]* in 2 transactions, [0-9.]+ ether`).MatchString(out) {
		t.Fatalf("topup: %v\n%s", err, out)
	}
	phase("account")
	out, _, err = runCmd(t, ctx, "account", "--data-dir", consDir, "--bootstrap", boot, "--log-level", "error")
	if err != nil || !regexp.MustCompile(`\(`+hubAddr+`\)\s+10\s+10\s+10 \(promised 0, of which the hermes fee at 250 bp took 0\)`).MatchString(out) {
		t.Fatalf("account: %v\n%s", err, out)
	}

	phase("consumer starts")
	cons := startMystp2p(t, "consumer", connArgs...)
	_, at := cons.Match(0, `^SOCKS5 ready on .* via `+provID.PeerID().String(), time.Minute)
	url := origin.URL + "/"
	fetch := func(why string) {
		t.Helper()
		// Between sessions the SOCKS5 port refuses; try until a session is up.
		tstest.WaitForNoError(t, 90*time.Second, why+": a fetch through SOCKS5", func() error {
			n, err := testnet.FetchThroughSOCKS(ctx, socks, url, io.Discard)
			if err == nil && n != 4<<20 {
				err = fmt.Errorf("%d bytes, want %d", n, 4<<20)
			}
			return err
		})
	}
	// waitEarned waits until the provider's store holds more than floor.
	waitEarned := func(why string, floor *big.Int) *big.Int {
		t.Helper()
		var e *big.Int
		tstest.WaitForNoError(t, 60*time.Second, why+": earnings above "+floor.String(), func() error {
			if e = amount(t, earningsOf(t, provDir).Earned); e.Cmp(floor) <= 0 {
				return fmt.Errorf("earnings stayed at %s", e)
			}
			return nil
		})
		return e
	}
	phase("first fetch")
	fetch("first session")
	earned := waitEarned("first session", new(big.Int))

	// Settle through the running provider, naming a beneficiary, which is
	// registered on chain and gets every later settlement too.
	ben := common.HexToAddress("0x00000000000000000000000000000000000000b1")
	phase("settle")
	out, _, err = runCmd(t, ctx, "settle", "--data-dir", provDir, "--beneficiary", ben.Hex())
	if err != nil || !strings.Contains(out, "settled, ") {
		t.Fatalf("settle: %v\n%s", err, out)
	}

	// kill -9 the provider mid-session: what it acknowledged is on disk.
	phase("kill -9 provider")
	prov.Kill()
	afterKill := earningsOf(t, provDir) // read from the store: the API died with it
	if amount(t, afterKill.Earned).Cmp(earned) < 0 {
		t.Fatalf("provider earned %s before kill -9, its store holds %s after", earned, afterKill.Earned)
	}
	// The restarted provider settles by itself above a small threshold.
	phase("provider restarts")
	prov = startMystp2p(t, "provider (restarted)", append(provArgs, "--settle-threshold", "0.001")...)
	prov.Match(0, `^providing wireguard`, time.Minute)
	phase("consumer reconnects")
	cons.Match(at, `^SOCKS5 ready on .* via `+provID.PeerID().String(), 90*time.Second)
	phase("fetch after provider restart")
	fetch("session after the provider restarted")
	earned = waitEarned("after the provider restarted", amount(t, afterKill.Earned))
	prov.Match(0, `^settled [0-9.]+ tokens earned through hermes `+hubAddr, time.Minute)

	// kill -9 the hermes mid-session and restart it: payments go on.
	phase("kill -9 hermes")
	hub.Kill()
	hub = startMystp2p(t, "hermes (restarted)", hubArgs...)
	hub.Match(0, `^hermes 16Uiu2\S+ \(0x`, time.Minute)
	phase("fetch after hermes restart")
	fetch("session after the hermes restarted")
	waitEarned("after the hermes restarted", earned)

	phase("consumer stops")
	interrupt(t, cons)
	m, _ = cons.Match(0, `^promised to hermes .* so far: ([0-9.]+) tokens`, time.Second)
	t.Logf("consumer promised %s tokens", m[1])

	phase("settle the rest")
	out, _, err = runCmd(t, ctx, "settle", "--data-dir", provDir)
	if err != nil || !(strings.Contains(out, "settled, ") || strings.Contains(out, "nothing to settle")) {
		t.Fatalf("settle: %v\n%s", err, out)
	}
	final := earningsOf(t, provDir)
	if final.Unsettled != "0" {
		t.Fatalf("unsettled after settle: %+v", final)
	}
	if len(final.Settlements) == 0 || final.GasUsed == 0 || amount(t, final.GasSpent).Sign() <= 0 || final.Settlements[len(final.Settlements)-1].Tx == "" {
		t.Fatalf("earnings show no settlement gas after settling: %+v", final)
	}
	if out, _, err := runCmd(t, ctx, "earnings", "--data-dir", provDir); err != nil ||
		!regexp.MustCompile(`FEES PAID\s+GAS SPENT \(ETHER\)`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^last settlements with hermes `+hubAddr+`:$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d+\s+[0-9.]+\s+[0-9.]+\s+[1-9]\d*\s+[0-9.]+\s+[0-9.]+\s+0x[0-9a-f]{64}$`).MatchString(out) {
		t.Fatalf("earnings: %v\n%s", err, out)
	}
	got, err := chain.Chain.TokenBalance(ctx, ben)
	if err != nil {
		t.Fatal(err)
	}
	own, err := chain.Chain.TokenBalance(ctx, provID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if got.Cmp(amount(t, final.Earned)) != 0 || own.Cmp(hundred) != 0 {
		t.Fatalf("beneficiary holds %s, the provider %s (funded with %s); provider earned %s", got, own, hundred, final.Earned)
	}

	// The consumer withdraws: the running hermes sees the announcement and
	// pulls the consumer's promises before the withdrawal is due.
	phase("consumer withdraws")
	out, _, err = runCmd(t, ctx, "account", "withdraw", "--data-dir", consDir, "--hermes", hubAddr)
	if err != nil || !strings.Contains(out, "withdrawal announced") {
		t.Fatalf("account withdraw: %v\n%s", err, out)
	}
	var ch hermes.ChannelState
	// The watcher's settlement shows on chain only (no event reaches this test).
	tstest.WaitForNoError(t, time.Minute, "the hermes settles the withdrawing consumer's promises", func() error {
		if ch, err = chain.Chain.ConsumerChannel(ctx, consID.Address(), hubID.Address()); err != nil {
			return err
		}
		if got := tokens(ch.Settled); got != m[1] {
			return fmt.Errorf("settled %s of the %s tokens the consumer promised", got, m[1])
		}
		return nil
	})
	head, err := chain.Chain.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head >= ch.WithdrawBlock {
		t.Fatalf("the hermes settled at block %d, the withdrawal was due at %d", head, ch.WithdrawBlock)
	}
	chain.Mine(int(ch.WithdrawBlock - head))
	out, _, err = runCmd(t, ctx, "account", "withdraw", "--data-dir", consDir, "--hermes", hubAddr, "--complete")
	unspent := new(big.Int).Sub(new(big.Int).Mul(big.NewInt(10), ether), ch.Settled)
	if err != nil || !strings.Contains(out, "withdrew "+tokens(unspent)+" tokens") {
		t.Fatalf("account withdraw --complete: %v\n%s\nwant %s tokens back", err, out, tokens(unspent))
	}

	// Nothing is left for the hermes to pull on the way out.
	phase("hermes stops")
	interrupt(t, hub)
	ch, err = chain.Chain.ConsumerChannel(ctx, consID.Address(), hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if ch.Balance.Sign() != 0 || ch.Withdrawing() {
		t.Fatalf("consumer channel after the withdrawal %+v", ch)
	}
	hs, err := chain.Chain.Hub(ctx, hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	spent, fees := ch.Settled, new(big.Int).Sub(hs.Pool(), hs.Stake)
	mismatch := new(big.Int).Sub(spent, got)
	mismatch.Sub(mismatch, fees)
	if mismatch.Sign() != 0 || spent.Sign() == 0 {
		t.Fatalf("books: consumer spent %s, provider settled %s, hermes fees %s, mismatch %s", spent, got, fees, mismatch)
	}
	if fees.Cmp(amount(t, final.Fee)) != 0 || hs.Fees.Cmp(fees) != 0 {
		t.Fatalf("hermes pool holds %s beyond its stake and %s in fees, the provider's promises carry %s", fees, hs.Fees, final.Fee)
	}
	phase("hermes withdraws its fees")
	out, _, err = runCmd(t, ctx, "hermes", "withdraw", "--data-dir", hubDir, "--all")
	if err != nil || !strings.Contains(out, "withdrew "+tokens(fees)+" tokens of earned fees") {
		t.Fatalf("hermes withdraw: %v\n%s", err, out)
	}
	hubTokens, err := chain.Chain.TokenBalance(ctx, hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Add(new(big.Int).Sub(hundred, hs.Stake), fees); hubTokens.Cmp(want) != 0 {
		t.Fatalf("hermes holds %s tokens after withdrawing its fees, want %s", hubTokens, want)
	}
	phase("provider stops")
	interrupt(t, prov)
}

// interrupt sends Ctrl-C and waits for a clean exit.
func interrupt(t *testing.T, c *tstest.Child) {
	t.Helper()
	if err := c.Signal(os.Interrupt); err != nil {
		t.Fatalf("%s: %v", c.Name(), err)
	}
	c.Wait(90 * time.Second)
}
