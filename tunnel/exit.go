package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// copyBufSize is the buffer of each direction of a proxied connection.
const copyBufSize = 64 << 10

// flowOf turns a gVisor endpoint ID (local = destination the consumer
// asked for, remote = the consumer) into a flowKey.
func flowOf(proto Proto, id stack.TransportEndpointID) flowKey {
	return flowKey{
		proto: proto,
		src:   netip.AddrPortFrom(addrFromTCPIP(id.RemoteAddress), id.RemotePort),
		dst:   netip.AddrPortFrom(addrFromTCPIP(id.LocalAddress), id.LocalPort),
	}
}

// handleTCP runs in a goroutine gVisor starts per SYN. It is counted in
// p.wg for its whole life so that Close waits for it.
func (p *Provider) handleTCP(r *tcp.ForwarderRequest) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		r.Complete(true)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	flow := flowOf(TCP, r.ID())
	if err := p.checkDest(TCP, flow.dst); err != nil {
		p.logFlow("exit refused", "proto", "tcp", "dst", flow.dst, "err", err)
		p.refuse(flow, reasonProhibited)
		r.Complete(false)
		return
	}
	select {
	case p.tcpSlots <- struct{}{}:
	default:
		p.logFlow("exit refused", "proto", "tcp", "dst", flow.dst, "err", ErrTooManyFlows)
		r.Complete(true)
		return
	}
	defer func() { <-p.tcpSlots }()

	ctx, cancel := context.WithTimeout(p.ctx, p.opts.dialTimeout)
	var d net.Dialer
	out, err := d.DialContext(ctx, "tcp", flow.dst.String())
	cancel()
	if err != nil {
		p.logFlow("exit dial failed", "proto", "tcp", "dst", flow.dst, "err", err)
		if why, icmp := dialReason(err); icmp {
			p.refuse(flow, why)
			r.Complete(false)
		} else {
			r.Complete(true)
		}
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if terr != nil {
		out.Close()
		p.logFlow("exit handshake failed", "dst", flow.dst, "err", terr.String())
		return
	}
	ep.SocketOptions().SetKeepAlive(true)
	in := gonet.NewTCPConn(&wq, ep)
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	defer p.untrack(in, out)
	proxyTCP(throttle(p.ctx, in, p.down), throttle(p.ctx, out, p.up), p.opts.tcpIdle)
}

// proxyTCP copies both ways, forwarding half-closes, until both
// directions are done or one has been idle for idle; then it closes both.
func proxyTCP(a, b net.Conn, idle time.Duration) {
	ia, ib := newIdlePair(a, b, idle)
	done := make(chan struct{})
	go func() { // owned: proxyTCP waits for it below
		defer close(done)
		relayHalf(ia, ib)
	}()
	relayHalf(ib, ia)
	<-done
	a.Close()
	b.Close()
}

// handleUDP runs on the stack's packet path for the first packet of each
// new UDP flow; it must not block.
func (p *Provider) handleUDP(r *udp.ForwarderRequest) {
	flow := flowOf(UDP, r.ID())
	if err := p.checkDest(UDP, flow.dst); err != nil {
		p.logFlow("exit refused", "proto", "udp", "dst", flow.dst, "err", err)
		p.refuse(flow, reasonProhibited)
		return
	}
	select {
	case p.udpSlots <- struct{}{}:
	default:
		p.logFlow("exit refused", "proto", "udp", "dst", flow.dst, "err", ErrTooManyFlows)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		<-p.udpSlots
		p.logFlow("exit udp endpoint failed", "dst", flow.dst, "err", terr.String())
		return
	}
	in := gonet.NewUDPConn(&wq, ep)
	if !p.goTracked(func() {
		defer func() { <-p.udpSlots }()
		p.serveUDPFlow(flow, in)
	}) {
		in.Close()
		<-p.udpSlots
	}
}

// serveUDPFlow relays one consumer UDP flow through a connected host socket
// until it has been idle for the idle timeout or the session closes.
func (p *Provider) serveUDPFlow(flow flowKey, in *gonet.UDPConn) {
	out, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(flow.dst))
	if err != nil {
		in.Close()
		p.logFlow("exit dial failed", "proto", "udp", "dst", flow.dst, "err", err)
		why, _ := dialReason(err)
		p.refuse(flow, why)
		return
	}
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	defer p.untrack(in, out)
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	idle := p.opts.udpIdle
	relay := func(dst, src net.Conn, bs buckets) {
		buf := make([]byte, 64<<10)
		for {
			src.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err) {
					if time.Since(time.Unix(0, last.Load())) < idle {
						continue
					}
				}
				dst.Close()
				src.Close()
				return
			}
			last.Store(time.Now().UnixNano())
			if err := bs.take(p.ctx, n); err != nil {
				dst.Close()
				src.Close()
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				p.logFlow("udp relay write", "dst", flow.dst, "err", err)
			}
		}
	}
	done := make(chan struct{})
	go func() { // owned: waited for below
		relay(in, out, p.down)
		close(done)
	}()
	relay(out, in, p.up)
	<-done
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// startDNS listens on port 53 of the provider's tunnel addresses, over UDP
// and TCP.
func (p *Provider) startDNS() error {
	s := p.netdev.stack
	for _, a := range []netip.Addr{p.cfg.Addresses.Provider, p.cfg.Addresses.Provider6} {
		fa, proto := fullAddr(netip.AddrPortFrom(a, dnsPort))
		uc, err := gonet.DialUDP(s, &fa, nil, proto)
		if err != nil {
			return err
		}
		ln, err := gonet.ListenTCP(s, fa, proto)
		if err != nil {
			uc.Close()
			return err
		}
		if !p.track(uc) {
			uc.Close()
			ln.Close()
			return ErrClosed
		}
		p.goTracked(func() { p.serveDNSUDP(uc) })
		p.goTracked(func() { p.serveDNSTCP(ln) })
	}
	return nil
}

const maxDNSInFlight = 64

func (p *Provider) serveDNSUDP(uc *gonet.UDPConn) {
	defer uc.Close()
	sem := make(chan struct{}, maxDNSInFlight)
	buf := make([]byte, maxDNSMessage+1)
	for {
		n, from, err := uc.ReadFrom(buf)
		if err != nil {
			return
		}
		if n > maxDNSMessage {
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			p.logFlow("dns: too many queries in flight, dropping")
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		if !p.goTracked(func() {
			defer func() { <-sem }()
			if resp, ok := answerDNS(p.ctx, p.cfg.Resolver, q); ok {
				uc.WriteTo(resp, from)
			}
		}) {
			return
		}
	}
}

func (p *Provider) serveDNSTCP(ln *gonet.TCPListener) {
	p.goTracked(func() {
		<-p.ctx.Done()
		ln.Close()
	})
	sem := make(chan struct{}, 16)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close()
			continue
		}
		if !p.track(c) || !p.goTracked(func() {
			defer func() { <-sem }()
			defer p.untrack(c)
			p.serveDNSConn(c)
		}) {
			c.Close()
			return
		}
	}
}

// serveDNSConn answers length-prefixed queries on one TCP connection
// (RFC 7766) until the client stops or idles for 10 s.
func (p *Provider) serveDNSConn(c net.Conn) {
	defer c.Close()
	var hdr [2]byte
	buf := make([]byte, maxDNSMessage)
	for {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(hdr[0])<<8 | int(hdr[1])
		if n == 0 || n > maxDNSMessage {
			return
		}
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		resp, ok := answerDNS(p.ctx, p.cfg.Resolver, buf[:n])
		if !ok {
			return
		}
		out := append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
