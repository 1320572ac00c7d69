package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// TestAutoTopUpCLI: a consumer connects with --auto-topup, each role its
// own mystp2p process over a dev chain's JSON-RPC. Its session pays more
// than twice what the channel held at start, and keeps going: the consumer
// tops the channel up from its own wallet whenever it runs low.
func TestAutoTopUpCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	chain, err := devchain.New(ctx, devchain.Config{Listen: "127.0.0.1:0", MinStake: big.NewInt(params.Ether)})
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
	const size = 4 << 20
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, size))
	}))
	defer origin.Close()
	loop := []string{"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1"}
	relay := startMystp2p(t, "relay", append([]string{"relay", "--ephemeral"}, loop...)...)
	m, _ := relay.Match(0, `^\s+(/ip4/127\.0\.0\.1/tcp/\d+/p2p/\S+)$`, time.Minute)
	boot := m[1]
	hub := startMystp2p(t, "hermes", append([]string{"hermes", "--data-dir", hubDir, "--bootstrap", boot, "--fee-bp", "250",
		"--settle-interval", "1h", "--stake", "5"}, loop...)...)
	hub.Match(0, `^hermes 16Uiu2\S+ \(0x`, time.Minute)
	hubAddr := hubID.Address().Hex()
	prov := startMystp2p(t, "provider", append([]string{"provide", "--data-dir", provDir, "--bootstrap", boot, "--country", "DE",
		"--price-hour", "0.5", "--price-gib", "2", "--hermes", hubAddr, "--exit-policy", "allow-loopback",
		"--settle-threshold", "0", "--proposal-ttl", "1m", "--invoice-interval", "1s"}, loop...)...)
	prov.Match(0, `^providing wireguard`, time.Minute)

	// 0.03 tokens pay for about three 4 MiB fetches at 2 tokens a GiB.
	deposit, _ := overlay.ParseTokens("0.03")
	below, _ := overlay.ParseTokens("0.02")
	if out, _, err := runCmd(t, ctx, "account", "topup", "--data-dir", consDir, "--hermes", hubAddr, "--amount", "0.03"); err != nil {
		t.Fatalf("topup: %v\n%s", err, out)
	}
	socks := freePort(t)
	cons := startMystp2p(t, "consumer", append([]string{"connect", "--data-dir", consDir, "--bootstrap", boot, "--hermes", hubAddr,
		"--socks", socks, "--auto-topup", "0.03", "--topup-below", "0.02", "--topup-every", "1s"}, loop...)...)
	cons.Match(0, `^SOCKS5 ready on `, time.Minute)

	// spendable is the channel's deposit on chain less what the provider
	// holds promised (one consumer, one provider: the same amount).
	spendable := func() (*big.Int, *big.Int) {
		ch, err := chain.Chain.ConsumerChannel(ctx, consID.Address(), hubID.Address())
		if err != nil {
			t.Fatal(err)
		}
		promised := amount(t, earningsOf(t, provDir).Promised)
		return new(big.Int).Sub(ch.Deposited(), promised), promised
	}
	var promised *big.Int
	for i := range 8 {
		n, err := testnet.FetchThroughSOCKS(ctx, socks, origin.URL+"/", io.Discard)
		if err != nil || n != size {
			t.Fatalf("fetch %d: %d bytes, %v\nconsumer:\n%s", i+1, n, err, cons.Output())
		}
		// The fetch is paid, and the channel is topped up before the next
		// one if it ran low: as if the user paused, not as a race.
		tstest.WaitForNoError(t, 60*time.Second, fmt.Sprintf("fetch %d paid and the channel above %s", i+1, below), func() error {
			left, p := spendable()
			if promised != nil && p.Cmp(promised) <= 0 {
				return fmt.Errorf("promised stays at %s", p)
			}
			if left.Cmp(below) < 0 {
				return fmt.Errorf("the channel can spend %s", left)
			}
			promised = p
			return nil
		})
	}
	if promised.Cmp(new(big.Int).Mul(deposit, big.NewInt(2))) <= 0 {
		t.Fatalf("the session promised %s: too little to need top-ups (the channel held %s)", promised, deposit)
	}
	left, _ := spendable()
	t.Logf("the session promised %s base units; the channel held %s at start and can still spend %s", promised, deposit, left)
	cons.Match(0, `^topped up 0\.03 tokens automatically \(the channel could spend [0-9.]+\); gas [0-9.]+ ether, tx 0x[0-9a-f]{64}$`, time.Second)
	interrupt(t, cons)
}
