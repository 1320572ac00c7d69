package overlay

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

func newTestNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.Host.Identity == nil {
		cfg.Host.Identity = mustID(t)
	}
	cfg.Host.Listen = loopback
	if cfg.ProposalTTL == 0 {
		cfg.ProposalTTL = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newRelay(t *testing.T) *Node {
	limits := relay.DefaultLimits()
	return newTestNode(t, Config{Host: HostConfig{RelayService: &limits, Reachability: ReachabilityPublic}, DHTServer: true})
}

var testOffer = Offer{Country: "DE", IPType: IPResidential, PriceHour: "50000000000000000", PriceGiB: "200000000000000000"}

func TestAdvertiseAndDiscover(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, Config{Bootstrap: boot, DHTServer: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Proposal.Provider != prov.ID() || len(sp.Proposal.Addrs) == 0 {
		t.Fatalf("advertised %+v", sp.Proposal)
	}

	cons := newTestNode(t, Config{Bootstrap: boot})
	// Direct fetch.
	got, err := cons.FetchProposal(ctx, prov.AddrInfo())
	if err != nil {
		t.Fatal(err)
	}
	if got.Proposal.Seq != sp.Proposal.Seq {
		t.Fatalf("fetched seq %d, want %d", got.Proposal.Seq, sp.Proposal.Seq)
	}
	// A fresh consumer finds it through the DHT, filtered by country.
	late := newTestNode(t, Config{Bootstrap: boot})
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, err := late.Discover(ctx, Query{Country: "DE"})
		if err == nil && len(ps) == 1 && ps[0].Proposal.Provider == prov.ID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late consumer did not find the provider: %v %v", ps, err)
		}
	}
	if ps, _ := late.Discover(ctx, Query{Country: "NL"}); len(ps) != 0 {
		t.Fatalf("NL query returned %d proposals", len(ps))
	}
	// The DHT record is there too, signed and valid (once the provider's
	// background put has reached the DHT).
	tstest.WaitForNoError(t, 20*time.Second, "the provider's DHT record", func() error {
		rec, err := late.FetchRecord(ctx, prov.ID())
		if err == nil && rec.Proposal.Provider != prov.ID() {
			t.Fatalf("dht record of %s names %s", prov.ID(), rec.Proposal.Provider)
		}
		return err
	})
}

// A provider that serves somebody else's proposal, or garbage, is refused and
// nothing it sent is kept.
func TestFetchRejectsHostileProvider(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	honest := newTestNode(t, Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sp, err := honest.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	stolen, _ := sp.Encode()
	for name, payload := range map[string][]byte{
		"someone else's proposal": stolen,
		"garbage":                 []byte("{not json"),
		"oversized":               make([]byte, MaxProposalSize+100),
	} {
		t.Run(name, func(t *testing.T) {
			liar := newTestNode(t, Config{Bootstrap: boot})
			liar.Host().SetStreamHandler(ProtocolProposal, func(s network.Stream) {
				s.Write(payload)
				s.Close()
			})
			cons := newTestNode(t, Config{Bootstrap: boot})
			if _, err := cons.FetchProposal(ctx, liar.AddrInfo()); err == nil {
				t.Fatal("hostile proposal accepted")
			}
			if n := len(cons.Cached(Query{})); n != 0 {
				t.Fatalf("%d proposals cached after a hostile fetch", n)
			}
		})
	}
}

func TestNewFailsClearly(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{}); err == nil {
		t.Fatal("no identity accepted")
	}
	if _, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t)}, ProposalTTL: 48 * time.Hour}); err == nil {
		t.Fatal("48 h proposal TTL accepted")
	}
	// An unreachable bootstrap peer fails the start and leaks nothing.
	before := tstest.Goroutines()
	dead := peer.AddrInfo{ID: mustID(t).PeerID()}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := New(cctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: []peer.AddrInfo{dead}})
	if err == nil {
		t.Fatal("start with an unreachable bootstrap peer succeeded")
	}
	if err := before.Leaked(tstest.LeakTimeout(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
}

// Close stops every goroutine the nodes started.
func TestCloseLeavesNothing(t *testing.T) {
	before := tstest.Goroutines()
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		limits := relay.DefaultLimits()
		r, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback, RelayService: &limits}, DHTServer: true})
		if err != nil {
			t.Fatal(err)
		}
		boot := []peer.AddrInfo{r.AddrInfo()}
		p, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: boot, DHTServer: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Advertise(ctx, testOffer); err != nil {
			t.Fatal(err)
		}
		c, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: boot})
		if err != nil {
			t.Fatal(err)
		}
		w := c.WatchProposals(ctx)
		if _, err := c.FetchProposal(ctx, p.AddrInfo()); err != nil {
			t.Fatal(err)
		}
		for _, n := range []*Node{c, p, r} {
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if err := n.Close(); err != nil {
				t.Fatal("second Close:", err)
			}
		}
		for range w {
		}
		if _, err := p.Advertise(ctx, testOffer); !errors.Is(err, ErrClosed) {
			t.Fatalf("Advertise after Close: %v", err)
		}
	}()
	if err := before.Leaked(tstest.LeakTimeout(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
}
