package gossip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Rendezvous pacing: the first pause between two lookups of a namespace,
// and the longest, which the pause doubles towards.
const (
	findBackoffMin = 2 * time.Second
	findBackoffMax = time.Minute
	// advertiseRetryMin and advertiseRetryMax pace the retries of an
	// announcement that failed, usually because the routing table was
	// still empty when gossipsub joined the topic.
	advertiseRetryMin = 250 * time.Millisecond
	advertiseRetryMax = 30 * time.Second
)

// rendezvous is the Discovery handed to gossipsub. It fixes what the plain
// DHT rendezvous gets wrong for us:
//
//   - Announcements carry the DHT's record TTL and are renewed each third
//     of it. Without a TTL the routing discovery asks for a 3 h record and
//     gossipsub renews it after 3 h, while our DHT keeps provider records
//     only for its RecordTTL (minutes): the topic's rendezvous stood empty
//     most of the time, and nodes met only the bootstrap and DHT servers.
//   - A failed announcement (gossipsub joins the topic before the node has
//     joined the DHT, so the first always fails) is retried within
//     seconds, not after gossipsub's two minutes.
//   - Gossipsub asks for peers every second while its mesh is short of
//     its lower bound, each time a DHT lookup that returns up to a hundred
//     records. Rounds are spaced out instead, doubling from findBackoffMin
//     to findBackoffMax per namespace; a round asked for sooner finds
//     nothing new and returns no peers.
//
// What a round finds is sampled (see sampler).
type rendezvous struct {
	disc   discovery.Discovery
	sample sampler
	ttl    time.Duration

	mu    sync.Mutex
	pace  map[string]*findPace
	clock func() time.Time
}

// findPace is when a namespace may be looked up again, and the pause after that.
type findPace struct {
	next  time.Time
	pause time.Duration
}

func newRendezvous(d discovery.Discovery, sample int, ttl time.Duration) (*rendezvous, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("gossip: rendezvous TTL %s must be positive", ttl)
	}
	return &rendezvous{disc: d, sample: sampler{Discovery: d, n: sample}, ttl: ttl,
		pace: map[string]*findPace{}, clock: time.Now}, nil
}

// Advertise announces ns with the record TTL, retrying a failure with a
// growing pause until it succeeds or ctx ends, and tells gossipsub to renew
// it after a third of the TTL.
func (r *rendezvous) Advertise(ctx context.Context, ns string, opts ...discovery.Option) (time.Duration, error) {
	opts = append(opts, discovery.TTL(r.ttl))
	pause := advertiseRetryMin
	for {
		_, err := r.disc.Advertise(ctx, ns, opts...)
		if err == nil {
			return r.ttl / 3, nil
		}
		select {
		case <-ctx.Done():
			// gossipsub asks again after what we return, and only while
			// the topic is joined, which ctx ending says it no longer is.
			return r.ttl / 3, fmt.Errorf("announce %s: %w", ns, err)
		case <-time.After(pause):
		}
		pause = min(2*pause, advertiseRetryMax)
	}
}

// FindPeers returns a sample of the namespace's peers from the DHT, or no
// peers at all when the namespace was looked up too recently.
func (r *rendezvous) FindPeers(ctx context.Context, ns string, opts ...discovery.Option) (<-chan peer.AddrInfo, error) {
	if !r.due(ns) {
		ch := make(chan peer.AddrInfo)
		close(ch)
		return ch, nil
	}
	return r.sample.FindPeers(ctx, ns, opts...)
}

// due reports whether ns may be looked up now and, if so, sets the next time.
func (r *rendezvous) due(ns string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	p, ok := r.pace[ns]
	if !ok {
		p = &findPace{pause: findBackoffMin}
		r.pace[ns] = p
	} else if now.Before(p.next) {
		return false
	}
	// Jitter of up to a quarter, so nodes started together drift apart.
	wait := p.pause + rand.N(p.pause/4+1)
	p.next = now.Add(wait)
	p.pause = min(2*p.pause, findBackoffMax)
	return true
}
