// Package testnet starts whole mystp2p networks on one machine for
// researchers and tests: by default every node in this process on loopback,
// with a relay/bootstrap node, N providers and a consumer, and scenarios that
// check the network and write a report.
package testnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel"
)

// Config describes an in-process network.
type Config struct {
	Providers int
	// ProposalTTL is short in testnets so that stopped providers vanish fast.
	ProposalTTL time.Duration
	// RecordTTL is the DHT record lifetime.
	RecordTTL time.Duration
	// Countries are assigned to providers round-robin.
	Countries []string
	// Consumers is how many consumers open sessions at once (sessions scenario).
	Consumers int
	// FetchBytes is what each session downloads from the origin.
	FetchBytes int64
	// Hermes is how many hermes hubs the payments scenario runs (0: 2).
	Hermes int
	// MaxSessions is each provider's session limit (0: 32).
	MaxSessions int
	Logger      *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Providers < 0 {
		return fmt.Errorf("testnet: --providers %d must not be negative", c.Providers)
	}
	if c.Providers > 1000 {
		return fmt.Errorf("testnet: --providers %d exceeds 1000, more than one machine holds", c.Providers)
	}
	if c.ProposalTTL == 0 {
		c.ProposalTTL = time.Minute
	}
	if c.RecordTTL == 0 {
		c.RecordTTL = 2 * time.Minute
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = 32
	}
	if len(c.Countries) == 0 {
		c.Countries = []string{"DE", "NL", "US", "SG", "BR"}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Network is a running in-process network.
type Network struct {
	cfg      Config
	Relay    *overlay.Node
	Consumer *overlay.Node
	// ConsumerRole is the consumer as `mystp2p connect` runs it; Consumer
	// is its node.
	ConsumerRole *role.Consumer
	// Origin is a web server on loopback that providers' exits may reach.
	Origin *Origin

	mu        sync.Mutex
	providers []*Provider

	once sync.Once
}

// Provider is a provider node with when it started advertising.
type Provider struct {
	Node *overlay.Node
	// Sessions is the provider's session server.
	Sessions *server.Server
	// Role is the whole provider, as `mystp2p provide` runs it.
	Role     *role.Provider
	Started  time.Time
	Proposal *overlay.SignedProposal
}

// dhtServers is how many providers also serve the DHT.
const dhtServers = 4

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// Start brings up the relay/bootstrap node and the consumer, then the
// providers. It closes everything it started when it fails.
func Start(ctx context.Context, cfg Config) (_ *Network, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	n := &Network{cfg: cfg}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.Origin, err = StartOrigin("127.0.0.1:0"); err != nil {
		return nil, err
	}
	limits := relay.DefaultLimits()
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	// The relay starts as `mystp2p relay` starts it (role.StartRelay).
	rel, err := role.StartRelay(ctx, role.RelayConfig{
		Node: overlay.Config{
			Host:        overlay.HostConfig{Identity: id, Listen: loopback, Reachability: overlay.ReachabilityPublic},
			ProposalTTL: n.cfg.ProposalTTL,
			RecordTTL:   n.cfg.RecordTTL,
			Logger:      n.cfg.Logger.With("role", "relay"),
		},
		Limits: &limits,
	})
	if err != nil {
		return nil, fmt.Errorf("start relay: %w", err)
	}
	n.Relay = rel.Node
	cid, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	// The consumer starts as `mystp2p connect` starts it (role.StartConsumer).
	if n.ConsumerRole, err = role.StartConsumer(ctx, role.ConsumerConfig{Node: overlay.Config{
		Host:        overlay.HostConfig{Identity: cid, Listen: loopback},
		Bootstrap:   n.Bootstrap(),
		ProposalTTL: n.cfg.ProposalTTL,
		RecordTTL:   n.cfg.RecordTTL,
		Logger:      n.cfg.Logger.With("role", "consumer"),
	}}); err != nil {
		return nil, fmt.Errorf("start consumer: %w", err)
	}
	n.Consumer = n.ConsumerRole.Node
	for range cfg.Providers {
		if _, err := n.AddProvider(ctx); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *Network) newNode(ctx context.Context, role string, c overlay.Config) (*overlay.Node, error) {
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	c.Host.Identity = id
	c.Host.Listen = loopback
	c.ProposalTTL = n.cfg.ProposalTTL
	c.RecordTTL = n.cfg.RecordTTL
	c.Logger = n.cfg.Logger.With("role", role)
	return overlay.New(ctx, c)
}

// Bootstrap is the relay's address, for nodes joining this network.
func (n *Network) Bootstrap() []peer.AddrInfo {
	return []peer.AddrInfo{n.Relay.AddrInfo()}
}

// providerBootstrap is what a new provider joins through: the relay and the
// providers that are DHT servers, as a real network has several bootstrap
// nodes. Joining needs only one of them to answer: with the relay alone,
// a --providers 1000 run stopped when one new provider's dial to the busy
// relay did not finish its handshake within the bootstrap timeout.
func (n *Network) providerBootstrap() []peer.AddrInfo {
	boot := n.Bootstrap()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.providers[:min(dhtServers, len(n.providers))] {
		boot = append(boot, p.Node.AddrInfo())
	}
	return boot
}

// AddProvider starts one more provider and advertises its offer.
func (n *Network) AddProvider(ctx context.Context) (*Provider, error) {
	return n.addProvider(ctx, nil)
}

// addProvider starts a provider through role.StartProvider, as
// `mystp2p provide` does; mod, if set, adjusts its configuration before it
// starts (the payments scenario makes it charge).
func (n *Network) addProvider(ctx context.Context, mod func(*role.ProviderConfig) error) (*Provider, error) {
	n.mu.Lock()
	i := len(n.providers)
	n.mu.Unlock()
	start := time.Now()
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	// The loopback testnet's exits may reach loopback, where the origin is.
	policy, err := tunnel.NewExitPolicy(tunnel.WithAllowLoopback())
	if err != nil {
		return nil, err
	}
	cfg := role.ProviderConfig{
		// A few providers answer DHT queries besides the relay, so records
		// survive one node; the rest are clients, as NATed providers are,
		// which keeps a 100-provider network within two cores.
		Node: overlay.Config{
			Host:        overlay.HostConfig{Identity: id, Listen: loopback, StaticRelays: n.Bootstrap()},
			Bootstrap:   n.providerBootstrap(),
			DHTServer:   i < dhtServers,
			ProposalTTL: n.cfg.ProposalTTL,
			RecordTTL:   n.cfg.RecordTTL,
			Logger:      n.cfg.Logger.With("role", "provider"),
		},
		Offer: overlay.Offer{
			Country:   n.cfg.Countries[i%len(n.cfg.Countries)],
			IPType:    []string{overlay.IPResidential, overlay.IPHosting, overlay.IPMobile}[i%3],
			PriceHour: fmt.Sprint(10_000_000_000_000_000 + rand.IntN(90)*1_000_000_000_000_000),
			PriceGiB:  fmt.Sprint(100_000_000_000_000_000 + rand.IntN(90)*1_000_000_000_000_000),
		},
		MaxSessions: n.cfg.MaxSessions,
		Policy:      policy,
	}
	if i < dhtServers {
		// Every provider here keeps a connection to each DHT server, so a
		// server at the default watermarks (100/400) would trim hundreds
		// of them once the network passes 400 providers.
		cfg.Node.Host.ConnLow, cfg.Node.Host.ConnHigh = 2000, 4000
	}
	if mod != nil {
		if err := mod(&cfg); err != nil {
			return nil, fmt.Errorf("provider %d: %w", i, err)
		}
	}
	prov, err := role.StartProvider(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start provider %d: %w", i, err)
	}
	p := &Provider{Node: prov.Node, Sessions: prov.Sessions, Role: prov, Started: start, Proposal: prov.Proposal}
	n.mu.Lock()
	n.providers = append(n.providers, p)
	n.mu.Unlock()
	return p, nil
}

// Providers lists the providers started so far.
func (n *Network) Providers() []*Provider {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Provider{}, n.providers...)
}

// StopProvider closes provider p.
func (n *Network) StopProvider(p *Provider) error {
	return p.Role.Close()
}

// closeWait bounds how long Close waits for one node. A libp2p host can
// hang in Close: after a --providers 1000 run, two providers' hosts waited
// for minutes in AutoNAT v1's shutdown, whose event-bus unsubscribe queued
// behind identify emitting to a full subscriber. A report must not wait on
// that.
const closeWait = 30 * time.Second

// Close stops every node, providers first. It is idempotent. A node that
// has not closed within closeWait is left behind, still closing, and named
// in the error.
func (n *Network) Close() error {
	var errs []error
	n.once.Do(func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		add := func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		for i, p := range n.Providers() {
			wg.Go(func() { add(closeWithin(fmt.Sprintf("provider %d", i), closeWait, n.StopProvider, p)) })
		}
		wg.Wait()
		if n.ConsumerRole != nil {
			add(closeWithin("consumer", closeWait, (*role.Consumer).Close, n.ConsumerRole))
		}
		if n.Relay != nil {
			add(closeWithin("relay", closeWait, (*overlay.Node).Close, n.Relay))
		}
		if n.Origin != nil {
			add(n.Origin.Close())
		}
	})
	return errors.Join(errs...)
}

// closeWithin runs close(x) and waits for it at most d. If it takes longer,
// it goes on in the background and closeWithin says so.
func closeWithin[T any](name string, d time.Duration, close func(T) error, x T) error {
	done := make(chan error, 1)
	go func() { done <- close(x) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: not closed after %s; left closing in the background", name, d)
	}
}
