package main

import (
	"context"
	"encoding/json"
	"fmt"
	"go/build"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// gethDevKey is the key of the account `geth --dev` funds at genesis
// (cmd/utils.DeveloperKey in go-ethereum v1.16): public, for dev chains only.
const gethDevKey = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// gethBinary finds geth: $MYSTP2P_GETH, else on $PATH, else where `go
// install` puts it. Without one the test is skipped; .ci/run installs it.
func gethBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MYSTP2P_GETH"); p != "" {
		return p
	}
	if p, err := exec.LookPath("geth"); err == nil {
		return p
	}
	if p := filepath.Join(build.Default.GOPATH, "bin", "geth"); fileExists(p) {
		return p
	}
	t.Skip("no geth binary: set $MYSTP2P_GETH or install it with `go install github.com/ethereum/go-ethereum/cmd/geth@v1.16.7` (.ci/run does)")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startGeth runs `geth --dev` with a block a second and returns its
// JSON-RPC URL once it answers. The test's Cleanup kills it.
func startGeth(t *testing.T, ctx context.Context, bin string) string {
	t.Helper()
	port := freePort(t)[len("127.0.0.1:"):]
	authPort := freePort(t)[len("127.0.0.1:"):]
	dir := t.TempDir()
	logPath := filepath.Join(dir, "geth.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--dev", "--dev.period", "1", "--datadir", filepath.Join(dir, "data"),
		"--http", "--http.addr", "127.0.0.1", "--http.port", port, "--http.api", "eth,net,web3,txpool",
		"--authrpc.port", authPort, "--ipcdisable", "--nodiscover", "--maxpeers", "0", "--verbosity", "3")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start geth: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- geth log:\n%s", b)
		}
	})
	url := "http://127.0.0.1:" + port
	// geth says nothing on a channel we could wait on: ask until it answers.
	tstest.WaitForNoError(t, 30*time.Second, "geth answers on "+url, func() error {
		select {
		case <-exited:
			t.Fatalf("geth exited: %v", cmd.ProcessState)
		default:
		}
		c, err := ethclient.DialContext(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.BlockNumber(ctx)
		return err
	})
	return url
}

// runMystp2p runs `mystp2p args...` to its end in a child process and
// returns its standard output; its standard error goes to the test log.
func runMystp2p(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := tstest.RunChild(t, name, tstest.ChildConfig{Mode: "main", Args: args, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatalf("mystp2p %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestPaymentsGeth runs the payments of TestPaymentsCLI on a real chain,
// `geth --dev`, every role its own mystp2p process and the chain settings
// coming from the network file that `chain deploy` writes: a hermes stakes,
// a provider charges, a consumer tops up and fetches through SOCKS5, the
// provider settles to its beneficiary, the consumer withdraws what it did
// not spend and the hermes its fees; every balance is read back from geth.
func TestPaymentsGeth(t *testing.T) {
	bin := gethBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	phase("geth starts")
	rpcURL := startGeth(t, ctx, bin)
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	t.Setenv("MYSTP2P_CHAIN_RPC", "")
	t.Setenv("MYSTP2P_CONTRACT", "")

	// The operator deploys with geth's funded dev account.
	deployer, err := identity.FromHex(gethDevKey)
	if err != nil {
		t.Fatal(err)
	}
	depDir := filepath.Join(t.TempDir(), "deployer")
	ks, err := identity.OpenKeystore(filepath.Join(depDir, "keystore"), identity.WithLightScrypt())
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Import(deployer, "pw"); err != nil {
		t.Fatal(err)
	}
	const withdrawDelay = 15 // blocks, a second each
	netFile := filepath.Join(t.TempDir(), "network.json")
	phase("chain deploy")
	out := runMystp2p(t, "chain deploy", "chain", "deploy", "--data-dir", depDir, "--chain-rpc", rpcURL, "--test-token", "--mint", "1000",
		"--min-stake", "1", "--withdraw-delay", fmt.Sprint(withdrawDelay), "--leave-delay", "30", "--out", netFile)
	m := regexp.MustCompile(`(?m)^MYSTP2P_CONTRACT=(0x[0-9a-fA-F]{40})$`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "MYSTP2P_CHAIN_RPC="+rpcURL+"\n") {
		t.Fatalf("chain deploy printed:\n%s", out)
	}
	network := []string{"--network", netFile}

	client, err := ethclient.DialContext(ctx, rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	chain, err := hermes.NewChain(ctx, client, common.HexToAddress(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if chain.ChainID() != 1337 {
		t.Fatalf("geth --dev chain ID %d", chain.ChainID())
	}
	hubDir, hubID := newDataDir(t, "hermes")
	provDir, provID := newDataDir(t, "provider")
	consDir, consID := newDataDir(t, "consumer")
	ether := big.NewInt(params.Ether)
	hundred := new(big.Int).Mul(big.NewInt(100), ether)
	phase("the deployer funds hermes, provider and consumer")
	for _, id := range []*identity.Identity{hubID, provID, consID} {
		if err := chain.SendEther(ctx, deployer, id.Address(), ether); err != nil {
			t.Fatal(err)
		}
		if err := chain.Transfer(ctx, deployer, id.Address(), hundred); err != nil {
			t.Fatal(err)
		}
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 4<<20))
	}))
	defer origin.Close()
	loop := []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}

	relay := startMystp2p(t, "relay", append([]string{"relay", "--ephemeral"}, loop...)...)
	rm, _ := relay.Match(0, `^\s+(/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)$`, time.Minute)
	boot := rm[1]

	phase("hermes stakes and starts")
	hub := startMystp2p(t, "hermes", append(append([]string{"hermes", "--data-dir", hubDir, "--bootstrap", boot, "--fee-bp", "250",
		"--settle-interval", "1h", "--watch-interval", "1s", "--stake", "5"}, network...), loop...)...)
	hub.Match(0, `^registered 0x[0-9a-fA-F]{40} as a hermes with a stake of 5 tokens`, time.Minute)
	hub.Match(0, `^hermes 16Uiu2\S+ \(0x`, time.Minute)
	hubAddr := hubID.Address().Hex()

	phase("provider starts")
	prov := startMystp2p(t, "provider", append(append([]string{"provide", "--data-dir", provDir, "--bootstrap", boot, "--country", "DE",
		"--price-hour", "0.5", "--price-gib", "2", "--hermes", hubAddr, "--exit-policy", "allow-loopback",
		"--settle-threshold", "0", "--proposal-ttl", "1m", "--invoice-interval", "1s"}, network...), loop...)...)
	prov.Match(0, `^providing wireguard`, time.Minute)

	phase("consumer tops up")
	out = runMystp2p(t, "account topup", append([]string{"account", "topup", "--data-dir", consDir, "--hermes", hubAddr, "--amount", "10"}, network...)...)
	if !strings.Contains(out, "now holds 10 ") {
		t.Fatalf("account topup printed:\n%s", out)
	}

	phase("consumer connects")
	socks := freePort(t)
	cons := startMystp2p(t, "consumer", append([]string{"connect", "--data-dir", consDir, "--bootstrap", boot, "--hermes", hubID.PeerID().String(),
		"--socks", socks}, loop...)...)
	cons.Match(0, `^SOCKS5 ready on .* via `+provID.PeerID().String(), time.Minute)
	phase("fetch 16 MiB through SOCKS5")
	for range 4 {
		n, err := testnet.FetchThroughSOCKS(ctx, socks, origin.URL+"/", io.Discard)
		if err != nil || n != 4<<20 {
			t.Fatalf("fetch through SOCKS5: %d bytes, %v", n, err)
		}
	}
	earnings := func() role.EarningRow {
		t.Helper()
		out, err := tstest.RunChild(t, "earnings", tstest.ChildConfig{Mode: "main", Args: []string{"earnings", "--data-dir", provDir, "--json"}})
		if err != nil {
			t.Fatalf("earnings: %v\n%s", err, out)
		}
		var rows []role.EarningRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) > 1 {
			t.Fatalf("earnings --json printed %q: %v", out, err)
		}
		if len(rows) == 0 {
			return role.EarningRow{Earned: "0", Unsettled: "0", Fee: "0"}
		}
		return rows[0]
	}
	// 16 MiB at 2 tokens a GiB is 1/32 token, invoiced every second.
	tstest.WaitForNoError(t, time.Minute, "the provider earns", func() error {
		if e := amount(t, earnings().Earned); e.Cmp(new(big.Int).Div(ether, big.NewInt(40))) < 0 {
			return fmt.Errorf("earned %s tokens so far", tokens(e))
		}
		return nil
	})
	phase("consumer stops")
	interrupt(t, cons)
	cm, _ := cons.Match(0, `^promised to hermes .* so far: ([0-9.]+) tokens`, time.Second)

	phase("settle")
	ben := common.HexToAddress("0x00000000000000000000000000000000000000b2")
	out = runMystp2p(t, "settle", append([]string{"settle", "--data-dir", provDir, "--beneficiary", ben.Hex()}, network...)...)
	if !strings.Contains(out, "settled, ") {
		t.Fatalf("settle printed:\n%s", out)
	}
	final := earnings()
	if final.Unsettled != "0" {
		t.Fatalf("unsettled after settle: %+v", final)
	}
	got, err := chain.TokenBalance(ctx, ben)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sign() == 0 || got.Cmp(amount(t, final.Earned)) != 0 {
		t.Fatalf("beneficiary holds %s on geth, the provider earned %s", got, final.Earned)
	}

	phase("consumer withdraws")
	out = runMystp2p(t, "account withdraw", append([]string{"account", "withdraw", "--data-dir", consDir, "--hermes", hubAddr}, network...)...)
	if !strings.Contains(out, "withdrawal announced") {
		t.Fatalf("account withdraw printed:\n%s", out)
	}
	var ch hermes.ChannelState
	// The hermes's settlement and the blocks show on chain only.
	tstest.WaitForNoError(t, withdrawDelay*time.Second, "the hermes settles the withdrawing consumer's promises", func() error {
		if ch, err = chain.ConsumerChannel(ctx, consID.Address(), hubID.Address()); err != nil {
			return err
		}
		if s := tokens(ch.Settled); s != cm[1] {
			return fmt.Errorf("settled %s of the %s tokens the consumer promised", s, cm[1])
		}
		return nil
	})
	tstest.WaitForNoError(t, 2*withdrawDelay*time.Second, "the withdrawal falls due", func() error {
		head, err := chain.BlockNumber(ctx)
		if err == nil && head < ch.WithdrawBlock {
			err = fmt.Errorf("block %d, due at %d", head, ch.WithdrawBlock)
		}
		return err
	})
	unspent := new(big.Int).Sub(new(big.Int).Mul(big.NewInt(10), ether), ch.Settled)
	out = runMystp2p(t, "account withdraw --complete", append([]string{"account", "withdraw", "--data-dir", consDir, "--hermes", hubAddr, "--complete"}, network...)...)
	if !strings.Contains(out, "withdrew "+tokens(unspent)+" tokens") {
		t.Fatalf("account withdraw --complete printed:\n%s\nwant %s tokens back", out, tokens(unspent))
	}
	consTokens, err := chain.TokenBalance(ctx, consID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Sub(hundred, ch.Settled); consTokens.Cmp(want) != 0 {
		t.Fatalf("consumer holds %s tokens after its withdrawal, want %s", tokens(consTokens), tokens(want))
	}

	phase("hermes stops and withdraws its fees")
	interrupt(t, hub)
	hs, err := chain.Hub(ctx, hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if hs.Fees.Sign() == 0 || hs.Fees.Cmp(amount(t, final.Fee)) != 0 {
		t.Fatalf("hermes earned %s in fees on chain, the provider's promises carry %s", hs.Fees, final.Fee)
	}
	if books := new(big.Int).Sub(ch.Settled, got); books.Sub(books, hs.Fees).Sign() != 0 {
		t.Fatalf("books: consumer spent %s, provider settled %s, hermes fees %s", ch.Settled, got, hs.Fees)
	}
	out = runMystp2p(t, "hermes withdraw", append([]string{"hermes", "withdraw", "--data-dir", hubDir, "--all"}, network...)...)
	if !strings.Contains(out, "withdrew "+tokens(hs.Fees)+" tokens of earned fees") {
		t.Fatalf("hermes withdraw printed:\n%s", out)
	}
	hubTokens, err := chain.TokenBalance(ctx, hubID.Address())
	if err != nil {
		t.Fatal(err)
	}
	if want := new(big.Int).Add(new(big.Int).Sub(hundred, hs.Stake), hs.Fees); hubTokens.Cmp(want) != 0 {
		t.Fatalf("hermes holds %s tokens after withdrawing its fees, want %s", tokens(hubTokens), tokens(want))
	}
	phase("provider stops")
	interrupt(t, prov)
}
