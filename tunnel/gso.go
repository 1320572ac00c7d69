package tunnel

import (
	"encoding/binary"
	"errors"

	gchecksum "gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// Segmentation offload. The stacks tell gVisor that the link segments TCP
// for them (stack.HostGSOSupported), so gVisor's TCP hands the link one
// packet of up to 64 KiB where it would have built and sent forty-odd
// MTU-sized ones, and leaves the TCP checksum to the link: the header holds
// only the pseudo-header sum (CHECKSUM_PARTIAL). segmentTCP does what a NIC
// would: it cuts such a packet into MSS-sized segments, each with its own
// IP length, IPv4 ID and header checksum, TCP sequence number, flags and
// full TCP checksum. Packets at most one MSS long come through it too, to
// get their checksum finished.

const (
	ipProtoTCP = 6
	ipv4MinLen = 20
	ipv6HdrLen = 40
	tcpMinLen  = 20

	tcpFlagFIN = 0x01
	tcpFlagPSH = 0x08
	tcpFlagCWR = 0x80
)

// errNotSegmentable is returned for a packet that is not an IPv4 or IPv6
// packet carrying a whole TCP header.
var errNotSegmentable = errors.New("netstack: packet handed for TCP segmentation is not a well-formed TCP/IP packet")

// tcpPacket is a parsed TCP/IP packet ready for segmentation.
type tcpPacket struct {
	pkt    []byte
	v6     bool
	ipLen  int // IP header length, options or extension headers included
	hdrLen int // IP and TCP headers
	mss    int
}

// parseTCPForSegmentation checks that pkt is an IPv4 (any options) or IPv6
// (no extension headers: gVisor's TCP sends none) packet whose whole TCP
// header is present. mss must be positive.
func parseTCPForSegmentation(pkt []byte, mss int) (tcpPacket, error) {
	if mss <= 0 || len(pkt) < 1 {
		return tcpPacket{}, errNotSegmentable
	}
	p := tcpPacket{pkt: pkt, mss: mss}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < ipv4MinLen {
			return tcpPacket{}, errNotSegmentable
		}
		p.ipLen = int(pkt[0]&0x0f) * 4
		if p.ipLen < ipv4MinLen || pkt[9] != ipProtoTCP {
			return tcpPacket{}, errNotSegmentable
		}
	case 6:
		if len(pkt) < ipv6HdrLen || pkt[6] != ipProtoTCP {
			return tcpPacket{}, errNotSegmentable
		}
		p.v6 = true
		p.ipLen = ipv6HdrLen
	default:
		return tcpPacket{}, errNotSegmentable
	}
	if len(pkt) < p.ipLen+tcpMinLen {
		return tcpPacket{}, errNotSegmentable
	}
	tcpLen := int(pkt[p.ipLen+12]>>4) * 4
	if tcpLen < tcpMinLen || len(pkt) < p.ipLen+tcpLen {
		return tcpPacket{}, errNotSegmentable
	}
	p.hdrLen = p.ipLen + tcpLen
	return p, nil
}

// segments is how many packets p becomes (at least one: a packet without
// payload stays one packet).
func (p tcpPacket) segments() int {
	payload := len(p.pkt) - p.hdrLen
	if payload == 0 {
		return 1
	}
	return (payload + p.mss - 1) / p.mss
}

// writeSegments writes segments first, first+1, … of p to out[i][offset:]
// and their lengths to sizes[i], as many as out holds, and returns how many
// it wrote. Each out[i][offset:] must hold hdrLen+mss bytes.
func (p tcpPacket) writeSegments(first int, out [][]byte, sizes []int, offset int) (int, error) {
	total := p.segments()
	n := 0
	for seg := first; seg < total && n < len(out); seg++ {
		start := p.hdrLen + seg*p.mss
		end := min(start+p.mss, len(p.pkt))
		dst := out[n][offset:]
		size := p.hdrLen + end - start
		if len(dst) < size {
			return n, errors.New("netstack: WireGuard's buffer is too small for a TCP segment")
		}
		copy(dst, p.pkt[:p.hdrLen])
		copy(dst[p.hdrLen:], p.pkt[start:end])
		p.fixHeaders(dst[:size], seg, seg == total-1)
		sizes[n] = size
		n++
	}
	return n, nil
}

// fixHeaders rewrites the copied headers of segment seg in s (its whole
// packet) and fills in both checksums.
func (p tcpPacket) fixHeaders(s []byte, seg int, last bool) {
	ip, tcp := s[:p.ipLen], s[p.ipLen:p.hdrLen]
	if !p.v6 {
		id := binary.BigEndian.Uint16(ip[4:])
		binary.BigEndian.PutUint16(ip[4:], id+uint16(seg))
	}
	seq := binary.BigEndian.Uint32(tcp[4:])
	binary.BigEndian.PutUint32(tcp[4:], seq+uint32(seg*p.mss))
	if !last {
		tcp[13] &^= tcpFlagFIN | tcpFlagPSH
	}
	if seg > 0 {
		tcp[13] &^= tcpFlagCWR
	}
	finishTCP(s, p.ipLen)
}

// finishTCP sets the IP length of s, a whole TCP/IP packet whose IP
// header is ipLen bytes, to len(s), and fills in the IPv4 header checksum
// and the full TCP checksum.
func finishTCP(s []byte, ipLen int) {
	ip, tcp := s[:ipLen], s[ipLen:]
	var pseudo uint16
	if ip[0]>>4 == 6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(len(s)-ipv6HdrLen))
		pseudo = gchecksum.Checksum(ip[8:40], 0)
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(len(s)))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^gchecksum.Checksum(ip, 0))
		pseudo = gchecksum.Checksum(ip[12:20], 0)
	}
	pseudo = gchecksum.Combine(pseudo, ipProtoTCP)
	pseudo = gchecksum.Combine(pseudo, uint16(len(tcp)))
	tcp[16], tcp[17] = 0, 0
	binary.BigEndian.PutUint16(tcp[16:], ^gchecksum.Checksum(tcp, pseudo))
}
