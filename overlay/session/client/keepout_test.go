package client

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	p2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// A TUN session's upgrade dials the provider's public addresses outside
// the tunnel: each is excluded from the TUN before it is dialled, once,
// and one that cannot be excluded is not dialled at all (its packets would
// enter the tunnel and reach the provider's exit instead). In the NAT lab
// that was a port-restricted consumer's session to a full-cone provider
// staying relayed: the provider's address was learnt after the TUN started.
func TestDirectAddrsKeepTheProviderOutOfTheTunnel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := overlay.New(ctx, overlay.Config{
		Host:        overlay.HostConfig{Identity: mustID(t), Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}},
		ProposalTTL: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	prov := mustID(t).PeerID()
	public := ma.StringCast("/ip4/1.2.3.4/udp/4001/quic-v1")
	n.Host().Peerstore().AddAddrs(prov, []ma.Multiaddr{
		public,
		ma.StringCast("/ip4/192.168.1.2/udp/4001/quic-v1"), // private: never dialled
		ma.StringCast("/ip4/1.2.3.4/tcp/4001"),             // not QUIC
		ma.StringCast("/ip4/5.6.7.8/udp/4001/quic-v1/p2p/" + prov.String() + "/p2p-circuit"),
	}, time.Minute)

	// SOCKS5 mode: nothing to exclude.
	s := &Session{ID: "s", Provider: prov, node: n}
	if got := s.directAddrs(); !slices.EqualFunc(got, []ma.Multiaddr{public}, ma.Multiaddr.Equal) {
		t.Fatalf("SOCKS5 session dials %v, want only %v", got, public)
	}

	// TUN mode: excluded first, and only once.
	var excluded []netip.Prefix
	s.exclude = func(ps ...netip.Prefix) error {
		excluded = append(excluded, ps...)
		return nil
	}
	for range 2 {
		if got := s.directAddrs(); !slices.EqualFunc(got, []ma.Multiaddr{public}, ma.Multiaddr.Equal) {
			t.Fatalf("TUN session dials %v, want only %v", got, public)
		}
	}
	if want := []netip.Prefix{netip.MustParsePrefix("1.2.3.4/32")}; !slices.Equal(excluded, want) {
		t.Fatalf("excluded %v, want %v once", excluded, want)
	}

	// An address the TUN cannot exclude is not dialled, and is tried again
	// next round.
	s2 := &Session{ID: "s2", Provider: prov, node: n}
	calls := 0
	s2.exclude = func(...netip.Prefix) error {
		calls++
		return errors.New("no route")
	}
	for range 2 {
		if got := s2.directAddrs(); len(got) != 0 {
			t.Fatalf("dials %v that stayed in the tunnel", got)
		}
	}
	if calls != 2 {
		t.Fatalf("exclusion tried %d times over two rounds, want 2", calls)
	}
	// The birthday punch's targets go the same way: an IPv4-mapped address
	// is excluded as IPv4.
	if err := s.keepOut(netip.MustParseAddr("::ffff:9.9.9.9")); err != nil {
		t.Fatal(err)
	}
	if excluded[len(excluded)-1] != netip.MustParsePrefix("9.9.9.9/32") {
		t.Fatalf("excluded %v for a mapped address", excluded[len(excluded)-1])
	}
}

// Every direct connection to the provider that comes while a TUN session
// runs is kept out of its tunnel, also one that came before the watch
// began; connections to other peers are left to the tunnel. (In the NAT
// lab, a hole punch that landed just after the TUN started carried the
// session's control streams into the tunnel and the session died.)
func TestKeepProviderOutExcludesLaterConnections(t *testing.T) {
	mn := mocknet.New()
	defer mn.Close()
	add := func(addr string) host.Host {
		k, _, err := p2pcrypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		h, err := mn.AddPeer(k, ma.StringCast(addr))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	consumer, prov, other := add("/ip4/10.0.0.2/tcp/4001"), add("/ip4/1.2.3.4/tcp/4001"), add("/ip4/5.6.7.8/tcp/4001")
	lan := add("/ip4/192.168.1.2/tcp/4001")
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var excluded []netip.Prefix
	s := &Session{ID: "s", Provider: prov.ID(), exclude: func(ps ...netip.Prefix) error {
		mu.Lock()
		defer mu.Unlock()
		excluded = append(excluded, ps...)
		return nil
	}}
	got := func() []netip.Prefix {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(excluded)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.keepProviderOut(ctx, consumer, slog.New(slog.DiscardHandler))
	}()
	if _, err := mn.ConnectPeers(consumer.ID(), other.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := mn.ConnectPeers(consumer.ID(), prov.ID()); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParsePrefix("1.2.3.4/32")
	tstest.WaitFor(t, 10*time.Second, "the provider's connection kept out of the tunnel", func() bool {
		return slices.Contains(got(), want)
	})
	cancel()
	<-done
	if ex := got(); !slices.Equal(ex, []netip.Prefix{want}) {
		t.Fatalf("excluded %v, want only the provider's %v, once", ex, want)
	}

	// A connection that was up before the watch began is found by its
	// first look.
	s2 := &Session{ID: "s2", Provider: other.ID(), exclude: s.exclude}
	mu.Lock()
	excluded = nil
	mu.Unlock()
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var watches sync.WaitGroup
	watches.Go(func() { s2.keepProviderOut(ctx, consumer, slog.New(slog.DiscardHandler)) })
	tstest.WaitFor(t, 10*time.Second, "an earlier connection kept out of the tunnel", func() bool {
		return slices.Contains(got(), netip.MustParsePrefix("5.6.7.8/32"))
	})

	// A connection to a private address of the provider that the TUN did
	// not exclude at its start runs inside the tunnel: it is closed, not
	// excluded. One the start excluded (the same LAN) stays.
	s3 := &Session{ID: "s3", Provider: lan.ID(), exclude: s.exclude}
	mu.Lock()
	excluded = nil
	mu.Unlock()
	watches.Go(func() { s3.keepProviderOut(ctx, consumer, slog.New(slog.DiscardHandler)) })
	if _, err := mn.ConnectPeers(consumer.ID(), lan.ID()); err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 10*time.Second, "the connection through the tunnel closed", func() bool {
		return consumer.Network().Connectedness(lan.ID()) != network.Connected
	})
	cancel()
	// s3's watch would close the next connection to lan too: it must have
	// ended before s4's look.
	watches.Wait()
	if ex := got(); len(ex) != 0 {
		t.Fatalf("excluded %v for a private address", ex)
	}
	s4 := &Session{ID: "s4", Provider: lan.ID(), exclude: s.exclude}
	s4.markKept([]netip.Prefix{netip.MustParsePrefix("192.168.1.2/32")})
	if _, err := mn.ConnectPeers(consumer.ID(), lan.ID()); err != nil {
		t.Fatal(err)
	}
	// The watch's first look runs before it checks its context.
	ended, stop := context.WithCancel(context.Background())
	stop()
	s4.keepProviderOut(ended, consumer, slog.New(slog.DiscardHandler))
	if consumer.Network().Connectedness(lan.ID()) != network.Connected {
		t.Fatal("closed a connection on an address the TUN excluded at its start")
	}
	if ex := got(); len(ex) != 0 {
		t.Fatalf("excluded %v again", ex)
	}
}

// A provider cannot steer an unbounded part of a TUN consumer's traffic
// around the tunnel by naming addresses: keepOut stops at maxKept.
func TestKeepOutIsBounded(t *testing.T) {
	n := 0
	s := &Session{ID: "s", exclude: func(...netip.Prefix) error { n++; return nil }}
	for i := range maxKept + 5 {
		err := s.keepOut(netip.AddrFrom4([4]byte{1, 2, byte(i >> 8), byte(i)}))
		if (i < maxKept) != (err == nil) {
			t.Fatalf("address %d: %v", i, err)
		}
	}
	if n != maxKept {
		t.Fatalf("%d exclusions, want %d", n, maxKept)
	}
}
