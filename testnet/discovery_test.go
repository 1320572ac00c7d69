package testnet

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/overlay"
)

func TestDiscoveryScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunDiscovery(ctx, Config{Providers: 5, ProposalTTL: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass {
		t.Fatalf("scenario failed: %+v", rep.Checks)
	}
	if rep.Discovery.Found != 5 {
		t.Fatalf("found %d of 5", rep.Discovery.Found)
	}
	if m := rep.Discovery.MemoryPerNodeMiB; m <= 0 || m > rep.MemoryMiB {
		t.Errorf("memory per node %.1f MiB of %.0f MiB in all", m, rep.MemoryMiB)
	}
}

// TestDiscoveryScenarioDefaultTTL runs the scenario as `testnet run` does
// by default: the providers get a long TTL and the one provider the
// vanishing check stops gets the short one.
func TestDiscoveryScenarioDefaultTTL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunDiscovery(ctx, Config{Providers: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass {
		t.Fatalf("scenario failed: %+v", rep.Checks)
	}
	if got, want := rep.Discovery.ProposalTTLS, overlay.DefaultProposalTTL.Seconds(); got != want {
		t.Errorf("providers' proposal TTL %.0f s, want the default %.0f s", got, want)
	}
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "stopped provider vanishes") && !strings.Contains(c.Detail, "TTL "+discoveryVanishTTL.String()) {
			t.Errorf("the vanishing check did not use the short TTL: %s", c.Detail)
		}
	}
}
