package testnet

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"testing"
	"time"
)

func TestPaymentsScenario(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Warnings (a failed invoice round, say) explain a failed check.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := RunPayments(ctx, Config{Providers: 2, Consumers: 2, FetchBytes: 1 << 20, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass {
		t.Fatalf("scenario failed: %+v", rep.Checks)
	}
	p := rep.Payments
	// Two hubs; provider 0 accepts both, provider 1 only the second: the
	// first hub's consumer pays provider 0 alone.
	if p == nil || p.Hermes != 2 || p.Sessions != 3 || p.Mismatch != "0" {
		t.Fatalf("payments %+v, want 2 hubs, 3 sessions and no mismatch", p)
	}
	for _, s := range rep.Sessions {
		if s.Bytes != 1<<20 {
			t.Fatalf("a session fetched %d bytes, want %d", s.Bytes, 1<<20)
		}
	}
	// One consumer withdrew what it did not spend, one hub its fees.
	if p.DepositMismatch != "0" || p.ConsumerWithdrawn == "0" || p.HermesWithdrawn == "0" || p.Deposited == "" {
		t.Fatalf("payments %+v, want a consumer's and a hub's withdrawal and deposits that balance", p)
	}
	settled, ok := new(big.Int).SetString(p.ProviderSettled, 10)
	if !ok || settled.Sign() <= 0 {
		t.Fatalf("providers settled %q on chain", p.ProviderSettled)
	}
}
