package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
)

// Consume serves SOCKS5 through the best provider and, when that provider
// disappears, says so and moves to the next one.
func TestConsumeAutoReconnect(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var provs []*overlay.Node
	for i, price := range []string{"100000000000000000", "200000000000000000"} {
		p := newTestNode(t, overlay.Config{Bootstrap: boot, DHTServer: i == 0})
		offer := testOffer
		offer.PriceGiB = price
		if _, err := p.Advertise(ctx, offer); err != nil {
			t.Fatal(err)
		}
		if err := serve(t, p, server.Config{MaxSessions: 2, Policy: loopbackPolicy(t)}); err != nil {
			t.Fatal(err)
		}
		provs = append(provs, p)
	}
	cons := newTestNode(t, overlay.Config{Bootstrap: boot})
	var (
		mu     sync.Mutex
		stages []string
	)
	sessions := make(chan *client.Session, 4)
	done := make(chan error, 1)
	go func() {
		done <- client.Consume(ctx, cons, client.ConsumeConfig{
			SOCKSAddr: "127.0.0.1:0", AutoReconnect: true,
			Progress: func(s string) {
				mu.Lock()
				stages = append(stages, s)
				mu.Unlock()
			},
			OnSession: func(s *client.Session) { sessions <- s },
		})
	}()
	waitSession := func() *client.Session {
		select {
		case s := <-sessions:
			return s
		case err := <-done:
			t.Fatalf("Consume returned early: %v", err)
		case <-ctx.Done():
			t.Fatal("no session")
		}
		return nil
	}
	first := waitSession()
	if first.Provider != provs[0].ID() {
		t.Fatalf("first session with %s, want the cheapest %s", first.Provider, provs[0].ID())
	}
	provs[0].Close()
	second := waitSession()
	if second.Provider != provs[1].ID() {
		t.Fatalf("reconnected to %s, want %s", second.Provider, provs[1].ID())
	}
	mu.Lock()
	all := strings.Join(stages, "\n")
	mu.Unlock()
	if !strings.Contains(all, "ended") || !strings.Contains(all, "reconnecting") {
		t.Fatalf("the user was not told:\n%s", all)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Consume: %v", err)
	}
}
