//go:build linux

package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mystp2p/mystp2p/testnet/netlab"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel/tunneltest"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// The TUN tests run the consumer (and the provider and origin) in child
// processes inside a lab's namespaces: routes belong to a network namespace,
// and /etc/resolv.conf is the child's own only because `ip netns exec`
// bind-mounts /etc/netns/<namespace>/resolv.conf over it in the child's
// private mount namespace. The test binary doubles as the child program:
// in a child (see helperConfig) TestMain runs a helper instead of the
// tests. Every helper exits when its standard input closes.
const (
	tunName    = "mystp2p0"
	originName = "origin.test"
)

func TestMain(m *testing.M) { tstest.Main(m, runTUNHelper) }

// labSession is what the parent tells its helpers.
type labSession struct {
	ConsumerKey string         `json:"consumer_key"`
	ProviderKey string         `json:"provider_key"`
	Pair        AddressPair    `json:"pair"`
	Provider    netip.AddrPort `json:"provider"`  // the provider's WireGuard socket
	Provider2   netip.AddrPort `json:"provider2"` // the one SwitchBind moves to
	Origin      netip.AddrPort `json:"origin"`    // the origin HTTP server
	Marker      string         `json:"marker"`    // in the consumer's own resolv.conf
	Scenario    string         `json:"scenario"`
	// Exclude are more prefixes for TUNConfig.Exclude.
	Exclude []netip.Prefix `json:"exclude"`
}

func runTUNHelper(mode, config string) error {
	var s labSession
	if err := json.Unmarshal([]byte(config), &s); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch mode {
	case "origin":
		return originHelper(s.Origin)
	case "provider":
		return providerHelper(s, log)
	case "consumer":
		return consumerHelper(s, log)
	case "no-net-admin":
		return noNetAdminHelper(s)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// originHelper serves "origin saw REMOTEADDR" and prints "ready".
func originHelper(addr netip.AddrPort) error {
	ln, err := net.Listen("tcp4", addr.String())
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s", r.RemoteAddr)
	})}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Println("ready")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// providerHelper waits for the consumer's hello on its WireGuard socket
// (which tells it the consumer's NAT mapping), answers it, serves the
// session and prints "ready".
func providerHelper(s labSession, log *slog.Logger) error {
	key, err := ParsePrivateKey(s.ProviderKey)
	if err != nil {
		return err
	}
	ckey, err := ParsePrivateKey(s.ConsumerKey)
	if err != nil {
		return err
	}
	sock, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.Provider))
	if err != nil {
		return err
	}
	defer sock.Close()
	fmt.Println("listening")
	from, err := awaitHello(sock)
	if err != nil {
		return err
	}
	bind, err := wgpath.NewUDPBind(sock, from)
	if err != nil {
		return err
	}
	policy, err := NewExitPolicy(WithAllowPrivate(), WithLocalNetworks())
	if err != nil {
		return err
	}
	prov, err := NewProvider(ProviderConfig{
		PrivateKey: key, PeerPublicKey: ckey.PublicKey(),
		Addresses: s.Pair, Bind: bind, Policy: policy, Logger: log,
		Resolver: staticResolver{originName: {s.Origin.Addr()}},
	})
	if err != nil {
		return err
	}
	fmt.Println("ready", from)
	// "switch": move the session to a second socket on another address.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "switch" {
			continue
		}
		sock2, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.Provider2))
		if err != nil {
			return err
		}
		defer sock2.Close()
		fmt.Println("listening2")
		from2, err := awaitHello(sock2)
		if err != nil {
			return err
		}
		bind2, err := wgpath.NewUDPBind(sock2, from2)
		if err != nil {
			return err
		}
		if err := prov.SwitchBind(bind2, ""); err != nil {
			return err
		}
		fmt.Println("switched", from2)
	}
	return prov.Close()
}

// awaitHello returns where the first "hello" on sock came from, and
// answers it.
func awaitHello(sock *net.UDPConn) (netip.AddrPort, error) {
	buf := make([]byte, 64)
	for {
		n, from, err := sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			return netip.AddrPort{}, err
		}
		if string(buf[:n]) == "hello" {
			_, err := sock.WriteToUDPAddrPort([]byte("ack"), from)
			return from, err
		}
	}
}

// consumerHelper brings TUN mode up in the consumer's namespace per
// s.Scenario and reports on standard output, one "name value" line per
// finding:
//
//	up           check what a program on the host sees, print "up", wait
//	             for "close", close and print "closed"
//	fail-dns     make /etc/resolv.conf read-only, so that the last step
//	             fails; print "failed ERR"
//	exists       ask for an interface that exists; print "failed ERR"
func consumerHelper(s labSession, log *slog.Logger) error {
	// Never touch a resolv.conf that is not the one the test made.
	own, err := os.ReadFile(resolvConf)
	if err != nil {
		return err
	}
	if !bytes.Contains(own, []byte(s.Marker)) {
		return fmt.Errorf("%s is not the test's (no bind mount from /etc/netns?): refusing to run", resolvConf)
	}
	key, err := ParsePrivateKey(s.ConsumerKey)
	if err != nil {
		return err
	}
	pkey, err := ParsePrivateKey(s.ProviderKey)
	if err != nil {
		return err
	}
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	defer sock.Close()
	cfg := TUNConfig{
		ConsumerConfig: ConsumerConfig{PrivateKey: key, PeerPublicKey: pkey.PublicKey(), Addresses: s.Pair, Logger: log},
		Name:           tunName,
		// The provider's endpoint is the bind's: TUN mode excludes it.
		Exclude: s.Exclude,
		DNS:     true,
	}
	switch s.Scenario {
	case "fail-dns":
		if err := unix.Mount("none", resolvConf, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", resolvConf, err)
		}
	case "exists":
		cfg.Name = "eth0"
	case "up":
		if err := hello(sock, s.Provider); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown scenario %q", s.Scenario)
	}
	if cfg.Bind, err = wgpath.NewUDPBind(sock, s.Provider); err != nil {
		return err
	}
	goroutines := tstest.Goroutines()
	c, err := NewTUNConsumer(cfg)
	if s.Scenario != "up" {
		if err == nil {
			c.Close()
			return errors.New("NewTUNConsumer succeeded")
		}
		if s.Scenario == "exists" && !errors.Is(err, ErrInterfaceExists) {
			return fmt.Errorf("NewTUNConsumer: %w, want ErrInterfaceExists", err)
		}
		fmt.Println("failed", strings.ReplaceAll(err.Error(), "\n", "; "))
		return goroutines.Leaked()
	}
	if err != nil {
		return err
	}
	defer c.Close()

	// What any program on the host sees: plain sockets, the host resolver.
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: (&net.Dialer{Resolver: &net.Resolver{PreferGo: true}}).DialContext,
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func(url string) string {
		resp, err := client.Get(url)
		if err != nil {
			return "error " + err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return "error " + err.Error()
		}
		return string(b)
	}
	fmt.Println("direct", get(fmt.Sprintf("http://%s/", s.Origin)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	addrs, err := (&net.Resolver{PreferGo: true}).LookupNetIP(ctx, "ip4", originName)
	cancel()
	fmt.Println("lookup", addrs, err)
	fmt.Println("byname", get(fmt.Sprintf("http://%s:%d/", originName, s.Origin.Port())))
	tr.CloseIdleConnections()
	st := c.Stats()
	hs, err := c.LastHandshake()
	fmt.Println("stats", st.TxPackets, st.RxPackets, !hs.IsZero() && err == nil)
	fmt.Println("up")

	// "switch": move to a new socket towards Provider2, saying hello on
	// it until "switched"; "exclude": keep the origin out of the tunnel
	// from now on.
	var stopHellos func()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() && in.Text() != "close" {
		switch in.Text() {
		case "switch":
			sock2, err := net.ListenUDP("udp4", &net.UDPAddr{})
			if err != nil {
				return err
			}
			defer sock2.Close()
			bind2, err := wgpath.NewUDPBind(sock2, s.Provider2)
			if err != nil {
				return err
			}
			// The new endpoint is excluded by SwitchBind itself: the
			// hellos below only reach the provider from our NAT if so.
			if err := c.SwitchBind(bind2, ""); err != nil {
				fmt.Println("switching error", err)
				continue
			}
			stopHellos = sayHello(sock2, s.Provider2)
			fmt.Println("switching")
		case "switched":
			stopHellos()
			fmt.Println("after-switch", get(fmt.Sprintf("http://%s/", s.Origin)))
			tr.CloseIdleConnections()
		case "exclude":
			if err := c.AddExclude(netip.PrefixFrom(s.Origin.Addr(), 32)); err != nil {
				fmt.Println("excluded error", err)
				continue
			}
			fmt.Println("excluded", get(fmt.Sprintf("http://%s/", s.Origin)))
			tr.CloseIdleConnections()
		}
	}
	if err := c.Close(); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("second Close: %w", err)
	}
	if _, err := c.LastHandshake(); !errors.Is(err, ErrClosed) {
		return fmt.Errorf("LastHandshake after Close: %v, want ErrClosed", err)
	}
	if err := c.AddExclude(netip.MustParsePrefix("192.0.2.0/24")); !errors.Is(err, ErrClosed) {
		return fmt.Errorf("AddExclude after Close: %v, want ErrClosed", err)
	}
	b, _ := tunneltest.NewBindPair()
	if err := c.SwitchBind(b, ""); !errors.Is(err, ErrClosed) {
		return fmt.Errorf("SwitchBind after Close: %v, want ErrClosed", err)
	}
	if err := goroutines.Leaked(); err != nil {
		return err
	}
	fmt.Println("closed")
	return nil
}

// hello sends "hello" to the provider until it answers, so the provider
// learns where the consumer's NAT maps the socket.
func hello(sock *net.UDPConn, to netip.AddrPort) error {
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 64)
	for time.Now().Before(deadline) {
		if _, err := sock.WriteToUDPAddrPort([]byte("hello"), to); err != nil {
			return err
		}
		sock.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, from, err := sock.ReadFromUDPAddrPort(buf)
		if err == nil && from == to && string(buf[:n]) == "ack" {
			return sock.SetReadDeadline(time.Time{})
		}
	}
	return fmt.Errorf("no answer from the provider at %s", to)
}

// sayHello sends "hello" from sock to to every 100 ms until stopped
// (the answers go to the bind reading sock, which drops them).
func sayHello(sock *net.UDPConn, to netip.AddrPort) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			sock.WriteToUDPAddrPort([]byte("hello"), to)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// noNetAdminHelper drops CAP_NET_ADMIN on its thread and tries TUN mode.
func noNetAdminHelper(s labSession) error {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[unix.CAP_NET_ADMIN/32].Effective &^= 1 << (unix.CAP_NET_ADMIN % 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return err
	}
	_, err := NewTUNConsumer(testTUNConfig(s))
	if !errors.Is(err, ErrTUNNeedsRoot) {
		return fmt.Errorf("NewTUNConsumer without CAP_NET_ADMIN: %v, want ErrTUNNeedsRoot", err)
	}
	fmt.Println("failed", err)
	return nil
}

// testTUNConfig is a valid config over an in-memory bind.
func testTUNConfig(s labSession) TUNConfig {
	key, _ := ParsePrivateKey(s.ConsumerKey)
	pkey, _ := ParsePrivateKey(s.ProviderKey)
	b, _ := tunneltest.NewBindPair()
	return TUNConfig{
		ConsumerConfig: ConsumerConfig{PrivateKey: key, PeerPublicKey: pkey.PublicKey(), Addresses: s.Pair, Bind: b},
		Name:           tunName,
	}
}

func newLabSession(t *testing.T) labSession {
	t.Helper()
	ck, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	pk, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return labSession{
		ConsumerKey: ck.Base64(),
		ProviderKey: pk.Base64(),
		Pair: AddressPair{
			Consumer: netip.MustParseAddr("10.77.0.2"), Provider: netip.MustParseAddr("10.77.0.1"),
			Consumer6: netip.MustParseAddr("fd77::2"), Provider6: netip.MustParseAddr("fd77::1"),
		},
	}
}

func TestTUNConfigValidation(t *testing.T) {
	good := testTUNConfig(newLabSession(t))
	if err := good.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := map[string]func(*TUNConfig){
		"no name":        func(c *TUNConfig) { c.Name = "" },
		"long name":      func(c *TUNConfig) { c.Name = "mystp2p-much-too-long" },
		"slash in name":  func(c *TUNConfig) { c.Name = "a/b" },
		"bad exclude":    func(c *TUNConfig) { c.Exclude = []netip.Prefix{{}} },
		"no private key": func(c *TUNConfig) { c.PrivateKey = PrivateKey{} },
		"no bind":        func(c *TUNConfig) { c.Bind = nil },
		"bad addresses":  func(c *TUNConfig) { c.Addresses.Consumer6 = c.Addresses.Provider6 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			mutate(&cfg)
			// validate, not NewTUNConsumer: a bug here must not reroute
			// the machine running the tests.
			if err := cfg.validate(); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("validate: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestTUNConsumerNeedsNetAdmin checks the error without CAP_NET_ADMIN: as
// is for a normal user, in a child that dropped the capability for root.
func TestTUNConsumerNeedsNetAdmin(t *testing.T) {
	s := newLabSession(t)
	if !hasNetAdmin() {
		_, err := NewTUNConsumer(testTUNConfig(s))
		if !errors.Is(err, ErrTUNNeedsRoot) {
			t.Fatalf("NewTUNConsumer: %v, want ErrTUNNeedsRoot", err)
		}
		return
	}
	out, err := tstest.RunChild(t, "no-net-admin", helperConfig(t, "no-net-admin", s, nil, ""))
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(out, "TUN mode needs root (CAP_NET_ADMIN); use the SOCKS5 mode instead") {
		t.Fatalf("helper said %q", out)
	}
}

// helperConfig is the child that runs the helper of mode for session s:
// in host's namespace of lab, or directly if lab is nil.
func helperConfig(t *testing.T, mode string, s labSession, lab *netlab.Lab, host string) tstest.ChildConfig {
	t.Helper()
	cfg, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	c := tstest.ChildConfig{Mode: mode, Config: string(cfg), Timeout: 30 * time.Second}
	if lab != nil {
		c.Netns = func(name string, arg ...string) *exec.Cmd { return lab.Command(host, name, arg...) }
	}
	return c
}

// startTUNHelper starts a long-running helper in host's namespace, which
// the test talks to line by line.
func startTUNHelper(t *testing.T, lab *netlab.Lab, host, mode string, s labSession) *tstest.Child {
	t.Helper()
	return tstest.StartChild(t, host+"/"+mode, helperConfig(t, mode, s, lab, host))
}

// hostState is what TUN mode changes in a namespace, as text to compare.
func hostState(t *testing.T, lab *netlab.Lab, host, resolvPath string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"-4", "route", "show", "table", "all"},
		{"-6", "route", "show", "table", "all"},
		{"-o", "addr"},
		{"-o", "link"},
	} {
		out, err := lab.Command(host, "ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
		fmt.Fprintf(&b, "$ ip %s\n%s", strings.Join(args, " "), out)
	}
	conf, err := os.ReadFile(resolvPath)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "$ cat resolv.conf\n%s", conf)
	return b.String()
}

func ipIn(t *testing.T, lab *netlab.Lab, host string, args ...string) string {
	t.Helper()
	out, err := lab.Command(host, "ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestTUNConsumerLab brings TUN mode up in a consumer behind a NAT, with
// the provider and an origin HTTP server on the lab's internet, and checks
// that plain sockets and the host resolver go through the tunnel, and that
// Close, or a constructor that fails half-way, leaves the namespace as it
// found it.
func TestTUNConsumerLab(t *testing.T) {
	if err := netlab.Available(); err != nil {
		t.Skipf("TUN mode lab test needs root, ip and nft: %v", err)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("TUN mode lab test needs /dev/net/tun: %v", err)
	}
	// ip netns exec only bind-mounts a namespace's resolv.conf over an
	// existing /etc/resolv.conf; the consumer helper refuses to run
	// without that mount, and the host's file must come out unchanged.
	hostResolv, err := os.ReadFile(resolvConf)
	if err != nil {
		t.Skipf("TUN mode lab test needs a host %s to mount over: %v", resolvConf, err)
	}
	t.Cleanup(func() {
		now, err := os.ReadFile(resolvConf)
		if err != nil || !bytes.Equal(now, hostResolv) {
			t.Errorf("the host's %s changed: %q (%v), was %q", resolvConf, now, err, hostResolv)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lab, err := netlab.New(ctx, netlab.Config{Hosts: []netlab.HostConfig{
		{Name: "provider", ExtraAddrs: 1},
		{Name: "origin"},
		{Name: "consumer", NAT: netlab.NATPortRestricted},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	consumer, err := lab.Host("consumer")
	if err != nil {
		t.Fatal(err)
	}

	s := newLabSession(t)
	s.Provider = netip.AddrPortFrom(lab.Addr("provider"), 51820)
	s.Origin = netip.AddrPortFrom(lab.Addr("origin"), 8080)
	provider, err := lab.Host("provider")
	if err != nil {
		t.Fatal(err)
	}
	s.Provider2 = netip.AddrPortFrom(provider.ExtraAddrs[0], 51821)
	s.Marker = fmt.Sprintf("# mystp2p tunnel test %s", lab.Prefix())
	resolvPath := writeNetnsResolvConf(t, consumer.Namespace, s.Marker+"\nnameserver 192.0.2.53\n")
	before := hostState(t, lab, "consumer", resolvPath)

	for _, scenario := range []string{"exists", "fail-dns"} {
		t.Run(scenario, func(t *testing.T) {
			s := s
			s.Scenario = scenario
			out, err := tstest.RunChild(t, "consumer", helperConfig(t, "consumer", s, lab, "consumer"))
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			t.Logf("consumer: %s", out)
			if !strings.HasPrefix(out, "failed ") {
				t.Fatalf("helper said %q, want a failure", out)
			}
			if after := hostState(t, lab, "consumer", resolvPath); after != before {
				t.Fatalf("a failed NewTUNConsumer left changes behind:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}

	t.Run("up", func(t *testing.T) {
		s := s
		s.Scenario = "up"
		// Beside the provider's endpoint (the bind's, excluded by
		// itself): the consumer's own LAN (its connected route exists
		// already, so it is not TUN mode's to add or remove) and an IPv6
		// prefix the host cannot reach.
		lan, err := consumer.Addr.Prefix(24)
		if err != nil {
			t.Fatal(err)
		}
		s.Exclude = []netip.Prefix{lan, netip.MustParsePrefix("2001:db8:1::/48")}
		origin := startTUNHelper(t, lab, "origin", "origin", s)
		origin.NextKey("ready")
		prov := startTUNHelper(t, lab, "provider", "provider", s)
		prov.NextKey("listening")
		cons := startTUNHelper(t, lab, "consumer", "consumer", s)
		t.Logf("provider sees the consumer at %s", prov.NextKey("ready"))

		want := fmt.Sprintf("origin saw %s:", lab.Addr("provider"))
		if got := cons.NextKey("direct"); !strings.HasPrefix(got, want) {
			t.Errorf("GET by address through the tunnel: %q, want %q…", got, want)
		}
		if got, want := cons.NextKey("lookup"), fmt.Sprintf("[%s] <nil>", s.Origin.Addr()); got != want {
			t.Errorf("host resolver for %s: %q, want %q (answered by the provider)", originName, got, want)
		}
		if got := cons.NextKey("byname"); !strings.HasPrefix(got, want) {
			t.Errorf("GET by name through the tunnel: %q, want %q…", got, want)
		}
		var tx, rx uint64
		var hs bool
		if _, err := fmt.Sscan(cons.NextKey("stats"), &tx, &rx, &hs); err != nil || tx == 0 || rx == 0 || !hs {
			t.Errorf("stats: tx %d rx %d packets, handshake %v (%v); want traffic both ways and a handshake", tx, rx, hs, err)
		}
		cons.NextKey("up")

		// While up: every destination but the provider's endpoint goes
		// into the tunnel, IPv6 included, and DNS goes to the provider.
		if got := ipIn(t, lab, "consumer", "route", "get", s.Origin.Addr().String()); !strings.Contains(got, "dev "+tunName) {
			t.Errorf("route to the origin: %q, want dev %s", got, tunName)
		}
		if got := ipIn(t, lab, "consumer", "route", "get", s.Provider.Addr().String()); !strings.Contains(got, "via "+consumer.Gateway.String()) {
			t.Errorf("route to the excluded provider endpoint: %q, want via %s", got, consumer.Gateway)
		}
		if got := ipIn(t, lab, "consumer", "-6", "route", "get", "2001:db8::1"); !strings.Contains(got, "dev "+tunName) {
			t.Errorf("IPv6 route: %q, want dev %s", got, tunName)
		}
		conf, err := os.ReadFile(resolvPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(conf), "nameserver "+s.Pair.Provider.String()+"\n") {
			t.Errorf("resolv.conf while up: %q", conf)
		}

		// SwitchBind to a new socket and provider address: the new
		// endpoint is excluded, and traffic keeps flowing.
		prov.Send("switch")
		prov.NextKey("listening2")
		cons.Send("switch")
		cons.NextKey("switching")
		// From the consumer's NAT, not through the tunnel (the provider's
		// own address): the hellos took the excluded route.
		if got := prov.NextKey("switched"); !strings.HasPrefix(got, consumer.PublicAddr.String()+":") {
			t.Errorf("provider saw the consumer's new socket at %s, want %s:…", got, consumer.PublicAddr)
		}
		cons.Send("switched")
		if got := cons.NextKey("after-switch"); !strings.HasPrefix(got, want) {
			t.Errorf("GET after SwitchBind: %q, want %q…", got, want)
		}
		if got := ipIn(t, lab, "consumer", "route", "get", s.Provider2.Addr().String()); !strings.Contains(got, "via "+consumer.Gateway.String()) {
			t.Errorf("route to the new endpoint: %q, want via %s", got, consumer.Gateway)
		}

		// Excluded while up: the origin now sees the consumer's NAT.
		cons.Send("exclude")
		if got, want := cons.NextKey("excluded"), fmt.Sprintf("origin saw %s:", consumer.PublicAddr); !strings.HasPrefix(got, want) {
			t.Errorf("GET after AddExclude(origin): %q, want %q…", got, want)
		}
		if got := ipIn(t, lab, "consumer", "route", "get", s.Origin.Addr().String()); !strings.Contains(got, "via "+consumer.Gateway.String()) {
			t.Errorf("route to the origin after AddExclude: %q, want via %s", got, consumer.Gateway)
		}

		cons.Send("close")
		cons.NextKey("closed")
		cons.Wait(20 * time.Second)
		if after := hostState(t, lab, "consumer", resolvPath); after != before {
			t.Errorf("Close left changes behind:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// writeNetnsResolvConf makes the file `ip netns exec` mounts over
// /etc/resolv.conf in ns, and removes it (and directories it made) at the
// end of the test.
func writeNetnsResolvConf(t *testing.T, ns, content string) string {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	_, err := os.Stat("/etc/netns")
	madeParent := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if madeParent {
			os.Remove("/etc/netns")
		}
	})
	path := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
