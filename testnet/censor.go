package testnet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/overlay/bridge"
	"github.com/mystp2p/mystp2p/testnet/netlab"
)

// ScenarioCensor measures how far a consumer in a censored region gets
// against censors of rising strength, in network namespaces
// (`testnet run --netns --scenario censor [--level N]`).
const ScenarioCensor = "censor"

// CensorLevels is the number of censor levels, 0 (none) to CensorLevels-1.
const CensorLevels = 5

// censorTable is the nftables table the censor's rules live in, in the
// router namespace between the region and the internet.
const censorTable = "censor"

// Pass rules of a level.
const (
	censorReadyWithin   = 3 * time.Second
	censorDiscoverShare = 0.9
)

// censorHost is the censored consumer; the NAT router in front of it (plain
// masquerade) is the censor.
const censorHost = "region"

// CensorConfig configures the censor scenario.
type CensorConfig struct {
	// Exe is the mystp2p binary to run in each namespace (default: this one).
	Exe string
	// Levels to run (default: all, 0 to CensorLevels-1).
	Levels []int
	// Providers is how many providers the internet has (default 3).
	Providers int
	// FetchBytes is the download through SOCKS5 (default 16 MiB).
	FetchBytes int64
	// Logger hears progress; Debug adds every node's stderr to it.
	Logger io.Writer
	Debug  bool
}

// CensorReport is the censor scenario's report: a Report whose checks are
// one per level, and each level's measurements.
type CensorReport struct {
	Report
	// Bridge is the bridge line the consumer was given, without its
	// secret; BridgeGated says the bridge answers only that secret.
	Bridge      string        `json:"bridge"`
	BridgeGated bool          `json:"bridge_gated"`
	Levels      []CensorLevel `json:"levels"`
}

// CensorLevel is one level's measurement.
type CensorLevel struct {
	Level       int      `json:"level"`
	Description string   `json:"description"`
	Pass        bool     `json:"pass"`
	Failures    []string `json:"failures,omitempty"`
	// Approximations says where the lab's censor is cruder than the one
	// the level describes.
	Approximations []string `json:"approximations,omitempty"`
	// Stage is where the consumer stopped: join, discover, connect, wait,
	// fetch or done.
	Stage string `json:"stage"`
	// ReadyMS is from the consumer's start (joining) to SOCKS5 listening;
	// JoinMS, DiscoverMS and SessionMS (client.Connect to SOCKS5) its parts.
	ReadyMS          float64 `json:"ready_ms"`
	JoinMS           float64 `json:"join_ms"`
	DiscoverMS       float64 `json:"discover_ms"`
	SessionMS        float64 `json:"session_ms"`
	OffersMade       int     `json:"offers_made"`
	OffersReachable  int     `json:"offers_reachable_from_bridge"`
	OffersDiscovered int     `json:"offers_discovered"`
	Provider         string  `json:"provider,omitempty"`
	BridgeUsed       bool    `json:"bridge_used"`
	Path             string  `json:"path,omitempty"`
	Transport        string  `json:"transport,omitempty"`
	Obfuscated       bool    `json:"obfuscated"`
	ExitAddr         string  `json:"exit_addr,omitempty"`
	Bytes            int64   `json:"bytes"`
	Intact           bool    `json:"intact"`
	// DPIHitsDuringDownload is how many packets the DPI rules matched
	// between SOCKS5 ready and the end of the download, on any flow;
	// DPIPeersDuringDownload are those packets' far ends. The session
	// passes if its provider's address (ProviderAddr) is not among them
	// (DPIOnSession false): a match there is on the session, one elsewhere
	// is another peer the consumer's libp2p dialled in the background.
	DPIHitsDuringDownload  uint64        `json:"dpi_hits_during_download"`
	DPIPeersDuringDownload []string      `json:"dpi_peers_during_download,omitempty"`
	ProviderAddr           string        `json:"provider_addr,omitempty"`
	DPIOnSession           bool          `json:"dpi_on_session"`
	Rules                  []CensorRule  `json:"rules"`
	Blocked                []string      `json:"blocked"`
	BridgeBlocked          bool          `json:"bridge_blocked"`
	Probes                 []ProbeResult `json:"probes,omitempty"`
	// DownloadMbps is the download's throughput. At level 0 DirectPath and
	// DirectMbps are the same download through a provider that is not the
	// bridge, on the path Connect picked (DirectError if it failed): the
	// WSS-carried path side by side with the direct one, in one run.
	DownloadMbps float64 `json:"download_mbps"`
	DirectPath   string  `json:"direct_path,omitempty"`
	DirectMbps   float64 `json:"direct_mbps,omitempty"`
	DirectError  string  `json:"direct_error,omitempty"`
	// CacheRun is the second consumer at this level: the same user with
	// no bridge line, only the peer cache its earlier runs left.
	CacheRun *CensorLevel `json:"cache_run,omitempty"`
	Error    string       `json:"error,omitempty"`
}

// CensorRule is one nftables rule of the censor and its counter.
type CensorRule struct {
	Name string `json:"name"`
	// Kind is block (address lists), dns, dpi, queue (to the QUIC filter),
	// port, learn or probe.
	Kind    string `json:"kind"`
	Rule    string `json:"rule"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// DuringDownload is the packets matched while the download ran.
	DuringDownload uint64 `json:"during_download"`
}

// censorRuleSpec is one censor rule: an nftables rule of the censor table,
// or, with iptables set, an iptables FORWARD rule (this kernel's nftables
// has no queue expression, its xtables NFQUEUE target does).
type censorRuleSpec struct {
	name, kind, match, action string
	iptables                  []string
	// table is the iptables table of an iptables rule ("": filter).
	table string
}

func nftRule(name, kind, match, action string) censorRuleSpec {
	return censorRuleSpec{name: name, kind: kind, match: match, action: action}
}

// censorLevelDescriptions say what each level adds.
var censorLevelDescriptions = [CensorLevels]string{
	"no censor",
	"bootstrap list (the relay) blocked both ways",
	"+ DNS dropped, DPI on libp2p multistream (TCP), WireGuard shapes (UDP), QUIC Initials",
	"+ only TCP and UDP port 443 leave the region",
	"+ active probing of every destination the region contacted",
}

// The QUIC ALPN filter: an iptables FORWARD rule (priority filter) queues
// the region's large UDP datagrams to NFQUEUE censorQueueNum; the filter (a
// child process in the censor's namespace) decrypts QUIC v1 Initials and
// accepts those of connections offering ALPN libp2p with censorDropMark,
// which the censor chain (priority filter + 10) drops first thing.
const (
	censorQueueNum = 7
	censorDropMark = 0x1ee7
	// censorCaptureQueueNum is the level-4 capture's queue.
	censorCaptureQueueNum = 8
)

// censorRules returns the level's rules, in chain order.
func censorRules(level int, bootstrap []netip.Addr) []censorRuleSpec {
	var rs []censorRuleSpec
	lan := fmt.Sprintf("iifname %q", "lan0")
	if level >= 4 {
		rs = append(rs,
			// The first packets of every flow the region starts go to the
			// capture (in mangle, before the filter table's QUIC queue), so
			// the prober can replay what the consumer sent.
			censorRuleSpec{name: "capture-first-packets", kind: "capture", table: "mangle",
				iptables: []string{"-i", "lan0", "-m", "connbytes", "--connbytes", "1:4", "--connbytes-dir", "original",
					"--connbytes-mode", "packets", "-j", "NFQUEUE", "--queue-num", fmt.Sprint(censorCaptureQueueNum), "--queue-bypass"}},
			nftRule("learn-tcp", "learn", lan+" ct state new tcp flags syn", "add @seen_tcp { ip daddr . tcp dport }"),
			// Every datagram, not only new flows: the consumer's UDP socket keeps
			// its port, so its flows may still be in conntrack from the
			// previous level.
			nftRule("learn-udp", "learn", lan+" meta l4proto udp", "add @seen_udp { ip daddr . udp dport }"),
			nftRule("probed-out", "probe", "ip daddr @blocked", "drop"),
			nftRule("probed-in", "probe", "ip saddr @blocked", "drop"),
		)
	}
	if level >= 1 {
		for _, a := range bootstrap {
			rs = append(rs,
				nftRule("bootstrap-out-"+a.String(), "block", "ip daddr "+a.String(), "drop"),
				nftRule("bootstrap-in-"+a.String(), "block", "ip saddr "+a.String(), "drop"))
		}
	}
	if level >= 2 {
		rs = append(rs,
			// Packets the QUIC filter marked (it runs first, in iptables).
			nftRule("dpi-quic-alpn-libp2p", "dpi", fmt.Sprintf("meta mark 0x%x", censorDropMark), "drop"),
			nftRule("dns-udp", "dns", "udp dport 53", "drop"),
			nftRule("dns-tcp", "dns", "tcp dport 53", "drop"),
			nftRule("dpi-multistream", "dpi", "meta l4proto tcp @ih,0,128 0x132f6d756c746973747265616d2f312e", "drop"),
			nftRule("dpi-wg-initiation", "dpi", "udp length 156 @ih,0,32 0x01000000", "drop"),
			nftRule("dpi-wg-response", "dpi", "udp length 100 @ih,0,32 0x02000000", "drop"),
			nftRule("dpi-wg-cookie", "dpi", "udp length 72 @ih,0,32 0x03000000", "drop"),
			nftRule("dpi-wg-data", "dpi", "meta l4proto udp @ih,0,32 0x04000000", "drop"),
			// Client Initials are padded to 1200 bytes (RFC 9000 §14.1); the
			// filter tells Initials from the rest.
			censorRuleSpec{name: "quic-initial-to-filter", kind: "queue",
				iptables: []string{"-i", "lan0", "-p", "udp", "-m", "length", "--length", "1228:65535",
					"-j", "NFQUEUE", "--queue-num", fmt.Sprint(censorQueueNum)}},
		)
	}
	if level >= 3 {
		rs = append(rs,
			nftRule("port-tcp-not-443", "port", lan+" tcp dport != 443", "drop"),
			nftRule("port-udp-not-443", "port", lan+" udp dport != 443", "drop"),
		)
	}
	return rs
}

// censorRuleset is the nftables script that (re)creates the censor table.
func censorRuleset(rules []censorRuleSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", censorTable)
	b.WriteString("\tset seen_tcp { type ipv4_addr . inet_service; flags dynamic; size 65536; }\n")
	b.WriteString("\tset seen_udp { type ipv4_addr . inet_service; flags dynamic; size 65536; }\n")
	b.WriteString("\tset blocked { type ipv4_addr; }\n")
	// The far ends (outside the region) of the packets DPI dropped.
	b.WriteString("\tset dpi_far { type ipv4_addr; flags dynamic; size 65536; }\n")
	b.WriteString("\tchain dpi_drop {\n\t\tiifname \"lan0\" add @dpi_far { ip daddr }\n\t\toifname \"lan0\" add @dpi_far { ip saddr }\n\t\tdrop\n\t}\n")
	// After iptables' FORWARD (the QUIC filter's queue) and netlab's NAT
	// filter, whose accepts do not stop this chain's drops.
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter + 10; policy accept;\n")
	for _, r := range rules {
		if r.iptables != nil {
			continue
		}
		action := r.action
		if r.kind == "dpi" && action == "drop" {
			action = "jump dpi_drop"
		}
		fmt.Fprintf(&b, "\t\t%s counter %s comment %q\n", r.match, action, r.name)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// censor drives the nftables table in the router namespace.
type censor struct {
	lab      *netlab.Lab
	rules    []censorRuleSpec
	iptables bool // the rules include iptables ones
}

func (c *censor) nft(ctx context.Context, stdin string, args ...string) (string, error) {
	return c.run(ctx, stdin, "nft", args...)
}

func (c *censor) run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := c.lab.RouterCommand(censorHost, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// apply replaces the censor table with the level's rules.
func (c *censor) apply(ctx context.Context, rules []censorRuleSpec) error {
	c.rules = rules
	_, _ = c.nft(ctx, "", "delete", "table", "ip", censorTable) // absent the first time
	if _, err := c.nft(ctx, censorRuleset(rules), "-f", "-"); err != nil {
		return err
	}
	c.iptables = false
	for _, r := range rules {
		if r.iptables == nil {
			continue
		}
		if !c.iptables {
			if _, err := exec.LookPath("iptables"); err != nil {
				return fmt.Errorf("rule %s needs iptables (apt-get install -y iptables): %w", r.name, err)
			}
			for _, t := range iptablesTables {
				if _, err := c.run(ctx, "", "iptables", "-w", "-t", t, "-F", "FORWARD"); err != nil {
					return err
				}
			}
			c.iptables = true
		}
		table := r.table
		if table == "" {
			table = "filter"
		}
		args := append([]string{"-w", "-t", table, "-A", "FORWARD", "-m", "comment", "--comment", r.name}, r.iptables...)
		if _, err := c.run(ctx, "", "iptables", args...); err != nil {
			return err
		}
	}
	return nil
}

// iptablesTables are the tables the censor's iptables rules use.
var iptablesTables = []string{"filter", "mangle"}

// iptablesCounters reads the counters of the iptables FORWARD rules, by
// their comment.
func (c *censor) iptablesCounters(ctx context.Context, res map[string][2]uint64) error {
	var out string
	for _, t := range iptablesTables {
		o, err := c.run(ctx, "", "iptables", "-w", "-t", t, "-nvx", "-L", "FORWARD")
		if err != nil {
			return err
		}
		out += o
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		_, rest, ok := strings.Cut(line, "/* ")
		name, _, ok2 := strings.Cut(rest, " */")
		if !ok || !ok2 || len(f) < 2 {
			continue
		}
		var pk, by uint64
		if _, err := fmt.Sscan(f[0], &pk); err != nil {
			continue
		}
		if _, err := fmt.Sscan(f[1], &by); err != nil {
			continue
		}
		res[name] = [2]uint64{pk, by}
	}
	return nil
}

// counters reads every rule's counter, by rule name.
func (c *censor) counters(ctx context.Context) (map[string][2]uint64, error) {
	out, err := c.nft(ctx, "", "-j", "list", "table", "ip", censorTable)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Comment string            `json:"comment"`
				Expr    []json.RawMessage `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, fmt.Errorf("nft -j list table: %w", err)
	}
	res := map[string][2]uint64{}
	for _, o := range doc.Nftables {
		if o.Rule == nil {
			continue
		}
		for _, e := range o.Rule.Expr {
			var ce struct {
				Counter *struct {
					Packets uint64 `json:"packets"`
					Bytes   uint64 `json:"bytes"`
				} `json:"counter"`
			}
			if json.Unmarshal(e, &ce) == nil && ce.Counter != nil {
				res[o.Rule.Comment] = [2]uint64{ce.Counter.Packets, ce.Counter.Bytes}
			}
		}
	}
	if c.iptables {
		if err := c.iptablesCounters(ctx, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// blocked lists the addresses the prober put in the set blocked.
func (c *censor) blocked(ctx context.Context) ([]string, error) { return c.addrSet(ctx, "blocked") }

// addrSet lists the addresses in one of the censor's ipv4_addr sets.
func (c *censor) addrSet(ctx context.Context, set string) ([]string, error) {
	out, err := c.nft(ctx, "", "-j", "list", "set", "ip", censorTable, set)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return nil, err
	}
	var addrs []string
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		for _, e := range o.Set.Elem {
			// "1.2.3.4" or, for an element with state, {"elem": {"val": "1.2.3.4"}}.
			var s string
			var d struct {
				Elem struct {
					Val string `json:"val"`
				} `json:"elem"`
			}
			switch {
			case json.Unmarshal(e, &s) == nil:
				addrs = append(addrs, s)
			case json.Unmarshal(e, &d) == nil && d.Elem.Val != "":
				addrs = append(addrs, d.Elem.Val)
			}
		}
	}
	return addrs, nil
}

// RunCensor builds the censor lab (root only): an internet with the relay
// (the bootstrap list), providers and an origin, and a consumer in a region
// behind a censor router. For each level it installs the level's nftables
// rules on the censor, runs a fresh consumer that knows the bootstrap list
// and one bridge line (a provider), and measures join, discovery, session
// and a SOCKS5 download against the pass rules.
func RunCensor(ctx context.Context, cfg CensorConfig) (_ *CensorReport, err error) {
	if err := netlab.Available(); err != nil {
		return nil, err
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if cfg.Levels == nil {
		for l := range CensorLevels {
			cfg.Levels = append(cfg.Levels, l)
		}
	}
	for _, l := range cfg.Levels {
		if l < 0 || l >= CensorLevels {
			return nil, fmt.Errorf("censor level %d: want 0 to %d", l, CensorLevels-1)
		}
	}
	if cfg.Providers <= 0 {
		cfg.Providers = 3
	}
	if cfg.FetchBytes == 0 {
		cfg.FetchBytes = 16 << 20
	}
	logw := cfg.Logger
	if logw == nil {
		logw = io.Discard
	}
	begin := time.Now()
	tmp, err := os.MkdirTemp("", "mystp2p-censor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	hosts := []netlab.HostConfig{{Name: "relay"}, {Name: "origin"}}
	for i := range cfg.Providers {
		hosts = append(hosts, netlab.HostConfig{Name: fmt.Sprintf("p-%d", i+1)})
	}
	hosts = append(hosts, netlab.HostConfig{Name: censorHost, NAT: netlab.NATPortRestricted})
	lab, err := netlab.New(ctx, netlab.Config{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	var ranges []string
	for _, p := range netlab.InternetPrefixes() {
		ranges = append(ranges, p.String())
	}
	var children []*childProc
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	relayProc, err := startChild(ctx, lab, cfg.Exe, "relay", []string{"--role", RoleRelay, "--public", "--lab-ranges", strings.Join(ranges, ",")})
	if err != nil {
		return nil, err
	}
	children = append(children, relayProc)
	rev, err := relayProc.wait(ctx, "ready", 30*time.Second)
	if err != nil {
		return nil, err
	}
	relayIP := lab.Addr("relay")
	bootstrap := []string{
		fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", relayIP, LabPort, rev.ID),
		fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", relayIP, LabPort, rev.ID),
	}
	originProc, err := startChild(ctx, lab, cfg.Exe, "origin", []string{"--role", RoleOrigin, "--public"})
	if err != nil {
		return nil, err
	}
	children = append(children, originProc)
	if _, err := originProc.wait(ctx, "ready", 30*time.Second); err != nil {
		return nil, err
	}
	origin := fmt.Sprintf("http://%s/", lab.Addr("origin"))

	labRanges := netlab.InternetPrefixes()
	startCensorChild := func(host string, router bool, cc CensorChildConfig, stdin *os.File) (*childProc, error) {
		cc.LabRanges, cc.Debug = labRanges, cfg.Debug
		b, _ := json.Marshal(cc)
		args := []string{"testnet", CensorChildCommand, string(b)}
		cmd := lab.CommandContext(ctx, host, cfg.Exe, args...)
		if router {
			cmd = lab.RouterCommandContext(ctx, host, cfg.Exe, args...)
		}
		cmd.Env = append(os.Environ(), ChildEnv+"=1")
		cmd.Stdin = stdin
		return runChild(host+"/"+cc.Role, cmd)
	}
	providerIP := map[string]netip.Addr{} // by peer ID
	var bridgeLine bridge.Line
	secret := make([]byte, bridge.SecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	for i := range cfg.Providers {
		host := fmt.Sprintf("p-%d", i+1)
		pc := CensorChildConfig{Role: censorRoleProvider, Bootstrap: bootstrap}
		if i == 0 {
			pc.BridgeSecret = secret
		}
		p, err := startCensorChild(host, false, pc, nil)
		if err != nil {
			return nil, err
		}
		children = append(children, p)
		ev, err := p.wait(ctx, "ready", 45*time.Second)
		if err != nil {
			return nil, err
		}
		providerIP[ev.ID] = lab.Addr(host)
		fmt.Fprintf(logw, "provider %s: %s %v\n", host, ev.ID, ev.Addrs)
		if i == 0 {
			if bridgeLine, err = bridgeFor(ev, lab.Addr(host), secret); err != nil {
				return nil, err
			}
		}
	}
	// The report and the log show the line without its secret.
	public := bridgeLine
	public.Secret = nil
	fmt.Fprintf(logw, "bridge line (secret left out): %s\n", public)
	// Let every provider's announcement reach every DHT server (providers
	// re-announce every 10 s in this lab).
	select {
	case <-time.After(12 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	rep := &CensorReport{Report: Report{Scenario: ScenarioCensor, Nodes: Nodes{Providers: cfg.Providers, Consumers: 1, Relays: 1}},
		Bridge: public.String(), BridgeGated: true}
	cen := &censor{lab: lab}
	for _, level := range cfg.Levels {
		fmt.Fprintf(logw, "censor level %d: %s\n", level, censorLevelDescriptions[level])
		lv := runCensorLevel(ctx, cen, level, cfg, tmp, bootstrap, []netip.Addr{relayIP}, providerIP, origin, bridgeLine, startCensorChild, logw)
		rep.Levels = append(rep.Levels, lv)
		detail := "all pass rules hold"
		if !lv.Pass {
			detail = strings.Join(lv.Failures, "; ")
		}
		rep.check(fmt.Sprintf("level %d: %s", level, censorLevelDescriptions[level]), lv.Pass, "%s", detail)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if cfg.Debug {
		for _, c := range children {
			fmt.Fprintf(logw, "--- %s stderr:\n%s\n", c.name, c.stderr.String())
		}
	}
	rep.finish(begin)
	return rep, nil
}

// bridgeFor makes the bridge line of a provider from its ready event: its
// addresses on the lab's internet.
func bridgeFor(ev childEvent, addr netip.Addr, secret []byte) (bridge.Line, error) {
	id, err := peer.Decode(ev.ID)
	if err != nil {
		return bridge.Line{}, err
	}
	ai := peer.AddrInfo{ID: id}
	for _, s := range ev.Addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if ip, err := m.ValueForProtocol(ma.P_IP4); err == nil && ip == addr.String() {
			ai.Addrs = append(ai.Addrs, m)
		}
	}
	if len(ai.Addrs) == 0 {
		return bridge.Line{}, fmt.Errorf("bridge provider %s has no address on %s: %v", id, addr, ev.Addrs)
	}
	return bridge.FromAddrInfo(ai, secret)
}

type startCensorChildFunc func(host string, router bool, cc CensorChildConfig, stdin *os.File) (*childProc, error)

// runCensorLevel installs one level's censor and measures one consumer.
func runCensorLevel(ctx context.Context, cen *censor, level int, cfg CensorConfig, tmp string, bootstrap []string,
	bootstrapIPs []netip.Addr, providerIP map[string]netip.Addr, origin string, line bridge.Line, start startCensorChildFunc, logw io.Writer) CensorLevel {
	providers := len(providerIP)
	lv := CensorLevel{Level: level, Description: censorLevelDescriptions[level], OffersMade: providers, OffersReachable: providers}
	if level >= 4 {
		lv.Approximations = append(lv.Approximations,
			"prober: learns destinations from nft sets filled by the forward chain (no conntrack-tools); "+
				"replays the first payload the region sent on each flow (TCP and UDP), once, from the censor's own address")
	}
	fail := func(format string, a ...any) { lv.Failures = append(lv.Failures, fmt.Sprintf(format, a...)) }
	rules := censorRules(level, bootstrapIPs)
	if err := cen.apply(ctx, rules); err != nil {
		lv.Error = err.Error()
		fail("censor: %v", err)
		return lv
	}
	var procs []*childProc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	probesFile := filepath.Join(tmp, fmt.Sprintf("probes-%d.json", level))
	if level >= 2 {
		p, err := start(censorHost, true, CensorChildConfig{Role: censorRoleFilter}, nil)
		if err == nil {
			procs = append(procs, p)
			_, err = p.wait(ctx, "ready", 10*time.Second)
		}
		if err != nil {
			lv.Error = err.Error()
			fail("QUIC filter: %v", err)
			return lv
		}
	}
	if level >= 4 {
		captureFile := filepath.Join(tmp, fmt.Sprintf("captures-%d.json", level))
		for _, cc := range []CensorChildConfig{
			{Role: censorRoleCapture, ResultFile: captureFile},
			{Role: censorRoleProber, ResultFile: probesFile, CaptureFile: captureFile},
		} {
			p, err := start(censorHost, true, cc, nil)
			if err == nil {
				procs = append(procs, p)
				_, err = p.wait(ctx, "ready", 10*time.Second)
			}
			if err != nil {
				lv.Error = err.Error()
				fail("%s: %v", cc.Role, err)
				return lv
			}
		}
	}
	// One data directory's peer cache for every run of the scenario, as a
	// real user's: each run starts from what the runs before it saw.
	peerCache := filepath.Join(tmp, "consumer-peers.json")
	runCensoredConsumer(ctx, cen, &lv, "bridge", CensorChildConfig{Bridge: line.String(), PeerCache: peerCache, CompareDirect: level == 0}, rules,
		cfg, tmp, bootstrap, providerIP, origin, line, start, logw)
	// The same user again, with only its peer cache from the runs before:
	// no bridge line.
	cr := CensorLevel{Level: level, Description: lv.Description, OffersMade: providers, OffersReachable: providers}
	runCensoredConsumer(ctx, cen, &cr, "cache", CensorChildConfig{PeerCache: peerCache}, rules,
		cfg, tmp, bootstrap, providerIP, origin, line, start, logw)
	lv.CacheRun = &cr
	if !cr.Pass {
		lv.Pass = false
		for _, f := range cr.Failures {
			lv.Failures = append(lv.Failures, "peer-cache run: "+f)
		}
	}
	return lv
}

// runCensoredConsumer runs one censored consumer at a level whose censor
// is up, and fills l with what it and the censor measured.
func runCensoredConsumer(ctx context.Context, cen *censor, l *CensorLevel, run string, cc CensorChildConfig, rules []censorRuleSpec,
	cfg CensorConfig, tmp string, bootstrap []string, providerIP map[string]netip.Addr, origin string, line bridge.Line,
	start startCensorChildFunc, logw io.Writer) {
	level, providers := l.Level, len(providerIP)
	fail := func(format string, a ...any) { l.Failures = append(l.Failures, fmt.Sprintf(format, a...)) }
	probesFile := filepath.Join(tmp, fmt.Sprintf("probes-%d.json", level))
	var procs []*childProc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	resultFile := filepath.Join(tmp, fmt.Sprintf("consumer-%d-%s.json", level, run))
	pr, pw, err := os.Pipe()
	if err != nil {
		fail("%v", err)
		return
	}
	defer pw.Close()
	cc.Role, cc.Bootstrap, cc.Origin, cc.FetchBytes, cc.Offers, cc.ResultFile = censorRoleConsumer, bootstrap, origin, cfg.FetchBytes, providers, resultFile
	c, err := start(censorHost, false, cc, pr)
	pr.Close()
	if err != nil {
		fail("%v", err)
		return
	}
	procs = append(procs, c)
	budget := censorJoinTimeout + censorDiscoverTimeout + censorConnectTimeout + 15*time.Second
	var before, after map[string][2]uint64
	ev, err := waitEither(ctx, c, budget)
	if err == nil && ev.Event == "ready" {
		// From here on dpi_far holds the far ends DPI drops packets of.
		if _, err = cen.nft(ctx, "", "flush", "set", "ip", censorTable, "dpi_far"); err == nil {
			before, err = cen.counters(ctx)
		}
		if err == nil {
			_, err = io.WriteString(pw, "go\n")
		}
		if err == nil {
			_, err = c.wait(ctx, "result", 3*time.Minute)
		}
	}
	if err != nil {
		l.Error = err.Error()
	}
	if level >= 4 {
		// Give the prober time to finish probing what the consumer dialled.
		select {
		case <-time.After(2*probeTimeout + time.Second):
		case <-ctx.Done():
		}
	}
	var s censorSession
	if b, rerr := os.ReadFile(resultFile); rerr == nil {
		_ = json.Unmarshal(b, &s)
	} else if l.Error == "" {
		l.Error = "the consumer wrote no result: " + rerr.Error()
	}
	if s.Error != "" {
		l.Error = s.Error
	}
	l.Error = strings.Join(strings.Fields(l.Error), " ")
	cnt, cerr := cen.counters(ctx)
	if cerr != nil {
		fail("censor counters: %v", cerr)
	}
	after = cnt
	for _, r := range rules {
		text := r.match + " " + r.action
		if r.iptables != nil {
			text = "iptables -A FORWARD " + strings.Join(r.iptables, " ")
			if r.table != "" {
				text = "iptables -t " + r.table + " -A FORWARD " + strings.Join(r.iptables, " ")
			}
		}
		cr := CensorRule{Name: r.name, Kind: r.kind, Rule: text, Packets: cnt[r.name][0], Bytes: cnt[r.name][1]}
		if b, ok := before[r.name]; ok {
			cr.DuringDownload = after[r.name][0] - b[0]
		}
		if r.kind == "dpi" {
			l.DPIHitsDuringDownload += cr.DuringDownload
		}
		l.Rules = append(l.Rules, cr)
	}
	if l.Blocked, err = cen.blocked(ctx); err != nil {
		fail("censor blocked set: %v", err)
	}
	if before != nil && len(rules) > 0 {
		if l.DPIPeersDuringDownload, err = cen.addrSet(ctx, "dpi_far"); err != nil {
			fail("censor dpi_far set: %v", err)
		}
	}
	bridgeIP := ""
	for _, a := range line.Addrs {
		if ip, err := a.ValueForProtocol(ma.P_IP4); err == nil {
			bridgeIP = ip
		}
	}
	l.BridgeBlocked = slices.Contains(l.Blocked, bridgeIP)
	if level >= 4 {
		if b, err := os.ReadFile(probesFile); err == nil {
			_ = json.Unmarshal(b, &l.Probes)
			l.Probes = slices.DeleteFunc(l.Probes, func(p ProbeResult) bool { return p.Probe == "start" })
		}
	}

	l.Stage, l.ReadyMS, l.JoinMS, l.DiscoverMS, l.SessionMS = s.Stage, s.ReadyMS, s.JoinMS, s.DiscoverMS, s.SessionMS
	l.OffersDiscovered, l.Provider, l.BridgeUsed = s.Discovered, s.Provider, s.Provider != "" && s.Provider == line.Peer.String()
	l.Path, l.Transport, l.Obfuscated, l.ExitAddr, l.Bytes, l.Intact = s.Path, s.Transport, s.Obfuscated, s.ExitAddr, s.Bytes, s.Intact
	l.DownloadMbps, l.DirectPath, l.DirectMbps, l.DirectError = s.DownloadMbps, s.DirectPath, s.DirectMbps, s.DirectError
	if ip, ok := providerIP[s.Provider]; ok {
		l.ProviderAddr = ip.String()
		l.DPIOnSession = slices.Contains(l.DPIPeersDuringDownload, l.ProviderAddr)
	}
	judgeCensorLevel(l, cfg.FetchBytes, before != nil)
	if cfg.Debug {
		fmt.Fprintf(logw, "--- level %d %s consumer stderr:\n%s\n", level, run, c.stderr.String())
	}
}

// waitEither waits for the consumer's "ready" or, when it gave up, its
// "result".
func waitEither(ctx context.Context, c *childProc, within time.Duration) (childEvent, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		c.mu.Lock()
		for len(c.queue) > 0 {
			ev := c.queue[0]
			c.queue = c.queue[1:]
			if ev.Event == "ready" || ev.Event == "result" {
				c.mu.Unlock()
				return ev, nil
			}
		}
		exited, more := c.exited, c.more
		c.mu.Unlock()
		if exited {
			return childEvent{}, fmt.Errorf("%s exited before its result: %s", c.name, c.stderr.String())
		}
		select {
		case <-more:
		case <-t.C:
			return childEvent{}, fmt.Errorf("%s: neither ready nor a result within %s", c.name, within)
		case <-ctx.Done():
			return childEvent{}, ctx.Err()
		}
	}
}

// judgeCensorLevel applies the pass rules to a measured level.
func judgeCensorLevel(lv *CensorLevel, fetchBytes int64, downloadMeasured bool) {
	fail := func(format string, a ...any) { lv.Failures = append(lv.Failures, fmt.Sprintf(format, a...)) }
	if lv.Error != "" {
		fail("stopped at %s: %s", lv.Stage, lv.Error)
	}
	if lv.ReadyMS == 0 || lv.ReadyMS > float64(censorReadyWithin.Milliseconds()) {
		fail("SOCKS5 ready in %.0f ms (join %.0f, discover %.0f, session %.0f), want ≤ %s",
			lv.ReadyMS, lv.JoinMS, lv.DiscoverMS, lv.SessionMS, censorReadyWithin)
	}
	if float64(lv.OffersDiscovered) < censorDiscoverShare*float64(lv.OffersReachable) {
		fail("discovered %d of %d offers, want ≥ %.0f %%", lv.OffersDiscovered, lv.OffersReachable, censorDiscoverShare*100)
	}
	if !lv.Intact {
		fail("fetched %d of %d bytes, intact %v", lv.Bytes, fetchBytes, lv.Intact)
	}
	if !downloadMeasured {
		fail("no download to check the DPI counters against")
	} else if lv.DPIOnSession || lv.ProviderAddr == "" && lv.DPIHitsDuringDownload > 0 {
		var hit []string
		for _, r := range lv.Rules {
			if r.Kind == "dpi" && r.DuringDownload > 0 {
				hit = append(hit, fmt.Sprintf("%s (%d)", r.Name, r.DuringDownload))
			}
		}
		fail("DPI matched packets to or from the session's provider %s during the download: %s", lv.ProviderAddr, strings.Join(hit, ", "))
	}
	if lv.Level >= 4 && lv.BridgeBlocked {
		fail("the prober blocked the bridge")
	}
	lv.Pass = len(lv.Failures) == 0
}

// StoppedBy names the censor rules that matched any packet in a failed
// level, most hits first: what stopped the consumer.
func (lv CensorLevel) StoppedBy() []string {
	if lv.Pass {
		return nil
	}
	rs := slices.Clone(lv.Rules)
	slices.SortStableFunc(rs, func(a, b CensorRule) int { return int(b.Packets) - int(a.Packets) })
	var out []string
	for _, r := range rs {
		if r.Packets > 0 && r.Kind != "learn" {
			out = append(out, fmt.Sprintf("%s=%d", r.Name, r.Packets))
		}
	}
	return out
}

// WriteJSON writes the report to path.
func (r *CensorReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable prints one line per level, the rules that fired, then the
// checks.
func (r *CensorReport) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "level\tpass\tstage\tready ms\toffers\ttransport\tobfs\tbytes\tintact\tMbit/s\tdpi hits (session)\tblocked\tstopped by")
	row := func(name string, l CensorLevel) {
		pass := "FAIL"
		if l.Pass {
			pass = "PASS"
		}
		transport := "-"
		if l.Path != "" {
			transport = l.Path + "/" + l.Transport
		}
		stopped := strings.Join(l.StoppedBy(), " ")
		if stopped == "" && !l.Pass {
			stopped = "(no rule hit) " + l.Error
		}
		onSession := "no"
		if l.DPIOnSession {
			onSession = "YES"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%d/%d\t%s\t%v\t%d\t%v\t%.0f\t%d (%s)\t%s\t%s\n", name, pass, l.Stage, l.ReadyMS,
			l.OffersDiscovered, l.OffersMade, transport, l.Obfuscated, l.Bytes, l.Intact, l.DownloadMbps, l.DPIHitsDuringDownload, onSession,
			strings.Join(l.Blocked, ","), stopped)
	}
	for _, l := range r.Levels {
		row(fmt.Sprintf("%d line", l.Level), l)
		if l.CacheRun != nil {
			row(fmt.Sprintf("%d cache", l.Level), *l.CacheRun)
		}
	}
	tw.Flush()
	for _, l := range r.Levels {
		switch {
		case l.DirectError != "":
			fmt.Fprintf(w, "level %d: the comparison download through a provider that is not the bridge failed: %s\n", l.Level, l.DirectError)
		case l.DirectMbps > 0:
			fmt.Fprintf(w, "level %d throughput: %.0f Mbit/s on %s (the bridge, over WSS) vs %.0f Mbit/s on %s (another provider), one run each\n",
				l.Level, l.DownloadMbps, l.Path+"/"+l.Transport, l.DirectMbps, l.DirectPath)
		}
		for _, a := range l.Approximations {
			fmt.Fprintf(w, "level %d approximation: %s\n", l.Level, a)
		}
	}
	r.Report.WriteTable(w)
}
