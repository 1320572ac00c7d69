package testnet

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The gate holds a start back while the process keeps its CPUs busy, but
// never longer than maxWait, and lets it go at once when the process idles.
func TestLoadGateWaitsWhileBusy(t *testing.T) {
	ctx := context.Background()
	if _, ok := processCPU(); !ok {
		// No process CPU time on this OS: the gate lets every start go.
		g := newLoadGate(0, time.Minute)
		start := time.Now()
		if err := g.Wait(ctx); err != nil || time.Since(start) > time.Second {
			t.Fatalf("without CPU times the gate held a start %s (%v)", time.Since(start), err)
		}
		return
	}
	g := newLoadGate(0.2, 1500*time.Millisecond)
	time.Sleep(600 * time.Millisecond) // one idle window
	start := time.Now()
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("an idle process waited %s", d)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for !stop.Load() {
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	time.Sleep(600 * time.Millisecond) // one busy window
	before := g.waited
	start = time.Now()
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < time.Second {
		t.Errorf("a process spinning on every CPU waited only %s (load %.2f)", d, g.busy)
	}
	if d > 3*time.Second {
		t.Errorf("the wait went %s past its 1.5 s bound", d)
	}
	// The gate times the wait from inside, so its share is a little under
	// the time seen from here, never over it.
	if added := g.waited - before; added > d || added < d-50*time.Millisecond {
		t.Errorf("the gate added %s to its total for a wait of %s", added, d)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	time.Sleep(600 * time.Millisecond)
	if err := g.Wait(cctx); err == nil {
		t.Error("a wait with its context ended returned no error")
	}
}
