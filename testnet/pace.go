package testnet

import (
	"context"
	"runtime"
	"time"
)

// loadGate holds back the start of the next node while this process keeps
// its CPUs busy, for scenarios that start hundreds of nodes in one process.
//
// Starting a provider costs far more CPU than keeping one idle (keys,
// handshakes, DHT joins and announcements, gossip). Started back to back,
// a few hundred providers keep two cores saturated, and a provider's
// discovery time then measures the queues of an overloaded process. The
// gate lets the next start go once the process used less than threshold of
// its CPUs over the last window, or after maxWait whatever the load, so
// that a network whose idle load alone is above the threshold still starts.
type loadGate struct {
	threshold float64 // share of GOMAXPROCS
	window    time.Duration
	maxWait   time.Duration
	poll      time.Duration

	cpu  time.Duration // process CPU time at the last reading
	at   time.Time     // when that was
	busy float64       // share of the CPUs used in the window before it
	have bool          // busy is a measurement

	// waited is the time spent waiting so far.
	waited time.Duration
}

func newLoadGate(threshold float64, maxWait time.Duration) *loadGate {
	g := &loadGate{threshold: threshold, window: 500 * time.Millisecond, maxWait: maxWait, poll: 100 * time.Millisecond}
	g.cpu, _ = processCPU()
	g.at = time.Now()
	return g
}

// Wait returns once the process's CPU use over the last window is below
// the threshold, maxWait has passed, or ctx ends.
func (g *loadGate) Wait(ctx context.Context) error {
	start := time.Now()
	defer func() { g.waited += time.Since(start) }()
	for {
		busy, ok := g.load()
		if !ok || busy < g.threshold || time.Since(start) >= g.maxWait {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(g.poll):
		}
	}
}

// load is the share of the process's CPUs it used over the last window. A
// reading sooner than a window after the previous one returns that one's
// value; ok is false where the process's CPU time is not known.
func (g *loadGate) load() (float64, bool) {
	now := time.Now()
	if now.Sub(g.at) < g.window {
		return g.busy, g.have
	}
	cpu, ok := processCPU()
	if !ok {
		return 0, false
	}
	g.busy = float64(cpu-g.cpu) / float64(now.Sub(g.at)) / float64(runtime.GOMAXPROCS(0))
	g.cpu, g.at, g.have = cpu, now, true
	return g.busy, true
}
