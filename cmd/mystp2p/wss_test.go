package main

import (
	"strings"
	"testing"
	"time"
)

// A relay offered over WebSocket inside TLS (`--wss`) is a bootstrap peer
// a consumer can find offers through with only that address: nothing of
// libp2p travels in the clear on that port.
func TestWSSBootstrap(t *testing.T) {
	relay := startMystp2p(t, "relay", "relay", "--ephemeral", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--wss", "/ip4/127.0.0.1/tcp/0/tls/ws")
	m, _ := relay.Match(0, `^\s+(/ip4/127\.0\.0\.1/tcp/\d+/tls/\S*ws/p2p/\S+)$`, time.Minute)
	wss := m[1]
	dir, id := newDataDir(t, "provider")
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	prov := startMystp2p(t, "provide", "provide", "--data-dir", dir, "--country", "DE", "--price-hour", "0", "--price-gib", "0",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--bootstrap", wss)
	prov.Match(0, "^providing ", time.Minute)
	out, _, err := runCmd(t, t.Context(), "proposals", "--bootstrap", wss, "--wait", "3s", "--json")
	if err != nil {
		t.Fatalf("proposals through the WSS bootstrap: %v\n%s", err, out)
	}
	if !strings.Contains(out, id.PeerID().String()) {
		t.Fatalf("the provider's offer did not come through the WSS bootstrap: %q", out)
	}
}
