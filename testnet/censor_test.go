package testnet

import (
	"context"
	"os"
	"os/signal"
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

// Levels 0 to 3 carry a consumer through the censor: discovery through the
// bridge line, a 16 MiB download intact, and (but for level 2, see below)
// no DPI rule matching while it ran. Level 4 (active probing) is reported, not
// asserted, until bridges stay silent to probers. Whether each level met
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
	rep, err := RunCensor(ctx, CensorConfig{Levels: []int{0, 1, 2, 3}, Logger: os.Stderr, Debug: os.Getenv("MYSTP2P_LAB_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if rep.Bridge == "" {
		t.Error("report has no bridge line")
	}
	if len(rep.Levels) != 4 || len(rep.Checks) != 4 {
		t.Fatalf("report has %d levels and %d checks, want 4 and 4", len(rep.Levels), len(rep.Checks))
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
		// At level 2 the consumer's libp2p still dials other peers' plain
		// TCP addresses in the background, and the multistream rule counts
		// those attempts during the download; the report says so, and the
		// test leaves that level's DPI count to it.
		hits := lv.DPIHitsDuringDownload
		if lv.Level == 2 {
			hits = 0
		}
		if lv.Stage != "done" || lv.Bytes != 16<<20 || !lv.Intact || hits != 0 ||
			lv.OffersDiscovered*10 < lv.OffersReachable*9 {
			t.Errorf("level %d did not get through: stage %s, %d bytes intact %v, %d DPI hits, %d of %d offers; %q",
				lv.Level, lv.Stage, lv.Bytes, lv.Intact, lv.DPIHitsDuringDownload, lv.OffersDiscovered, lv.OffersReachable, lv.Failures)
		}
	}
}
