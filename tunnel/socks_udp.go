package tunnel

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// udpAssoc is one UDP ASSOCIATE: a relay socket on the control
// connection's local (loopback) address that accepts datagrams only from
// the client's IP, and up to two tunnel sockets (IPv4, IPv6) that carry
// them to their destinations through the Dialer.
type udpAssoc struct {
	s        *SOCKSServer
	relay    *net.UDPConn
	clientIP netip.Addr
	last     atomic.Int64 // unix nanos of the last datagram either way

	mu     sync.Mutex
	client netip.AddrPort          // guarded by mu; locked on the first datagram
	tun4   net.PacketConn          // guarded by mu
	tun6   net.PacketConn          // guarded by mu
	names  map[string][]netip.Addr // guarded by mu; small resolution cache
	closed bool                    // guarded by mu
	wg     sync.WaitGroup
}

func (s *SOCKSServer) serveUDPAssociate(c *net.TCPConn, req socksAddr) {
	local := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	relay, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		c.Write(appendReply(nil, repGeneralFailure, socksAddr{}))
		s.logDebug("UDP relay socket failed", "err", err)
		return
	}
	a := &udpAssoc{s: s, relay: relay, clientIP: remote, names: make(map[string][]netip.Addr)}
	// A client that names its own UDP port is held to it (RFC 1928 §7).
	if req.Port != 0 && (!req.IP.IsValid() || req.IP.IsUnspecified() || req.IP == remote) {
		a.client = netip.AddrPortFrom(remote, req.Port)
	}
	a.touch()
	defer a.close()
	bound := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := c.Write(appendReply(nil, repSucceeded, socksAddr{IP: bound.Addr().Unmap(), Port: bound.Port()})); err != nil {
		return
	}
	c.SetWriteDeadline(time.Time{})
	a.wg.Go(a.clientLoop)
	// The association lives as long as the control connection (RFC 1928
	// §7), and no longer than the idle timeout without datagrams.
	var b [1]byte
	for {
		c.SetReadDeadline(time.Now().Add(min(s.opts.udpIdle, time.Minute)))
		_, err := c.Read(b[:])
		if err == nil {
			continue // clients should not send anything; ignore it
		}
		if isTimeout(err) && time.Since(time.Unix(0, a.last.Load())) < s.opts.udpIdle {
			continue
		}
		return
	}
}

func (a *udpAssoc) touch() { a.last.Store(time.Now().UnixNano()) }

// close ends the association and waits for its goroutines.
func (a *udpAssoc) close() {
	a.mu.Lock()
	a.closed = true
	a.relay.Close()
	for _, t := range []net.PacketConn{a.tun4, a.tun6} {
		if t != nil {
			t.Close()
		}
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// clientLoop reads the client's datagrams and sends them into the tunnel.
func (a *udpAssoc) clientLoop() {
	buf := make([]byte, maxUDPDatagram)
	for {
		n, from, err := a.relay.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if from.Addr() != a.clientIP {
			continue // only the client that asked may use the relay
		}
		a.mu.Lock()
		if !a.client.IsValid() {
			a.client = from
		}
		ok := a.client == from
		a.mu.Unlock()
		if !ok {
			continue
		}
		dst, payload, err := parseUDPDatagram(buf[:n])
		if err != nil {
			a.s.logDebug("dropping bad SOCKS UDP datagram", "err", err)
			continue
		}
		a.touch()
		target, err := a.target(dst)
		if err != nil {
			a.s.logDebug("SOCKS UDP destination failed", "dst", dst, "err", err)
			continue
		}
		t, err := a.tunnelSocket(target.Addr().Is6())
		if err != nil {
			a.s.logDebug("tunnel UDP socket failed", "err", err)
			continue
		}
		if _, err := t.WriteTo(payload, net.UDPAddrFromAddrPort(target)); err != nil {
			a.s.logDebug("SOCKS UDP send failed", "dst", target, "err", err)
		}
	}
}

// target resolves dst (through the tunnel, with a small cache).
func (a *udpAssoc) target(dst socksAddr) (netip.AddrPort, error) {
	if dst.Host == "" {
		return netip.AddrPortFrom(dst.IP, dst.Port), nil
	}
	a.mu.Lock()
	addrs, ok := a.names[dst.Host]
	a.mu.Unlock()
	if !ok {
		ctx, cancel := context.WithTimeout(a.s.ctx, dnsQueryTimeout)
		defer cancel()
		var err error
		addrs, err = a.s.dialer.LookupHost(ctx, dst.Host)
		if err != nil {
			return netip.AddrPort{}, err
		}
		a.mu.Lock()
		if len(a.names) >= udpResolveCache {
			clear(a.names)
		}
		a.names[dst.Host] = addrs
		a.mu.Unlock()
	}
	if len(addrs) == 0 {
		return netip.AddrPort{}, ErrNameNotFound
	}
	return netip.AddrPortFrom(addrs[0], dst.Port), nil
}

// tunnelSocket returns the association's tunnel socket of one family,
// opening it (and its reader) on first use.
func (a *udpAssoc) tunnelSocket(v6 bool) (net.PacketConn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}
	slot := &a.tun4
	if v6 {
		slot = &a.tun6
	}
	if *slot != nil {
		return *slot, nil
	}
	t, err := a.s.dialer.ListenUDP(v6)
	if err != nil {
		return nil, err
	}
	*slot = t
	a.wg.Go(func() { a.tunnelLoop(t) })
	return t, nil
}

// tunnelLoop returns datagrams from the tunnel to the client, each with
// the SOCKS header naming its source.
func (a *udpAssoc) tunnelLoop(t net.PacketConn) {
	buf := make([]byte, maxUDPDatagram)
	out := make([]byte, 0, maxUDPDatagram+22)
	for {
		n, from, err := t.ReadFrom(buf)
		if err != nil {
			// Closed with the association, or broken: either way the
			// client's datagrams get no more answers on this socket.
			return
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		a.mu.Lock()
		client := a.client
		a.mu.Unlock()
		if !client.IsValid() {
			continue
		}
		a.touch()
		out = appendUDPHeader(out[:0], socksAddr{IP: src.Addr().Unmap(), Port: src.Port()})
		if len(out)+n > maxUDPDatagram {
			continue
		}
		out = append(out, buf[:n]...)
		a.relay.WriteToUDPAddrPort(out, client)
	}
}
