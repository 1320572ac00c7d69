package wgpath

import (
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.zx2c4.com/wireguard/conn"
)

// ErrNoDirectPath means a transport needs a direct libp2p connection (or
// one on the shared socket) that the peers do not have.
var ErrNoDirectPath = errors.New("no direct connection for this transport")

// Link is one end of a session's WireGuard path: the transport and what it
// runs on. Both ends of a session describe their side as a Link and call
// Bind, so the choice of bind for a transport is made in this one place.
type Link struct {
	Transport Transport
	// Conn is the libp2p connection to the peer. UDP sends to its remote
	// IP; UDPMux uses its 5-tuple on Mux.
	Conn network.Conn
	// Mux is this node's shared socket (UDPMux only).
	Mux *Mux
	// UDP is this end's own socket and PeerPort the peer's WireGuard port
	// on the IP of Conn (UDP only).
	UDP      UDPConn
	PeerPort uint16
	// Remote, when valid, is the peer's WireGuard address as a birthday
	// punch found it (PunchSpray, PunchFromSockets): UDPMux routes it on
	// Mux and UDP sends to it from UDP, with no Conn needed. One end of a
	// punched path is always a mux, so UDP with Remote masks MuxSafe too.
	Remote netip.AddrPort
	// Stream carries the packets framed (Stream only).
	Stream io.ReadWriteCloser
	// Obfs, if set, wraps the bind in an ObfsBind. For UDPMux, Bind sets
	// MuxSafe in its copy of the config and uses Mux.PeerBindObfs, so that
	// the mux tells the obfuscated datagrams from QUIC and lets them
	// through; both ends of a session do the same.
	Obfs *ObfsConfig
}

// Bind makes the conn.Bind that carries WireGuard over l, and says which
// path it takes: a Stream over a relayed (limited) connection is Relayed
// and is wrapped in a MeteredBind, so the relay's share can be reported;
// everything else is Direct. On error nothing of l is closed.
func (l Link) Bind() (conn.Bind, Path, error) {
	switch l.Transport {
	case UDPMux:
		if l.Mux == nil || (l.Conn == nil && !l.Remote.IsValid()) {
			return nil, "", fmt.Errorf("%s: %w (no shared UDP socket)", l.Transport, ErrNoDirectPath)
		}
		ep := l.Remote
		if !ep.IsValid() {
			var err error
			if ep, err = l.Mux.PeerEndpoint(l.Conn); err != nil {
				return nil, "", fmt.Errorf("%s: %w: %w", l.Transport, ErrNoDirectPath, err)
			}
		}
		if l.Obfs == nil {
			b, err := l.Mux.PeerBind(ep)
			if err != nil {
				return nil, "", fmt.Errorf("WireGuard on the shared socket: %w", err)
			}
			return b, Direct, nil
		}
		b, err := l.Mux.PeerBindObfs(ep)
		if err != nil {
			return nil, "", fmt.Errorf("WireGuard on the shared socket: %w", err)
		}
		cfg := *l.Obfs
		cfg.MuxSafe = true
		ob, err := NewObfsBind(b, cfg)
		if err != nil {
			return nil, "", err
		}
		return ob, Direct, nil
	case UDP:
		remote := l.Remote
		if !remote.IsValid() {
			if l.Conn == nil || l.Conn.Stat().Limited {
				return nil, "", fmt.Errorf("%s: %w (the connection is relayed)", l.Transport, ErrNoDirectPath)
			}
			if l.UDP == nil || l.PeerPort == 0 {
				return nil, "", fmt.Errorf("%w: UDP transport needs a socket and the peer's port", ErrInvalidConfig)
			}
			ip, err := RemoteIP(l.Conn)
			if err != nil {
				return nil, "", err
			}
			remote = netip.AddrPortFrom(ip, l.PeerPort)
		}
		if l.UDP == nil {
			return nil, "", fmt.Errorf("%w: UDP transport needs a socket", ErrInvalidConfig)
		}
		b, err := NewUDPBind(l.UDP, remote)
		if err != nil {
			return nil, "", err
		}
		if l.Remote.IsValid() && l.Obfs != nil {
			// A punched path has the peer's mux at its far end: mask
			// the way a mux can tell from QUIC.
			cfg := *l.Obfs
			cfg.MuxSafe = true
			l.Obfs = &cfg
		}
		ob, err := l.obfuscate(b)
		if err != nil {
			return nil, "", err
		}
		return ob, Direct, nil
	case Stream:
		if l.Stream == nil {
			return nil, "", fmt.Errorf("%w: stream transport needs a stream", ErrInvalidConfig)
		}
		pipe, err := NewPipeBind(l.Stream)
		if err != nil {
			return nil, "", err
		}
		b, err := l.obfuscate(pipe)
		if err != nil {
			return nil, "", err
		}
		if l.Conn != nil && l.Conn.Stat().Limited {
			return NewMeteredBind(b), Relayed, nil
		}
		return b, Direct, nil
	}
	_, err := Parse(string(l.Transport))
	return nil, "", err
}

// obfuscate wraps b in an ObfsBind when l asks for it.
func (l Link) obfuscate(b conn.Bind) (conn.Bind, error) {
	if l.Obfs == nil {
		return b, nil
	}
	return NewObfsBind(b, *l.Obfs)
}

// ConnTo returns a direct QUIC connection to p that runs on m, or nil. A nil
// Mux has none.
func (m *Mux) ConnTo(nw network.Network, p peer.ID) network.Conn {
	if m == nil {
		return nil
	}
	for _, c := range nw.ConnsToPeer(p) {
		if _, err := m.PeerEndpoint(c); err == nil {
			return c
		}
	}
	return nil
}

// RemoteIP is the IP address of the far end of a direct connection.
func RemoteIP(c network.Conn) (netip.Addr, error) {
	ip, err := manet.ToIP(c.RemoteMultiaddr())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("remote address %s: %w", c.RemoteMultiaddr(), err)
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, fmt.Errorf("remote address %s is not IP", c.RemoteMultiaddr())
	}
	return addr.Unmap(), nil
}
