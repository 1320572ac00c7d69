// Package wgpath owns how a session's WireGuard packets travel between two
// mystp2p nodes, in the spirit of Tailscale's magicsock.
//
// It owns the node's shared UDP socket (Mux): one port for libp2p's QUIC and
// WireGuard, read in one goroutine that demultiplexes each datagram by its
// first bytes into QUIC (lent to go-libp2p) or WireGuard (a MuxBind per
// peer), so WireGuard rides the 5-tuple a DCUtR hole punch opened. It owns
// the wireguard-go binds: MuxBind on that socket, UDPBind on a socket of its
// own, PipeBind over a relayed stream, MeteredBind counting what crosses
// another bind, and SwitchBind moving a running device from one to the next.
// And it names the closed sets the two ends agree on: the Transport (UDP,
// Stream, UDPMux) and the Path (Direct, Relayed).
//
// It knows nothing of the tunnel's network stacks or of session signalling:
// package tunnel runs WireGuard over these binds, and the session server
// and client pick the transport. Each end describes its side as a Link, and
// Link.Bind makes the bind, so both ends choose the same way.
package wgpath
