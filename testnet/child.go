package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Child roles: one lab node per process (`mystp2p testnet node`).
const (
	RoleRelay    = "relay"
	RoleObserver = "observer"
	RoleOrigin   = "origin"
	RoleProvider = "provider"
	RoleConsumer = "consumer"
)

// directSettle is how long a lab consumer waits for a relayed session to
// turn direct before it measures.
const directSettle = 25 * time.Second

// LabPort is the one UDP port every lab node's QUIC listens on (the port
// full-cone routers forward).
const LabPort = 4001

// ChildConfig describes one node of a namespace lab.
type ChildConfig struct {
	Role string
	// Public is true for a node with a public address (no NAT).
	Public bool
	// Bootstrap is the relay's and the observers' multiaddrs; Relay the
	// relay's alone (the static relay).
	Bootstrap []string
	Relay     string
	// LabRanges are the lab's "internet" ranges, which go-libp2p must treat
	// as public in this process (they are documentation ranges).
	LabRanges []netip.Prefix
	// Provider is the consumer's target; Origin the URL it fetches
	// FetchBytes from; the NAT labels go into its result.
	Provider    string
	Origin      string
	FetchBytes  int64
	ConsumerNAT string
	ProviderNAT string
	// LogLevel of the node's log on stderr (the parent keeps its tail).
	LogLevel slog.Level
	// TUN makes a consumer carry its traffic on a kernel TUN device of this
	// name instead of SOCKS5, and fetch with a plain HTTP client.
	TUN string
}

// childEvent is one JSON line a child prints.
type childEvent struct {
	Event  string         `json:"event"` // "ready", "result"
	ID     string         `json:"id,omitempty"`
	Addrs  []string       `json:"addrs,omitempty"`
	Result *SessionResult `json:"result,omitempty"`
	// MS is a duration some events carry, in milliseconds.
	MS float64 `json:"ms,omitempty"`
}

// trustLabRanges makes go-libp2p treat the lab's documentation ranges as
// public addresses, as the lab needs: go-libp2p counts them unroutable, and
// without this relay addresses are never advertised and hole punching never
// starts. It changes this process only and must run before any host starts;
// real nodes never call it.
func trustLabRanges(ranges []netip.Prefix) {
	manet.Unroutable4 = slices.DeleteFunc(slices.Clone(manet.Unroutable4), func(n *net.IPNet) bool {
		for _, r := range ranges {
			if p, ok := netip.AddrFromSlice(n.IP); ok && p.Unmap() == r.Addr() {
				return true
			}
		}
		return false
	})
}

// RunChild runs one lab node until ctx ends (relay, origin, provider) or its
// session is measured (consumer), printing JSON events to out.
func RunChild(ctx context.Context, cfg ChildConfig, out io.Writer) error {
	trustLabRanges(cfg.LabRanges)
	emit := func(ev childEvent) error {
		b, _ := json.Marshal(ev)
		_, err := fmt.Fprintf(out, "%s\n", b)
		return err
	}
	if cfg.Role == RoleOrigin {
		o, err := StartOrigin(fmt.Sprintf("0.0.0.0:%d", 80))
		if err != nil {
			return err
		}
		defer o.Close()
		if err := emit(childEvent{Event: "ready"}); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	boot, err := relay.ParsePeers(cfg.Bootstrap)
	if err != nil {
		return err
	}
	var relays []peer.AddrInfo
	if cfg.Relay != "" {
		if relays, err = relay.ParsePeers([]string{cfg.Relay}); err != nil {
			return err
		}
	}
	id, err := identity.Generate()
	if err != nil {
		return err
	}
	hc := overlay.HostConfig{
		Identity:     id,
		Listen:       []string{fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", LabPort)},
		StaticRelays: relays,
		Reachability: overlay.ReachabilityPrivate,
	}
	if cfg.Public {
		hc.Reachability = overlay.ReachabilityPublic
	}
	oc := overlay.Config{Host: hc, Bootstrap: boot, ProposalTTL: time.Minute, RecordTTL: 2 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))}
	switch cfg.Role {
	case RoleRelay:
		// The lab relay carries data for the relayed fallback: its limits
		// are far above circuit v2's 2 min / 128 KiB signalling defaults.
		limits := relay.CarryDataLimits()
		oc.Host.RelayService = &limits
		oc.Host.StaticRelays = nil
		oc.Host.Listen = append(oc.Host.Listen, fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", LabPort))
		oc.DHTServer = true
	case RoleObserver:
		// Observers are plain public nodes: go-libp2p trusts an observed
		// address only once 4 distinct peers report it, and hole punching
		// waits for that address.
		oc.Host.StaticRelays = nil
		oc.DHTServer = true
	case RoleProvider, RoleConsumer:
	default:
		return fmt.Errorf("unknown lab role %q", cfg.Role)
	}
	node, err := overlay.New(ctx, oc)
	if err != nil {
		return err
	}
	defer node.Close()

	switch cfg.Role {
	case RoleProvider:
		if _, err := node.Advertise(ctx, overlay.Offer{Country: "DE", IPType: overlay.IPResidential,
			PriceHour: "10000000000000000", PriceGiB: "100000000000000000"}); err != nil {
			return err
		}
		// The lab's internet is a documentation range next to this host's
		// own network: allow it, as an operator would with --exit-allow-private.
		policy, err := tunnel.NewExitPolicy(tunnel.WithAllowPrivate())
		if err != nil {
			return err
		}
		if _, err := server.New(server.Config{Node: node, MaxSessions: 64, Policy: policy, Logger: node.Logger()}); err != nil {
			return err
		}
		if err := waitRelayAddr(ctx, node, cfg.Public); err != nil {
			return err
		}
	case RoleConsumer:
		return runLabConsumer(ctx, node, cfg, emit)
	}
	if err := emit(childEvent{Event: "ready", ID: node.ID().String(), Addrs: addrStrings(node)}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// waitRelayAddr waits until a NATed node advertises a relay circuit address,
// so consumers can reach it; a public node is reachable already.
func waitRelayAddr(ctx context.Context, node *overlay.Node, public bool) error {
	if public {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The host says when its addresses change; subscribe before the first
	// look so that no change falls between the two.
	sub, err := node.Host().EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		for _, a := range node.Host().Addrs() {
			if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
				return waitProposalCircuit(ctx, node)
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("no relay reservation within 30 s")
		case <-sub.Out():
		}
	}
}

// waitProposalCircuit waits for the node's signed proposal to name its
// relay circuit: the node re-signs a moment after its addresses change,
// and a consumer that came before would get the proposal signed without
// it. Polled: the node announces no event for a re-sign.
func waitProposalCircuit(ctx context.Context, node *overlay.Node) error {
	for {
		if sp := node.CurrentProposal(); sp != nil && slices.ContainsFunc(sp.Proposal.Addrs, func(a string) bool {
			return strings.Contains(a, "/p2p-circuit")
		}) {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("the proposal did not name the relay circuit within 30 s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func addrStrings(node *overlay.Node) []string {
	var out []string
	for _, a := range node.Host().Addrs() {
		out = append(out, a.String())
	}
	return out
}

// runLabConsumer measures one session: find the provider, connect, fetch.
func runLabConsumer(ctx context.Context, node *overlay.Node, cfg ChildConfig, emit func(childEvent) error) error {
	r := SessionResult{ConsumerNAT: cfg.ConsumerNAT, ProviderNAT: cfg.ProviderNAT}
	report := func(err error) error {
		if err != nil {
			r.Error = err.Error()
		}
		return emit(childEvent{Event: "result", ID: node.ID().String(), Result: &r})
	}
	target, err := peer.Decode(cfg.Provider)
	if err != nil {
		return report(err)
	}
	start := time.Now()
	var sp *overlay.SignedProposal
	for sp == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ps, _ := node.Discover(dctx, overlay.Query{Provider: target})
		cancel()
		if len(ps) > 0 {
			sp = ps[0]
		} else if time.Since(start) > 30*time.Second || ctx.Err() != nil {
			return report(fmt.Errorf("provider %s not found", target))
		}
	}
	cc := client.Config{Proposal: sp}
	if cfg.TUN != "" {
		// Lab namespaces share the host's /etc/resolv.conf unless
		// /etc/netns/<ns>/ has one: never rewrite it here; fetch by IP.
		cc.TUN = &client.TUNOptions{Name: cfg.TUN}
	}
	s, err := client.Connect(ctx, node, cc)
	if err != nil {
		return report(err)
	}
	defer s.Close()
	r.ConnectMS = float64(time.Since(start).Microseconds()) / 1000
	if s.Path() == wgpath.Relayed {
		// Relayed sessions keep trying to go direct (DCUtR retries for
		// about 20 s); measure the path the session settles on.
		select {
		case <-s.Direct():
			r.DirectMS = float64(time.Since(start).Microseconds()) / 1000
		case <-time.After(directSettle):
		case <-ctx.Done():
		}
	}
	r.Path, r.Transport = string(s.Path()), string(s.Transport())
	relayBefore := s.RelayBytes()
	fetch := fetchDirect
	if cfg.TUN == "" {
		socks, serr := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
		if serr != nil {
			return report(serr)
		}
		defer socks.Close()
		fetch = func(ctx context.Context, url string, w io.Writer) (int64, error) {
			return FetchThroughSOCKS(ctx, socks.Addr().String(), url, w)
		}
	}
	// Who does the origin think we are? It must be the provider's exit.
	var hello strings.Builder
	if _, err := fetch(ctx, cfg.Origin, &hello); err != nil {
		return report(err)
	}
	if _, after, ok := strings.Cut(hello.String(), "you came from "); ok {
		if ap, err := netip.ParseAddrPort(strings.TrimSpace(after)); err == nil {
			r.ExitAddr = ap.Addr().String()
		}
	}
	url := fmt.Sprintf("%sbytes/%d", cfg.Origin, cfg.FetchBytes)
	fstart := time.Now()
	got, err := fetch(ctx, url, io.Discard)
	r.Bytes = got
	if err != nil {
		return report(err)
	}
	if got != cfg.FetchBytes {
		return report(fmt.Errorf("fetched %d bytes, want %d", got, cfg.FetchBytes))
	}
	r.ThroughputMbps = mbps(got, time.Since(fstart))
	r.RelayBytes = int64(s.RelayBytes() - relayBefore)
	r.OK = true
	return report(nil)
}

// ParseChildArgs reads the arguments the lab parent gives `mystp2p testnet
// node`. It is an interface between two copies of this program, not for users.
func ParseChildArgs(args []string) (ChildConfig, error) {
	fs := flag.NewFlagSet("testnet node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg ChildConfig
	var boot, ranges string
	fs.StringVar(&cfg.Role, "role", "", "relay, origin, provider or consumer")
	fs.BoolVar(&cfg.Public, "public", false, "the node has a public address")
	fs.StringVar(&boot, "bootstrap", "", "bootstrap multiaddrs, comma-separated")
	fs.StringVar(&cfg.Relay, "relay", "", "static relay multiaddr")
	fs.StringVar(&ranges, "lab-ranges", "", "lab internet prefixes, comma-separated")
	fs.StringVar(&cfg.Provider, "provider", "", "consumer's provider")
	fs.StringVar(&cfg.Origin, "origin", "", "origin URL")
	fs.Int64Var(&cfg.FetchBytes, "fetch-bytes", 1<<20, "bytes to fetch")
	fs.StringVar(&cfg.ConsumerNAT, "consumer-nat", "", "label")
	fs.StringVar(&cfg.ProviderNAT, "provider-nat", "", "label")
	fs.TextVar(&cfg.LogLevel, "log-level", slog.LevelInfo, "node log level")
	fs.StringVar(&cfg.TUN, "tun", "", "consumer: TUN device name")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, b := range strings.Split(boot, ",") {
		if b != "" {
			cfg.Bootstrap = append(cfg.Bootstrap, b)
		}
	}
	for _, r := range strings.Split(ranges, ",") {
		if r == "" {
			continue
		}
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return cfg, fmt.Errorf("--lab-ranges: %w", err)
		}
		cfg.LabRanges = append(cfg.LabRanges, p)
	}
	return cfg, nil
}

// fetchDirect downloads url into w with the host's own stack (through the TUN).
func fetchDirect(ctx context.Context, url string, w io.Writer) (int64, error) {
	return fetch(ctx, &http.Transport{}, url, w)
}
