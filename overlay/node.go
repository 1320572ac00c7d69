package overlay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/dht"
	"github.com/mystp2p/mystp2p/gossip"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/guard"
	"github.com/mystp2p/mystp2p/overlay/peercache"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ProposalTopic is the gossipsub topic of live proposals.
const ProposalTopic = "mystp2p/proposals/2"

// DefaultProposalTTL is how long a proposal is valid; it is re-signed and
// re-announced every third of that.
const DefaultProposalTTL = 10 * time.Minute

// Config configures a Node.
type Config struct {
	Host HostConfig
	// Bootstrap peers to join the network through.
	Bootstrap []peer.AddrInfo
	// DHTServer makes the node answer DHT queries whatever DHTMode says.
	// Public nodes and relays should; nodes behind NAT should not.
	DHTServer bool
	// DHTMode is whether the node answers DHT queries when DHTServer is
	// false (zero: dht.ModeClient). dht.ModeAuto answers while the host
	// finds itself publicly reachable, so every reachable node, a bridge
	// included, answers discovery; with Host.Reachability forced public it
	// is the same as dht.ModeServer.
	DHTMode dht.Mode
	// PeerCache, if set, records the peers the node connects to and is
	// where join looks when no bootstrap peer answers (see peers.go). The
	// node saves it periodically and on Close; the caller still closes it.
	PeerCache *peercache.Cache
	// RecordTTL is the lifetime of DHT provider and value records (0: dht default).
	RecordTTL time.Duration
	// ProposalTTL is the lifetime of this node's proposals (0: DefaultProposalTTL).
	ProposalTTL time.Duration
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Node is one mystp2p peer: a libp2p host with the DHT, the proposal feed and
// the proposal protocol.
type Node struct {
	id   *identity.Identity
	host host.Host
	mux  *wgpath.Mux // nil unless QUIC listens on an unspecified address
	met  *Metrics
	dht  *dht.DHT
	feed *gossip.Feed
	cfg  Config
	log  *slog.Logger
	// peers records connections in cfg.PeerCache; nil without one.
	peers *peerRecorder

	// current is this node's own signed proposal, served on /mystp2p/proposal/1.
	current struct {
		sync.RWMutex
		sp            *SignedProposal
		raw           []byte
		cancelPublish context.CancelFunc
		// offer is what Advertise signs, changed by SetPrices; ctx is
		// Advertise's, for the announcements SetPrices makes.
		offer Offer
		ctx   context.Context
	}
	// signMu serialises re-signing, so a re-sign of the old offer cannot
	// land after SetPrices signed the new one.
	signMu sync.Mutex

	// closers run first in Close: the session server, which needs the
	// host for its final invoices.
	closers struct {
		sync.Mutex
		fs     []func() error
		closed bool
	}

	// observed is what public peers say they see of this node.
	observed observer

	// exchanges rate-limits Discover's offer exchanges per peer.
	exchanges exchangeLimiter
	// bootMu guards cfg.Bootstrap, which join extends with the cached
	// peer it joined through while the DHT may read it.
	bootMu sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New starts a node and joins the network through cfg.Bootstrap.
func New(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Host.Identity == nil {
		return nil, errors.New("overlay: Config.Host.Identity is required")
	}
	if cfg.ProposalTTL < 0 || cfg.ProposalTTL > MaxProposalTTL {
		return nil, fmt.Errorf("overlay: proposal TTL %s must be between 0 and %s", cfg.ProposalTTL, MaxProposalTTL)
	}
	if cfg.ProposalTTL == 0 {
		cfg.ProposalTTL = DefaultProposalTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Node{id: cfg.Host.Identity, cfg: cfg, log: cfg.Logger.With("peer", cfg.Host.Identity.PeerID().String())}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	if n.met, err = newMetrics(cfg.Host.Metrics); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	// A bridge with no Listen has no listener but its gates (see
	// HostConfig.BridgeSecret), so no UDP mux either.
	if cfg.Host.BridgeSecret == nil || len(cfg.Host.Listen) > 0 {
		if n.mux, cfg.Host.Listen, err = muxFor(cfg.Host.Listen, n.log); err != nil {
			return nil, err
		}
	}
	cfg.Host.UDPMux = n.mux
	if n.host, err = NewHost(cfg.Host); err != nil {
		return nil, err
	}
	if n.dht, err = dht.New(n.host, dht.Config{
		Mode:          cfg.dhtMode(),
		Bootstrap:     cfg.Bootstrap,
		BootstrapFunc: n.Bootstrap,
		RecordTTL:     cfg.RecordTTL,
		Validator:     recordValidator{now: cfg.Now},
		Logger:        n.log,
	}); err != nil {
		return nil, err
	}
	if n.feed, err = gossip.NewFeed(n.host, gossip.Config{
		Topic:         ProposalTopic,
		Validate:      n.validateGossip,
		Discovery:     drouting.NewRoutingDiscovery(n.dht.Kad()),
		RendezvousTTL: n.dht.RecordTTL(),
		Logger:        n.log,
		Now:           cfg.Now,
	}); err != nil {
		return nil, err
	}
	n.host.SetStreamHandler(ProtocolProposal, guard.Handler(n.log, ProtocolProposal, n.serveProposal))
	n.host.SetStreamHandler(ProtocolOffers, guard.Handler(n.log, ProtocolOffers, n.serveOffers))
	if err := n.startPeerCache(); err != nil {
		return nil, err
	}
	if err := n.startObserver(); err != nil {
		return nil, err
	}
	if err := n.join(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// dhtMode resolves DHTServer and DHTMode.
func (c *Config) dhtMode() dht.Mode {
	switch {
	case c.DHTServer:
		return dht.ModeServer
	case c.DHTMode == dht.ModeAuto && c.Host.Reachability == ReachabilityPublic:
		return dht.ModeServer
	case c.DHTMode == dht.ModeAuto && c.Host.Reachability == ReachabilityPrivate:
		return dht.ModeClient
	}
	return c.DHTMode
}

// Host is the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// ID is the node's peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Identity is the node's identity.
func (n *Node) Identity() *identity.Identity { return n.id }

// DHT is the node's DHT.
func (n *Node) DHT() *dht.DHT { return n.dht }

// Mux is the node's shared UDP socket, or nil when QUIC listens on a
// specific address (the loopback testnet) and owns its socket alone.
func (n *Node) Mux() *wgpath.Mux { return n.mux }

// Metrics are the node's session counters.
func (n *Node) Metrics() *Metrics { return n.met }

// Logger is the node's logger, with its peer ID.
func (n *Node) Logger() *slog.Logger { return n.log }

// Done is closed when the node starts closing.
func (n *Node) Done() <-chan struct{} { return n.ctx.Done() }

// Bootstrap is a copy of the peers the node joined the network through.
func (n *Node) Bootstrap() []peer.AddrInfo {
	n.bootMu.Lock()
	defer n.bootMu.Unlock()
	return slices.Clone(n.cfg.Bootstrap)
}

// StaticRelays is a copy of the relays the node reserves a slot with.
func (n *Node) StaticRelays() []peer.AddrInfo { return slices.Clone(n.cfg.Host.StaticRelays) }

// OnClose makes Close call f before it stops the node's own parts, for
// services built on the node (the session server) that need the host to
// shut down cleanly. Functions run in reverse order of registration. After
// Close it returns ErrClosed.
func (n *Node) OnClose(f func() error) error {
	n.closers.Lock()
	defer n.closers.Unlock()
	if n.closers.closed {
		return ErrClosed
	}
	n.closers.fs = append(n.closers.fs, f)
	return nil
}

// AddrInfo is the node's ID and current listen addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}

// Close stops every goroutine the node started, closes its streams and the
// host, and waits. It is idempotent.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		// Services built on the node first (the session server ends every
		// session, paying ones with a final invoice), then stop taking new
		// work, then stop the goroutines, then the parts.
		n.closers.Lock()
		n.closers.closed = true
		fs := n.closers.fs
		n.closers.Unlock()
		var errs []error
		for i := len(fs) - 1; i >= 0; i-- {
			errs = append(errs, fs[i]())
		}
		if n.host != nil {
			n.host.RemoveStreamHandler(ProtocolProposal)
			n.host.RemoveStreamHandler(ProtocolOffers)
		}
		if n.peers != nil {
			n.peers.stop()
		}
		n.cancel()
		n.wg.Wait()
		if n.peers != nil {
			// A cache that cannot be saved is worth a warning, not a
			// failed Close: the node ran fine without it.
			if err := n.cfg.PeerCache.Save(); err != nil && !errors.Is(err, peercache.ErrClosed) {
				n.log.Warn("peer cache: save failed", "err", err)
			}
		}
		if n.feed != nil {
			errs = append(errs, n.feed.Close())
		}
		if n.dht != nil {
			errs = append(errs, n.dht.Close())
		}
		if n.host != nil {
			errs = append(errs, n.host.Close())
		}
		if n.mux != nil {
			errs = append(errs, n.mux.Close())
		}
		err = errors.Join(errs...)
	})
	return err
}

// muxFor takes the first QUIC listen address on an unspecified IP (a real
// node's, or a lab node's) out of listen and opens a UDP mux on its port, so
// QUIC and WireGuard share the socket that hole punching opens. Nodes that
// listen on a specific address (the loopback testnet) keep plain QUIC.
func muxFor(listen []string, log *slog.Logger) (*wgpath.Mux, []string, error) {
	if len(listen) == 0 {
		listen = DefaultListen
	}
	for i, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("listen address %q: %w", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err != nil {
			continue
		}
		ip, err := manet.ToIP(a)
		if err != nil || !ip.IsUnspecified() {
			continue
		}
		port, err := a.ValueForProtocol(ma.P_UDP)
		if err != nil {
			continue
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, nil, fmt.Errorf("listen address %q: bad port", s)
		}
		m, err := wgpath.NewMux(&net.UDPAddr{IP: ip, Port: p}, wgpath.WithMuxLogger(log))
		if err != nil {
			return nil, nil, fmt.Errorf("open UDP socket for %s: %w", s, err)
		}
		rest := append(append([]string{}, listen[:i]...), listen[i+1:]...)
		// Other QUIC addresses would grab the socket the mux lends.
		rest = slices.DeleteFunc(rest, func(s string) bool { return strings.Contains(s, "/quic-v1") })
		return m, rest, nil
	}
	return nil, listen, nil
}
