package tunnel

import (
	"encoding/hex"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

func TestUnreachableRoundTrip(t *testing.T) {
	flows := []flowKey{
		{TCP, netip.MustParseAddrPort("10.182.0.3:40000"), netip.MustParseAddrPort("127.0.0.1:80")},
		{UDP, netip.MustParseAddrPort("[fd6d:7973:7470::3]:5353"), netip.MustParseAddrPort("[::1]:53")},
	}
	for _, f := range flows {
		for _, why := range []unreachableReason{reasonProhibited, reasonHostUnreachable, reasonNetUnreachable} {
			p := buildUnreachable(f, why)
			// The packet must be valid for a real stack.
			if f.src.Addr().Is4() {
				ip := header.IPv4(p)
				if !ip.IsValid(len(p)) || ip.CalculateChecksum() != 0xffff {
					t.Fatalf("bad IPv4 header: %x", p)
				}
				if checksum(p[20:], 0) != 0xffff {
					t.Fatalf("bad ICMP checksum")
				}
			} else if !checkICMPv6(p) {
				t.Fatalf("bad ICMPv6 checksum: %x", p)
			}
			got, gotWhy, ok := noteUnreachable(p)
			switch {
			case why == reasonNetUnreachable || (why == reasonHostUnreachable && f.src.Addr().Is4()):
				// gVisor already reports these precisely: not recorded.
				if ok {
					t.Fatalf("%v %d: recorded", f, why)
				}
			case !ok || got != f || gotWhy != why:
				t.Fatalf("%v %d: parsed %v %d %v", f, why, got, gotWhy, ok)
			}
			if f.src.Addr().Is6() && ok {
				if p[41] != icmpv6NoRoute || !checkICMPv6(p) {
					t.Fatalf("ICMPv6 code not rewritten to a valid no-route: %x", p)
				}
			}
		}
	}
}

func checkICMPv6(p []byte) bool {
	src := netip.AddrFrom16([16]byte(p[8:24]))
	dst := netip.AddrFrom16([16]byte(p[24:40]))
	icmp := append([]byte(nil), p[40:]...)
	sum := [2]byte{icmp[2], icmp[3]}
	setICMPv6Checksum(src, dst, icmp)
	return sum == [2]byte{icmp[2], icmp[3]}
}

// TestUnreachableGolden pins the exact bytes of an IPv4 "administratively
// prohibited" answer (checksums verified with an independent RFC 1071 sum).
func TestUnreachableGolden(t *testing.T) {
	f := flowKey{TCP, netip.MustParseAddrPort("10.182.0.3:40000"), netip.MustParseAddrPort("127.0.0.1:80")}
	const want = "45000038000000004001f10b7f0000010ab60003" + // IPv4, ICMP, 127.0.0.1 -> 10.182.0.3
		"030d606200000000" + // type 3 code 13
		"4500001c000000004006f1220ab600037f000001" + // quoted header: TCP 10.182.0.3 -> 127.0.0.1
		"9c40005000000000" // ports 40000 -> 80
	if got := hex.EncodeToString(buildUnreachable(f, reasonProhibited)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func FuzzNoteUnreachable(f *testing.F) {
	f.Add(buildUnreachable(flowKey{TCP, netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("1.2.3.4:80")}, reasonProhibited))
	f.Add(buildUnreachable(flowKey{TCP, netip.MustParseAddrPort("[fd00::1]:1"), netip.MustParseAddrPort("[2001:db8::1]:80")}, reasonHostUnreachable))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, p []byte) {
		k, _, ok := noteUnreachable(p)
		if ok && !k.src.IsValid() {
			t.Fatal("ok with an invalid flow")
		}
	})
}
