// Package relay holds the circuit relay v2 side of mystp2p: the limits a
// public relay/bootstrap node serves with, and parsing of the static relays
// and bootstrap peers a node is told about.
//
// Relays carry signalling only: a relayed connection is limited in time and
// bytes (circuit v2 defaults: 2 min, 128 KiB each way), enough to negotiate a
// session and coordinate hole punching, not tunnel data, unless the operator
// opts in to carrying it (CarryDataLimits).
package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// Limits bound what a relay spends on others.
type Limits struct {
	// Reservations is the most peers that may hold a reservation at once.
	Reservations int
	// CircuitsPerPeer bounds open relayed connections per peer.
	CircuitsPerPeer int
	// Duration and Data bound each relayed connection.
	Duration time.Duration
	Data     int64
}

// DefaultLimits are go-libp2p's circuit v2 defaults.
func DefaultLimits() Limits {
	d := relayv2.DefaultResources()
	return Limits{
		Reservations:    d.MaxReservations,
		CircuitsPerPeer: d.MaxCircuits,
		Duration:        d.Limit.Duration,
		Data:            d.Limit.Data,
	}
}

// CarryDataLimits are the limits of a relay that opts in to carry tunnel
// data (`mystp2p relay --carry-data`): the fallback for pairs that cannot
// punch (symmetric NAT on both sides). Each relayed connection may last an
// hour and carry 1 GiB each way; operators lower them to taste.
func CarryDataLimits() Limits {
	l := DefaultLimits()
	l.Duration, l.Data = time.Hour, 1<<30
	return l
}

// Validate rejects limits that would make the relay useless or unbounded.
func (l Limits) Validate() error {
	switch {
	case l.Reservations <= 0:
		return fmt.Errorf("relay reservations %d must be positive", l.Reservations)
	case l.CircuitsPerPeer <= 0:
		return fmt.Errorf("relay circuits per peer %d must be positive", l.CircuitsPerPeer)
	case l.Duration <= 0:
		return fmt.Errorf("relay connection duration %s must be positive", l.Duration)
	case l.Data <= 0:
		return fmt.Errorf("relay connection data %d must be positive", l.Data)
	}
	return nil
}

// ServiceOptions turns limits into circuit relay v2 options.
func (l Limits) ServiceOptions() ([]relayv2.Option, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	r := relayv2.DefaultResources()
	r.MaxReservations = l.Reservations
	r.MaxCircuits = l.CircuitsPerPeer
	r.Limit = &relayv2.RelayLimit{Duration: l.Duration, Data: l.Data}
	return []relayv2.Option{relayv2.WithResources(r)}, nil
}

// ErrNoPeerID means a bootstrap or relay address lacks its /p2p/ part.
var ErrNoPeerID = errors.New("address has no /p2p/<peer ID> part")

// ParsePeers parses multiaddrs with /p2p/ components into AddrInfos, merging
// several addresses of one peer.
func ParsePeers(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, s := range addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("peer address %q: %w", s, err)
		}
		if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
			return nil, fmt.Errorf("peer address %q: %w (copy the full address a node prints, ending in /p2p/12D3…)", s, ErrNoPeerID)
		}
		mas = append(mas, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("peer addresses: %w", err)
	}
	return infos, nil
}
