package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mystp2p/mystp2p/tunnel"
)

// parseExitPolicy turns --exit-policy tokens into an exit policy.
func parseExitPolicy(tokens []string) (*tunnel.ExitPolicy, error) {
	var opts []tunnel.PolicyOption
	for _, t := range tokens {
		kind, val, _ := strings.Cut(t, ":")
		switch kind {
		case "allow-private":
			opts = append(opts, tunnel.WithAllowPrivate())
		case "allow-loopback":
			opts = append(opts, tunnel.WithAllowLoopback())
		case "deny":
			p, err := netip.ParsePrefix(val)
			if err != nil {
				return nil, fmt.Errorf("--exit-policy %q: %v (want deny:203.0.113.0/24)", t, err)
			}
			opts = append(opts, tunnel.WithDenyPrefixes(p))
		case "deny-port":
			port, err := strconv.ParseUint(val, 10, 16)
			if err != nil || port == 0 {
				return nil, fmt.Errorf("--exit-policy %q: want deny-port:1-65535", t)
			}
			opts = append(opts, tunnel.WithDenyTCPPorts(uint16(port)))
		default:
			return nil, fmt.Errorf("--exit-policy %q: want allow-private, allow-loopback, deny:CIDR or deny-port:N", t)
		}
	}
	p, err := tunnel.NewExitPolicy(opts...)
	if err != nil {
		return nil, fmt.Errorf("exit policy: %w", err)
	}
	return p, nil
}
