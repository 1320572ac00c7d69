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
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
)

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

func mustID(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func startRelay(t *testing.T) peer.AddrInfo {
	t.Helper()
	limits := relay.DefaultLimits()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := overlay.New(ctx, overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback,
		RelayService: &limits, Reachability: overlay.ReachabilityPublic}, DHTServer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n.AddrInfo()
}

func providerConfig(t *testing.T, boot peer.AddrInfo) role.ProviderConfig {
	t.Helper()
	policy, err := tunnel.NewExitPolicy()
	if err != nil {
		t.Fatal(err)
	}
	return role.ProviderConfig{
		Node: overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback},
			Bootstrap: []peer.AddrInfo{boot}, ProposalTTL: time.Minute},
		Offer:       overlay.Offer{Country: "DE", IPType: overlay.IPResidential, PriceHour: "0", PriceGiB: "0"},
		MaxSessions: 2, Policy: policy,
	}
}

// A free provider starts, advertises, serves sessions and closes without
// leaving a goroutine behind; Close is idempotent.
func TestProviderLifecycle(t *testing.T) {
	// The check first: cleanups run last-in first-out, so the relay closes
	// before the check looks (its relay service may start after any
	// baseline, when its reachability turns public).
	tstest.CheckGoroutines(t, tstest.LeakTimeout(20*time.Second))
	boot := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := role.StartProvider(ctx, providerConfig(t, boot))
	if err != nil {
		t.Fatal(err)
	}
	if p.Proposal == nil || p.Sessions == nil || p.Books != nil {
		t.Fatalf("started provider: proposal %v, sessions %v, books %v", p.Proposal, p.Sessions, p.Books)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A paid provider whose hermes is not registered fails with a clear error
// and leaves nothing open: the store can be opened again at once, and no
// local API file remains.
func TestProviderFailsCleanly(t *testing.T) {
	boot := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	chain, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chain.Close() })

	cfg := providerConfig(t, boot)
	cfg.DataDir, cfg.Chain, cfg.LocalAPI = t.TempDir(), chain.Chain, true
	cfg.Offer.PriceHour, cfg.Offer.PriceGiB = "1", "1"
	cfg.Offer.Hermes = []string{mustID(t).Address().Hex()} // never registered
	if _, err := role.StartProvider(ctx, cfg); !errors.Is(err, role.ErrHermesNotRegistered) {
		t.Fatalf("unregistered hermes: %v, want ErrHermesNotRegistered", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, role.APIFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed start left the API file: %v", err)
	}

	// Registered hermes, but the node cannot join: the books it opened
	// are closed again.
	hub := mustID(t)
	if err := chain.Fund(ctx, hub.Address(), big.NewInt(1e18), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	if err := chain.Chain.RegisterHermes(ctx, hub, big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	cfg.Offer.Hermes = []string{hub.Address().Hex()}
	cfg.Node.Bootstrap = []peer.AddrInfo{{ID: mustID(t).PeerID()}} // no address: unreachable
	if _, err := role.StartProvider(ctx, cfg); !errors.Is(err, overlay.ErrNoBootstrap) {
		t.Fatalf("unreachable bootstrap: %v, want ErrNoBootstrap", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, role.APIFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed start left the API file: %v", err)
	}
	store, err := role.OpenStore(cfg.DataDir, role.ProviderStore)
	if err != nil {
		t.Fatalf("the failed start kept the store open: %v", err)
	}
	store.Close()
}

// The limits given at start are in force from the first session, and a
// provider with a data directory keeps the month's usage file there.
func TestProviderLimits(t *testing.T) {
	boot := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := providerConfig(t, boot)
	cfg.DataDir = t.TempDir()
	cfg.Limits = server.Limits{SessionRate: 1 << 20, TotalRate: 4 << 20, MonthlyCap: 1 << 30}
	p, err := role.StartProvider(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Sessions.Limits(); got != cfg.Limits {
		t.Fatalf("limits in force %+v, want %+v", got, cfg.Limits)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, server.UsageFileName)); err != nil {
		t.Fatalf("usage file: %v", err)
	}
	bad := providerConfig(t, boot)
	bad.Limits = server.Limits{MonthlyCap: -1}
	if p2, err := role.StartProvider(ctx, bad); err == nil {
		p2.Close()
		t.Fatal("a negative monthly cap was accepted")
	}
}
