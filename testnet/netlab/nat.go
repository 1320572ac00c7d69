package netlab

import (
	"fmt"
	"net/netip"
	"strings"
)

// NAT is the behaviour of the router in front of a host, in RFC 4787 terms.
type NAT string

const (
	// NATNone puts the host directly on the internet with a public address.
	NATNone NAT = "none"
	// NATFullCone is endpoint-independent mapping and endpoint-independent
	// filtering for the host's one configured port (HostConfig.Port):
	// masquerade plus a static DNAT of that port back to the host.
	NATFullCone NAT = "full-cone"
	// NATPortRestricted is endpoint-independent mapping (the source port is
	// kept when free) with address-and-port-dependent filtering: plain
	// masquerade.
	NATPortRestricted NAT = "port-restricted"
	// NATSymmetric is address-and-port-dependent mapping with random ports
	// (masquerade fully-random) and address-and-port-dependent filtering.
	NATSymmetric NAT = "symmetric"
	// NATUDPBlocked is a port-restricted NAT whose router also drops every
	// UDP datagram to or from the host: a network that lets only TCP
	// through. Labs use it for consumers.
	NATUDPBlocked NAT = "udp-blocked"
)

// NATs lists every behaviour of a NAT matrix's providers and consumers, in
// the order reports show them.
var NATs = []NAT{NATNone, NATFullCone, NATPortRestricted, NATSymmetric}

// allNATs are NATs and the consumer-only kinds.
var allNATs = append(append([]NAT(nil), NATs...), NATUDPBlocked)

// ParseNAT parses a behaviour name as written on a command line.
func ParseNAT(s string) (NAT, error) {
	for _, n := range allNATs {
		if string(n) == s {
			return n, nil
		}
	}
	names := make([]string, len(allNATs))
	for i, n := range allNATs {
		names[i] = string(n)
	}
	return "", fmt.Errorf("unknown NAT behaviour %q (want one of %s)", s, strings.Join(names, ", "))
}

func (n NAT) String() string { return string(n) }

func (n NAT) valid() bool {
	_, err := ParseNAT(string(n))
	return err == nil
}

// DirectPathPossible reports whether two hosts behind a and b can reach each
// other directly by simultaneous UDP sends, each towards the endpoint a
// rendezvous server observed for the other, replying to whatever source a
// packet arrives from. Only a symmetric NAT facing a symmetric or
// port-restricted one defeats that: the symmetric side's mapping towards the
// peer is a fresh random port nobody observed, and the other side only
// accepts packets from endpoints it has sent to. The netlab tests measure
// this with real routers.
func DirectPathPossible(a, b NAT) bool {
	if a == NATUDPBlocked || b == NATUDPBlocked {
		return false
	}
	hard := func(x, y NAT) bool {
		return x == NATSymmetric && (y == NATSymmetric || y == NATPortRestricted)
	}
	return !hard(a, b) && !hard(b, a)
}

// Interface names inside a router namespace.
const (
	wanIf = "wan0"
	lanIf = "lan0"
)

// nftTable is the table every router ruleset lives in.
const nftTable = "netlab"

// rulesetFor returns the nftables ruleset of a router giving host (at hostAddr)
// the behaviour n. port is the full-cone port; it is ignored otherwise.
//
// Every router drops unsolicited traffic from the WAN, on input and forward:
// with masquerade alone an early punch packet to the router's own address
// gets an ICMP error (or a TCP RST) and leaves a conntrack entry that makes
// the later outgoing flow take another port, so no punch succeeds.
func rulesetFor(n NAT, hostAddr netip.Addr, port uint16) (string, error) {
	var pre, masq, dnatAccept, block string
	switch n {
	case NATFullCone:
		pre = fmt.Sprintf("\t\tiifname %q udp dport %d dnat to %s:%d\n\t\tiifname %q tcp dport %d dnat to %s:%d\n",
			wanIf, port, hostAddr, port, wanIf, port, hostAddr, port)
		masq = "masquerade"
		dnatAccept = fmt.Sprintf("\t\tiifname %q ct status dnat accept\n", wanIf)
	case NATPortRestricted:
		masq = "masquerade"
	case NATSymmetric:
		masq = "masquerade fully-random"
	case NATUDPBlocked:
		masq = "masquerade"
		block = "\t\tmeta l4proto udp drop\n"
	default:
		return "", fmt.Errorf("%w: NAT %q has no router", ErrInvalidConfig, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", nftTable)
	fmt.Fprintf(&b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n%s\t}\n", pre)
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname %q %s\n\t}\n", wanIf, masq)
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tiifname %q ct state established,related accept\n\t\tiifname %q drop\n\t}\n", wanIf, wanIf)
	fmt.Fprintf(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n%s\t\tiifname %q ct state established,related accept\n%s\t\tiifname %q drop\n\t}\n", block, wanIf, dnatAccept, wanIf)
	b.WriteString("}\n")
	return b.String(), nil
}
