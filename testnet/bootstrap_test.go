package testnet

import (
	"context"
	"testing"
	"time"
)

// TestProvidersJoinThroughEveryBootstrapNode checks that providers after the
// first few are given the relay and the DHT-server providers to join
// through, and that such a provider starts.
func TestProvidersJoinThroughEveryBootstrapNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := Start(ctx, Config{Providers: dhtServers})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.providerBootstrap()
	if len(boot) != 1+dhtServers {
		t.Fatalf("a new provider gets %d bootstrap peers, want the relay and %d DHT servers", len(boot), dhtServers)
	}
	if boot[0].ID != net.Relay.ID() {
		t.Errorf("the first bootstrap peer is %s, not the relay", boot[0].ID)
	}
	for i, p := range net.Providers() {
		if boot[1+i].ID != p.Node.ID() {
			t.Errorf("bootstrap peer %d is %s, want DHT server %s", 1+i, boot[1+i].ID, p.Node.ID())
		}
	}
	if _, err := net.AddProvider(ctx); err != nil {
		t.Fatal(err)
	}
}
