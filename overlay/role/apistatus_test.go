package role

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"
)

// Each kind of host address names its transport, and a circuit address its
// relay.
func TestTransportAndRelayOf(t *testing.T) {
	const relay = "12D3KooWLRPJAA5o6X7uhiyQ2RF7YfEwwSdq9QgNyfwxBe2Sbo4M"
	for _, c := range []struct{ addr, transport, relay string }{
		{"/ip4/203.0.113.7/tcp/4001", "tcp", ""},
		{"/ip4/203.0.113.7/udp/4001/quic-v1", "quic-v1", ""},
		{"/ip4/203.0.113.7/udp/4001/quic-v1/webtransport", "webtransport", ""},
		{"/ip4/203.0.113.7/tcp/443/tls/ws", "wss", ""},
		{"/dns4/example.com/tcp/443/wss", "wss", ""},
		{"/ip6/2001:db8::1/tcp/80/ws", "ws", ""},
		{"/ip4/203.0.113.7/udp/4001/quic-v1/p2p/" + relay + "/p2p-circuit", "relay", relay},
		{"/ip4/203.0.113.7/tcp/4001/p2p/" + relay + "/p2p-circuit", "relay", relay},
	} {
		a, err := ma.NewMultiaddr(c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := transportOf(a); got != c.transport {
			t.Errorf("transportOf(%s) = %s, want %s", c.addr, got, c.transport)
		}
		id, ok := relayOf(a)
		if ok != (c.relay != "") || (ok && id.String() != c.relay) {
			t.Errorf("relayOf(%s) = %s, %v, want %q", c.addr, id, ok, c.relay)
		}
	}
}
