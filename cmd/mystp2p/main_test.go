package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

func runCmd(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func TestIdentityNewShow(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pass")
	os.WriteFile(pf, []byte("s3cret\n"), 0o600)
	ctx := context.Background()
	out, _, err := runCmd(t, ctx, "identity", "new", "--data-dir", dir, "--passphrase-file", pf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "address: 0x") || !strings.Contains(out, "peer ID: 16Uiu2") {
		t.Fatalf("identity new printed %q", out)
	}
	show, _, err := runCmd(t, ctx, "identity", "show", "--data-dir", dir, "--passphrase-file", pf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, strings.TrimSpace(strings.SplitN(show, "\n", 2)[0])) {
		t.Fatalf("show %q does not match new %q", show, out)
	}
	// Wrong passphrase: a clear error, no key material printed.
	os.WriteFile(pf, []byte("wrong"), 0o600)
	_, _, err = runCmd(t, ctx, "identity", "show", "--data-dir", dir, "--passphrase-file", pf)
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// No passphrase source and no terminal.
	_, _, err = runCmd(t, ctx, "identity", "show", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "MYSTP2P_PASSPHRASE") {
		t.Fatalf("no passphrase: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	ctx := context.Background()
	const (
		boot = "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"
		hub  = "0x00000000000000000000000000000000000000aa"
	)
	t.Setenv("MYSTP2P_CHAIN_RPC", "")
	t.Setenv("MYSTP2P_CONTRACT", "")
	for _, args := range [][]string{
		{},
		{"nope"},
		{"identity"},
		{"identity", "rotate"},
		{"provide", "--country", "DE"},
		{"provide", "--country", "DE", "--price-hour", "abc", "--price-gib", "1"},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1"}, // no bootstrap
		{"proposals", "--bootstrap", "/ip4/127.0.0.1/tcp/1"},                    // no /p2p/
		{"proposals", "--max-price-gib", "-1", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"},
		{"relay", "--max-circuits", "0", "--ephemeral"},
		{"relay", "--reachability", "sometimes", "--ephemeral"},
		{"testnet", "run", "--scenario", "nope"},
		{"testnet", "sideways"},
		{"testnet", "up", "--providers", "-1"},
		{"proposals", "stray"},
		{"relay", "--ephemeral", "--metrics", "0.0.0.0:9464"},
		{"relay", "--ephemeral", "--metrics", "nonsense"},
		{"connect", "--ephemeral", "--transport", "carrier-pigeon", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"},
		{"connect", "--ephemeral", "--obfs", "sometimes", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"},
		{"connect", "--ephemeral", "--socks-user", "u", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"},
		{"connect", "--ephemeral", "--provider", "not-a-peer", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--exit-policy", "allow-everything"},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--max-sessions", "0"},
		{"testnet", "run", "--netns", "--scenario", "discovery"},
		// Payments.
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--bootstrap", boot}, // charges, no hermes
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--hermes", "nonsense", "--bootstrap", boot},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--hermes", hub, "--settle-threshold", "x", "--bootstrap", boot},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--hermes", hub, "--invoice-interval", "1ms", "--bootstrap", boot},
		{"provide", "--country", "DE", "--price-hour", "1", "--price-gib", "1", "--hermes", hub, "--beneficiary", "nope", "--bootstrap", boot},
		{"hermes", "--fee-bp", "20000", "--bootstrap", boot},
		{"hermes", "--stake", "-1", "--bootstrap", boot},
		{"hermes", "--bootstrap", boot}, // no chain
		{"account", "topup", "--hermes", hub},
		{"account", "topup", "--amount", "1"},
		{"account", "topup", "--amount", "0", "--hermes", hub},
		{"account", "topup", "--amount", "1", "--hermes", hub, "--contract", "0x12", "--chain-rpc", "http://127.0.0.1:1"},
		{"account", "--hermes", "nonsense"},
		{"settle", "--beneficiary", "nope"},
		{"settle", "--hermes", "nope"},
		{"connect", "--ephemeral", "--hermes", hub, "--bootstrap", boot},
		{"connect", "--hermes", "0x12", "--bootstrap", boot},
		{"connect", "--max-hermes-fee-bp", "10001", "--bootstrap", boot},
		{"testnet", "chain", "--fund", "nope"},
		{"testnet", "chain", "--listen", "0.0.0.0:8545"},
		{"testnet", "run", "--scenario", "payments", "--hermes", "0"},
		{"proposals", "--service", "openvpn", "--bootstrap", boot},
	} {
		_, _, err := runCmd(t, ctx, args...)
		var u exitUsage
		if !errors.As(err, &u) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
		if err == nil {
			t.Errorf("%v: succeeded", args)
		}
	}
}

// The proposals command against a running in-process network.
func TestProposalsCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Providers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()
	country := net.Providers()[0].Proposal.Proposal.Country

	out, _, err := runCmd(t, ctx, "proposals", "--bootstrap", boot, "--json", "--wait", "300ms")
	if err != nil {
		t.Fatal(err)
	}
	var ps []overlay.Proposal
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if len(ps) != 3 {
		t.Fatalf("listed %d proposals, want 3", len(ps))
	}
	out, _, err = runCmd(t, ctx, "proposals", "--bootstrap", boot, "--country", strings.ToLower(country), "--wait", "300ms")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "PROVIDER") || !strings.Contains(lines[1], country) {
		t.Fatalf("table for %s:\n%s", country, out)
	}
	out, _, err = runCmd(t, ctx, "proposals", "--bootstrap", boot, "--max-price-gib", "0.001", "--wait", "300ms")
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("price filter let through:\n%s (%v)", out, err)
	}
}

func TestTestnetRunWritesReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "r.json")
	out, _, err := runCmd(t, ctx, "testnet", "run", "--scenario", "discovery", "--providers", "3", "--proposal-ttl", "5s", "--report", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep testnet.Report
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Pass || rep.Scenario != "discovery" || rep.Discovery == nil || rep.Discovery.Found != 3 || rep.Nodes.Providers != 3 {
		t.Fatalf("report %s", b)
	}
	if !strings.Contains(out, "PASS") {
		t.Fatalf("table: %s", out)
	}
}

// connect against a running network: progress, a working SOCKS5 port, and a
// clean close on Ctrl-C (context cancel).
func TestConnectCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Providers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()
	target := net.Providers()[1].Proposal.Proposal

	cctx, stop := context.WithCancel(ctx)
	var out, errb tstest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(cctx, []string{"connect", "--ephemeral", "--bootstrap", boot, "--provider", target.Provider.String(),
			"--socks", "127.0.0.1:0", "--log-level", "error"}, strings.NewReader(""), &out, &errb)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("connect printed:\n%s\n%s", out.String(), errb.String())
		}
	})
	var socks string
	tstest.WaitFor(t, 60*time.Second, "the SOCKS5 ready line", func() bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "SOCKS5 ready on "); ok {
				socks = strings.Fields(rest)[0]
				if !strings.Contains(line, target.Provider.String()) || !strings.HasSuffix(line, "(direct)") {
					t.Fatalf("ready line %q", line)
				}
			}
		}
		return socks != ""
	})
	for _, stage := range []string{"discovering providers", "reaching provider", "opening session", "tunnel up"} {
		if !strings.Contains(out.String(), stage) {
			t.Errorf("progress lacks %q:\n%s", stage, out.String())
		}
	}
	n, err := testnet.FetchThroughSOCKS(ctx, socks, net.Origin.URL()+"bytes/1000000", io.Discard)
	if err != nil || n != 1000000 {
		t.Fatalf("fetch through %s: %d bytes, %v", socks, n, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("connect returned %v", err)
	}
	if !strings.Contains(out.String(), "session closed") {
		t.Fatalf("no goodbye:\n%s", out.String())
	}
	// The provider dropped the session when the consumer closed it.
	tstest.WaitFor(t, 20*time.Second, "the provider to drop the session", func() bool {
		return net.Providers()[1].Sessions.Active() == 0
	})
}
