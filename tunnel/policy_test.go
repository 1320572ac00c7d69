package tunnel

import (
	"errors"
	"net/netip"
	"testing"
)

func TestExitPolicy(t *testing.T) {
	lan := netip.MustParsePrefix("198.51.100.0/24") // the provider's own network
	def, err := NewExitPolicy(WithLocalNetworks(lan, netip.MustParsePrefix("127.0.0.0/8")))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := NewExitPolicy(WithLocalNetworks(lan, netip.MustParsePrefix("127.0.0.0/8")), WithAllowLoopback(), WithAllowPrivate())
	if err != nil {
		t.Fatal(err)
	}
	loop, err := NewExitPolicy(WithLocalNetworks(lan, netip.MustParsePrefix("127.0.0.0/8")), WithAllowLoopback())
	if err != nil {
		t.Fatal(err)
	}
	extra, err := NewExitPolicy(WithLocalNetworks(), WithDenyPrefixes(netip.MustParsePrefix("203.0.113.0/24")), WithDenyTCPPorts(22))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		policy *ExitPolicy
		proto  Proto
		dst    string
		allow  bool
	}{
		{def, TCP, "93.184.216.34:443", true},
		{def, UDP, "[2606:4700::1111]:53", true},
		{def, TCP, "127.0.0.1:80", false},
		{def, TCP, "[::1]:80", false},
		{def, TCP, "[::ffff:127.0.0.1]:80", false},
		{def, TCP, "10.0.0.1:80", false},
		{def, TCP, "172.16.5.4:80", false},
		{def, TCP, "192.168.1.1:80", false},
		{def, TCP, "[fd12::1]:80", false},
		{def, TCP, "100.64.1.1:80", false},
		{def, TCP, "169.254.169.254:80", false},
		{def, TCP, "[fe80::1]:80", false},
		{def, UDP, "224.0.0.251:5353", false},
		{def, UDP, "[ff02::fb]:5353", false},
		{def, UDP, "255.255.255.255:67", false},
		{def, TCP, "0.0.0.0:80", false},
		{def, TCP, "[::]:80", false},
		{def, TCP, "240.0.0.1:80", false},
		{def, TCP, "198.51.100.7:80", false}, // own network
		{def, TCP, "93.184.216.34:25", false},
		{def, UDP, "93.184.216.34:25", true},
		{def, TCP, "93.184.216.34:0", false},
		{loop, TCP, "127.0.0.1:80", true},
		{loop, TCP, "[::1]:80", true},
		{loop, TCP, "127.0.0.1:25", false},
		{loop, TCP, "10.0.0.1:80", false},
		{loop, TCP, "198.51.100.7:80", false},
		{lab, TCP, "10.0.0.1:80", true},
		{lab, TCP, "198.51.100.7:80", true},
		{lab, TCP, "169.254.169.254:80", false},
		{lab, TCP, "224.0.0.1:80", false},
		{extra, TCP, "203.0.113.9:80", false},
		{extra, TCP, "93.184.216.34:22", false},
		{extra, TCP, "93.184.216.34:25", true},
	}
	for _, tt := range tests {
		err := tt.policy.Check(tt.proto, netip.MustParseAddrPort(tt.dst))
		if tt.allow && err != nil {
			t.Errorf("%s %s: denied (%v), want allowed", tt.proto, tt.dst, err)
		}
		if !tt.allow && !errors.Is(err, ErrPolicyDenied) {
			t.Errorf("%s %s: err = %v, want ErrPolicyDenied", tt.proto, tt.dst, err)
		}
	}
}

func TestExitPolicyOptions(t *testing.T) {
	if _, err := NewExitPolicy(WithDenyTCPPorts(0)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("port 0: %v", err)
	}
	if _, err := NewExitPolicy(WithDenyPrefixes(netip.Prefix{})); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("invalid prefix: %v", err)
	}
	p, err := NewExitPolicy() // reads the host's interfaces
	if err != nil {
		t.Fatal(err)
	}
	nets, err := InterfaceNetworks()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if err := p.Check(TCP, netip.AddrPortFrom(n.Addr(), 80)); !errors.Is(err, ErrPolicyDenied) {
			t.Errorf("own interface address %s allowed by the default policy", n.Addr())
		}
	}
}
