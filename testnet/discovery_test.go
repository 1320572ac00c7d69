package testnet

import (
	"context"
	"os"
	"testing"
	"time"
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
