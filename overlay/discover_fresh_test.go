package overlay

import (
	"testing"
	"time"
)

// A gossiped proposal needs no refetch while more than a minute, or more
// than half of a short lifetime, is left.
func TestIsFresh(t *testing.T) {
	mk := func(life time.Duration) *SignedProposal {
		return &SignedProposal{Proposal: Proposal{IssuedAt: 0, ExpiresAt: life.Milliseconds()}}
	}
	for _, c := range []struct {
		life, left time.Duration
		want       bool
	}{
		{10 * time.Minute, 2 * time.Minute, true},
		{10 * time.Minute, 50 * time.Second, false},
		{55 * time.Second, 40 * time.Second, true}, // a testnet's TTL, just re-announced
		{55 * time.Second, 20 * time.Second, false},
		{55 * time.Second, 0, false},
	} {
		if got := isFresh(mk(c.life), c.left); got != c.want {
			t.Errorf("life %s, %s left: fresh %v, want %v", c.life, c.left, got, c.want)
		}
	}
}
