package client

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/overlay"
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
