package tunnel

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/tunnel/tunneltest"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// transports are the ways the tests carry WireGuard between the two ends:
// in memory, over real loopback UDP sockets, and framed over a loopback
// TCP stream (the relayed fallback's shape).
var transports = []string{"mem", "udp", "pipe"}

// bindPair returns the consumer's and provider's binds for a transport.
func bindPair(tb testing.TB, transport string) (conn.Bind, conn.Bind) {
	tb.Helper()
	switch transport {
	case "mem":
		a, b := tunneltest.NewBindPair()
		return a, b
	case "udp", "udp6":
		ip := net.IPv4(127, 0, 0, 1)
		if transport == "udp6" {
			ip = net.IPv6loopback
		}
		ca := listenUDPOn(tb, ip)
		pa := listenUDPOn(tb, ip)
		cb, err := wgpath.NewUDPBind(ca, pa.LocalAddr().(*net.UDPAddr).AddrPort())
		if err != nil {
			tb.Fatal(err)
		}
		pb, err := wgpath.NewUDPBind(pa, ca.LocalAddr().(*net.UDPAddr).AddrPort())
		if err != nil {
			tb.Fatal(err)
		}
		return cb, pb
	case "pipe":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer ln.Close()
		c1, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		c2, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c1.Close(); c2.Close() })
		cb, err := wgpath.NewPipeBind(c1)
		if err != nil {
			tb.Fatal(err)
		}
		pb, err := wgpath.NewPipeBind(c2)
		if err != nil {
			tb.Fatal(err)
		}
		return cb, pb
	}
	tb.Fatalf("unknown transport %q", transport)
	return nil, nil
}

func listenUDP(tb testing.TB) *net.UDPConn {
	tb.Helper()
	return listenUDPOn(tb, net.IPv4(127, 0, 0, 1))
}

func listenUDPOn(tb testing.TB, ip net.IP) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		tb.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	c.SetWriteBuffer(4 << 20)
	tb.Cleanup(func() { c.Close() })
	return c
}

// staticResolver answers from a fixed table; other names do not exist.
type staticResolver map[string][]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

type pairOptions struct {
	pool     *AddressPool // nil: a fresh pool
	policy   []PolicyOption
	provider []ProviderOption
	resolver Resolver
	// wrap, if set, wraps both binds (consumer's first).
	wrap func(conn.Bind) conn.Bind
}

// newSessionPair starts a consumer and a provider connected by transport,
// and registers their Close with t.Cleanup.
func newSessionPair(tb testing.TB, transport string, po pairOptions) (*Consumer, *Provider) {
	tb.Helper()
	pool := po.pool
	if pool == nil {
		var err error
		if pool, err = NewAddressPool(netip.Prefix{}, netip.Prefix{}); err != nil {
			tb.Fatal(err)
		}
	}
	pair, err := pool.Allocate()
	if err != nil {
		tb.Fatal(err)
	}
	ck, err := GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	pk, err := GeneratePrivateKey()
	if err != nil {
		tb.Fatal(err)
	}
	policy, err := NewExitPolicy(po.policy...)
	if err != nil {
		tb.Fatal(err)
	}
	cb, pb := bindPair(tb, transport)
	if po.wrap != nil {
		cb, pb = po.wrap(cb), po.wrap(pb)
	}
	resolver := po.resolver
	if resolver == nil {
		resolver = staticResolver{"origin.test": {netip.MustParseAddr("127.0.0.1")}}
	}
	prov, err := NewProvider(ProviderConfig{
		PrivateKey:    pk,
		PeerPublicKey: ck.PublicKey(),
		Addresses:     pair,
		Bind:          pb,
		Policy:        policy,
		Resolver:      resolver,
	}, po.provider...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { prov.Close() })
	cons, err := NewConsumer(ConsumerConfig{
		PrivateKey:    ck,
		PeerPublicKey: pk.PublicKey(),
		Addresses:     pair,
		Bind:          cb,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cons.Close() })
	return cons, prov
}
