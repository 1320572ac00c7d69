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
)

// init lets this test binary act as a censor lab process (`mystp2p testnet
// censor-node`) when RunCensor starts it in a namespace. It runs before
// TestMain, which knows only `testnet node`.
func init() {
	if os.Getenv(ChildEnv) != "1" || len(os.Args) != 4 || os.Args[1] != "testnet" || os.Args[2] != CensorChildCommand {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := RunCensorChild(ctx, os.Args[3], os.Stdout)
	stop()
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// Every level carries a consumer through the censor, twice: once with the
// bridge line, once with only the peer cache of the runs before. Each
// time: discovery, a 16 MiB download intact, no DPI rule matching a packet to
// or from the session's provider while it ran, and at level 4 a bridge the
// active prober could not tell from a web server. Whether each level met
// its time budget is the report's business, not this test's.
func TestCensorLevels(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if err := netlab.Available(); err != nil {
		t.Skipf("skipping: the censor lab needs root, ip and nft: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := RunCensor(ctx, CensorConfig{Levels: []int{0, 1, 2, 3, 4}, Logger: os.Stderr, Debug: os.Getenv("MYSTP2P_LAB_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if rep.Bridge == "" {
		t.Error("report has no bridge line")
	}
	if len(rep.Levels) != 5 || len(rep.Checks) != 5 {
		t.Fatalf("report has %d levels and %d checks, want 5 and 5", len(rep.Levels), len(rep.Checks))
	}
	if strings.Contains(rep.Bridge, "secret") || !rep.BridgeGated {
		t.Errorf("report bridge %q gated %v: want the gated bridge's line", rep.Bridge, rep.BridgeGated)
	}
	for i, lv := range rep.Levels {
		if lv.Level != i || lv.Description == "" || lv.Stage == "" || lv.OffersMade != 3 {
			t.Errorf("level %d incomplete: %+v", i, lv)
		}
		if lv.Pass != (len(lv.Failures) == 0) {
			t.Errorf("level %d: pass %v with failures %q", i, lv.Pass, lv.Failures)
		}
	}
	if n := len(rep.Levels[0].Rules); n != 0 {
		t.Errorf("level 0 has %d censor rules, want none", n)
	}
	l1 := rep.Levels[1]
	if len(l1.Rules) != 2 {
		t.Errorf("level 1 has %d rules, want the relay blocked both ways: %+v", len(l1.Rules), l1.Rules)
	}
	for _, r := range l1.Rules {
		if r.Kind != "block" || r.Rule == "" {
			t.Errorf("level 1 rule %+v: want a block rule", r)
		}
	}
	if l0 := rep.Levels[0]; !l0.Pass {
		t.Errorf("level 0 (no censor) failed: %q", l0.Failures)
	} else if l0.Path == "" || l0.Transport == "" || l0.Bytes != 16<<20 || !l0.Intact {
		t.Errorf("level 0 passed with an incomplete session: %+v", l0)
	}
	for _, lv := range rep.Levels {
		if lv.CacheRun == nil {
			t.Errorf("level %d has no peer-cache run", lv.Level)
			continue
		}
		if c := lv.CacheRun; c.Stage != "done" || c.Bytes != 16<<20 || !c.Intact || c.DPIOnSession || c.OffersDiscovered*10 < c.OffersReachable*9 {
			t.Errorf("level %d: the consumer with only its peer cache did not get through: stage %s, %d bytes intact %v, DPI on the session %v, %d of %d offers; %q",
				lv.Level, c.Stage, c.Bytes, c.Intact, c.DPIOnSession, c.OffersDiscovered, c.OffersReachable, c.Failures)
		}
	}
	for _, lv := range rep.Levels {
		if lv.Stage != "done" || lv.Bytes != 16<<20 || !lv.Intact || lv.DPIOnSession || lv.ProviderAddr == "" ||
			lv.OffersDiscovered*10 < lv.OffersReachable*9 {
			t.Errorf("level %d did not get through: stage %s, %d bytes intact %v, DPI on the session %v (%d hits on %v), %d of %d offers; %q",
				lv.Level, lv.Stage, lv.Bytes, lv.Intact, lv.DPIOnSession, lv.DPIHitsDuringDownload, lv.DPIPeersDuringDownload,
				lv.OffersDiscovered, lv.OffersReachable, lv.Failures)
		}
	}
	l4 := rep.Levels[4]
	if l4.BridgeBlocked || len(l4.Probes) == 0 {
		t.Errorf("level 4: bridge blocked %v after %d probes; want probes and the bridge left alone", l4.BridgeBlocked, len(l4.Probes))
	}
	bridgeProbes := map[string]bool{}
	for _, p := range l4.Probes {
		if strings.Contains(p.Target, l4.ProviderAddr+":443") {
			bridgeProbes[p.Probe] = true
			if p.Answered {
				t.Errorf("level 4: the bridge answered the %s probe: %s", p.Probe, p.Detail)
			}
		}
	}
	if !l4.BridgeUsed || !bridgeProbes["multistream"] || !bridgeProbes["wss-multistream"] || !bridgeProbes["replay"] {
		t.Errorf("level 4: bridge used %v, probed with %v: want the session on the bridge, probed with multistream, WSS and a replay",
			l4.BridgeUsed, bridgeProbes)
	}
}
