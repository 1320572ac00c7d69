package testnet

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestSessionsScenarioLoad runs 50 sessions (10 with -short) on one
// provider, downloading together: every one must finish and none may fall
// below the fair-share floor while all of them download.
func TestSessionsScenarioLoad(t *testing.T) {
	n := 50
	if testing.Short() {
		n = 10
	}
	const size = 1 << 20
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := RunSessions(ctx, Config{Providers: 1, Consumers: n, FetchBytes: size})
	if err != nil {
		t.Fatal(err)
	}
	rep.WriteTable(os.Stderr)
	if !rep.Pass {
		t.Fatalf("scenario failed: %+v", rep.Checks)
	}
	l := rep.Load
	if l == nil || l.Sessions != n || l.Finished != n || l.Bytes != int64(n)*size {
		t.Fatalf("load %+v, want %d sessions that each fetched %d bytes", l, n, size)
	}
	if l.MinShare < minFairShare || l.WorstMbps <= 0 || l.AggregateMbps < l.WorstMbps {
		t.Fatalf("load %+v: a session starved", l)
	}
	for i, s := range rep.Sessions {
		if !s.OK || s.Bytes != size || s.FirstByteMS <= 0 {
			t.Fatalf("session %d: %+v", i, s)
		}
	}
}
