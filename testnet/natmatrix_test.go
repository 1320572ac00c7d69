package testnet

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/netlab"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// TestMain lets this test binary act as a lab node (`mystp2p testnet node`)
// when the lab parent starts it in a namespace, and as the children of
// tstest that the tests start.
func TestMain(m *testing.M) {
	if os.Getenv(ChildEnv) == "1" && len(os.Args) > 2 && os.Args[1] == "testnet" && os.Args[2] == "node" {
		cfg, err := ParseChildArgs(os.Args[3:])
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = RunChild(ctx, cfg, os.Stdout)
		stop()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	tstest.Main(m, testHelper)
}

// TestNATMatrix runs the whole namespace lab: real nftables NATs of every
// kind, one process per node, every consumer against every provider. It
// requires the scenario's own verdict: every pair connects and fetches through
// SOCKS5; every pair whose NATs allow a direct path gets one; no direct
// session's download crossed the relay.
func TestNATMatrix(t *testing.T) {
	if err := netlab.Available(); err != nil {
		t.Skipf("skipping: the NAT lab needs root, ip and nft: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := RunNATMatrix(ctx, NATMatrixConfig{FetchBytes: 1 << 20, Logger: os.Stderr, NATs: natsFromEnv(),
		Debug: os.Getenv("MYSTP2P_LAB_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass {
		t.Errorf("nat-matrix failed: %+v", rep.Checks)
	}
	// Every consumer kind (udp-blocked too) against every provider kind.
	if want := (len(netlab.NATs) + 1) * len(netlab.NATs); len(rep.Sessions) != want && len(natsFromEnv()) == 0 {
		t.Errorf("%d sessions in the report, want %d", len(rep.Sessions), want)
	}
	if len(rep.Sessions) == 0 {
		t.Fatal("no sessions in the report")
	}
	for _, s := range rep.Sessions {
		pair := s.ConsumerNAT + "→" + s.ProviderNAT
		if !s.OK {
			t.Errorf("%s failed: %s", pair, s.Error)
		}
		if (s.ConsumerNAT == string(netlab.NATNone) || s.ProviderNAT == string(netlab.NATNone)) && s.Path != "direct" {
			t.Errorf("%s took the %s path; a public side must give a direct one", pair, s.Path)
		}
		if s.Path == "direct" && s.RelayBytes != 0 {
			t.Errorf("%s is direct but sent %d bytes through the relay", pair, s.RelayBytes)
		}
		if s.ConsumerNAT == string(netlab.NATUDPBlocked) && s.OK && s.Transport != "stream" {
			t.Errorf("%s used the %s transport on a network that drops UDP", pair, s.Transport)
		}
		if s.Path == "relayed" && s.RelayBytes == 0 {
			t.Errorf("%s is relayed but counted no relay bytes", pair)
		}
		if s.Path == "relayed" && MustGoDirect(netlab.NAT(s.ConsumerNAT), netlab.NAT(s.ProviderNAT)) {
			t.Errorf("%s stayed relayed: only symmetric↔symmetric and UDP-blocked pairs may", pair)
		}
	}
}

func natsFromEnv() []netlab.NAT {
	var out []netlab.NAT
	for _, s := range strings.Split(os.Getenv("MYSTP2P_NATS"), ",") {
		if s != "" {
			out = append(out, netlab.NAT(s))
		}
	}
	return out
}

// TestTUNSessions runs lab consumers in TUN mode: the consumer host's own
// HTTP client reaches the origin through the tunnel — the origin sees the
// provider's address. (Consumers are behind NAT: a TUN, like any VPN, leaves
// the consumer's own on-link subnet alone, and a public lab consumer shares
// the origin's.) The tunnel package's TUN test checks that routes, addresses
// and resolv.conf are restored on exit.
func TestTUNSessions(t *testing.T) {
	if err := netlab.Available(); err != nil {
		t.Skipf("skipping: the NAT lab needs root, ip and nft: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := RunNATMatrix(ctx, NATMatrixConfig{FetchBytes: 1 << 20, Logger: os.Stderr, TUN: true,
		NATs: []netlab.NAT{netlab.NATFullCone, netlab.NATPortRestricted}, Debug: os.Getenv("MYSTP2P_LAB_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass || len(rep.Sessions) != 4 {
		t.Fatalf("TUN sessions failed: %+v", rep.Checks)
	}
}
