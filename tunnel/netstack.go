package tunnel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
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
	// outboundQueueLen is the link endpoint's queue towards WireGuard, in
	// packets of up to gsoMaxSize bytes.
	outboundQueueLen = 1024
	// deviceBatchSize is how many packets one Read hands to WireGuard and
	// one Write takes from it: more than the segments of one
	// gsoMaxSize packet at the session MTU.
	deviceBatchSize = 64
	// tcpBufferMax is the largest TCP send/receive buffer the stacks use;
	// one WireGuard session rarely has more than a few MiB in flight.
	tcpBufferMax = 8 << 20
)

// netDevice is a tun.Device backed by a gVisor network stack: packets that
// WireGuard decrypts are injected into the stack, and packets the stack
// sends are handed to WireGuard, in WireGuard's batches both ways, with
// TCP segmentation and receive offload in between (linkEndpoint, gso.go).
// The consumer uses it to originate connections, the provider to
// terminate them.
type netDevice struct {
	ep     *linkEndpoint
	stack  *stack.Stack
	events chan tun.Event
	meter  *meter
	// inbound, when set, sees every packet before it enters the stack
	// (the consumer uses it to notice ICMP "administratively prohibited").
	inbound func(pkt []byte)
	// probes finds the stack's needless tail-loss probes (tlp.go).
	probes probeWatch

	// Read's state: Read is only called from WireGuard's one TUN reader.
	// pending is an offloaded TCP packet whose segments did not all fit
	// in the last Read; pendingNext is its next segment.
	flat        []byte
	pending     tcpPacket
	pendingNext int

	// Write's state: WireGuard's receive path calls Write for one peer
	// from one goroutine at a time; the mutex makes that a guarantee.
	writeMu  sync.Mutex
	inbounds []*stack.PacketBuffer // guarded by writeMu

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
		ep:     newLinkEndpoint(outboundQueueLen, MTU),
		flat:   make([]byte, gsoMaxSize),
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
// one, then takes whatever else is already queued, up to len(bufs). TCP
// packets the stack left for the link to segment leave as MTU-sized
// segments with their checksums filled in.
func (d *netDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := 0
	if d.pendingNext > 0 {
		n = d.writePending(bufs, sizes, offset)
		if n == len(bufs) {
			return n, nil
		}
	}
	var pkt *stack.PacketBuffer
	if n == 0 {
		if pkt = d.ep.read(d.ctx); pkt == nil {
			return 0, os.ErrClosed
		}
	} else if pkt = d.ep.tryRead(); pkt == nil {
		return n, nil
	}
	for {
		n += d.readPacket(pkt, bufs[n:], sizes[n:], offset)
		pkt.DecRef()
		if n == len(bufs) || d.pendingNext > 0 {
			return n, nil
		}
		if pkt = d.ep.tryRead(); pkt == nil {
			return n, nil
		}
	}
}

// readPacket writes pkt to bufs as one packet, or as segments if the stack
// left it for the link to segment, and returns how many it wrote. Segments
// that do not fit stay pending for the next Read.
func (d *netDevice) readPacket(pkt *stack.PacketBuffer, bufs [][]byte, sizes []int, offset int) int {
	gso := pkt.GSOOptions
	if (gso.Type != stack.GSOTCPv4 && gso.Type != stack.GSOTCPv6) || !gso.NeedsCsum {
		sizes[0] = copyPacket(bufs[0][offset:], pkt)
		d.meter.addTx(sizes[0])
		d.probes.sent(bufs[0][offset : offset+sizes[0]])
		return 1
	}
	if pkt.Size() > len(d.flat) {
		return 0 // the stack was told gsoMaxSize; drop, TCP retransmits
	}
	flat := d.flat[:copyPacket(d.flat, pkt)]
	d.probes.sent(flat)
	mss := int(gso.MSS)
	if mss == 0 {
		mss = len(flat) // nothing to segment; only the checksum to finish
	}
	tp, err := parseTCPForSegmentation(flat, mss)
	if err != nil {
		return 0
	}
	d.pending, d.pendingNext = tp, 0
	return d.writePending(bufs, sizes, offset)
}

// writePending writes the pending packet's next segments to bufs.
func (d *netDevice) writePending(bufs [][]byte, sizes []int, offset int) int {
	n, err := d.pending.writeSegments(d.pendingNext, bufs, sizes, offset)
	for _, s := range sizes[:n] {
		d.meter.addTx(s)
	}
	d.pendingNext += n
	if err != nil || d.pendingNext == d.pending.segments() {
		d.pending, d.pendingNext = tcpPacket{}, 0
	}
	return n
}

func copyPacket(dst []byte, pkt *stack.PacketBuffer) int {
	n := 0
	for _, s := range pkt.AsSlices() {
		n += copy(dst[n:], s)
	}
	return n
}

// Write injects packets that WireGuard decrypted into the stack, the whole
// batch at once, so that GRO can merge the segments of each TCP flow.
func (d *netDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	pkts := d.inbounds[:0]
	defer func() {
		d.ep.deliverBatch(pkts)
		clear(pkts)
		d.inbounds = pkts[:0]
	}()
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
		p = d.probes.received(p)
		if d.inbound != nil {
			d.inbound(p)
		}
		pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(p)})
		pkb.NetworkProtocolNumber = proto
		pkb.RXChecksumValidated = lengthsMatch(p)
		pkts = append(pkts, pkb)
	}
	return len(bufs), nil
}

// lengthsMatch reports whether p's IP header is whole and its length field
// matches len(p). GRO trusts the lengths of packets whose checksums are
// marked validated, so only those are.
func lengthsMatch(p []byte) bool {
	switch p[0] >> 4 {
	case 4:
		return len(p) >= ipv4MinLen && int(p[0]&0x0f)*4 >= ipv4MinLen &&
			int(binary.BigEndian.Uint16(p[2:])) == len(p)
	case 6:
		return len(p) >= ipv6HdrLen && int(binary.BigEndian.Uint16(p[4:]))+ipv6HdrLen == len(p)
	}
	return false
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
