package overlay

import (
	"net/netip"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

func TestObserverMapping(t *testing.T) {
	n := &Node{}
	n.observed.seen = make(map[netip.Addr]netip.AddrPort)
	rec := func(limited bool, remote, obs string) {
		n.observed.record(limited, ma.StringCast(remote), ma.StringCast(obs))
	}
	if got := n.NATMapping(); got != MappingUnknown {
		t.Fatalf("no observations: %s", got)
	}
	if _, ok := n.PublicIP(); ok {
		t.Fatal("a public IP before any observation")
	}
	rec(false, "/ip4/8.8.8.8/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/5000/quic-v1")
	if got := n.NATMapping(); got != MappingUnknown {
		t.Fatalf("one observer: %s", got)
	}
	// Ignored: relayed, private, TCP, circuit.
	rec(true, "/ip4/9.9.9.9/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/6000/quic-v1")
	rec(false, "/ip4/192.168.1.1/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/6000/quic-v1")
	rec(false, "/ip4/9.9.9.9/tcp/4001", "/ip4/1.2.3.4/tcp/6000")
	rec(false, "/ip4/9.9.9.9/udp/4001/quic-v1/p2p/16Uiu2HAmUcU6ZqdntQx9MAKGepn8F4rZvhFs9K2KmN7jt4FWfbgi/p2p-circuit", "/ip4/1.2.3.4/udp/6000/quic-v1")
	if got := n.NATMapping(); got != MappingUnknown {
		t.Fatalf("ignored observations counted: %s", got)
	}
	rec(false, "/ip4/9.9.9.9/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/5000/quic-v1")
	if got := n.NATMapping(); got != MappingEndpointIndependent {
		t.Fatalf("same port from two peers: %s", got)
	}
	if a, ok := n.PublicQUICAddr(); !ok || a != netip.MustParseAddrPort("1.2.3.4:5000") {
		t.Fatalf("public QUIC address %s %v", a, ok)
	}
	rec(false, "/ip4/1.1.1.1/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/40312/quic-v1")
	if got := n.NATMapping(); got != MappingEndpointDependent {
		t.Fatalf("a different port from a third peer: %s", got)
	}
	if a, ok := n.PublicQUICAddr(); ok {
		t.Fatalf("public QUIC address %s behind an endpoint-dependent mapping", a)
	}
	if ip, ok := n.PublicIP(); !ok || ip != netip.MustParseAddr("1.2.3.4") {
		t.Fatalf("public IP %s %v", ip, ok)
	}
	for i := range 2 * maxObservers {
		rec(false, "/ip4/5.5.5."+string(rune('0'+i%10))+"/udp/4001/quic-v1", "/ip4/1.2.3.4/udp/5000/quic-v1")
	}
	if len(n.observed.seen) > maxObservers {
		t.Fatalf("%d observations kept, at most %d", len(n.observed.seen), maxObservers)
	}
}
