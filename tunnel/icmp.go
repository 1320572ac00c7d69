package tunnel

import (
	"encoding/binary"
	"net/netip"
	"sync"
)

// The exit tells the consumer why a flow failed the way a router would:
// with an ICMP destination-unreachable message that quotes the start of
// the consumer's packet. The consumer's stack then fails the connect, and
// the consumer's device notes "administratively prohibited" answers so that
// the SOCKS server can report a policy refusal instead of a plain
// "host unreachable" (gVisor maps both to the same error, and ignores some
// ICMPv6 codes altogether).

// unreachableReason selects the ICMP code the exit answers with.
type unreachableReason uint8

const (
	reasonProhibited unreachableReason = iota + 1
	reasonHostUnreachable
	reasonNetUnreachable
)

const (
	icmpv4DstUnreachable = 3
	icmpv4NetUnreach     = 0
	icmpv4HostUnreach    = 1
	icmpv4AdminProhib    = 13
	icmpv4NetProhib      = 9
	icmpv4HostProhib     = 10

	icmpv6DstUnreachable = 1
	icmpv6NoRoute        = 0
	icmpv6AdminProhib    = 1
	icmpv6AddrUnreach    = 3

	protoICMPv4 = 1
	protoICMPv6 = 58
)

// flowKey identifies a consumer flow: the consumer's address and port and
// the destination's.
type flowKey struct {
	proto    Proto
	src, dst netip.AddrPort
}

// buildUnreachable returns an ICMP(v6) destination-unreachable packet from
// flow.dst to flow.src quoting a synthetic copy of the flow's first packet
// (IP header and the 8 bytes holding the ports), which is all a stack needs
// to find the socket.
func buildUnreachable(flow flowKey, why unreachableReason) []byte {
	var quote [8]byte
	binary.BigEndian.PutUint16(quote[0:], flow.src.Port())
	binary.BigEndian.PutUint16(quote[2:], flow.dst.Port())
	if flow.src.Addr().Is4() {
		code := byte(icmpv4AdminProhib)
		switch why {
		case reasonHostUnreachable:
			code = icmpv4HostUnreach
		case reasonNetUnreachable:
			code = icmpv4NetUnreach
		}
		orig := ipv4Header(flow.src.Addr(), flow.dst.Addr(), byte(flow.proto), len(quote))
		orig = append(orig, quote[:]...)
		icmp := append([]byte{icmpv4DstUnreachable, code, 0, 0, 0, 0, 0, 0}, orig...)
		binary.BigEndian.PutUint16(icmp[2:], ^checksum(icmp, 0))
		return append(ipv4Header(flow.dst.Addr(), flow.src.Addr(), protoICMPv4, len(icmp)), icmp...)
	}
	code := byte(icmpv6AdminProhib)
	switch why {
	case reasonHostUnreachable:
		code = icmpv6AddrUnreach
	case reasonNetUnreachable:
		code = icmpv6NoRoute
	}
	orig := ipv6Header(flow.src.Addr(), flow.dst.Addr(), byte(flow.proto), len(quote))
	orig = append(orig, quote[:]...)
	icmp := append([]byte{icmpv6DstUnreachable, code, 0, 0, 0, 0, 0, 0}, orig...)
	setICMPv6Checksum(flow.dst.Addr(), flow.src.Addr(), icmp)
	return append(ipv6Header(flow.dst.Addr(), flow.src.Addr(), protoICMPv6, len(icmp)), icmp...)
}

func ipv4Header(src, dst netip.Addr, proto byte, payload int) []byte {
	h := make([]byte, 20, 20+payload)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+payload))
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], ^checksum(h, 0))
	return h
}

func ipv6Header(src, dst netip.Addr, proto byte, payload int) []byte {
	h := make([]byte, 40, 40+payload)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(payload))
	h[6] = proto
	h[7] = 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return h
}

// checksum is the Internet one's-complement sum (RFC 1071), not inverted.
func checksum(b []byte, initial uint16) uint16 {
	sum := uint32(initial)
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// setICMPv6Checksum fills in the checksum of icmp sent from src to dst.
func setICMPv6Checksum(src, dst netip.Addr, icmp []byte) {
	s, d := src.As16(), dst.As16()
	var pseudo [40]byte
	copy(pseudo[0:], s[:])
	copy(pseudo[16:], d[:])
	binary.BigEndian.PutUint32(pseudo[32:], uint32(len(icmp)))
	pseudo[39] = protoICMPv6
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:], ^checksum(icmp, checksum(pseudo[:], 0)))
}

// noteUnreachable inspects a packet arriving at the consumer. For an ICMP
// destination-unreachable that gVisor would not turn into a precise error,
// it reports the quoted flow and the reason. gVisor ignores ICMPv6 codes
// other than "no route" and "port unreachable", so codes 1 (prohibited) and
// 3 (address unreachable) are rewritten in place to "no route" (checksum
// updated), which fails the connect; the reason recorded here restores the
// precise error. Malformed packets yield ok == false and are left alone.
func noteUnreachable(p []byte) (flowKey, unreachableReason, bool) {
	if len(p) < 1 {
		return flowKey{}, 0, false
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return flowKey{}, 0, false
		}
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl+8+20+4 || p[9] != protoICMPv4 {
			return flowKey{}, 0, false
		}
		icmp := p[ihl:]
		if icmp[0] != icmpv4DstUnreachable {
			return flowKey{}, 0, false
		}
		switch icmp[1] {
		case icmpv4AdminProhib, icmpv4NetProhib, icmpv4HostProhib:
		default:
			return flowKey{}, 0, false
		}
		orig := icmp[8:]
		oihl := int(orig[0]&0x0f) * 4
		if orig[0]>>4 != 4 || oihl < 20 || len(orig) < oihl+4 {
			return flowKey{}, 0, false
		}
		t := orig[oihl:]
		return flowKey{
			proto: Proto(orig[9]),
			src:   netip.AddrPortFrom(netip.AddrFrom4([4]byte(orig[12:16])), binary.BigEndian.Uint16(t[0:])),
			dst:   netip.AddrPortFrom(netip.AddrFrom4([4]byte(orig[16:20])), binary.BigEndian.Uint16(t[2:])),
		}, reasonProhibited, true
	case 6:
		if len(p) < 40+8+40+4 || p[6] != protoICMPv6 {
			return flowKey{}, 0, false
		}
		icmp := p[40:]
		if icmp[0] != icmpv6DstUnreachable {
			return flowKey{}, 0, false
		}
		var why unreachableReason
		switch icmp[1] {
		case icmpv6AdminProhib:
			why = reasonProhibited
		case icmpv6AddrUnreach:
			why = reasonHostUnreachable
		default:
			return flowKey{}, 0, false
		}
		orig := icmp[8:]
		if orig[0]>>4 != 6 {
			return flowKey{}, 0, false
		}
		t := orig[40:]
		k := flowKey{
			proto: Proto(orig[6]),
			src:   netip.AddrPortFrom(netip.AddrFrom16([16]byte(orig[8:24])), binary.BigEndian.Uint16(t[0:])),
			dst:   netip.AddrPortFrom(netip.AddrFrom16([16]byte(orig[24:40])), binary.BigEndian.Uint16(t[2:])),
		}
		icmp[1] = icmpv6NoRoute
		setICMPv6Checksum(netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40])), icmp)
		return k, why, true
	}
	return flowKey{}, 0, false
}

// unreachableFlows remembers why the exit refused recent flows, bounded so
// that a hostile peer cannot grow it.
type unreachableFlows struct {
	mu    sync.Mutex
	set   map[flowKey]unreachableReason // guarded by mu
	order []flowKey                     // guarded by mu; FIFO for eviction
}

const maxUnreachableFlows = 256

func (t *unreachableFlows) add(k flowKey, why unreachableReason) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set == nil {
		t.set = make(map[flowKey]unreachableReason)
	}
	if _, ok := t.set[k]; !ok {
		if len(t.order) >= maxUnreachableFlows {
			delete(t.set, t.order[0])
			t.order = t.order[1:]
		}
		t.order = append(t.order, k)
	}
	t.set[k] = why
}

// take returns the recorded reason for k (0 if none) and forgets it.
func (t *unreachableFlows) take(k flowKey) unreachableReason {
	t.mu.Lock()
	defer t.mu.Unlock()
	why, ok := t.set[k]
	if !ok {
		return 0
	}
	delete(t.set, k)
	for i, o := range t.order {
		if o == k {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
	return why
}
