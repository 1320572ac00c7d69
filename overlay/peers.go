package overlay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/dht"
	"github.com/mystp2p/mystp2p/overlay/peercache"
)

// The peer cache (Config.PeerCache) is how a node that joined once joins
// again when every bootstrap address is blocked. The node records:
//
//   - every outbound connection that is not relayed, with the address it
//     dialled, as seen and reached;
//   - on identify, the listen addresses of a peer already in the cache, or
//     of one that answers DHT queries (a node others can join through);
//   - a bootstrap peer that could not be dialled at join, as failed.
//
// A peer's role is bootstrap when it is in Config.Bootstrap, relay when it
// is a static relay, provider or hermes when its proposal is known, and
// none otherwise. When no bootstrap peer answers, join dials the cache's
// best candidates, a few at a time, and joins through the first that answer.
const (
	// CacheCandidates is how many cached peers join tries at most.
	CacheCandidates = 20
	// cacheDialBatch is how many cached peers join dials at once.
	cacheDialBatch = 4
	// cacheDialTimeout bounds one dial of a cached peer.
	cacheDialTimeout = 5 * time.Second
	// bootstrapDialTimeout bounds one dial of a bootstrap peer.
	bootstrapDialTimeout = 15 * time.Second
	// CacheSaveInterval is how often a node saves its peer cache.
	CacheSaveInterval = 2 * time.Minute
)

// peerRecorder feeds the peer cache from the host's connections.
type peerRecorder struct {
	n     *Node
	c     *peercache.Cache
	notif *network.NotifyBundle
	sub   event.Subscription
	// roles fixed by configuration: bootstrap and static relays.
	mu    sync.Mutex
	roles map[peer.ID]peercache.Role
}

// startPeerCache hooks the cache up to the host and starts the saver. It
// runs before join, so the bootstrap connections are recorded too.
func (n *Node) startPeerCache() error {
	c := n.cfg.PeerCache
	if c == nil {
		return nil
	}
	r := &peerRecorder{n: n, c: c, roles: make(map[peer.ID]peercache.Role)}
	for _, ai := range n.cfg.Host.StaticRelays {
		r.roles[ai.ID] = peercache.RoleRelay
	}
	for _, ai := range n.cfg.Bootstrap {
		r.roles[ai.ID] = peercache.RoleBootstrap
	}
	sub, err := n.host.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return fmt.Errorf("peer cache: %w", err)
	}
	r.sub = sub
	r.notif = &network.NotifyBundle{ConnectedF: r.connected}
	n.host.Network().Notify(r.notif)
	n.peers = r
	n.wg.Go(r.identified)
	n.wg.Go(func() {
		t := time.NewTicker(CacheSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
				if err := c.Save(); err != nil && !errors.Is(err, peercache.ErrClosed) {
					n.log.Warn("peer cache: save failed", "err", err)
				}
			}
		}
	})
	return nil
}

// stop unhooks the recorder; the node's goroutines end with its context.
func (r *peerRecorder) stop() {
	r.n.host.Network().StopNotify(r.notif)
	r.sub.Close()
}

// role is what the node knows id as.
func (r *peerRecorder) role(id peer.ID) peercache.Role {
	r.mu.Lock()
	role, ok := r.roles[id]
	r.mu.Unlock()
	if ok {
		return role
	}
	if e, ok := r.n.feed.Get(id.String()); ok {
		if sp, ok := e.Value.(*SignedProposal); ok {
			if sp.Proposal.Service == ServiceHermes {
				return peercache.RoleHermes
			}
			return peercache.RoleProvider
		}
	}
	return "" // recorded without a role
}

func (r *peerRecorder) setRole(id peer.ID, role peercache.Role) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.roles[id]; !ok {
		r.roles[id] = role
	}
}

// connected records an outbound, unrelayed connection: the peer was
// reached at the address this node dialled.
func (r *peerRecorder) connected(_ network.Network, c network.Conn) {
	if c.Stat().Direction != network.DirOutbound || c.Stat().Limited || isCircuit(c.RemoteMultiaddr()) {
		return
	}
	now := r.n.cfg.Now()
	id := c.RemotePeer()
	r.c.Seen(peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{c.RemoteMultiaddr()}}, r.role(id), now)
	r.c.Succeeded(id, now)
}

// identified refreshes the addresses and role of peers in the cache, and
// adds DHT servers that dialled in: both can be joined through later.
func (r *peerRecorder) identified() {
	for {
		select {
		case <-r.n.ctx.Done():
			return
		case ev, ok := <-r.sub.Out():
			if !ok {
				return
			}
			e := ev.(event.EvtPeerIdentificationCompleted)
			_, known := r.c.Get(e.Peer)
			if !known && !slices.Contains(e.Protocols, dht.ProtocolID) {
				continue
			}
			var addrs []ma.Multiaddr
			for _, a := range e.ListenAddrs {
				if !isCircuit(a) {
					addrs = append(addrs, a)
				}
			}
			r.c.Seen(peer.AddrInfo{ID: e.Peer, Addrs: addrs}, r.role(e.Peer), r.n.cfg.Now())
		}
	}
}

func isCircuit(a ma.Multiaddr) bool {
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return true
		}
	}
	return false
}

// join connects to the bootstrap peers; at least one must answer. When
// none does, it tries the peer cache's best candidates and joins through
// those that answer.
func (n *Node) join(ctx context.Context) error {
	cache := n.cfg.PeerCache
	if len(n.cfg.Bootstrap) == 0 && (cache == nil || cache.Len() == 0) {
		return nil // the first node of a network
	}
	// Every bootstrap peer is dialled at once, and the first to answer is
	// enough: a blocked address must not hold the join up for its whole
	// timeout. The other dials go on in the background, until they end or
	// the node closes.
	type dialed struct {
		ai  peer.AddrInfo
		err error
	}
	results := make(chan dialed, len(n.cfg.Bootstrap))
	for _, ai := range n.cfg.Bootstrap {
		n.wg.Go(func() {
			cctx, cancel := context.WithTimeout(n.ctx, bootstrapDialTimeout)
			err := n.host.Connect(cctx, ai)
			cancel()
			if err != nil && cache != nil {
				cache.Failed(ai.ID, n.cfg.Now())
			}
			results <- dialed{ai, err}
		})
	}
	var errs []error
	joined := false
	for range n.cfg.Bootstrap {
		select {
		case r := <-results:
			if r.err != nil {
				errs = append(errs, fmt.Errorf("bootstrap %s: %w", r.ai.ID, r.err))
			} else {
				joined = true
			}
		case <-ctx.Done():
			return fmt.Errorf("join: %w", ctx.Err())
		}
		if joined {
			break
		}
	}
	if !joined {
		if cache == nil {
			return fmt.Errorf("%w: %w", ErrNoBootstrap, errors.Join(errs...))
		}
		tried, joined, err := n.joinCached(ctx)
		if len(joined) == 0 {
			errs = append(errs, err)
			return fmt.Errorf("%w: %d bootstrap peer(s) and %d peer(s) from the peer cache did not answer: %w",
				ErrNoBootstrap, len(n.cfg.Bootstrap), tried, errors.Join(errs...))
		}
		n.log.Info("joined through the peer cache", "bootstrap_failed", len(n.cfg.Bootstrap), "peers", len(joined))
		n.cfg.Bootstrap = append(n.cfg.Bootstrap, joined...)
	}
	if err := n.dht.Bootstrap(ctx); err != nil {
		return fmt.Errorf("dht bootstrap: %w", err)
	}
	return nil
}

// joinCached dials the cache's candidates (other than the bootstrap peers
// just tried), cacheDialBatch at a time, until a batch reaches at least
// one. It returns how many it tried and those that answered, which the
// node treats as bootstrap peers from then on.
func (n *Node) joinCached(ctx context.Context) (tried int, joined []peer.AddrInfo, err error) {
	cands := n.cfg.PeerCache.Candidates(CacheCandidates, n.cfg.Now())
	cands = slices.DeleteFunc(cands, func(ai peer.AddrInfo) bool {
		return ai.ID == n.ID() || slices.ContainsFunc(n.cfg.Bootstrap, func(b peer.AddrInfo) bool { return b.ID == ai.ID })
	})
	if len(cands) == 0 {
		return 0, nil, errors.New("the peer cache has no candidates")
	}
	var errs []error
	for batch := range slices.Chunk(cands, cacheDialBatch) {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		tried += len(batch)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, ai := range batch {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, cacheDialTimeout)
				err := n.host.Connect(cctx, ai)
				cancel()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					n.cfg.PeerCache.Failed(ai.ID, n.cfg.Now())
					errs = append(errs, fmt.Errorf("cached peer %s: %w", ai.ID, err))
					return
				}
				joined = append(joined, ai)
			})
		}
		wg.Wait()
		if len(joined) > 0 {
			break
		}
	}
	for _, ai := range joined {
		if n.peers != nil {
			n.peers.setRole(ai.ID, peercache.RoleBootstrap)
		}
	}
	return tried, joined, errors.Join(errs...)
}
