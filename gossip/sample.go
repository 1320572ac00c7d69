package gossip

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DefaultDiscoveryPeers is how many topic peers one discovery round hands
// gossipsub to dial: the mesh degree D. Every node dials that many and is
// dialled by about as many, so a node holds about 2D topic peers, enough to
// fill its mesh when some dials fail. Twice as many (12) cost an idle
// 300-provider testnet twice the CPU (0.58 against 0.29 cores) and a third
// more memory, and discovery was no faster.
const DefaultDiscoveryPeers = 6

// sampleWindow bounds how long a discovery round collects candidates
// before it picks its sample, and sampleCandidates how many it collects.
const (
	sampleWindow     = 2 * time.Second
	sampleCandidates = 100
)

// sampler is a discovery.Discovery whose FindPeers returns a uniformly
// random sample of at most n of the peers the underlying discovery finds.
//
// gossipsub dials every peer a discovery round returns. The DHT rendezvous
// returns every provider record it holds (up to 100) in the same order to
// every node, so without sampling each node dials every other one: in a
// 40-provider testnet each provider held 38 connections, all of them to
// other providers, and a 100-provider one ran two cores out of CPU on QUIC
// keep-alives alone. A random sample spreads the mesh evenly instead of
// piling every newcomer onto the same first records.
type sampler struct {
	discovery.Discovery
	n int
}

func (s sampler) FindPeers(ctx context.Context, ns string, opts ...discovery.Option) (<-chan peer.AddrInfo, error) {
	in, err := s.Discovery.FindPeers(ctx, ns, opts...)
	if err != nil {
		return nil, err
	}
	out := make(chan peer.AddrInfo, s.n)
	go func() {
		defer close(out)
		for _, ai := range samplePeers(ctx, in, s.n, sampleCandidates, sampleWindow) {
			out <- ai // buffered for all n
		}
	}()
	return out, nil
}

// samplePeers reads candidates from in until it closes, max have come,
// window has passed or ctx ends, and returns a random sample of at most n of
// them (each candidate kept with equal chance, by reservoir sampling). It
// keeps draining in afterwards, so the sender never blocks.
func samplePeers(ctx context.Context, in <-chan peer.AddrInfo, n, max int, window time.Duration) []peer.AddrInfo {
	t := time.NewTimer(window)
	defer t.Stop()
	var (
		res  = make([]peer.AddrInfo, 0, n)
		seen = 0
	)
	defer func() {
		go func() {
			for range in {
			}
		}()
	}()
	for seen < max {
		select {
		case ai, ok := <-in:
			if !ok {
				return res
			}
			if len(ai.Addrs) == 0 && ai.ID == "" {
				continue
			}
			seen++
			if len(res) < n {
				res = append(res, ai)
			} else if j := rand.IntN(seen); j < n {
				res[j] = ai
			}
		case <-t.C:
			return res
		case <-ctx.Done():
			return res
		}
	}
	return res
}
