package tunnel

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Proto names a transport protocol for exit-policy decisions.
type Proto uint8

const (
	// TCP is the Transmission Control Protocol.
	TCP Proto = 6
	// UDP is the User Datagram Protocol.
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// SMTPPort is denied by default so that an exit cannot be used to send spam.
const SMTPPort = 25

var (
	cgnatPrefix     = netip.MustParsePrefix("100.64.0.0/10")
	thisNetPrefix   = netip.MustParsePrefix("0.0.0.0/8")
	broadcast4      = netip.MustParseAddr("255.255.255.255")
	reservedPrefix4 = netip.MustParsePrefix("240.0.0.0/4")
)

// ExitPolicy decides which destinations a provider's exit may dial on a
// consumer's behalf. The zero value is not usable; build one with
// NewExitPolicy. An ExitPolicy is immutable and safe for concurrent use.
//
// Default (no options): deny loopback, private (RFC 1918, IPv6 ULA),
// carrier-grade NAT (100.64.0.0/10), link-local, multicast, unspecified,
// broadcast and reserved addresses, every network the provider's own
// interfaces sit on, and TCP port 25. The tunnel's own address range is
// always denied.
type ExitPolicy struct {
	allowLoopback bool
	allowPrivate  bool
	localNets     []netip.Prefix
	localNetsSet  bool
	deny          []netip.Prefix
	denyPorts     []uint16
}

// PolicyOption configures an ExitPolicy.
type PolicyOption func(*ExitPolicy) error

// WithAllowLoopback lets the exit reach the provider's loopback addresses.
// Only for the single-host testnet and tests.
func WithAllowLoopback() PolicyOption {
	return func(p *ExitPolicy) error { p.allowLoopback = true; return nil }
}

// WithAllowPrivate lets the exit reach private (RFC 1918, ULA) and
// carrier-grade NAT addresses, and the provider's own interface networks.
// For labs, where the "internet" is a private or documentation range.
func WithAllowPrivate() PolicyOption {
	return func(p *ExitPolicy) error { p.allowPrivate = true; return nil }
}

// WithLocalNetworks replaces the provider's own interface networks (by
// default read from the host's interfaces by NewExitPolicy).
func WithLocalNetworks(prefixes ...netip.Prefix) PolicyOption {
	return func(p *ExitPolicy) error {
		for _, pr := range prefixes {
			if !pr.IsValid() {
				return fmt.Errorf("%w: invalid local network prefix", ErrInvalidConfig)
			}
			p.localNets = append(p.localNets, pr.Masked())
		}
		p.localNetsSet = true
		return nil
	}
}

// WithDenyPrefixes adds destinations that are always denied.
func WithDenyPrefixes(prefixes ...netip.Prefix) PolicyOption {
	return func(p *ExitPolicy) error {
		for _, pr := range prefixes {
			if !pr.IsValid() {
				return fmt.Errorf("%w: invalid deny prefix", ErrInvalidConfig)
			}
			p.deny = append(p.deny, pr.Masked())
		}
		return nil
	}
}

// WithDenyTCPPorts replaces the set of denied TCP destination ports
// (default: 25). Pass no ports to allow every port.
func WithDenyTCPPorts(ports ...uint16) PolicyOption {
	return func(p *ExitPolicy) error {
		if slices.Contains(ports, 0) {
			return fmt.Errorf("%w: port 0 in deny list", ErrInvalidConfig)
		}
		p.denyPorts = slices.Clone(ports)
		return nil
	}
}

// NewExitPolicy builds a policy. Unless WithLocalNetworks is given it reads
// the networks of the host's interfaces.
func NewExitPolicy(opts ...PolicyOption) (*ExitPolicy, error) {
	p := &ExitPolicy{denyPorts: []uint16{SMTPPort}}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	if !p.localNetsSet {
		nets, err := InterfaceNetworks()
		if err != nil {
			return nil, err
		}
		p.localNets = nets
	}
	return p, nil
}

// InterfaceNetworks lists the networks of the host's interface addresses.
func InterfaceNetworks() ([]netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ones, _ := ipn.Mask.Size()
		ip = ip.Unmap()
		if ip.Is4() && ones > 32 {
			ones -= 96
		}
		pr, err := ip.Prefix(ones)
		if err != nil {
			continue
		}
		out = append(out, pr)
	}
	return out, nil
}

// Check returns nil if the exit may dial dst over proto, or an error
// wrapping ErrPolicyDenied that says why not.
func (p *ExitPolicy) Check(proto Proto, dst netip.AddrPort) error {
	a := dst.Addr().Unmap()
	deny := func(why string) error {
		return fmt.Errorf("%w: %s %s (%s)", ErrPolicyDenied, proto, dst, why)
	}
	switch {
	case !a.IsValid():
		return deny("invalid address")
	case dst.Port() == 0:
		return deny("port 0")
	case a.IsUnspecified() || thisNetPrefix.Contains(a):
		return deny("unspecified")
	case a.IsMulticast() || a == broadcast4:
		return deny("multicast or broadcast")
	case a.IsLinkLocalUnicast():
		return deny("link-local")
	case reservedPrefix4.Contains(a):
		return deny("reserved")
	case a.IsLoopback():
		if !p.allowLoopback {
			return deny("loopback")
		}
	case a.IsPrivate() || cgnatPrefix.Contains(a):
		if !p.allowPrivate {
			return deny("private network")
		}
	}
	if proto == TCP && slices.Contains(p.denyPorts, dst.Port()) {
		return deny(fmt.Sprintf("port %d", dst.Port()))
	}
	for _, pr := range p.deny {
		if pr.Contains(a) {
			return deny("denied network " + pr.String())
		}
	}
	if !p.allowPrivate && !a.IsLoopback() {
		for _, pr := range p.localNets {
			if pr.Contains(a) {
				return deny("provider's own network " + pr.String())
			}
		}
	}
	return nil
}
