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
// none otherwise. When no bootstrap peer answers at once, join dials the
// cache's best candidates too, a few at a time, and joins through the first
// peer that answers.
const (
	// CacheCandidates is how many cached peers join tries at most.
	CacheCandidates = 20
	// cacheDialBatch is how many cached peers join dials at once.
	cacheDialBatch = 4
	// cacheHeadStart is how long the bootstrap peers have to answer
	// before join dials cached peers too.
	cacheHeadStart = 300 * time.Millisecond
	// cacheBatchStagger is the wait between batches of cached peers.
	cacheBatchStagger = 500 * time.Millisecond
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
// none has answered within cacheHeadStart (or all have failed), it also
// dials the peer cache's best candidates, cacheDialBatch more every
// cacheBatchStagger (or at once when every dial in flight has failed), and
// joins through the first peer that answers: a blocked address, which
// fails only by timing out, holds nothing up.
func (n *Node) join(ctx context.Context) error {
	cache := n.cfg.PeerCache
	if len(n.cfg.Bootstrap) == 0 && (cache == nil || cache.Len() == 0) {
		return nil // the first node of a network
	}
	var cands []peer.AddrInfo
	if cache != nil {
		cands = cache.Candidates(CacheCandidates, n.cfg.Now())
		cands = slices.DeleteFunc(cands, func(ai peer.AddrInfo) bool {
			return ai.ID == n.ID() || slices.ContainsFunc(n.cfg.Bootstrap, func(b peer.AddrInfo) bool { return b.ID == ai.ID })
		})
	}
	// The dials go on in the background after join returns, until they
	// end or the node closes; results is big enough for all of them.
	type dialed struct {
		ai     peer.AddrInfo
		cached bool
		err    error
	}
	results := make(chan dialed, len(n.cfg.Bootstrap)+len(cands))
	dial := func(ai peer.AddrInfo, cached bool) {
		timeout := bootstrapDialTimeout
		if cached {
			timeout = cacheDialTimeout
		}
		n.wg.Go(func() {
			cctx, cancel := context.WithTimeout(n.ctx, timeout)
			err := n.host.Connect(cctx, ai)
			cancel()
			if err != nil && cache != nil {
				cache.Failed(ai.ID, n.cfg.Now())
			}
			results <- dialed{ai, cached, err}
		})
	}
	for _, ai := range n.cfg.Bootstrap {
		dial(ai, false)
	}
	pending, tried := len(n.cfg.Bootstrap), 0
	next := time.NewTimer(cacheHeadStart)
	defer next.Stop()
	dialBatch := func() {
		batch := cands[:min(cacheDialBatch, len(cands))]
		cands = cands[len(batch):]
		for _, ai := range batch {
			dial(ai, true)
		}
		pending += len(batch)
		tried += len(batch)
		next.Reset(cacheBatchStagger)
	}
	if pending == 0 {
		dialBatch()
	}
	var errs []error
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			if r.err == nil {
				if r.cached {
					n.log.Info("joined through the peer cache", "peer", r.ai.ID, "cached_dialled", tried)
					if n.peers != nil {
						n.peers.setRole(r.ai.ID, peercache.RoleBootstrap)
					}
					n.bootMu.Lock()
					n.cfg.Bootstrap = append(n.cfg.Bootstrap, r.ai)
					n.bootMu.Unlock()
				}
				if err := n.dht.Bootstrap(ctx); err != nil {
					return fmt.Errorf("dht bootstrap: %w", err)
				}
				return nil
			}
			what := "bootstrap"
			if r.cached {
				what = "cached peer"
			}
			errs = append(errs, fmt.Errorf("%s %s: %w", what, r.ai.ID, r.err))
		case <-next.C:
			if len(cands) > 0 {
				dialBatch()
			}
		case <-ctx.Done():
			return fmt.Errorf("join: %w", ctx.Err())
		}
		if pending == 0 && len(cands) > 0 {
			dialBatch()
		}
	}
	if cache == nil {
		return fmt.Errorf("%w: %w", ErrNoBootstrap, errors.Join(errs...))
	}
	if tried == 0 {
		errs = append(errs, errors.New("the peer cache has no candidates"))
	}
	return fmt.Errorf("%w: %d bootstrap peer(s) and %d peer(s) from the peer cache did not answer: %w",
		ErrNoBootstrap, len(n.cfg.Bootstrap), tried, errors.Join(errs...))
}
