package wgpath

import (
	"fmt"
	"strings"
)

// Transport is how a session's WireGuard packets travel, as the two ends
// name it on the wire. The set is closed: UDP, Stream and UDPMux.
type Transport string

const (
	// UDP is a UDP socket of the session's own, hole-punched to the peer
	// (a UDPBind).
	UDP Transport = "udp"
	// Stream is a reliable byte stream, a libp2p stream through a relay
	// (a PipeBind).
	Stream Transport = "stream"
	// UDPMux is the node's shared UDP socket (the Mux), on the 5-tuple of
	// a direct libp2p QUIC connection (a MuxBind). It is not called Mux
	// because the type Mux owns that name in this package.
	UDPMux Transport = "udp-mux"
)

// transports are the valid Transports, in the order Parse lists them.
var transports = []Transport{UDP, Stream, UDPMux}

// Parse returns the Transport named s. Any other string fails with an error
// that wraps ErrUnknownTransport and lists the valid names.
func Parse(s string) (Transport, error) {
	for _, t := range transports {
		if s == string(t) {
			return t, nil
		}
	}
	names := make([]string, len(transports))
	for i, t := range transports {
		names[i] = fmt.Sprintf("%q", string(t))
	}
	return "", fmt.Errorf("%w %q: want one of %s", ErrUnknownTransport, s, strings.Join(names, ", "))
}

// Path is the route a session's WireGuard packets take between the peers.
type Path string

const (
	// Direct is peer to peer: a punched or public UDP path.
	Direct Path = "direct"
	// Relayed goes through a circuit relay.
	Relayed Path = "relayed"
)
