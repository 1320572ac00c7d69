package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	gchecksum "gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// offloadedTCP builds a TCP packet the way gVisor's TCP does for a link
// with segmentation offload: lengths of the whole packet and a TCP
// checksum holding only the pseudo-header sum.
func offloadedTCP(v6 bool, payload []byte, flags header.TCPFlags, opts []byte) []byte {
	src4, dst4 := tcpip.AddrFrom4([4]byte{10, 0, 0, 1}), tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	src6 := tcpip.AddrFrom16([16]byte{0xfd, 15: 1})
	dst6 := tcpip.AddrFrom16([16]byte{0xfd, 15: 2})
	tcpLen := header.TCPMinimumSize + len(opts)
	ipLen := header.IPv4MinimumSize
	if v6 {
		ipLen = header.IPv6MinimumSize
	}
	pkt := make([]byte, ipLen+tcpLen+len(payload))
	src, dst := src4, dst4
	if v6 {
		src, dst = src6, dst6
		header.IPv6(pkt).Encode(&header.IPv6Fields{
			PayloadLength:     uint16(tcpLen + len(payload)),
			TransportProtocol: header.TCPProtocolNumber,
			HopLimit:          64,
			SrcAddr:           src,
			DstAddr:           dst,
		})
	} else {
		ip := header.IPv4(pkt)
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(pkt)),
			ID:          0xfff0,
			Flags:       header.IPv4FlagDontFragment,
			TTL:         64,
			Protocol:    uint8(header.TCPProtocolNumber),
			SrcAddr:     src,
			DstAddr:     dst,
		})
		ip.SetChecksum(^ip.CalculateChecksum())
	}
	tcp := header.TCP(pkt[ipLen:])
	tcp.Encode(&header.TCPFields{
		SrcPort:    40000,
		DstPort:    443,
		SeqNum:     0xffffff00, // wraps inside the packet
		AckNum:     7,
		DataOffset: uint8(tcpLen),
		Flags:      flags,
		WindowSize: 1000,
	})
	copy(tcp[header.TCPMinimumSize:], opts)
	copy(pkt[ipLen+tcpLen:], payload)
	tcp.SetChecksum(header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(tcpLen+len(payload))))
	return pkt
}

func makeBufs(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs
}

// checkSegments verifies what a NIC's segmentation must give: valid
// headers and checksums, contiguous sequence numbers, the original payload
// in order, FIN and PSH on the last segment only, CWR on the first only,
// and IPv4 IDs counting up. It returns the reassembled payload.
func checkSegments(t testing.TB, orig []byte, segs [][]byte, mss int) []byte {
	t.Helper()
	tp, err := parseTCPForSegmentation(orig, mss)
	if err != nil {
		t.Fatalf("parse original: %v", err)
	}
	origTCP := header.TCP(orig[tp.ipLen:])
	var payload []byte
	for i, s := range segs {
		var src, dst tcpip.Address
		if tp.v6 {
			ip := header.IPv6(s)
			if !ip.IsValid(len(s)) {
				t.Fatalf("segment %d: invalid IPv6 header", i)
			}
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		} else {
			ip := header.IPv4(s)
			if !ip.IsValid(len(s)) || !ip.IsChecksumValid() {
				t.Fatalf("segment %d: invalid IPv4 header or checksum", i)
			}
			if want := header.IPv4(orig).ID() + uint16(i); ip.ID() != want {
				t.Fatalf("segment %d: IPv4 ID %d, want %d", i, ip.ID(), want)
			}
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		}
		tcp := header.TCP(s[tp.ipLen:])
		data := s[tp.hdrLen:]
		if len(data) > mss {
			t.Fatalf("segment %d: %d bytes of payload, MSS %d", i, len(data), mss)
		}
		xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(s)-tp.ipLen))
		if gchecksum.Checksum(s[tp.ipLen:], xsum) != 0xffff {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		if want := origTCP.SequenceNumber() + uint32(len(payload)); tcp.SequenceNumber() != want {
			t.Fatalf("segment %d: seq %#x, want %#x", i, tcp.SequenceNumber(), want)
		}
		last := i == len(segs)-1
		of := origTCP.Flags()
		want := of
		if !last {
			want &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		if i > 0 {
			want &^= header.TCPFlagCwr
		}
		if tcp.Flags() != want {
			t.Fatalf("segment %d: flags %v, want %v", i, tcp.Flags(), want)
		}
		if !bytes.Equal(tcp[header.TCPMinimumSize:tcp.DataOffset()], origTCP[header.TCPMinimumSize:origTCP.DataOffset()]) {
			t.Fatalf("segment %d: TCP options changed", i)
		}
		payload = append(payload, data...)
	}
	if !bytes.Equal(payload, orig[tp.hdrLen:]) {
		t.Fatalf("reassembled payload differs (%d bytes, want %d)", len(payload), len(orig)-tp.hdrLen)
	}
	return payload
}

func TestSegmentTCP(t *testing.T) {
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps
	for _, v6 := range []bool{false, true} {
		// The MSS gVisor uses at the session MTU.
		mss := MTU - header.IPv4MinimumSize - header.TCPMinimumSize - len(ts)
		if v6 {
			mss = MTU - header.IPv6MinimumSize - header.TCPMinimumSize - len(ts)
		}
		for _, size := range []int{0, 1, mss - 1, mss, mss + 1, 3*mss + 5, 47 * mss} {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			orig := offloadedTCP(v6, payload, header.TCPFlagAck|header.TCPFlagPsh|header.TCPFlagFin|header.TCPFlagCwr, ts)
			tp, err := parseTCPForSegmentation(orig, mss)
			if err != nil {
				t.Fatal(err)
			}
			want := max(1, (size+mss-1)/mss)
			if tp.segments() != want {
				t.Fatalf("v6=%v size %d: %d segments, want %d", v6, size, tp.segments(), want)
			}
			const offset = 16
			bufs := makeBufs(want, offset+MTU)
			sizes := make([]int, want)
			n, err := tp.writeSegments(0, bufs, sizes, offset)
			if err != nil || n != want {
				t.Fatalf("v6=%v size %d: wrote %d, %v; want %d", v6, size, n, err, want)
			}
			segs := make([][]byte, n)
			for i := range segs {
				segs[i] = bufs[i][offset : offset+sizes[i]]
				if len(segs[i]) > MTU {
					t.Fatalf("segment %d is %d bytes, over the MTU", i, len(segs[i]))
				}
			}
			checkSegments(t, orig, segs, mss)
		}
	}
}

// TestSegmentTCPResumes cuts one packet over several short batches, as
// netDevice.Read does when WireGuard's batch is full.
func TestSegmentTCPResumes(t *testing.T) {
	const mss = 500
	orig := offloadedTCP(false, bytes.Repeat([]byte{0xab}, 7*mss+3), header.TCPFlagAck|header.TCPFlagPsh, nil)
	tp, err := parseTCPForSegmentation(orig, mss)
	if err != nil {
		t.Fatal(err)
	}
	var segs [][]byte
	for next := 0; next < tp.segments(); {
		bufs, sizes := makeBufs(3, MTU), make([]int, 3)
		n, err := tp.writeSegments(next, bufs, sizes, 0)
		if err != nil || n == 0 {
			t.Fatalf("at segment %d: wrote %d, %v", next, n, err)
		}
		for i := range n {
			segs = append(segs, bufs[i][:sizes[i]])
		}
		next += n
	}
	if len(segs) != 8 {
		t.Fatalf("%d segments, want 8", len(segs))
	}
	checkSegments(t, orig, segs, mss)
}

func TestSegmentTCPRejects(t *testing.T) {
	good := offloadedTCP(false, make([]byte, 100), header.TCPFlagAck, nil)
	udp := bytes.Clone(good)
	udp[9] = 17
	shortTCP := bytes.Clone(good[:header.IPv4MinimumSize+10])
	badOff := bytes.Clone(good)
	badOff[header.IPv4MinimumSize+12] = 0x40 // data offset 16 bytes
	longOff := bytes.Clone(good[:header.IPv4MinimumSize+header.TCPMinimumSize])
	longOff[header.IPv4MinimumSize+12] = 0xf0 // 60-byte header, 20 present
	badIHL := bytes.Clone(good)
	badIHL[0] = 0x44
	v6ext := offloadedTCP(true, make([]byte, 10), header.TCPFlagAck, nil)
	v6ext[6] = 0 // hop-by-hop options
	for name, pkt := range map[string][]byte{
		"empty": {}, "udp": udp, "short TCP header": shortTCP, "data offset under 20": badOff,
		"data offset past end": longOff, "IHL under 20": badIHL, "IPv6 extension header": v6ext,
		"version 5": {0x50, 0, 0, 0},
	} {
		if _, err := parseTCPForSegmentation(pkt, 1000); !errors.Is(err, errNotSegmentable) {
			t.Errorf("%s: err %v, want errNotSegmentable", name, err)
		}
	}
	if _, err := parseTCPForSegmentation(good, 0); !errors.Is(err, errNotSegmentable) {
		t.Errorf("MSS 0: err %v", err)
	}
	tp, err := parseTCPForSegmentation(good, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.writeSegments(0, makeBufs(1, 50), make([]int, 1), 0); err == nil {
		t.Error("a buffer shorter than the segment was accepted")
	}
}

func TestLengthsMatch(t *testing.T) {
	v4 := offloadedTCP(false, make([]byte, 10), header.TCPFlagAck, nil)
	v6 := offloadedTCP(true, make([]byte, 10), header.TCPFlagAck, nil)
	padded := append(bytes.Clone(v4), 0, 0)
	short6 := bytes.Clone(v6)
	binary.BigEndian.PutUint16(short6[4:], 5)
	for name, tc := range map[string]struct {
		p    []byte
		want bool
	}{
		"v4": {v4, true}, "v6": {v6, true}, "v4 padded": {padded, false},
		"v6 wrong length": {short6, false}, "v4 truncated": {v4[:10], false}, "v6 truncated": {v6[:30], false},
	} {
		if got := lengthsMatch(tc.p); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// FuzzSegmentTCP feeds arbitrary packets and MSS values to the segmenter:
// it must never panic, and whatever it accepts it must cut into valid
// segments that reassemble to the original payload.
func FuzzSegmentTCP(f *testing.F) {
	f.Add(offloadedTCP(false, make([]byte, 3000), header.TCPFlagAck|header.TCPFlagPsh, nil), uint16(1368))
	f.Add(offloadedTCP(true, make([]byte, 2000), header.TCPFlagAck|header.TCPFlagFin, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}), uint16(700))
	f.Add(offloadedTCP(false, nil, header.TCPFlagSyn, nil), uint16(1))
	f.Add([]byte{0x45, 0, 0, 20}, uint16(100))
	f.Fuzz(func(t *testing.T, pkt []byte, mss16 uint16) {
		mss := int(mss16)
		tp, err := parseTCPForSegmentation(pkt, mss)
		if err != nil {
			return
		}
		if tp.segments() > 4096 {
			return // tiny MSS over a big packet: valid, but slow to check
		}
		bufs := makeBufs(tp.segments(), tp.hdrLen+mss)
		sizes := make([]int, len(bufs))
		n, err := tp.writeSegments(0, bufs, sizes, 0)
		if err != nil || n != len(bufs) {
			t.Fatalf("wrote %d of %d: %v", n, len(bufs), err)
		}
		segs := make([][]byte, n)
		for i := range segs {
			segs[i] = bufs[i][:sizes[i]]
		}
		checkSegmentsLoose(t, tp, pkt, segs, mss)
	})
}

// checkSegmentsLoose checks what holds for any accepted input: each
// segment carries the original headers' length, at most mss bytes of
// payload, a correct TCP checksum and (IPv4) header checksum, and the
// payloads reassemble to the original.
func checkSegmentsLoose(t *testing.T, tp tcpPacket, orig []byte, segs [][]byte, mss int) {
	t.Helper()
	var payload []byte
	for i, s := range segs {
		if len(s) < tp.hdrLen || len(s)-tp.hdrLen > mss {
			t.Fatalf("segment %d: %d bytes", i, len(s))
		}
		var pseudo uint16
		if tp.v6 {
			pseudo = gchecksum.Checksum(s[8:40], 0)
			if int(binary.BigEndian.Uint16(s[4:]))+ipv6HdrLen != len(s) {
				t.Fatalf("segment %d: IPv6 payload length wrong", i)
			}
		} else {
			if gchecksum.Checksum(s[:tp.ipLen], 0) != 0xffff {
				t.Fatalf("segment %d: bad IPv4 header checksum", i)
			}
			if int(binary.BigEndian.Uint16(s[2:])) != len(s) {
				t.Fatalf("segment %d: IPv4 total length wrong", i)
			}
			pseudo = gchecksum.Checksum(s[12:20], 0)
		}
		pseudo = gchecksum.Combine(pseudo, ipProtoTCP)
		pseudo = gchecksum.Combine(pseudo, uint16(len(s)-tp.ipLen))
		if gchecksum.Checksum(s[tp.ipLen:], pseudo) != 0xffff {
			t.Fatalf("segment %d: bad TCP checksum", i)
		}
		payload = append(payload, s[tp.hdrLen:]...)
	}
	if !bytes.Equal(payload, orig[tp.hdrLen:]) {
		t.Fatal("reassembled payload differs")
	}
}
