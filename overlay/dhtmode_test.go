package overlay

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/mystp2p/mystp2p/dht"
)

// DHTServer forces server mode; auto is a server on a node forced public,
// a client on one forced private, and otherwise follows the host's
// reachability as it changes.
func TestDHTMode(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want dht.Mode
	}{
		{Config{}, dht.ModeClient},
		{Config{DHTServer: true}, dht.ModeServer},
		{Config{DHTServer: true, DHTMode: dht.ModeClient}, dht.ModeServer},
		{Config{DHTMode: dht.ModeAuto}, dht.ModeAuto},
		{Config{DHTMode: dht.ModeAuto, Host: HostConfig{Reachability: ReachabilityPublic}}, dht.ModeServer},
		{Config{DHTMode: dht.ModeAuto, Host: HostConfig{Reachability: ReachabilityPrivate}}, dht.ModeClient},
	} {
		if got := tc.cfg.dhtMode(); got != tc.want {
			t.Errorf("%+v: mode %v, want %v", tc.cfg, got, tc.want)
		}
	}
	for _, s := range []string{"auto", "server", "client"} {
		if m, err := dht.ParseMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := dht.ParseMode("sometimes"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}

	n := newTestNode(t, Config{DHTMode: dht.ModeAuto})
	if n.DHT().Serving() {
		t.Fatal("auto node serves before it knows it is reachable")
	}
	em, err := n.Host().EventBus().Emitter(new(event.EvtLocalReachabilityChanged), eventbus.Stateful)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	wait := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n.DHT().Serving() != want {
			if time.Now().After(deadline) {
				t.Fatalf("serving %v, want %v", !want, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	em.Emit(event.EvtLocalReachabilityChanged{Reachability: network.ReachabilityPublic})
	wait(true)
	em.Emit(event.EvtLocalReachabilityChanged{Reachability: network.ReachabilityPrivate})
	wait(false)
}
