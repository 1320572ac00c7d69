package gossip

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func candidates(n int) chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, n)
	for i := range n {
		ch <- peer.AddrInfo{ID: peer.ID(rune('A'+i%26)) + peer.ID(rune('a'+i/26))}
	}
	close(ch)
	return ch
}

// A round hands gossipsub at most n peers, every candidate with a fair
// chance: no candidate, first or last, is always in or always out.
func TestSamplePeersBoundedAndFair(t *testing.T) {
	const total, n, rounds = 100, 12, 400
	hits := map[peer.ID]int{}
	for range rounds {
		got := samplePeers(context.Background(), candidates(total), n, sampleCandidates, time.Second)
		if len(got) != n {
			t.Fatalf("sample of %d, want %d", len(got), n)
		}
		seen := map[peer.ID]bool{}
		for _, ai := range got {
			if seen[ai.ID] {
				t.Fatalf("%s sampled twice in one round", ai.ID)
			}
			seen[ai.ID] = true
			hits[ai.ID]++
		}
	}
	// Each candidate is expected rounds*n/total = 48 times.
	for id, h := range hits {
		if h < 20 || h > 90 {
			t.Errorf("candidate %s sampled %d times in %d rounds, want about 48", id, h, rounds)
		}
	}
	if len(hits) != total {
		t.Errorf("%d of %d candidates ever sampled", len(hits), total)
	}
}

// Fewer candidates than the sample size: all of them; a round that never
// ends is cut at the window, and the sender is drained, never blocked.
func TestSamplePeersFewAndSlow(t *testing.T) {
	if got := samplePeers(context.Background(), candidates(3), 12, sampleCandidates, time.Second); len(got) != 3 {
		t.Fatalf("got %d of 3 candidates", len(got))
	}
	in := make(chan peer.AddrInfo)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		in <- peer.AddrInfo{ID: "x"}
		time.Sleep(100 * time.Millisecond)
		in <- peer.AddrInfo{ID: "y"} // after the window: must not block
		close(in)
	}()
	got := samplePeers(context.Background(), in, 12, sampleCandidates, 50*time.Millisecond)
	if len(got) != 1 || got[0].ID != "x" {
		t.Fatalf("got %v, want just x", got)
	}
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the sender blocked after the sample was taken")
	}
}
