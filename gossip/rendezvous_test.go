package gossip

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeDiscovery is an in-memory rendezvous: Advertise fails while failures
// is positive, FindPeers hands out peers and counts the rounds.
type fakeDiscovery struct {
	mu       sync.Mutex
	failures int
	ttls     []time.Duration
	finds    int
	peers    []peer.AddrInfo
}

func (f *fakeDiscovery) Advertise(_ context.Context, _ string, opts ...discovery.Option) (time.Duration, error) {
	var o discovery.Options
	if err := o.Apply(opts...); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ttls = append(f.ttls, o.Ttl)
	if f.failures > 0 {
		f.failures--
		return 0, errors.New("failed to find any peer in table")
	}
	return o.Ttl, nil
}

func (f *fakeDiscovery) FindPeers(context.Context, string, ...discovery.Option) (<-chan peer.AddrInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	ch := make(chan peer.AddrInfo, len(f.peers))
	for _, ai := range f.peers {
		ch <- ai
	}
	close(ch)
	return ch, nil
}

// The announcement carries the DHT's record TTL, is renewed each third of
// it, and a first failure (empty routing table) is retried within a second
// rather than after gossipsub's two minutes.
func TestRendezvousAdvertiseRetriesWithTTL(t *testing.T) {
	fd := &fakeDiscovery{failures: 2}
	rv, err := newRendezvous(fd, 12, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	next, err := rv.Advertise(context.Background(), "floodsub:test/1")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("two failed announcements delayed the third by %s", took)
	}
	if next != 30*time.Second {
		t.Errorf("renew after %s, want a third of the 90 s TTL", next)
	}
	if len(fd.ttls) != 3 {
		t.Fatalf("%d announcements, want 3 (two failed)", len(fd.ttls))
	}
	for _, ttl := range fd.ttls {
		if ttl != 90*time.Second {
			t.Errorf("announced with TTL %s, want the record TTL 90s", ttl)
		}
	}

	// An announcement that keeps failing ends with its context.
	fd = &fakeDiscovery{failures: 1 << 30}
	rv, _ = newRendezvous(fd, 12, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := rv.Advertise(ctx, "floodsub:test/1"); err == nil {
		t.Fatal("an announcement that never succeeded reported success")
	}
	if _, err := newRendezvous(fd, 12, 0); err == nil {
		t.Fatal("a zero rendezvous TTL was accepted")
	}
}

// Gossipsub asks for peers every second while its mesh is short; the DHT is
// asked again only once the pause has passed, the pause doubling up to
// findBackoffMax, and a round asked for sooner returns no peers.
func TestRendezvousFindPeersBacksOff(t *testing.T) {
	fd := &fakeDiscovery{peers: []peer.AddrInfo{{ID: "a"}, {ID: "b"}, {ID: "c"}}}
	rv, err := newRendezvous(fd, 12, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_000_000, 0)
	rv.clock = func() time.Time { return now }
	round := func() int {
		ch, err := rv.FindPeers(context.Background(), "floodsub:test/1")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range ch {
			n++
		}
		return n
	}
	finds := func() int {
		fd.mu.Lock()
		defer fd.mu.Unlock()
		return fd.finds
	}
	if n := round(); n != 3 {
		t.Fatalf("first round returned %d peers, want the 3 known", n)
	}
	for range 3 { // 1.5 s, within the first pause of findBackoffMin
		now = now.Add(500 * time.Millisecond)
		if n := round(); n != 0 {
			t.Fatalf("a round within the pause returned %d peers", n)
		}
	}
	if finds() != 1 {
		t.Fatalf("rounds within the pause asked the DHT %d times, want once", finds())
	}
	// Each lookup doubles the pause (plus up to a quarter of jitter),
	// until it stays at the maximum.
	prev := time.Duration(0)
	for i := range 8 {
		start := now
		for finds() == i+1 {
			now = now.Add(100 * time.Millisecond)
			round()
			if now.Sub(start) > findBackoffMax*5/4+time.Second {
				t.Fatalf("lookup %d: no lookup within %s", i+2, now.Sub(start))
			}
		}
		gap := now.Sub(start)
		if gap < prev*3/4 || gap > findBackoffMax*5/4+time.Second {
			t.Errorf("lookup %d came %s after the one before (previous gap %s)", i+2, gap, prev)
		}
		prev = gap
	}
	if prev < findBackoffMax {
		t.Errorf("the pause reached only %s, want at least %s", prev, findBackoffMax)
	}
	// Another namespace has its own pace.
	ch, _ := rv.FindPeers(context.Background(), "floodsub:other/1")
	for range ch {
	}
	if finds() != 10 {
		t.Fatalf("a new namespace waited for another's pause")
	}
}
