package tunnel

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// MTU is the WireGuard interface MTU of every session. 1420 leaves room for
// WireGuard's 80 bytes of overhead in a 1500-byte path and lets packets fit
// quic-go's 1452-byte buffers when WireGuard shares the QUIC socket
// (wgpath.Mux).
const MTU = 1420

const (
	nicID = 1
	// outboundQueueLen is the channel endpoint's queue towards WireGuard.
	outboundQueueLen = 1024
	// deviceBatchSize is how many packets one Read hands to WireGuard.
	deviceBatchSize = 64
	// tcpBufferMax is the largest TCP send/receive buffer the stacks use;
	// one WireGuard session rarely has more than a few MiB in flight.
	tcpBufferMax = 8 << 20
)

// netDevice is a tun.Device backed by a gVisor network stack: packets that
// WireGuard decrypts are injected into the stack, and packets the stack
// sends are handed to WireGuard. The consumer uses it to originate
// connections, the provider to terminate them.
type netDevice struct {
	ep     *channel.Endpoint
	stack  *stack.Stack
	events chan tun.Event
	meter  *meter
	// inbound, when set, sees every packet before it enters the stack
	// (the consumer uses it to notice ICMP "administratively prohibited").
	inbound func(pkt []byte)

	ctx       context.Context // cancelled by Close; unblocks Read
	cancel    context.CancelFunc
	closeOnce sync.Once
}

var _ tun.Device = (*netDevice)(nil)

// stackConfig selects how the stack treats addresses it does not own.
type stackConfig struct {
	addrs []netip.Addr
	// terminate makes the stack accept packets for any destination and
	// send from any source (promiscuous + spoofing), as the provider's exit
	// needs to answer in the name of every destination.
	terminate bool
}

func newNetDevice(cfg stackConfig, m *meter) (*netDevice, error) {
	s := stack.New(stack.Options{
		// Loopback destinations are only martian from the host's point of
		// view; through the tunnel they are the provider's loopback, which
		// the exit policy (not the stack) decides about.
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocolWithOptions(ipv4.Options{AllowExternalLoopbackTraffic: true}),
			ipv6.NewProtocolWithOptions(ipv6.Options{AllowExternalLoopbackTraffic: true}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        false,
	})
	ctx, cancel := context.WithCancel(context.Background())
	d := &netDevice{
		ep:     channel.New(outboundQueueLen, MTU, ""),
		stack:  s,
		events: make(chan tun.Event, 1),
		meter:  m,
		ctx:    ctx,
		cancel: cancel,
	}
	fail := func(what string, err tcpip.Error) (*netDevice, error) {
		d.Close()
		return nil, fmt.Errorf("netstack: %s: %s", what, err)
	}
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fail("enable SACK", err)
	}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: tcpBufferMax}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv); err != nil {
		return fail("receive buffer", err)
	}
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: tcpBufferMax}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd); err != nil {
		return fail("send buffer", err)
	}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate); err != nil {
		return fail("receive buffer moderation", err)
	}
	if err := s.CreateNIC(nicID, d.ep); err != nil {
		return fail("create NIC", err)
	}
	if cfg.terminate {
		if err := s.SetPromiscuousMode(nicID, true); err != nil {
			return fail("promiscuous mode", err)
		}
		if err := s.SetSpoofing(nicID, true); err != nil {
			return fail("spoofing", err)
		}
	}
	for _, a := range cfg.addrs {
		proto := ipv4.ProtocolNumber
		if a.Is6() {
			proto = ipv6.ProtocolNumber
		}
		pa := tcpip.ProtocolAddress{
			Protocol:          proto,
			AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix(),
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
			return fail("add address "+a.String(), err)
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	d.events <- tun.EventUp
	return d, nil
}

// File implements tun.Device; there is no file behind a netstack.
func (d *netDevice) File() *os.File { return nil }

// Name implements tun.Device.
func (d *netDevice) Name() (string, error) { return "mystp2p-netstack", nil }

// MTU implements tun.Device.
func (d *netDevice) MTU() (int, error) { return MTU, nil }

// Events implements tun.Device.
func (d *netDevice) Events() <-chan tun.Event { return d.events }

// BatchSize implements tun.Device.
func (d *netDevice) BatchSize() int { return deviceBatchSize }

// Read hands packets the stack sent to WireGuard: it blocks for the first
// one, then takes whatever else is already queued, up to len(bufs).
func (d *netDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	pkt := d.ep.ReadContext(d.ctx)
	if pkt == nil {
		return 0, os.ErrClosed
	}
	n := 0
	for {
		sizes[n] = copyPacket(bufs[n][offset:], pkt)
		pkt.DecRef()
		d.meter.addTx(sizes[n])
		n++
		if n == len(bufs) {
			return n, nil
		}
		if pkt = d.ep.Read(); pkt == nil {
			return n, nil
		}
	}
}

func copyPacket(dst []byte, pkt *stack.PacketBuffer) int {
	n := 0
	for _, s := range pkt.AsSlices() {
		n += copy(dst[n:], s)
	}
	return n
}

// Write injects packets that WireGuard decrypted into the stack.
func (d *netDevice) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		p := b[offset:]
		if len(p) == 0 {
			continue
		}
		var proto tcpip.NetworkProtocolNumber
		switch p[0] >> 4 {
		case 4:
			proto = header.IPv4ProtocolNumber
		case 6:
			proto = header.IPv6ProtocolNumber
		default:
			return 0, syscall.EAFNOSUPPORT
		}
		d.meter.addRx(len(p))
		if d.inbound != nil {
			d.inbound(p)
		}
		pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
		d.ep.InjectInbound(proto, pkb)
		pkb.DecRef()
	}
	return len(bufs), nil
}

// sendOutbound queues a packet built outside the stack (an ICMP error from
// the exit) for WireGuard, as if the stack had sent it.
func (d *netDevice) sendOutbound(p []byte) {
	proto := header.IPv4ProtocolNumber
	if p[0]>>4 == 6 {
		proto = header.IPv6ProtocolNumber
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
	pkb.NetworkProtocolNumber = proto
	var list stack.PacketBufferList
	list.PushBack(pkb)
	d.ep.WritePackets(list)
	pkb.DecRef()
}

// Close implements tun.Device. It tears the stack down; WireGuard calls it
// from device.Close.
func (d *netDevice) Close() error {
	d.closeOnce.Do(func() {
		d.cancel()
		d.stack.Close()
		d.ep.Close()
		d.stack.Wait()
		close(d.events)
	})
	return nil
}

func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := ipv4.ProtocolNumber
	if ap.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(ap.Addr().AsSlice()), Port: ap.Port()}, proto
}

func addrFromTCPIP(a tcpip.Address) netip.Addr {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return ip.Unmap()
}
