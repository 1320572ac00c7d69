// Birthday-paradox hole punching, for a pair with one symmetric NAT.
//
// A port-restricted NAT ("R") keeps one external port per socket whatever
// the destination, so its peer knows where to send; it lets a packet in
// only from an address the socket has sent to. A symmetric NAT ("S") gives
// every destination a fresh random external port, so nobody knows the port
// its packets towards R will come from, and R's NAT drops them. DCUtR's
// simultaneous open fails there.
//
// The way through is to guess many times at once. S opens n sockets and
// sends probes from each to R's known address: S's NAT gives each socket a
// random port towards R. R sends probes from its one socket to m random
// ports on S's IP, opening its filter for each. Once a port S's NAT chose
// is among those R sent to, probes cross in both directions on that
// 5-tuple. With ports spread over 64512 values, one round with n = 256 and
// m = 1024 finds a common port with probability 1 - e^(-256·1024/64512),
// about 98 %. Each side stops at the first valid probe it receives and
// keeps answering on that path for a moment, so the other side hears too.
//
// Probes carry no fingerprint: 16 random bytes (the first below 0x40 and
// above WireGuard's types, so the mux takes them for neither QUIC nor
// WireGuard) and a 16-byte HMAC tag over them under a key the two ends
// agreed on their encrypted libp2p connection, with the direction in the
// MAC so a probe cannot be reflected back. Anything else is ignored.

package wgpath

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ProbeSize is the size of a punch probe datagram.
const ProbeSize = 32

// Punch probe directions: from the symmetric side's sockets, and from the
// port-restricted side's spray.
const (
	probeFromSockets byte = 'S'
	probeFromSpray   byte = 'R'
)

// Defaults for one birthday punch round.
const (
	// DefaultPunchSockets is how many sockets the symmetric side opens.
	DefaultPunchSockets = 256
	// DefaultPunchSpray is how many ports the port-restricted side tries.
	DefaultPunchSpray = 1024
	// DefaultPunchTimeout bounds a round.
	DefaultPunchTimeout = 4 * time.Second
)

// lowestPort is the bottom of the range NATs pick external ports from.
const lowestPort = 1024

// ErrPunchFailed means a birthday punch round ended without a probe from
// the peer getting through.
var ErrPunchFailed = errors.New("birthday punch: no probe got through")

// PunchKey is the secret both ends of a punch agree on before it starts.
type PunchKey [32]byte

// NewPunchKey returns a fresh random key.
func NewPunchKey() (PunchKey, error) {
	var k PunchKey
	_, err := rand.Read(k[:])
	return k, err
}

// probe builds a probe for direction dir.
func (k PunchKey) probe(dir byte) []byte {
	b := make([]byte, ProbeSize)
	_, _ = rand.Read(b[:16])
	// Neither QUIC (0x40 and 0x80 clear) nor a WireGuard type (1–4).
	b[0] = 5 + b[0]%(0x40-5)
	copy(b[16:], k.tag(dir, b[:16]))
	return b
}

func (k PunchKey) tag(dir byte, nonce []byte) []byte {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("mystp2p punch probe"))
	m.Write([]byte{dir})
	m.Write(nonce)
	return m.Sum(nil)[:16]
}

// valid reports whether b is a probe for direction dir under k.
func (k PunchKey) valid(dir byte, b []byte) bool {
	if len(b) != ProbeSize || b[0] < 5 || b[0] >= 0x40 {
		return false
	}
	return hmac.Equal(b[16:], k.tag(dir, b[:16]))
}

// PunchFromSockets is the symmetric side of a round: it opens n UDP sockets
// on laddr's IP (port 0), sends probes from each to target every 100 ms,
// and returns the first socket that receives a valid probe from target.
// That socket's NAT mapping is the punched path: use it for WireGuard with
// target as the endpoint. The other sockets are closed.
func PunchFromSockets(ctx context.Context, key PunchKey, laddr netip.Addr, target netip.AddrPort, n int) (*net.UDPConn, error) {
	if n <= 0 || !target.IsValid() {
		return nil, fmt.Errorf("%w: punch from %d sockets to %s", ErrInvalidConfig, n, target)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	network := "udp4"
	if target.Addr().Is6() {
		network = "udp6"
	}
	var la *net.UDPAddr
	if laddr.IsValid() {
		la = net.UDPAddrFromAddrPort(netip.AddrPortFrom(laddr, 0))
	}
	socks := make([]*net.UDPConn, 0, n)
	defer func() {
		for _, c := range socks {
			if c != nil {
				c.Close()
			}
		}
	}()
	for range n {
		c, err := net.ListenUDP(network, la)
		if err != nil {
			if len(socks) == 0 {
				return nil, fmt.Errorf("birthday punch: open a socket: %w", err)
			}
			break // out of descriptors: punch with what we have
		}
		socks = append(socks, c)
	}
	won := make(chan int, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ua := net.UDPAddrFromAddrPort(target)
	for i, c := range socks {
		wg.Go(func() {
			buf := make([]byte, ProbeSize+1)
			for ctx.Err() == nil {
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				_, _ = c.WriteToUDP(key.probe(probeFromSockets), ua)
				for {
					nr, from, err := c.ReadFromUDPAddrPort(buf)
					if err != nil {
						break // the deadline: probe again
					}
					if unmapped(from) == unmapped(target) && key.valid(probeFromSpray, buf[:nr]) {
						select {
						case won <- i:
						default:
						}
						return
					}
				}
			}
		})
	}
	select {
	case i := <-won:
		cancel()
		wg.Wait()
		c := socks[i]
		socks[i] = nil
		_ = c.SetReadDeadline(time.Time{})
		// Tell the spraying side, which may not have heard us yet.
		for range 3 {
			_, _ = c.WriteToUDP(key.probe(probeFromSockets), ua)
		}
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%d sockets towards %s): %w", ErrPunchFailed, len(socks), target, ctx.Err())
	}
}

// PunchSpray is the port-restricted side of a round, on the shared socket:
// it sends probes to m random ports on ip (spread over about a second,
// then again while the round lasts) and returns the first address on ip
// a valid probe comes from. WireGuard then uses that address as its peer
// on the mux.
func PunchSpray(ctx context.Context, m *Mux, key PunchKey, ip netip.Addr, ports int) (netip.AddrPort, error) {
	if ports <= 0 || !ip.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("%w: spray %d ports on %s", ErrInvalidConfig, ports, ip)
	}
	ip = ip.Unmap()
	if err := m.checkFamily(ip); err != nil {
		return netip.AddrPort{}, err
	}
	heard := make(chan netip.AddrPort, 1)
	stop, err := m.listenProbes(func(from netip.AddrPort, b []byte) {
		if from.Addr() == ip && key.valid(probeFromSockets, b) {
			select {
			case heard <- from:
			default:
			}
		}
	})
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sprayed := make(chan struct{})
	go func() {
		defer close(sprayed)
		gap := time.Second / time.Duration(ports)
		t := time.NewTicker(max(gap, 50*time.Microsecond))
		defer t.Stop()
		for ctx.Err() == nil {
			for range ports {
				port := lowestPort + mrand.IntN(65536-lowestPort)
				_ = m.writeTo(key.probe(probeFromSpray), netip.AddrPortFrom(ip, uint16(port)))
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
	}()
	select {
	case from := <-heard:
		cancel()
		<-sprayed
		// The symmetric side learns its winning socket from our probe.
		for range 3 {
			_ = m.writeTo(key.probe(probeFromSpray), from)
		}
		return from, nil
	case <-ctx.Done():
		<-sprayed
		return netip.AddrPort{}, fmt.Errorf("%w (%d ports a second on %s): %w", ErrPunchFailed, ports, ip, ctx.Err())
	}
}

func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
