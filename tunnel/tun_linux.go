//go:build linux

package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// ipCommandTimeout bounds one `ip` command.
const ipCommandTimeout = 10 * time.Second

// tunnelRoutes cover every destination while staying more specific than
// any default route, which therefore stays untouched (as wg-quick and
// OpenVPN's def1 do).
var (
	tunnelRoutes4 = []string{"0.0.0.0/1", "128.0.0.0/1"}
	tunnelRoutes6 = []string{"::/1", "8000::/1"}
)

// start makes the host changes, recording each in c.undo; NewTUNConsumer
// undoes them if start fails. Nothing is changed before every check and
// lookup has passed.
func (c *TUNConsumer) start(o consumerOptions) error {
	if !hasNetAdmin() {
		return ErrTUNNeedsRoot
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("TUN mode needs the ip command (iproute2): %w", err)
	}
	h := &hostNet{ip: ipPath, log: c.log}
	name := c.cfg.Name
	if _, err := net.InterfaceByName(name); err == nil {
		return fmt.Errorf("%w: %s", ErrInterfaceExists, name)
	}
	// How the host reaches each excluded destination now, before the
	// tunnel's routes hide it, and its default routes for the ones
	// AddExclude brings later.
	defaults, err := h.defaultRoutes()
	if err != nil {
		return err
	}
	exclude := c.cfg.Exclude
	if p, ok := endpointPrefix(c.cfg.Endpoint, c.cfg.Bind); ok {
		exclude = append(exclude[:len(exclude):len(exclude)], p)
	}
	var excluded []hostRoute
	for _, p := range exclude {
		r, ok, err := h.underlayRoute(p, name, defaults)
		if err != nil {
			return err
		}
		if ok {
			excluded = append(excluded, r)
		}
	}
	_, err = os.Stat("/proc/sys/net/ipv6")
	v6 := err == nil // without IPv6 in the kernel there is nothing to route

	tdev, err := tun.CreateTUN(name, MTU)
	if err != nil {
		return fmt.Errorf("create TUN interface %s: %w", name, err)
	}
	if err := c.startDevice(tdev, o); err != nil {
		return err
	}
	if v6 {
		// New interfaces may inherit disable_ipv6=1; this one must carry
		// IPv6 or IPv6 traffic would bypass the tunnel. No link-local
		// address: nothing but the session's addresses lives here.
		if err := writeSysctl("net/ipv6/conf/"+name+"/addr_gen_mode", "1"); err != nil {
			c.log.Debug("no addr_gen_mode", "err", err)
		}
		if err := writeSysctl("net/ipv6/conf/"+name+"/disable_ipv6", "0"); err != nil {
			return fmt.Errorf("enable IPv6 on %s: %w", name, err)
		}
	}
	// The addresses go with the interface.
	if err := h.run("addr", "add", netip.PrefixFrom(c.cfg.Addresses.Consumer, 32).String(), "dev", name); err != nil {
		return err
	}
	if v6 {
		if err := h.run("-6", "addr", "add", netip.PrefixFrom(c.cfg.Addresses.Consumer6, 128).String(), "dev", name, "nodad"); err != nil {
			return err
		}
	}
	if err := h.run("link", "set", "dev", name, "up"); err != nil {
		return err
	}
	// Excluded destinations first, so that WireGuard's packets never
	// enter the tunnel.
	if err := c.addHostRoutes(h, excluded); err != nil {
		return err
	}
	c.exclude = func(prefixes []netip.Prefix) error {
		var rs []hostRoute
		for _, p := range prefixes {
			r, ok, err := h.underlayRoute(p, name, defaults)
			if err != nil {
				return err
			}
			if ok {
				rs = append(rs, r)
			}
		}
		return c.addHostRoutes(h, rs)
	}
	routes := tunnelRoutes4
	if v6 {
		routes = append(routes[:len(routes):len(routes)], tunnelRoutes6...)
	}
	for _, dst := range routes {
		args := []string{dst, "dev", name}
		added, err := h.addRoute(args)
		if err != nil {
			return err
		}
		if !added {
			return fmt.Errorf("route %s: another route for it already exists (another VPN?)", dst)
		}
		c.undo.push("remove route "+dst+" dev "+name, func() error { return h.delRoute(args) })
	}
	if c.cfg.DNS {
		conf := fmt.Sprintf("# written by mystp2p for its TUN interface %s; restored when it closes\nnameserver %s\n",
			name, c.cfg.Addresses.Provider)
		restore, err := replaceFile(resolvConf, []byte(conf), c.log)
		if err != nil {
			return fmt.Errorf("point %s at the provider: %w", resolvConf, err)
		}
		c.undo.push("restore "+resolvConf, restore)
	}
	return nil
}

// addHostRoutes adds routes, recording the ones it added for Close.
func (c *TUNConsumer) addHostRoutes(h *hostNet, routes []hostRoute) error {
	for _, r := range routes {
		added, err := h.addRoute(r.args())
		if err != nil {
			return err
		}
		if added {
			c.log.Debug("excluded from the tunnel", "route", r.String())
			c.undo.push("remove route "+r.String(), func() error { return h.delRoute(r.args()) })
		}
	}
	return nil
}

// hasNetAdmin reports whether the process may configure the network.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.Geteuid() == 0
	}
	return data[unix.CAP_NET_ADMIN/32].Effective&(1<<(unix.CAP_NET_ADMIN%32)) != 0
}

func writeSysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0)
}

// hostNet changes the host's network configuration with iproute2.
type hostNet struct {
	ip  string
	log *slog.Logger
}

// ipError is a failed ip command with what it printed.
type ipError struct {
	args   []string
	stderr string
	err    error
}

func (e *ipError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("ip %s: %s", strings.Join(e.args, " "), msg)
}

func (e *ipError) Unwrap() error { return e.err }

// says reports whether ip explained its failure with text (iproute2
// prints the kernel's errno text, such as "File exists").
func (e *ipError) says(text string) bool { return strings.Contains(e.stderr, text) }

func (h *hostNet) output(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipCommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, h.ip, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C") // errno texts as addRoute expects them
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	h.log.Debug("ip", "args", strings.Join(args, " "), "err", err)
	if err != nil {
		return nil, &ipError{args: args, stderr: stderr.String(), err: err}
	}
	return stdout.Bytes(), nil
}

func (h *hostNet) run(args ...string) error {
	_, err := h.output(args...)
	return err
}

// addRoute adds a route to the main table. added is false when the same
// route already exists: it is not ours to remove.
func (h *hostNet) addRoute(args []string) (added bool, err error) {
	err = h.run(append([]string{"route", "add"}, args...)...)
	var ie *ipError
	if errors.As(err, &ie) && ie.says("File exists") {
		return false, nil
	}
	return err == nil, err
}

// delRoute removes a route; one that is gone already (with its interface,
// say) is no error.
func (h *hostNet) delRoute(args []string) error {
	err := h.run(append([]string{"route", "del"}, args...)...)
	var ie *ipError
	if errors.As(err, &ie) && (ie.says("No such process") || ie.says("Cannot find device")) {
		return nil
	}
	return err
}

// hostRoute is how the host reaches an excluded prefix without the tunnel.
type hostRoute struct {
	dst     netip.Prefix
	gateway netip.Addr // invalid when the destination is on-link
	dev     string
}

func (r hostRoute) args() []string {
	a := []string{r.dst.String()}
	if r.gateway.IsValid() {
		a = append(a, "via", r.gateway.String())
	}
	return append(a, "dev", r.dev)
}

func (r hostRoute) String() string { return strings.Join(r.args(), " ") }

// defaultRoutes returns the main table's preferred default route per
// family (keyed by "is IPv6"), before the tunnel's routes exist.
func (h *hostNet) defaultRoutes() (map[bool]hostRoute, error) {
	defaults := make(map[bool]hostRoute, 2)
	for _, v6 := range []bool{false, true} {
		family := "-4"
		if v6 {
			family = "-6"
		}
		out, err := h.output("-j", family, "route", "show", "default", "table", "main")
		if err != nil {
			return nil, fmt.Errorf("look up the default route: %w", err)
		}
		var got []struct {
			Type    string `json:"type"`
			Gateway string `json:"gateway"`
			Dev     string `json:"dev"`
			Metric  int    `json:"metric"`
		}
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &got); err != nil {
				return nil, fmt.Errorf("look up the default route: unexpected answer %q", out)
			}
		}
		best := -1
		for i, g := range got {
			if (g.Type == "" || g.Type == "unicast") && g.Dev != "" && (best < 0 || g.Metric < got[best].Metric) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		r := hostRoute{dev: got[best].Dev}
		if gw := got[best].Gateway; gw != "" {
			if r.gateway, err = netip.ParseAddr(gw); err != nil {
				return nil, fmt.Errorf("look up the default route: gateway %q: %w", gw, err)
			}
		}
		defaults[v6] = r
	}
	return defaults, nil
}

// underlayRoute is how the host reaches p without the tunnel: the route
// the kernel uses for it now, or, when that is the tunnel itself (tunDev),
// the default route from before the tunnel.
func (h *hostNet) underlayRoute(p netip.Prefix, tunDev string, defaults map[bool]hostRoute) (hostRoute, bool, error) {
	r, ok, err := h.routeTo(p)
	if err != nil || !ok || r.dev != tunDev {
		return r, ok, err
	}
	d, ok := defaults[r.dst.Addr().Is6()]
	if !ok {
		h.log.Warn("excluded destination has no route outside the tunnel; leaving it to the tunnel", "prefix", r.dst)
		return hostRoute{}, false, nil
	}
	d.dst = r.dst
	return d, true, nil
}

// routeTo asks the kernel how it reaches p now. ok is false when there is
// nothing to keep: p is one of the host's own addresses, or unreachable
// anyway.
func (h *hostNet) routeTo(p netip.Prefix) (r hostRoute, ok bool, err error) {
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
	}
	p = p.Masked()
	family := "-4"
	if p.Addr().Is6() {
		family = "-6"
	}
	out, err := h.output("-j", family, "route", "get", p.Addr().String())
	if err != nil {
		var ie *ipError
		if errors.As(err, &ie) && (ie.says("unreachable") || ie.says("No route")) {
			h.log.Warn("excluded destination has no route now; leaving it to the tunnel", "prefix", p)
			return hostRoute{}, false, nil
		}
		return hostRoute{}, false, fmt.Errorf("look up the route to excluded %s: %w", p, err)
	}
	var got []struct {
		Type    string `json:"type"`
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) == 0 {
		return hostRoute{}, false, fmt.Errorf("look up the route to excluded %s: unexpected answer %q", p, out)
	}
	g := got[0]
	if (g.Type != "" && g.Type != "unicast") || g.Dev == "" || g.Dev == "lo" {
		return hostRoute{}, false, nil
	}
	r = hostRoute{dst: p, dev: g.Dev}
	if g.Gateway != "" {
		if r.gateway, err = netip.ParseAddr(g.Gateway); err != nil {
			return hostRoute{}, false, fmt.Errorf("look up the route to excluded %s: gateway %q: %w", p, g.Gateway, err)
		}
	}
	return r, true, nil
}
