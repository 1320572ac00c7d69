package netlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// setupTimeout bounds New when the caller's context has no deadline.
const setupTimeout = 60 * time.Second

// Interface names. Every veth end lives inside a lab namespace from the
// moment it is created, so names only need to be unique per namespace and
// never collide with the machine's or another lab's.
const (
	bridgeIf = "br0"
	hostIf   = "eth0"
)

// Host is one host of a lab and where it sits.
type Host struct {
	// Name is the host's name from HostConfig.
	Name string
	// NAT is the behaviour of the router in front of the host.
	NAT NAT
	// Port is the full-cone port (NATFullCone only).
	Port uint16
	// Namespace is the name of the host's network namespace (as in
	// `ip netns exec <Namespace> …`).
	Namespace string
	// Router is the name of the NAT router's namespace; "" for NATNone.
	Router string
	// Addr is the host's own address: public for NATNone, private otherwise.
	Addr netip.Addr
	// PublicAddr is where the host appears on the internet: Addr for
	// NATNone, the router's WAN address otherwise.
	PublicAddr netip.Addr
	// ExtraAddrs are the host's further public addresses (NATNone only).
	ExtraAddrs []netip.Addr
	// Gateway is the host's default route.
	Gateway netip.Addr
}

// Lab is a set of network namespaces: an "internet" namespace with a bridge
// that routes between PublicNet and RouterNet, public hosts on it, and
// private hosts each behind its own nftables NAT router. All of it is
// IPv4; IPv6 is disabled on every lab interface.
//
// A Lab's methods are safe for concurrent use. After Close, Command and
// CommandContext return commands that fail with ErrClosed; the address
// accessors keep answering.
type Lab struct {
	prefix string
	ipPath string
	base   *slog.Logger // the caller's logger, for Cleanup
	log    *slog.Logger // base with the lab's prefix
	inet   string
	hosts  map[string]*Host
	order  []string

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New builds a lab. It needs root, `ip` and `nft` (see Available). ctx bounds
// the setup only (60 s if it has no deadline); the lab lives until Close. A
// New that fails removes whatever it made. A lab whose process dies without
// Close is removed by CleanupStale, which New runs first.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	ipPath, err := toolIP.path()
	if err != nil {
		return nil, err
	}
	nftPath, err := toolNft.path()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, setupTimeout)
		defer cancel()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if stale, err := CleanupStale(ctx, log); err != nil {
		log.Warn("netlab: removing leftovers of crashed labs failed", "labs", stale, "err", err)
	} else if len(stale) > 0 {
		log.Info("netlab: removed leftovers of crashed labs", "labs", stale)
	}
	prefix, err := newPrefix()
	if err != nil {
		return nil, fmt.Errorf("choosing a lab name: %w", err)
	}
	if err := writeState(prefix); err != nil {
		return nil, err
	}
	l := &Lab{
		prefix: prefix,
		ipPath: ipPath,
		base:   log,
		log:    log.With("lab", prefix),
		inet:   prefix + "-inet",
		hosts:  make(map[string]*Host, len(cfg.Hosts)),
	}
	l.plan(cfg.Hosts)
	start := time.Now()
	if err := l.build(ctx, nftPath); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("building lab %s: %w (%w)", prefix, ctx.Err(), err)
		} else {
			err = fmt.Errorf("building lab %s: %w", prefix, err)
		}
		return nil, errors.Join(err, l.Close())
	}
	l.log.Info("netlab up", "hosts", len(l.order), "namespaces", len(l.namespaces()), "elapsed", time.Since(start))
	return l, nil
}

// plan assigns namespaces and addresses.
func (l *Lab) plan(hosts []HostConfig) {
	pub := PublicNet.Addr().As4()
	wan := RouterNet.Addr().As4()
	pub[3], wan[3] = firstHostOctet, firstHostOctet
	lan := 0
	for _, hc := range hosts {
		h := &Host{Name: hc.Name, NAT: hc.NAT, Port: hc.Port, Namespace: l.prefix + "-h-" + hc.Name}
		if h.NAT == "" {
			h.NAT = NATNone
		}
		if h.NAT == NATNone {
			h.Addr = netip.AddrFrom4(pub)
			pub[3]++
			for range hc.ExtraAddrs {
				h.ExtraAddrs = append(h.ExtraAddrs, netip.AddrFrom4(pub))
				pub[3]++
			}
			h.PublicAddr = h.Addr
			h.Gateway = gatewayOf(PublicNet)
		} else {
			lan++
			h.Router = l.prefix + "-r-" + hc.Name
			h.Addr = netip.AddrFrom4([4]byte{192, 168, byte(lan), 2})
			h.Gateway = netip.AddrFrom4([4]byte{192, 168, byte(lan), 1})
			h.PublicAddr = netip.AddrFrom4(wan)
			wan[3]++
		}
		l.hosts[h.Name] = h
		l.order = append(l.order, h.Name)
	}
}

func gatewayOf(p netip.Prefix) netip.Addr { return p.Addr().Next() }

func (l *Lab) namespaces() []string {
	names := []string{l.inet}
	for _, name := range l.order {
		h := l.hosts[name]
		names = append(names, h.Namespace)
		if h.Router != "" {
			names = append(names, h.Router)
		}
	}
	return names
}

// build creates the namespaces, links, addresses, routes and rulesets.
func (l *Lab) build(ctx context.Context, nftPath string) error {
	names := l.namespaces()
	add := make([]string, len(names))
	for i, ns := range names {
		add[i] = "netns add " + ns
	}
	if err := ipBatch(ctx, l.ipPath, "", add); err != nil {
		return err
	}
	l.log.Debug("netlab namespaces added", "namespaces", len(names))
	// Before any interface exists, so new interfaces inherit "default":
	// no IPv6 (the lab is IPv4; link-local IPv6 would be a path around the
	// NAT routers), no ICMP redirects (the internet routes between two
	// subnets on one bridge).
	base := []sysctl{
		{"net/ipv6/conf/default/disable_ipv6", "1"},
		{"net/ipv4/conf/all/accept_redirects", "0"},
		{"net/ipv4/conf/default/accept_redirects", "0"},
		{"net/ipv4/conf/all/send_redirects", "0"},
		{"net/ipv4/conf/default/send_redirects", "0"},
	}
	forwarding := append(slices.Clone(base), sysctl{"net/ipv4/ip_forward", "1"})
	if err := setSysctls(l.inet, forwarding); err != nil {
		return err
	}
	for _, name := range l.order {
		h := l.hosts[name]
		if err := setSysctls(h.Namespace, base); err != nil {
			return err
		}
		if h.Router != "" {
			if err := setSysctls(h.Router, forwarding); err != nil {
				return err
			}
		}
	}

	inet := []string{
		"link set lo up",
		"link add " + bridgeIf + " type bridge",
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(gatewayOf(PublicNet), PublicNet.Bits()), bridgeIf),
		fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(gatewayOf(RouterNet), RouterNet.Bits()), bridgeIf),
		"link set " + bridgeIf + " up",
	}
	for i, name := range l.order {
		h := l.hosts[name]
		port := fmt.Sprintf("p%d", i)
		peerNS, peerIf := h.Namespace, hostIf
		if h.Router != "" {
			peerNS, peerIf = h.Router, wanIf
		}
		inet = append(inet,
			fmt.Sprintf("link add %s type veth peer name %s netns %s", port, peerIf, peerNS),
			fmt.Sprintf("link set %s master %s up", port, bridgeIf),
		)
	}
	if err := ipBatch(ctx, l.ipPath, l.inet, inet); err != nil {
		return err
	}

	for _, name := range l.order {
		h := l.hosts[name]
		if h.Router == "" {
			lines := []string{
				"link set lo up",
				fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(h.Addr, PublicNet.Bits()), hostIf),
			}
			for _, a := range h.ExtraAddrs {
				lines = append(lines, fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(a, PublicNet.Bits()), hostIf))
			}
			lines = append(lines,
				"link set "+hostIf+" up",
				"route add default via "+h.Gateway.String(),
			)
			if err := ipBatch(ctx, l.ipPath, h.Namespace, lines); err != nil {
				return err
			}
			continue
		}
		router := []string{
			"link set lo up",
			fmt.Sprintf("addr add %s dev %s", netip.PrefixFrom(h.PublicAddr, RouterNet.Bits()), wanIf),
			"link set " + wanIf + " up",
			"route add default via " + gatewayOf(RouterNet).String(),
			fmt.Sprintf("link add %s type veth peer name %s netns %s", lanIf, hostIf, h.Namespace),
			fmt.Sprintf("addr add %s/24 dev %s", h.Gateway, lanIf),
			"link set " + lanIf + " up",
		}
		if err := ipBatch(ctx, l.ipPath, h.Router, router); err != nil {
			return err
		}
		host := []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev %s", h.Addr, hostIf),
			"link set " + hostIf + " up",
			"route add default via " + h.Gateway.String(),
		}
		if err := ipBatch(ctx, l.ipPath, h.Namespace, host); err != nil {
			return err
		}
		ruleset, err := rulesetFor(h.NAT, h.Addr, h.Port)
		if err != nil {
			return err
		}
		if err := run(ctx, ruleset, l.ipPath, "netns", "exec", h.Router, nftPath, "-f", "-"); err != nil {
			return fmt.Errorf("NAT ruleset for host %q: %w", h.Name, err)
		}
	}
	l.log.Debug("netlab configured, waiting for links")
	return l.waitUp(ctx)
}

// waitUp waits until every lab interface has its carrier and its queueing
// discipline attached, so the first packet a caller sends is not dropped by
// a link still coming up. (Operational state is no use here: a bridge's
// turns UP only at the kernel's next rate-limited link-watch run, up to a
// second later, although it forwards as soon as it has a carrier.)
func (l *Lab) waitUp(ctx context.Context) error {
	pending := map[string]int{l.inet: len(l.order) + 1} // the ports and the bridge
	for _, name := range l.order {
		h := l.hosts[name]
		pending[h.Namespace] = 1
		if h.Router != "" {
			pending[h.Router] = 2
		}
	}
	// Polls: carrier changes would need a netlink socket in every namespace.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for ns, want := range pending {
			out, err := output(ctx, l.ipPath, "-n", ns, "-o", "link", "show", "up")
			if err != nil {
				return err
			}
			if countReady(out) >= want {
				delete(pending, ns)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var waiting []string
			for ns := range pending {
				waiting = append(waiting, ns)
			}
			return fmt.Errorf("waiting for links to come up in %s: %w", strings.Join(waiting, " "), ctx.Err())
		case <-tick.C:
		}
	}
}

// countReady counts the interfaces other than loopback in `ip -o link`
// output that are up, have a carrier and no longer drop everything in the
// "noop" queueing discipline links have until activated.
func countReady(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "LOOPBACK") || !strings.Contains(line, ",LOWER_UP") || strings.Contains(line, " qdisc noop ") {
			continue
		}
		n++
	}
	return n
}

// Prefix returns the lab's unique name; every namespace of the lab starts
// with it followed by '-'. Cleanup(prefix) removes the lab.
func (l *Lab) Prefix() string { return l.prefix }

// InternetNamespace returns the name of the namespace holding the internet
// bridge and gateway addresses (PublicNet .1 and RouterNet .1).
func (l *Lab) InternetNamespace() string { return l.inet }

// Hosts returns every host, in Config order.
func (l *Lab) Hosts() []Host {
	hs := make([]Host, len(l.order))
	for i, name := range l.order {
		hs[i] = l.hosts[name].clone()
	}
	return hs
}

// Host returns the named host, or ErrUnknownHost.
func (l *Lab) Host(name string) (Host, error) {
	h, ok := l.hosts[name]
	if !ok {
		return Host{}, fmt.Errorf("%w: %q", ErrUnknownHost, name)
	}
	return h.clone(), nil
}

func (h *Host) clone() Host {
	c := *h
	c.ExtraAddrs = slices.Clone(h.ExtraAddrs)
	return c
}

// Addr returns the host's own address (private behind a NAT), or the zero
// Addr for an unknown host.
func (l *Lab) Addr(host string) netip.Addr {
	if h, ok := l.hosts[host]; ok {
		return h.Addr
	}
	return netip.Addr{}
}

// PublicAddr returns the address the internet sees for the host (its
// router's WAN address behind a NAT), or the zero Addr for an unknown host.
func (l *Lab) PublicAddr(host string) netip.Addr {
	if h, ok := l.hosts[host]; ok {
		return h.PublicAddr
	}
	return netip.Addr{}
}

// Command returns a command that runs name with args inside the host's
// network namespace (through `ip netns exec`, which execs name in place, so
// the command's process is name itself). Give each namespace its own process:
// a network namespace belongs to an OS thread, and Go code (libp2p included)
// opens sockets on whatever thread it runs.
//
// The process gets SIGKILL when the thread that started it exits
// (Pdeathsig), so nodes do not outlive a crashed test or testnet; Go ends a
// thread only when a goroutine exits while locked to it, so start commands
// from ordinary goroutines, or replace cmd.SysProcAttr. Close kills whatever
// still runs in the lab. For an unknown host or a closed lab the command's
// Err is set and Start fails with ErrUnknownHost or ErrClosed.
func (l *Lab) Command(host, name string, args ...string) *exec.Cmd {
	return l.command(context.Background(), host, false, name, args...)
}

// CommandContext is Command with a context that kills the process when done.
func (l *Lab) CommandContext(ctx context.Context, host, name string, args ...string) *exec.Cmd {
	return l.command(ctx, host, false, name, args...)
}

// RouterCommand is Command run in the NAT router in front of host (to look
// at its conntrack table or ruleset, say). A public host has no router: the
// command fails with ErrUnknownHost.
func (l *Lab) RouterCommand(host, name string, args ...string) *exec.Cmd {
	return l.command(context.Background(), host, true, name, args...)
}

func (l *Lab) command(ctx context.Context, host string, router bool, name string, args ...string) *exec.Cmd {
	var ns string
	var err error
	if h, ok := l.hosts[host]; !ok {
		err = fmt.Errorf("%w: %q", ErrUnknownHost, host)
	} else if router && h.Router == "" {
		err = fmt.Errorf("%w: host %q is public and has no NAT router", ErrUnknownHost, host)
	} else if router {
		ns = h.Router
	} else {
		ns = h.Namespace
	}
	if err == nil && l.closed.Load() {
		err = ErrClosed
	}
	cmd := exec.CommandContext(ctx, l.ipPath, append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.SysProcAttr = labProcAttr()
	if err != nil {
		cmd.Err = err
	}
	return cmd
}

// Close tears the lab down: it kills every process still running in the
// lab's namespaces (including commands from Command), deletes the
// namespaces, and with them every veth, the bridge and every nftables table,
// and removes the lab's state file. It is idempotent and safe to call from a
// signal handler's goroutine; later calls return the first call's result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		start := time.Now()
		l.closeErr = Cleanup(ctx, l.base, l.prefix)
		l.log.Info("netlab down", "elapsed", time.Since(start), "err", l.closeErr)
	})
	return l.closeErr
}
