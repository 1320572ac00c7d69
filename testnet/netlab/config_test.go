package netlab

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	many := func(n int, hc HostConfig) []HostConfig {
		hs := make([]HostConfig, n)
		for i := range hs {
			hs[i] = hc
			hs[i].Name = fmt.Sprintf("h%d", i)
		}
		return hs
	}
	tests := []struct {
		name  string
		hosts []HostConfig
		field string // named in the error; "" means valid
	}{
		{"empty", nil, "Hosts"},
		{"one public", []HostConfig{{Name: "a"}}, ""},
		{"all kinds", []HostConfig{{Name: "a", NAT: NATNone, ExtraAddrs: 3}, {Name: "b", NAT: NATFullCone, Port: 1}, {Name: "c", NAT: NATPortRestricted}, {Name: "d", NAT: NATSymmetric}}, ""},
		{"no name", []HostConfig{{}}, "Hosts[0].Name"},
		{"upper case", []HostConfig{{Name: "A"}}, "Hosts[0].Name"},
		{"leading dash", []HostConfig{{Name: "-a"}}, "Hosts[0].Name"},
		{"too long", []HostConfig{{Name: strings.Repeat("a", 25)}}, "Hosts[0].Name"},
		{"duplicate", []HostConfig{{Name: "a"}, {Name: "a", NAT: NATSymmetric}}, "Hosts[1].Name"},
		{"unknown NAT", []HostConfig{{Name: "a", NAT: "cone"}}, "Hosts[0].NAT"},
		{"full cone without port", []HostConfig{{Name: "a", NAT: NATFullCone}}, "Hosts[0].Port"},
		{"port on symmetric", []HostConfig{{Name: "a", NAT: NATSymmetric, Port: 9}}, "Hosts[0].Port"},
		{"negative extras", []HostConfig{{Name: "a", ExtraAddrs: -1}}, "Hosts[0].ExtraAddrs"},
		{"extras behind NAT", []HostConfig{{Name: "a", NAT: NATPortRestricted, ExtraAddrs: 1}}, "Hosts[0].ExtraAddrs"},
		{"public addresses full", []HostConfig{{Name: "a", ExtraAddrs: maxInternetAddrs}}, "Hosts"},
		{"public addresses just fit", []HostConfig{{Name: "a", ExtraAddrs: maxInternetAddrs - 1}}, ""},
		{"too many NATed", many(maxPrivateHosts+1, HostConfig{NAT: NATSymmetric}), "Hosts"},
		{"NATed just fit", many(maxPrivateHosts, HostConfig{NAT: NATSymmetric}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Hosts: tt.hosts}
			err := cfg.validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

// The address plan keeps inside the documentation and private ranges, and
// hands out every address once.
func TestPlanAddresses(t *testing.T) {
	var hosts []HostConfig
	for i := range maxPrivateHosts {
		hosts = append(hosts, HostConfig{Name: fmt.Sprintf("n%d", i), NAT: NATSymmetric})
	}
	hosts = append(hosts, HostConfig{Name: "pub", ExtraAddrs: maxInternetAddrs - 1})
	cfg := Config{Hosts: hosts}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	l := &Lab{prefix: "mnl-1-abcd", hosts: map[string]*Host{}}
	l.plan(hosts)
	used := map[netip.Addr]string{}
	claim := func(a netip.Addr, who string) {
		if prev, ok := used[a]; ok {
			t.Fatalf("%v used by %s and %s", a, prev, who)
		}
		used[a] = who
	}
	for _, h := range l.Hosts() {
		switch h.NAT {
		case NATNone:
			if !PublicNet.Contains(h.Addr) || h.Addr == gatewayOf(PublicNet) {
				t.Errorf("%s: public address %v", h.Name, h.Addr)
			}
			claim(h.Addr, h.Name)
			for _, a := range h.ExtraAddrs {
				if !PublicNet.Contains(a) || a == gatewayOf(PublicNet) {
					t.Errorf("%s: extra address %v", h.Name, a)
				}
				claim(a, h.Name)
			}
		default:
			if !RouterNet.Contains(h.PublicAddr) || h.PublicAddr == gatewayOf(RouterNet) {
				t.Errorf("%s: router address %v", h.Name, h.PublicAddr)
			}
			if !h.Addr.IsPrivate() || !h.Gateway.IsPrivate() {
				t.Errorf("%s: LAN %v via %v", h.Name, h.Addr, h.Gateway)
			}
			claim(h.PublicAddr, h.Name)
			claim(h.Addr, h.Name)
			claim(h.Gateway, h.Name+" router")
		}
	}
}

func TestParseNAT(t *testing.T) {
	for _, n := range NATs {
		got, err := ParseNAT(n.String())
		if err != nil || got != n {
			t.Errorf("ParseNAT(%q) = %q, %v", n, got, err)
		}
	}
	if _, err := ParseNAT("restricted"); err == nil || !strings.Contains(err.Error(), "port-restricted") {
		t.Errorf("ParseNAT(restricted) = %v, want an error listing the behaviours", err)
	}
}

func TestDirectPathPossible(t *testing.T) {
	// RFC 4787 reasoning, as the NAT lab test measures it.
	impossible := map[[2]NAT]bool{
		{NATSymmetric, NATSymmetric}:      true,
		{NATSymmetric, NATPortRestricted}: true,
		{NATPortRestricted, NATSymmetric}: true,
	}
	for _, a := range NATs {
		for _, b := range NATs {
			if got, want := DirectPathPossible(a, b), !impossible[[2]NAT{a, b}]; got != want {
				t.Errorf("DirectPathPossible(%s, %s) = %v, want %v", a, b, got, want)
			}
		}
	}
}

func TestRuleset(t *testing.T) {
	host := netip.MustParseAddr("192.168.1.2")
	tests := []struct {
		nat       NAT
		want, not []string
	}{
		{NATFullCone, []string{"oifname \"wan0\" masquerade\n", "udp dport 4000 dnat to 192.168.1.2:4000", "tcp dport 4000 dnat to 192.168.1.2:4000", "ct status dnat accept"}, []string{"fully-random"}},
		{NATPortRestricted, []string{"oifname \"wan0\" masquerade\n"}, []string{"dnat", "fully-random"}},
		{NATSymmetric, []string{"masquerade fully-random"}, []string{"dnat"}},
	}
	for _, tt := range tests {
		rs, err := rulesetFor(tt.nat, host, 4000)
		if err != nil {
			t.Fatal(err)
		}
		// Every router drops unsolicited WAN traffic on input and forward.
		want := append(tt.want, "chain input", "chain forward", "ct state established,related accept", "iifname \"wan0\" drop")
		for _, w := range want {
			if !strings.Contains(rs, w) {
				t.Errorf("%s ruleset lacks %q:\n%s", tt.nat, w, rs)
			}
		}
		if strings.Count(rs, "iifname \"wan0\" drop") != 2 {
			t.Errorf("%s ruleset does not drop on both input and forward:\n%s", tt.nat, rs)
		}
		for _, n := range tt.not {
			if strings.Contains(rs, n) {
				t.Errorf("%s ruleset has %q:\n%s", tt.nat, n, rs)
			}
		}
	}
	if _, err := rulesetFor(NATNone, host, 0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ruleset for NATNone: %v", err)
	}
}

func TestPrefixOf(t *testing.T) {
	tests := map[string]string{
		"mnl-2n9c-a3f1":             "mnl-2n9c-a3f1",
		"mnl-2n9c-a3f1-inet":        "mnl-2n9c-a3f1",
		"mnl-2n9c-a3f1-h-some-host": "mnl-2n9c-a3f1",
		"mnl-2n9c-a3f1.json":        "mnl-2n9c-a3f1",
		"mnl-2n9c-a3f1.json.tmp":    "",
		"mnl-2n9c-xyz1-inet":        "",
		"mnl-2N9C-a3f1-inet":        "",
		"other-2n9c-a3f1":           "",
		"mnl":                       "",
	}
	for in, want := range tests {
		if got := prefixOf(in); got != want {
			t.Errorf("prefixOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountReady(t *testing.T) {
	out := `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT
2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN mode DEFAULT
3: p0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT
4: p1@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue master br0 state DOWN mode DEFAULT
5: p2@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noop master br0 state UP mode DEFAULT
`
	if got := countReady(out); got != 2 {
		t.Errorf("countReady = %d, want 2 (br0, p0)", got)
	}
}

func TestMissingToolSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := toolNft.path()
	if !errors.Is(err, ErrMissingTool) || !strings.Contains(err.Error(), "apt-get install -y nftables") {
		t.Errorf("missing nft: %v", err)
	}
	_, err = toolIP.path()
	if !errors.Is(err, ErrMissingTool) || !strings.Contains(err.Error(), "iproute2") {
		t.Errorf("missing ip: %v", err)
	}
}
