package overlay

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/overlay/bridge/gate"
)

// gateUpstreamListen is where a bridge's libp2p listens behind its gates.
const gateUpstreamListen = "/ip4/127.0.0.1/tcp/0/ws"

// gateSet is a bridge's gates: one per WSS address, all passing to the
// host's loopback WebSocket listener.
type gateSet struct {
	addrs []ma.Multiaddr // as configured

	mu     sync.Mutex
	public []ma.Multiaddr // as bound: the port resolved
	gates  []*gate.Gate
	wg     sync.WaitGroup
}

// start binds a gate for every WSS address in front of h's loopback
// WebSocket listener.
func (g *gateSet) start(h host.Host, cfg *HostConfig) (err error) {
	var upstream string
	for _, a := range h.Network().ListenAddresses() {
		if isLoopbackWS(a) {
			if _, upstream, err = manet.DialArgs(a[:len(a)-1]); err != nil {
				return err
			}
		}
	}
	if upstream == "" {
		return errors.New("overlay: the bridge's loopback WebSocket listener did not start")
	}
	cert, err := cfg.wssCertificate()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			g.close()
		}
	}()
	for _, a := range g.addrs {
		i := tcpIndex(a)
		if i < 0 {
			return fmt.Errorf("overlay: WSS address %s has no TCP port", a)
		}
		network, hostport, err := manet.DialArgs(a[:i+1])
		if err != nil {
			return fmt.Errorf("overlay: WSS address %s: %w", a, err)
		}
		ln, err := net.Listen(network, hostport)
		if err != nil {
			return wssListenError(a, err)
		}
		bound, err := manet.FromNetAddr(ln.Addr())
		if err != nil {
			ln.Close()
			return err
		}
		gt, err := gate.New(ln, gate.Config{Secret: cfg.BridgeSecret, Certificate: cert, Upstream: upstream, Decoy: cfg.wssHandler()})
		if err != nil {
			ln.Close()
			return fmt.Errorf("overlay: bridge: %w", err)
		}
		g.mu.Lock()
		g.gates = append(g.gates, gt)
		g.public = append(g.public, append(bound, a[i+1:]...))
		g.mu.Unlock()
		g.wg.Go(func() { _ = gt.Serve() })
	}
	return nil
}

// close stops every gate and waits for them.
func (g *gateSet) close() error {
	g.mu.Lock()
	gates := g.gates
	g.gates = nil
	g.mu.Unlock()
	var errs []error
	for _, gt := range gates {
		errs = append(errs, gt.Close())
	}
	g.wg.Wait()
	return errors.Join(errs...)
}

// Stats adds up the gates' counters.
func (g *gateSet) stats() gate.Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	var s gate.Stats
	for _, gt := range g.gates {
		t := gt.Stats()
		s.Passed += t.Passed
		s.Decoyed += t.Decoyed
		s.Failed += t.Failed
		s.Shed += t.Shed
	}
	return s
}

// advertise is the bridge's address factory: the gates' addresses, with an
// unspecified IP expanded to the interfaces' addresses, instead of the
// loopback WebSocket listener behind them.
func (g *gateSet) advertise(in []ma.Multiaddr) []ma.Multiaddr {
	out := make([]ma.Multiaddr, 0, len(in)+len(g.addrs))
	for _, a := range in {
		if !isLoopbackWS(a) {
			out = append(out, a)
		}
	}
	g.mu.Lock()
	public := append([]ma.Multiaddr(nil), g.public...)
	g.mu.Unlock()
	if len(public) == 0 {
		return out
	}
	ifaces, err := manet.InterfaceMultiaddrs()
	if err != nil {
		return out
	}
	resolved, err := manet.ResolveUnspecifiedAddresses(public, ifaces)
	if err != nil {
		return out
	}
	return append(out, resolved...)
}

// isLoopbackWS reports whether a is a plain WebSocket address on loopback:
// the listener behind a bridge's gates.
func isLoopbackWS(a ma.Multiaddr) bool {
	if len(a) == 0 || a[len(a)-1].Protocol().Code != ma.P_WS || IsWSS(a) {
		return false
	}
	return manet.IsIPLoopback(a)
}

func tcpIndex(a ma.Multiaddr) int {
	for i, c := range a {
		if c.Protocol().Code == ma.P_TCP {
			return i
		}
	}
	return -1
}

// gatedHost is a bridge's host: closing it closes its gates too.
type gatedHost struct {
	host.Host
	gates *gateSet
}

func (h *gatedHost) Close() error {
	return errors.Join(h.gates.close(), h.Host.Close())
}

// GateStats are the counters of a bridge host's gates: connections passed
// to libp2p, answered with the decoy, failed or shed. ok is false for a
// host that is not a bridge.
func GateStats(h host.Host) (s gate.Stats, ok bool) {
	g, ok := h.(*gatedHost)
	if !ok {
		return gate.Stats{}, false
	}
	return g.gates.stats(), true
}
