package overlay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Query selects proposals. Zero fields match anything, except Service:
// empty means ServiceWireGuard, so that hermes hubs are listed only when
// asked for.
type Query struct {
	Service     string
	Country     string
	IPType      string
	Provider    peer.ID
	MaxPriceHr  *big.Int
	MaxPriceGiB *big.Int
}

// Matches reports whether p satisfies q.
func (q Query) Matches(p *Proposal) bool {
	switch {
	case p.Service != cmp.Or(q.Service, ServiceWireGuard):
		return false
	case q.Country != "" && p.Country != q.Country:
		return false
	case q.IPType != "" && p.IPType != q.IPType:
		return false
	case q.Provider != "" && p.Provider != q.Provider:
		return false
	case q.MaxPriceHr != nil && p.HourPrice().Cmp(q.MaxPriceHr) > 0:
		return false
	case q.MaxPriceGiB != nil && p.GiBPrice().Cmp(q.MaxPriceGiB) > 0:
		return false
	}
	return true
}

// Cached returns the live proposals this node has seen (gossip, DHT, fetches)
// that match q, cheapest first.
func (n *Node) Cached(q Query) []*SignedProposal {
	var out []*SignedProposal
	for _, e := range n.feed.Entries() {
		sp := e.Value.(*SignedProposal)
		if sp.Proposal.Provider == n.ID() || !q.Matches(&sp.Proposal) {
			continue
		}
		out = append(out, sp)
	}
	sortProposals(out)
	return out
}

// WatchProposals delivers every new or updated proposal until ctx ends.
func (n *Node) WatchProposals(ctx context.Context) <-chan *SignedProposal {
	out := make(chan *SignedProposal, 64)
	in := n.feed.Watch(ctx)
	n.wg.Go(func() {
		defer close(out)
		for e := range in {
			select {
			case out <- e.Value.(*SignedProposal):
			case <-ctx.Done():
			case <-n.ctx.Done():
			}
		}
	})
	return out
}

// AwaitProposal returns as soon as a proposal matching q arrives by gossip,
// or after d: a node that has just joined often hears gossip before its DHT
// lookups work.
func (n *Node) AwaitProposal(ctx context.Context, q Query, d time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for sp := range n.WatchProposals(wctx) {
		if q.Matches(&sp.Proposal) {
			return
		}
	}
}

// Discover asks the DHT for providers of the query's namespace, fetches each
// one's proposal (directly, or the signed DHT record when the provider cannot
// be reached), and returns every live match — gossip-cached ones included —
// cheapest first. It returns when the lookup is done or ctx ends.
func (n *Node) Discover(ctx context.Context, q Query) ([]*SignedProposal, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	service := cmp.Or(q.Service, ServiceWireGuard)
	ns := Namespaces(service, q.Country)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Providers whose proposal gossip brought fresh need no fetch. The set
	// is taken before the offer exchange below adds to the cache: a
	// proposal passed on by a bootstrap peer still gets its own fetch,
	// which also opens the connection a session then uses (sessions to a
	// provider behind NAT did not come up without it, in the nat-matrix
	// lab).
	fresh := map[string]bool{}
	for _, e := range n.feed.Entries() {
		if isFresh(e.Value.(*SignedProposal), time.Until(e.Expires)) {
			fresh[e.Key] = true
		}
	}
	var wg sync.WaitGroup
	// Alongside the DHT, the peers we joined through tell us the offers
	// they know: all a consumer behind a censor may be able to reach.
	wg.Go(func() { n.exchangeWithBootstrap(ctx) })
	sem := make(chan struct{}, 16)
	for ai := range n.dht.FindProviders(ctx, ns[len(ns)-1], 0) {
		if ai.ID == n.ID() {
			continue
		}
		if q.Provider != "" && ai.ID != q.Provider {
			continue
		}
		// The DHT's provider record carries the provider's current
		// addresses (a relay circuit among them, behind NAT), which a
		// proposal signed earlier may lack: keep them for the session
		// dial, fetched or not.
		if len(ai.Addrs) > 0 {
			n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
		}
		if fresh[ai.ID.String()] {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			// From the provider and from the DHT at once: a provider the
			// network between us blocks fails only by timing out, while
			// its record is a query away. Neither is cancelled when the
			// other answers: a dial cut short puts the provider's
			// addresses in the swarm's dial backoff, and the session
			// dial that follows would fail.
			errs := make(chan error, 2)
			go func() { _, err := n.FetchProposal(ctx, ai); errs <- err }()
			go func() { _, err := n.FetchRecord(ctx, ai.ID); errs <- err }()
			var failed []error
			for range 2 {
				if err := <-errs; err != nil {
					failed = append(failed, err)
				}
			}
			if len(failed) == 2 {
				n.log.Debug("no proposal for provider", "provider", ai.ID, "err", errors.Join(failed...))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && len(n.Cached(q)) == 0 {
		return nil, fmt.Errorf("discover %s: %w", ns[len(ns)-1], err)
	}
	return n.Cached(q), nil
}

// isFresh says a cached proposal with left of its lifetime to run needs no
// fetch: more than a minute left, or, for lifetimes under two minutes (the
// testnets' short TTLs), more than half of it. A live provider re-announces
// every third of its TTL, so its gossiped proposal never falls that low;
// without the relative bound a testnet with a 55 s TTL refetched every
// proposal, by stream and by DHT query, on every sweep.
func isFresh(sp *SignedProposal, left time.Duration) bool {
	life := time.Duration(sp.Proposal.ExpiresAt-sp.Proposal.IssuedAt) * time.Millisecond
	return left > min(time.Minute, life/2)
}

// FetchRecord reads a provider's signed proposal from the DHT.
func (n *Node) FetchRecord(ctx context.Context, id peer.ID) (*SignedProposal, error) {
	raw, err := n.dht.GetRecord(ctx, id.String())
	if err != nil {
		return nil, err
	}
	sp, err := DecodeProposal(raw, n.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("dht record of %s: %w", id, err)
	}
	if sp.Proposal.Provider != id {
		return nil, fmt.Errorf("%w: record of %s names %s", ErrProposalSignature, id, sp.Proposal.Provider)
	}
	n.feed.Add(entryOf(sp, raw))
	return sp, nil
}

func sortProposals(ps []*SignedProposal) {
	slices.SortFunc(ps, func(a, b *SignedProposal) int {
		return cmp.Or(
			a.Proposal.GiBPrice().Cmp(b.Proposal.GiBPrice()),
			a.Proposal.HourPrice().Cmp(b.Proposal.HourPrice()),
			cmp.Compare(a.Proposal.Provider, b.Proposal.Provider),
		)
	})
}
