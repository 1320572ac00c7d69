package testnet

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/netlab"
)

// Killing the provider a consumer's SOCKS5 traffic runs through, and then
// its successor together with the relay, moves the consumer to another
// provider each time with the same SOCKS5 listener. How fast is the
// report's business (the failover scenario's pass rule), not this test's.
func TestFailover(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if err := netlab.Available(); err != nil {
		t.Skipf("skipping: the failover lab needs root, ip and nft: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunFailover(ctx, FailoverConfig{Logger: os.Stderr, Debug: os.Getenv("MYSTP2P_LAB_DEBUG") != ""})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if len(rep.Rounds) != 2 {
		t.Fatalf("%d rounds, want 2: %+v", len(rep.Rounds), rep.Rounds)
	}
	seen := map[string]bool{}
	for i, r := range rep.Rounds {
		if r.Error != "" || r.To == "" || r.To == r.From || r.RecoveredMS <= 0 || r.DetectMS <= 0 || r.DetectMS > r.RecoveredMS {
			t.Errorf("round %d (%s) did not move: %+v", i+1, r.Name, r)
		}
		if seen[r.To] {
			t.Errorf("round %d moved to %s, a provider already used (and killed)", i+1, r.To)
		}
		seen[r.From] = true
	}
	if len(rep.Rounds[1].Killed) != 2 || rep.Rounds[1].Killed[1] != "relay" {
		t.Errorf("round 2 killed %v, want the provider and the relay", rep.Rounds[1].Killed)
	}
}
