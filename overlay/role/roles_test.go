package role_test

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// A relay, a hub and a free consumer start and close through their
// assemblies and leave no goroutine behind; a hub that is not registered,
// and a consumer whose hub has nothing for it, fail clearly and leave
// nothing open.
func TestRolesLifecycle(t *testing.T) {
	tstest.CheckGoroutines(t, tstest.LeakTimeout(20*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	limits := relay.DefaultLimits()
	rel, err := role.StartRelay(ctx, role.RelayConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback,
		Reachability: overlay.ReachabilityPublic}}, Limits: &limits})
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Close()
	boot := []peer.AddrInfo{rel.Node.AddrInfo()}

	chain, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	hubID := mustID(t)
	hcfg := role.HermesConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: hubID, Listen: loopback}, Bootstrap: boot,
		DHTServer: true, ProposalTTL: time.Minute}, Chain: chain.Chain, DataDir: t.TempDir(), FeeBp: 250, LocalAPI: true}
	if _, err := role.StartHermes(ctx, hcfg); !errors.Is(err, role.ErrHermesNotRegistered) {
		t.Fatalf("unregistered hub: %v, want ErrHermesNotRegistered", err)
	}
	if err := chain.Fund(ctx, hubID.Address(), big.NewInt(1e18), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	if err := chain.Chain.RegisterHermes(ctx, hubID, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	hub, err := role.StartHermes(ctx, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	if _, err := os.Stat(filepath.Join(hcfg.DataDir, role.APIFile)); err != nil {
		t.Fatalf("the hub's local API: %v", err)
	}

	// A consumer with no deposit at the hub is refused before any session.
	ccfg := role.ConsumerConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: boot},
		Hermes: hubID.PeerID().String(), MaxHermesFeeBp: 500}
	if _, err := role.StartConsumer(ctx, ccfg); !errors.Is(err, role.ErrNothingToSpend) {
		t.Fatalf("consumer without a deposit: %v, want ErrNothingToSpend", err)
	}
	ccfg.Hermes = ""
	cons, err := role.StartConsumer(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if cons.Payment != nil {
		t.Fatal("a free consumer has a payment")
	}
	for _, c := range []interface{ Close() error }{cons, hub, rel} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}
