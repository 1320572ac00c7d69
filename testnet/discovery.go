package testnet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
)

// Scenario names.
const (
	ScenarioDiscovery = "discovery"
)

// Scenarios lists the scenarios `testnet run` knows.
var Scenarios = []string{ScenarioDiscovery, ScenarioSessions, ScenarioPayments, ScenarioNATMatrix + " (with --netns)",
	ScenarioCensor + " (with --netns)", ScenarioFailover + " (with --netns)"}

// ErrUnknownScenario is returned for a scenario name not in Scenarios.
var ErrUnknownScenario = errors.New("unknown scenario")

// Run runs a named scenario and returns its report. The error is for a
// scenario that could not run at all; checks that fail only make the report
// fail.
func Run(ctx context.Context, scenario string, cfg Config) (*Report, error) {
	switch scenario {
	case ScenarioDiscovery:
		return RunDiscovery(ctx, cfg)
	case ScenarioSessions:
		return RunSessions(ctx, cfg)
	case ScenarioPayments:
		return RunPayments(ctx, cfg)
	default:
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownScenario, scenario, Scenarios)
	}
}

// RunDiscovery starts a relay and a consumer, then the providers one after
// another, and measures how long each provider's proposal takes to reach the
// consumer. It then checks that a consumer joining afterwards finds every
// proposal through the DHT alone, that country filtering works, and that a
// stopped provider vanishes within its proposal TTL.
func RunDiscovery(ctx context.Context, cfg Config) (*Report, error) {
	// vanishTTL is the TTL of the provider the vanishing check stops. By
	// default only that one provider has a short TTL: every provider
	// re-signs and re-gossips its proposal each third of its TTL, and the
	// whole network shares these cores, so the re-announcements of N
	// providers cost N×N deliveries per third of a TTL. With 400 providers
	// at a 175 s TTL they held 1.8 of 2 cores once every provider was up;
	// at 15 min, 0.2–0.3. The network's TTL grows with its size to keep
	// that bound.
	vanishTTL := cfg.ProposalTTL
	if cfg.ProposalTTL == 0 {
		vanishTTL = discoveryVanishTTL
		cfg.ProposalTTL = max(overlay.DefaultProposalTTL, time.Duration(cfg.Providers)*3*time.Second)
	}
	if cfg.RecordTTL == 0 {
		// Each provider renews its DHT records each third of their TTL
		// too, one lookup and a store per namespace, so the same holds.
		cfg.RecordTTL = max(2*time.Minute, cfg.ProposalTTL)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	begin := time.Now()
	providers := cfg.Providers
	cfg.Providers = 0
	net, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	rep := &Report{Scenario: ScenarioDiscovery, Nodes: Nodes{Providers: providers, Consumers: 2, Relays: 1}}

	// Watch the consumer's live view before any provider starts.
	var (
		mu      sync.Mutex
		seen    = map[peer.ID]time.Time{}
		allSeen = make(chan struct{})
	)
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	record := func(id peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := seen[id]; !ok {
			seen[id] = time.Now()
			if len(seen) == providers {
				close(allSeen)
			}
		}
	}
	updates := net.Consumer.WatchProposals(wctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for sp := range updates {
			record(sp.Proposal.Provider)
		}
	})
	// The consumer also sweeps the DHT, as `mystp2p proposals` does.
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				dctx, cancel := context.WithTimeout(wctx, 5*time.Second)
				ps, _ := net.Consumer.Discover(dctx, overlay.Query{})
				cancel()
				for _, sp := range ps {
					record(sp.Proposal.Provider)
				}
			}
		}
	})

	// Each start waits while the process is overloaded (see loadGate);
	// a provider's discovery time runs from its own start.
	gate := newLoadGate(discoveryGateThreshold, discoveryGateMaxWait)
	for range providers {
		if err := gate.Wait(ctx); err != nil {
			return nil, err
		}
		if _, err := net.AddProvider(ctx); err != nil {
			return nil, err
		}
	}
	if providers == 0 {
		close(allSeen)
	}
	select {
	case <-allSeen:
	case <-time.After(30*time.Second + time.Duration(providers)*200*time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	wcancel()
	wg.Wait()

	var lat []float64
	mu.Lock()
	for _, p := range net.Providers() {
		if at, ok := seen[p.Node.ID()]; ok {
			lat = append(lat, float64(at.Sub(p.Started).Microseconds())/1000)
		}
	}
	mu.Unlock()
	d := &DiscoveryResult{Expected: providers, Found: len(lat), PacedMS: gate.waited.Milliseconds(), ProposalTTLS: cfg.ProposalTTL.Seconds()}
	d.P50MS, d.P95MS, d.MaxMS = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 1)
	rep.Discovery = d
	rep.check("every proposal reached the consumer", d.Found == d.Expected, "%d of %d", d.Found, d.Expected)

	// A consumer that joins after all gossip was sent finds everything via the DHT.
	late, err := net.newNode(ctx, "late-consumer", overlay.Config{Bootstrap: net.Bootstrap()})
	if err != nil {
		return nil, fmt.Errorf("start late consumer: %w", err)
	}
	defer late.Close()
	found := discoverAll(ctx, late, overlay.Query{}, providers, 30*time.Second)
	rep.check("late consumer finds every proposal via the DHT", found == providers, "%d of %d", found, providers)

	if providers > 0 {
		country := cfg.Countries[0]
		want := 0
		for _, p := range net.Providers() {
			if p.Proposal.Proposal.Country == country {
				want++
			}
		}
		got, err := late.Discover(ctx, overlay.Query{Country: country})
		ok := err == nil && len(got) == want
		for _, sp := range got {
			ok = ok && sp.Proposal.Country == country
		}
		rep.check("country filter", ok, "%d proposals for %s, want %d (err %v)", len(got), country, want, err)

		// A provider that stops disappears from the live view within its
		// TTL. It is one more provider, started with the short TTL.
		detail, vanished, err := checkVanishes(ctx, net, vanishTTL)
		if err != nil {
			return nil, err
		}
		rep.check("stopped provider vanishes within the proposal TTL", vanished, "%s", detail)
	}
	rep.finish(begin)
	d.MemoryPerNodeMiB = rep.MemoryMiB / float64(rep.Nodes.Providers+rep.Nodes.Consumers+rep.Nodes.Relays)
	return rep, nil
}

// The discovery scenario's load gate: the next provider starts once the
// process used less than this share of its CPUs over the last half second,
// or after the longest wait.
const (
	discoveryGateThreshold = 0.75
	discoveryGateMaxWait   = 10 * time.Second
)

// discoverAll repeats DHT discovery until want proposals are found or the
// time is up, and returns how many were found.
func discoverAll(ctx context.Context, n *overlay.Node, q overlay.Query, want int, within time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	best := 0
	for {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		ps, _ := n.Discover(dctx, q)
		dcancel()
		best = max(best, len(ps))
		if best >= want || ctx.Err() != nil {
			return best
		}
		select {
		case <-ctx.Done():
			return best
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// discoveryVanishTTL is the default proposal TTL of the provider the
// discovery scenario stops: short, so the check that it vanishes is quick.
const discoveryVanishTTL = 15 * time.Second

// checkVanishes starts one more provider with the given proposal TTL, waits
// until the consumer has its proposal, stops it and polls the consumer's
// cache until the proposal is gone or ttl+3 s have passed.
func checkVanishes(ctx context.Context, net *Network, ttl time.Duration) (detail string, vanished bool, err error) {
	p, err := net.addProvider(ctx, func(c *role.ProviderConfig) error {
		c.Node.ProposalTTL = ttl
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("start the provider to stop: %w", err)
	}
	// Polls: the consumer's cache expires entries lazily, without an event.
	poll := func(until time.Time, done func() bool) (bool, error) {
		for !done() {
			if !time.Now().Before(until) {
				return false, nil
			}
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
				return false, ctx.Err()
			}
		}
		return true, nil
	}
	cached := func() bool { return contains(net.Consumer.Cached(overlay.Query{}), p.Node.ID()) }
	seen, err := poll(time.Now().Add(30*time.Second), cached)
	if err != nil {
		return "", false, err
	}
	if !seen {
		_ = net.StopProvider(p)
		return fmt.Sprintf("the consumer never saw the provider to stop within 30 s (TTL %s)", ttl), false, nil
	}
	stopped := time.Now()
	_ = net.StopProvider(p)
	vanished, err = poll(stopped.Add(ttl+3*time.Second), func() bool { return !cached() })
	if err != nil {
		return "", false, err
	}
	return fmt.Sprintf("after %.1f s (TTL %s)", time.Since(stopped).Seconds(), ttl), vanished, nil
}

func contains(ps []*overlay.SignedProposal, id peer.ID) bool {
	for _, sp := range ps {
		if sp.Proposal.Provider == id {
			return true
		}
	}
	return false
}
