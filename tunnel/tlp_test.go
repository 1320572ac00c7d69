package tunnel

import (
	"encoding/binary"
	"net/netip"
	"testing"

	gchecksum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// tcpSpec describes a TCP/IP packet for the probe-watch tests.
type tcpSpec struct {
	src, dst     netip.AddrPort
	seq, ack     uint32
	flags        byte
	tsval, tsecr uint32
	noTS         bool
	sack         [][2]uint32 // SACK blocks already in the packet
	payload      int
	spare        int // capacity beyond the packet
}

// build returns the packet with valid lengths and checksums.
func (s tcpSpec) build() []byte {
	var opts []byte
	if !s.noTS {
		opts = append(opts, header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionTS, 10)
		opts = binary.BigEndian.AppendUint32(opts, s.tsval)
		opts = binary.BigEndian.AppendUint32(opts, s.tsecr)
	}
	if len(s.sack) > 0 {
		opts = append(opts, header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionSACK, byte(2+8*len(s.sack)))
		for _, b := range s.sack {
			opts = binary.BigEndian.AppendUint32(opts, b[0])
			opts = binary.BigEndian.AppendUint32(opts, b[1])
		}
	}
	ipLen := ipv4MinLen
	if s.src.Addr().Is6() {
		ipLen = ipv6HdrLen
	}
	tcpLen := tcpMinLen + len(opts)
	n := ipLen + tcpLen + s.payload
	buf := make([]byte, n, n+s.spare)
	if s.src.Addr().Is6() {
		buf[0] = 6 << 4
		binary.BigEndian.PutUint16(buf[4:], uint16(n-ipv6HdrLen))
		buf[6], buf[7] = ipProtoTCP, 64
		src, dst := s.src.Addr().As16(), s.dst.Addr().As16()
		copy(buf[8:], src[:])
		copy(buf[24:], dst[:])
	} else {
		buf[0] = 4<<4 | 5
		binary.BigEndian.PutUint16(buf[2:], uint16(n))
		buf[8], buf[9] = 64, ipProtoTCP
		src, dst := s.src.Addr().As4(), s.dst.Addr().As4()
		copy(buf[12:], src[:])
		copy(buf[16:], dst[:])
		binary.BigEndian.PutUint16(buf[10:], ^gchecksum.Checksum(buf[:ipLen], 0))
	}
	tcp := buf[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], s.src.Port())
	binary.BigEndian.PutUint16(tcp[2:], s.dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12] = byte(tcpLen/4) << 4
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[tcpMinLen:], opts)
	for i := range s.payload {
		tcp[tcpLen+i] = byte(i)
	}
	binary.BigEndian.PutUint16(tcp[16:], ^gchecksum.Checksum(tcp, tcpPseudo(buf, ipLen)))
	return buf
}

// tcpPseudo is the pseudo-header sum of the TCP packet pkt.
func tcpPseudo(pkt []byte, ipLen int) uint16 {
	var sum uint16
	if pkt[0]>>4 == 6 {
		sum = gchecksum.Checksum(pkt[8:40], 0)
	} else {
		sum = gchecksum.Checksum(pkt[12:20], 0)
	}
	sum = gchecksum.Combine(sum, ipProtoTCP)
	return gchecksum.Combine(sum, uint16(len(pkt)-ipLen))
}

// checkPacket fails t unless pkt's lengths and checksums hold, and
// returns its TCP header as gVisor parses it.
func checkPacket(t testing.TB, pkt []byte) header.TCP {
	t.Helper()
	ipLen := ipv6HdrLen
	if pkt[0]>>4 == 4 {
		ip := header.IPv4(pkt)
		if int(ip.TotalLength()) != len(pkt) || !ip.IsChecksumValid() {
			t.Fatalf("IPv4 header: length %d of %d, checksum valid %v", ip.TotalLength(), len(pkt), ip.IsChecksumValid())
		}
		ipLen = int(ip.HeaderLength())
	} else if int(header.IPv6(pkt).PayloadLength())+ipv6HdrLen != len(pkt) {
		t.Fatalf("IPv6 payload length %d in a packet of %d", header.IPv6(pkt).PayloadLength(), len(pkt))
	}
	tcp := header.TCP(pkt[ipLen:])
	if int(tcp.DataOffset()) > len(tcp) {
		t.Fatalf("TCP data offset %d past the packet's %d bytes", tcp.DataOffset(), len(tcp))
	}
	if gchecksum.Checksum(tcp, tcpPseudo(pkt, ipLen)) != 0xffff {
		t.Fatal("TCP checksum does not hold")
	}
	return tcp
}

var (
	tlpLocal4  = netip.MustParseAddrPort("10.7.0.1:80")
	tlpRemote4 = netip.MustParseAddrPort("10.7.0.2:40000")
	tlpLocal6  = netip.MustParseAddrPort("[fd00::1]:80")
	tlpRemote6 = netip.MustParseAddrPort("[fd00::2]:40000")
)

// probeFixture sends two segments, [1000, 3000), and a retransmission of
// [2000, 2500) that a tail-loss probe would send.
func probeFixture(t testing.TB, local, remote netip.AddrPort) *probeWatch {
	t.Helper()
	w := &probeWatch{}
	data := tcpSpec{src: local, dst: remote, flags: tcpFlagACK, tsval: 10, payload: 1000}
	for _, seq := range []uint32{1000, 2000} {
		data.seq = seq
		w.sent(data.build())
	}
	if w.probes.Load() != 0 {
		t.Fatal("new data counted as a retransmission")
	}
	probe := tcpSpec{src: local, dst: remote, seq: 2000, flags: tcpFlagACK, tsval: 13, payload: 500}
	w.sent(probe.build())
	if w.probes.Load() != 1 {
		t.Fatal("the probe was not noticed")
	}
	return w
}

// The ACK that covers all data sent by the time of the probe, and echoes a
// timestamp from before it, gets a D-SACK for the probe; ACKs before and
// after it pass as they came.
func TestProbeWatchMarksNeedlessProbe(t *testing.T) {
	for _, fam := range []struct {
		name          string
		local, remote netip.AddrPort
	}{{"ipv4", tlpLocal4, tlpRemote4}, {"ipv6", tlpLocal6, tlpRemote6}} {
		t.Run(fam.name, func(t *testing.T) {
			w := probeFixture(t, fam.local, fam.remote)
			ack := tcpSpec{src: fam.remote, dst: fam.local, seq: 7, flags: tcpFlagACK, tsval: 50, tsecr: 10, spare: 64}

			ack.ack = 2999 // short of the episode's end
			if p := ack.build(); len(w.received(p)) != len(p) {
				t.Fatal("an ACK short of the data sent before the probe was changed")
			}
			ack.ack = 3000
			p := ack.build()
			q := w.received(p)
			if len(q) != len(p)+dsackLen {
				t.Fatalf("the covering ACK is %d bytes, want %d with a D-SACK", len(q), len(p)+dsackLen)
			}
			tcp := checkPacket(t, q)
			opts := tcp.ParsedOptions()
			if len(opts.SACKBlocks) != 1 || opts.SACKBlocks[0].Start != 2000 || opts.SACKBlocks[0].End != 2500 {
				t.Fatalf("SACK blocks %v, want one for the probe [2000, 2500)", opts.SACKBlocks)
			}
			if !opts.TS || opts.TSVal != 50 || opts.TSEcr != 10 {
				t.Fatalf("timestamps %+v changed", opts)
			}
			if tcp.AckNumber() != 3000 || tcp.SequenceNumber() != 7 || tcp.Flags() != header.TCPFlagAck {
				t.Fatal("the ACK's other fields changed")
			}
			if w.needless.Load() != 1 || w.probes.Load() != 0 {
				t.Fatalf("needless %d, open probes %d", w.needless.Load(), w.probes.Load())
			}
			// The episode is over: a duplicate of the ACK passes.
			if p := ack.build(); len(w.received(p)) != len(p) {
				t.Fatal("a second covering ACK got a D-SACK too")
			}
		})
	}
}

// An ACK that echoes the probe's own timestamp (the probe may have filled
// a hole) or that says nothing of timestamps, or that carries SACK blocks
// of its own, is left as it came: the sender reacts as it would have.
func TestProbeWatchLeavesUnprovenProbes(t *testing.T) {
	for name, ack := range map[string]tcpSpec{
		"echo of the probe": {tsecr: 13},
		"later echo":        {tsecr: 14},
		"wait past floor":   {tsecr: 13 - probeFloor},
		"no timestamps":     {noTS: true},
		"own SACK":          {tsecr: 10, sack: [][2]uint32{{4000, 5000}}},
		"no room":           {tsecr: 10, sack: [][2]uint32{{4000, 5000}, {6000, 7000}, {8000, 9000}}},
		"no capacity":       {tsecr: 10, spare: -1},
	} {
		t.Run(name, func(t *testing.T) {
			w := probeFixture(t, tlpLocal4, tlpRemote4)
			ack.src, ack.dst, ack.ack, ack.flags = tlpRemote4, tlpLocal4, 3000, tcpFlagACK
			if ack.spare == 0 {
				ack.spare = 64
			} else {
				ack.spare = 0
			}
			p := ack.build()
			orig := string(p)
			if q := w.received(p); len(q) != len(p) || string(q) != orig {
				t.Fatal("the ACK was changed")
			}
			if w.needless.Load() != 0 || w.probes.Load() != 0 || w.covered.Load() != 1 {
				t.Fatalf("needless %d, open probes %d, covered %d", w.needless.Load(), w.probes.Load(), w.covered.Load())
			}
		})
	}
}

// An ACK that carries data keeps its data, after the added option.
func TestProbeWatchKeepsTheACKsData(t *testing.T) {
	w := probeFixture(t, tlpLocal4, tlpRemote4)
	ack := tcpSpec{src: tlpRemote4, dst: tlpLocal4, ack: 3000, flags: tcpFlagACK | tcpFlagPSH, tsval: 50, tsecr: 10, payload: 300, spare: 64}
	p := ack.build()
	want := string(p[len(p)-300:])
	q := w.received(p)
	tcp := checkPacket(t, q)
	if string(tcp.Payload()) != want {
		t.Fatal("the ACK's data changed")
	}
	if len(tcp.ParsedOptions().SACKBlocks) != 1 {
		t.Fatal("no D-SACK")
	}
}

// Another flow's ACK, a flow that ended, and a full table are told apart.
func TestProbeWatchFlows(t *testing.T) {
	w := probeFixture(t, tlpLocal4, tlpRemote4)
	other := tcpSpec{src: netip.MustParseAddrPort("10.7.0.3:40000"), dst: tlpLocal4, ack: 3000, flags: tcpFlagACK, tsecr: 10, spare: 64}
	if p := other.build(); len(w.received(p)) != len(p) {
		t.Fatal("another flow's ACK got a D-SACK")
	}
	// The flow ends: its probe is forgotten.
	w.sent(tcpSpec{src: tlpLocal4, dst: tlpRemote4, seq: 3000, flags: tcpFlagACK | tcpFlagFIN, tsval: 14}.build())
	if w.probes.Load() != 0 || len(w.flows) != 0 {
		t.Fatalf("after FIN: %d open probes, %d flows", w.probes.Load(), len(w.flows))
	}
	// The table stays bounded.
	for i := range maxProbeFlows + 10 {
		src := netip.AddrPortFrom(tlpLocal4.Addr(), uint16(i))
		w.sent(tcpSpec{src: src, dst: tlpRemote4, seq: 1, flags: tcpFlagACK, tsval: 1, payload: 10}.build())
	}
	if len(w.flows) > maxProbeFlows {
		t.Fatalf("%d flows remembered, bound %d", len(w.flows), maxProbeFlows)
	}
}

// Whatever the peer sends, the watch neither panics nor grows a packet
// past its capacity, and a packet it changes is well formed.
func FuzzProbeWatch(f *testing.F) {
	f.Add(tcpSpec{src: tlpRemote4, dst: tlpLocal4, ack: 3000, flags: tcpFlagACK, tsecr: 10}.build(), 64)
	f.Add(tcpSpec{src: tlpRemote6, dst: tlpLocal6, ack: 3000, flags: tcpFlagACK, tsecr: 10}.build(), 12)
	f.Add([]byte{0x45, 0, 0, 20}, 0)
	f.Fuzz(func(t *testing.T, pkt []byte, spare int) {
		spare = min(max(spare, 0), 128)
		for _, fam := range [][2]netip.AddrPort{{tlpLocal4, tlpRemote4}, {tlpLocal6, tlpRemote6}} {
			w := probeFixture(t, fam[0], fam[1])
			buf := make([]byte, len(pkt), len(pkt)+spare)
			copy(buf, pkt)
			w.sent(buf) // as if the local stack sent it: no panic
			q := w.received(buf)
			if len(q) == len(pkt) {
				continue
			}
			if len(q) != len(pkt)+dsackLen || cap(q) != cap(buf) {
				t.Fatalf("%d bytes became %d (capacity %d)", len(pkt), len(q), cap(buf))
			}
			checkPacket(t, q)
		}
	})
}
