package overlay

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// NAT mappings as a node observes its own, from what peers on public
// addresses say they see (identify's observed address).
const (
	// MappingUnknown: fewer than two public peers have said.
	MappingUnknown = "unknown"
	// MappingEndpointIndependent: every public peer sees the same QUIC
	// port (no NAT, full-cone or port-restricted).
	MappingEndpointIndependent = "endpoint-independent"
	// MappingEndpointDependent: peers see different QUIC ports (a
	// symmetric NAT), so nobody can know the port a new peer will see.
	MappingEndpointDependent = "endpoint-dependent"
)

// maxObservers bounds the observations kept.
const maxObservers = 32

// observer keeps the QUIC address each public peer (by IP) last said it
// saw this node at. go-libp2p keeps these too but only reports an address
// several peers agree on, which a symmetric NAT never gives.
type observer struct {
	mu   sync.Mutex
	seen map[netip.Addr]netip.AddrPort // peer IP → our QUIC address as it saw it
}

// startObserver subscribes to identify before join, so that the bootstrap
// peers' answers count.
func (n *Node) startObserver() error {
	sub, err := n.host.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		return fmt.Errorf("observed addresses: %w", err)
	}
	n.observed.seen = make(map[netip.Addr]netip.AddrPort)
	n.wg.Go(func() {
		defer sub.Close()
		for {
			select {
			case <-n.ctx.Done():
				return
			case e, ok := <-sub.Out():
				if !ok {
					return
				}
				if ev, ok := e.(event.EvtPeerIdentificationCompleted); ok && ev.Conn != nil {
					n.observed.record(ev.Conn.Stat().Limited, ev.Conn.RemoteMultiaddr(), ev.ObservedAddr)
				}
			}
		}
	})
	return nil
}

// record notes that the peer at remote saw us at obs, if both are public
// QUIC addresses of a direct connection.
func (o *observer) record(limited bool, remote, obs ma.Multiaddr) {
	if limited || remote == nil || obs == nil {
		return
	}
	r, ok := quicAddrPort(remote)
	if !ok {
		return
	}
	a, ok := quicAddrPort(obs)
	if !ok {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, known := o.seen[r.Addr()]; !known && len(o.seen) >= maxObservers {
		return
	}
	o.seen[r.Addr()] = a
}

// quicAddrPort is a's IP and UDP port if a is a public QUIC address.
func quicAddrPort(a ma.Multiaddr) (netip.AddrPort, bool) {
	if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err != nil || !manet.IsPublicAddr(a) {
		return netip.AddrPort{}, false
	}
	if _, err := a.ValueForProtocol(ma.P_CIRCUIT); err == nil {
		return netip.AddrPort{}, false
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return netip.AddrPort{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := a.ValueForProtocol(ma.P_UDP)
	if err != nil {
		return netip.AddrPort{}, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ap := netip.AddrPortFrom(addr, uint16(p))
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// PublicIP is the IPv4 address public peers see this node's QUIC socket
// at, the one most of them report; ok is false before any has.
func (n *Node) PublicIP() (ip netip.Addr, ok bool) {
	o := &n.observed
	o.mu.Lock()
	defer o.mu.Unlock()
	votes := make(map[netip.Addr]int)
	for _, a := range o.seen {
		if a.Addr().Is4() {
			votes[a.Addr()]++
		}
	}
	best := 0
	for a, v := range votes {
		if v > best || (v == best && a.Less(ip)) {
			ip, best = a, v
		}
	}
	return ip, best > 0
}

// NATMapping says how this node's NAT maps its QUIC socket, from what
// public peers report (one of the Mapping* constants).
func (n *Node) NATMapping() string {
	o := &n.observed
	o.mu.Lock()
	defer o.mu.Unlock()
	ports := make(map[netip.AddrPort]bool)
	for _, a := range o.seen {
		if a.Addr().Is4() {
			ports[a] = true
		}
	}
	switch {
	case len(o.seen) < 2:
		return MappingUnknown
	case len(ports) > 1:
		return MappingEndpointDependent
	}
	return MappingEndpointIndependent
}

// PublicQUICAddr is the IPv4 ip:port public peers see this node's QUIC
// socket at, when all that said agree (ok is false otherwise, and before
// any has said): the address a peer can send to through a cone NAT.
func (n *Node) PublicQUICAddr() (addr netip.AddrPort, ok bool) {
	o := &n.observed
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range o.seen {
		if !a.Addr().Is4() {
			continue
		}
		if addr.IsValid() && a != addr {
			return netip.AddrPort{}, false
		}
		addr = a
	}
	return addr, addr.IsValid()
}
