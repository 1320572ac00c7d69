package netlab

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
)

// Address plan. Everything lives inside the lab's namespaces; nothing is
// routed to or from the machine's own network.
var (
	// PublicNet holds public hosts (NATNone) and their extra addresses.
	PublicNet = netip.MustParsePrefix("198.51.100.0/24")
	// RouterNet holds the WAN address of every NAT router.
	RouterNet = netip.MustParsePrefix("203.0.113.0/24")
)

// InternetPrefixes returns the documentation ranges the lab's internet uses.
// Software in the lab must treat them as public: go-libp2p counts them
// unroutable, so it would neither advertise relay addresses nor start hole
// punching (lab nodes lift that for their own process).
func InternetPrefixes() []netip.Prefix { return []netip.Prefix{PublicNet, RouterNet} }

// firstHostOctet is the first address handed out in PublicNet and RouterNet;
// .1 is the internet namespace's gateway address.
const firstHostOctet = 10

// maxInternetAddrs is how many addresses each internet /24 can hand out.
const maxInternetAddrs = 255 - firstHostOctet

// maxPrivateHosts is how many hosts can sit behind a NAT: each router takes
// a RouterNet address, and each LAN is 192.168.k.0/24 with k ≤ 254.
const maxPrivateHosts = maxInternetAddrs

// HostConfig describes one host of the lab.
type HostConfig struct {
	// Name identifies the host in the lab: 1–24 characters of a–z, 0–9 and
	// '-', starting with a letter or digit, unique in the lab. Required.
	Name string
	// NAT is the behaviour of the router in front of the host. Empty means
	// NATNone: the host sits on the internet with a public address.
	NAT NAT
	// Port is the host's one port (UDP and TCP) that a full-cone router
	// forwards back to it, and the port the host must use. Required for
	// NATFullCone, and must be 0 for every other behaviour.
	Port uint16
	// ExtraAddrs asks for that many more internet addresses on a public
	// host (NATNone), for example to act as several libp2p observers. Must
	// be 0 for a host behind a NAT.
	ExtraAddrs int
}

// Config describes a lab.
type Config struct {
	// Hosts are the lab's hosts. At least one is required.
	Hosts []HostConfig
	// Logger receives setup and teardown events; nil discards them.
	Logger *slog.Logger
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,23}$`)

func (c *Config) validate() error {
	if len(c.Hosts) == 0 {
		return fmt.Errorf("%w: Hosts is empty (give at least one host)", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(c.Hosts))
	var public, private int
	for i, h := range c.Hosts {
		field := fmt.Sprintf("Hosts[%d]", i)
		if !hostNameRE.MatchString(h.Name) {
			return fmt.Errorf("%w: %s.Name %q must be 1–24 characters of a–z, 0–9 and '-', starting with a letter or digit", ErrInvalidConfig, field, h.Name)
		}
		if seen[h.Name] {
			return fmt.Errorf("%w: %s.Name %q is used by another host", ErrInvalidConfig, field, h.Name)
		}
		seen[h.Name] = true
		n := h.NAT
		if n == "" {
			n = NATNone
		}
		if !n.valid() {
			_, err := ParseNAT(string(n))
			return fmt.Errorf("%w: %s.NAT: %w", ErrInvalidConfig, field, err)
		}
		if n == NATFullCone && h.Port == 0 {
			return fmt.Errorf("%w: %s.Port is required for NAT %s (the port the router forwards to the host)", ErrInvalidConfig, field, n)
		}
		if n != NATFullCone && h.Port != 0 {
			return fmt.Errorf("%w: %s.Port is only for NAT %s, not %s", ErrInvalidConfig, field, NATFullCone, n)
		}
		if h.ExtraAddrs < 0 {
			return fmt.Errorf("%w: %s.ExtraAddrs is negative (%d)", ErrInvalidConfig, field, h.ExtraAddrs)
		}
		if n != NATNone && h.ExtraAddrs != 0 {
			return fmt.Errorf("%w: %s.ExtraAddrs is only for public hosts (NAT %s), not %s", ErrInvalidConfig, field, NATNone, n)
		}
		if n == NATNone {
			public += 1 + h.ExtraAddrs
		} else {
			private++
		}
	}
	if public > maxInternetAddrs {
		return fmt.Errorf("%w: Hosts need %d public addresses, the lab has %d", ErrInvalidConfig, public, maxInternetAddrs)
	}
	if private > maxPrivateHosts {
		return fmt.Errorf("%w: Hosts has %d hosts behind a NAT, the lab has room for %d", ErrInvalidConfig, private, maxPrivateHosts)
	}
	return nil
}
