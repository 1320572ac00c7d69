package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// requireLab skips the test when this machine cannot build labs: only for a
// missing privilege or tool, and the message says which.
func requireLab(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("skipping: needs root with ip (iproute2) and nft (nftables): %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestLab builds a lab removed when the test ends, even after a panic.
func newTestLab(t *testing.T, hosts []HostConfig) *Lab {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	lab, err := New(ctx, Config{Hosts: hosts, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab %s with %d hosts up in %v", lab.Prefix(), len(hosts), time.Since(start))
	t.Cleanup(func() {
		start := time.Now()
		if err := lab.Close(); err != nil {
			t.Errorf("closing lab: %v", err)
		}
		t.Logf("lab %s down in %v", lab.Prefix(), time.Since(start))
	})
	return lab
}

// The port every UDP agent in a private host uses, and so the full-cone port.
const agentPort = 4000

// natLabHosts is a server, two more public hosts and two hosts behind each
// kind of NAT.
var natLabHosts = []HostConfig{
	{Name: "server", ExtraAddrs: 1},
	{Name: "pub1"}, {Name: "pub2"},
	{Name: "fc1", NAT: NATFullCone, Port: agentPort}, {Name: "fc2", NAT: NATFullCone, Port: agentPort},
	{Name: "pr1", NAT: NATPortRestricted}, {Name: "pr2", NAT: NATPortRestricted},
	{Name: "sym1", NAT: NATSymmetric}, {Name: "sym2", NAT: NATSymmetric},
}

// pairHosts are the two hosts of each NAT kind.
var pairHosts = map[NAT][2]string{
	NATNone:           {"pub1", "pub2"},
	NATFullCone:       {"fc1", "fc2"},
	NATPortRestricted: {"pr1", "pr2"},
	NATSymmetric:      {"sym1", "sym2"},
}

func TestNATLab(t *testing.T) {
	lab := newTestLab(t, natLabHosts)
	server := lab.Addr("server")
	rendezvous := netip.AddrPortFrom(server, 3478)
	otherPort := netip.AddrPortFrom(server, 3479)

	t.Run("addresses", func(t *testing.T) {
		for _, h := range lab.Hosts() {
			if h.NAT == NATNone {
				if !PublicNet.Contains(h.Addr) || h.PublicAddr != h.Addr || h.Router != "" {
					t.Errorf("public host %+v", h)
				}
				continue
			}
			if !h.Addr.IsPrivate() || !RouterNet.Contains(h.PublicAddr) || h.Router == "" {
				t.Errorf("private host %+v", h)
			}
		}
		srv, err := lab.Host("server")
		if err != nil {
			t.Fatal(err)
		}
		if len(srv.ExtraAddrs) != 1 || !PublicNet.Contains(srv.ExtraAddrs[0]) {
			t.Errorf("server extra addresses %v", srv.ExtraAddrs)
		}
		if _, err := lab.Host("nobody"); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("Host(nobody) = %v, want ErrUnknownHost", err)
		}
		if err := lab.Command("nobody", "true").Run(); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("Command(nobody).Run() = %v, want ErrUnknownHost", err)
		}
		for _, h := range lab.Hosts() {
			cmds := []*exec.Cmd{lab.Command(h.Name, "ip", "-o", "link", "show", "lo")}
			if h.Router != "" {
				cmds = append(cmds, lab.RouterCommand(h.Name, "ip", "-o", "link", "show", "lo"))
			}
			for _, cmd := range cmds {
				if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte(",UP,")) {
					t.Errorf("%s: loopback not up: %v %s", h.Name, err, out)
				}
			}
		}
		if err := lab.RouterCommand("pub1", "true").Run(); !errors.Is(err, ErrUnknownHost) {
			t.Errorf("RouterCommand(public host).Run() = %v, want ErrUnknownHost", err)
		}
		out, err := lab.RouterCommand("pr1", "nft", "list", "ruleset").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("masquerade")) {
			t.Errorf("router ruleset: %v\n%s", err, out)
		}
	})

	t.Run("mapping", func(t *testing.T) {
		peer := netip.AddrPortFrom(lab.Addr("pub1"), agentPort)
		startHelper(t, lab, "pub1", "udp", peer.String())
		for _, name := range []string{"pub2", "fc1", "pr1", "sym1"} {
			h, _ := lab.Host(name)
			rv := startHelper(t, lab, "server", "udp", rendezvous.String())
			a := startHelper(t, lab, name, "udp", fmt.Sprintf("0.0.0.0:%d", agentPort))
			m1 := mapped(t, a, rendezvous)
			m2 := mapped(t, a, peer)
			t.Logf("%-16s %s: towards server %v, towards pub1 %v", h.NAT, name, m1, m2)
			if m1.Addr() != h.PublicAddr || m2.Addr() != h.PublicAddr {
				t.Errorf("%s: mapped addresses %v, %v, want %v", name, m1, m2, h.PublicAddr)
			}
			switch h.NAT {
			case NATSymmetric:
				if m1.Port() == m2.Port() {
					t.Errorf("%s (symmetric): same external port %d towards two destinations", name, m1.Port())
				}
			default:
				if m1 != m2 || m1.Port() != agentPort {
					t.Errorf("%s (%s): mappings %v and %v, want both port %d", name, h.NAT, m1, m2, agentPort)
				}
			}
			rv.Stop()
		}
	})

	t.Run("filtering", func(t *testing.T) {
		rv := startHelper(t, lab, "server", "udp", rendezvous.String())
		rv2 := startHelper(t, lab, "server", "udp", otherPort.String())
		third := startHelper(t, lab, "pub2", "udp", netip.AddrPortFrom(lab.Addr("pub2"), 5000).String())
		for _, name := range []string{"pub1", "fc1", "pr1", "sym1"} {
			h, _ := lab.Host(name)
			a := startHelper(t, lab, name, "udp", fmt.Sprintf("0.0.0.0:%d", agentPort))
			m := mapped(t, a, rendezvous)
			// Unsolicited: from a third address, and from the rendezvous
			// address on a port the host never sent to. Then a control
			// packet from the endpoint the host did send to.
			tokUnsolicited, tokOtherPort, tokControl := name+"-third", name+"-otherport", name+"-control"
			expectAnswer(t, third, "send "+m.String()+" "+tokUnsolicited, "sent")
			expectAnswer(t, rv2, "send "+m.String()+" "+tokOtherPort, "sent")
			expectAnswer(t, rv, "send "+m.String()+" "+tokControl, "sent")
			if got := a.Do("wait " + tokControl + " 5000"); !strings.HasPrefix(got, "got ") {
				t.Fatalf("%s: solicited packet from the server did not arrive: %s", name, got)
			}
			open := h.NAT == NATNone || h.NAT == NATFullCone
			if open {
				// They were sent first; wait for them all the same.
				for _, tok := range []string{tokUnsolicited, tokOtherPort} {
					if got := a.Do("wait " + tok + " 5000"); !strings.HasPrefix(got, "got ") {
						t.Errorf("%s (%s): unsolicited packet %s was filtered", name, h.NAT, tok)
					}
				}
				continue
			}
			// One more round trip through the router flushes anything
			// still in flight behind the control packet.
			mapped(t, a, rendezvous)
			for _, tok := range []string{tokUnsolicited, tokOtherPort} {
				if got := a.Do("has " + tok); !strings.HasPrefix(got, "none ") {
					t.Errorf("%s (%s): unsolicited packet passed the NAT: %s", name, h.NAT, got)
				}
			}
			t.Logf("%-16s %s: third-party and other-port packets dropped, reply accepted", h.NAT, name)
		}
	})

	t.Run("punch", func(t *testing.T) {
		startHelper(t, lab, "server", "udp", rendezvous.String())
		var table strings.Builder
		fmt.Fprintf(&table, "%-16s", "")
		for _, b := range NATs {
			fmt.Fprintf(&table, " %-16s", b)
		}
		results := map[[2]NAT]bool{}
		for i, a := range NATs {
			for _, b := range NATs[i:] {
				ok, elapsed := punch(t, lab, pairHosts[a][0], pairHosts[b][1], rendezvous)
				results[[2]NAT{a, b}], results[[2]NAT{b, a}] = ok, ok
				t.Logf("punch %s (%s) <-> %s (%s): ok=%v in %v", pairHosts[a][0], a, pairHosts[b][1], b, ok, elapsed)
				if want := DirectPathPossible(a, b); ok != want {
					t.Errorf("punch %s <-> %s: ok=%v, DirectPathPossible says %v", a, b, ok, want)
				}
			}
		}
		for _, a := range NATs {
			fmt.Fprintf(&table, "\n%-16s", a)
			for _, b := range NATs {
				fmt.Fprintf(&table, " %-16v", results[[2]NAT{a, b}])
			}
		}
		t.Logf("simultaneous UDP punch succeeded:\n%s", table.String())
		if !results[[2]NAT{NATPortRestricted, NATPortRestricted}] {
			t.Error("port-restricted <-> port-restricted did not punch")
		}
		if results[[2]NAT{NATSymmetric, NATSymmetric}] {
			t.Error("symmetric <-> symmetric punched")
		}
	})

	t.Run("http", func(t *testing.T) {
		origin := startHelper(t, lab, "server", "http-server", fmt.Sprintf("%s:8080", server))
		if got := origin.Next(); got != "ready" {
			t.Fatalf("origin: %s", got)
		}
		for _, name := range []string{"pub1", "fc1", "pr1", "sym1"} {
			cfg := helperConfig(lab, name, "http-get", "http://"+server.String()+":8080/")
			cfg.MergeStderr = true
			out, err := tstest.RunChild(t, name+"/http-get", cfg)
			if err != nil {
				t.Fatalf("GET from %s: %v: %s", name, err, out)
			}
			want := "origin saw " + lab.PublicAddr(name).String() + ":"
			if !strings.HasPrefix(string(out), want) {
				t.Errorf("GET from %s: %q, want prefix %q", name, out, want)
			}
		}
	})

	t.Run("full-cone port is open to TCP", func(t *testing.T) {
		srv := startHelper(t, lab, "fc1", "http-server", fmt.Sprintf("0.0.0.0:%d", agentPort))
		if got := srv.Next(); got != "ready" {
			t.Fatalf("server in fc1: %s", got)
		}
		cfg := helperConfig(lab, "pub2", "http-get", fmt.Sprintf("http://%s:%d/", lab.PublicAddr("fc1"), agentPort))
		cfg.MergeStderr = true
		out, err := tstest.RunChild(t, "pub2/http-get", cfg)
		if err != nil {
			t.Fatalf("GET from the internet to fc1: %v: %s", err, out)
		}
		if want := "origin saw " + lab.Addr("pub2").String() + ":"; !strings.HasPrefix(string(out), want) {
			t.Errorf("GET to fc1: %q, want prefix %q", out, want)
		}
	})
}

// mapped asks agent a for its address as seen by dst.
func mapped(t *testing.T, a *tstest.Child, dst netip.AddrPort) netip.AddrPort {
	t.Helper()
	got := a.Do("map " + dst.String())
	s, ok := strings.CutPrefix(got, "mapped ")
	if !ok {
		t.Fatalf("%s: map %v: %s", a.Name(), dst, got)
	}
	return netip.MustParseAddrPort(s)
}

func expectAnswer(t *testing.T, h *tstest.Child, cmd, want string) {
	t.Helper()
	if got := h.Do(cmd); got != want {
		t.Fatalf("%s: %s: %s, want %s", h.Name(), cmd, got, want)
	}
}

// punchWindow is how long each side of a punch keeps trying.
const punchWindow = 2 * time.Second

// punch has hosts a and b learn their mapped endpoints from the rendezvous
// server and then send to each other at the same time, and reports whether
// both had a punch acknowledged by the other.
func punch(t *testing.T, lab *Lab, a, b string, rendezvous netip.AddrPort) (bool, time.Duration) {
	t.Helper()
	ha := startHelper(t, lab, a, "udp", fmt.Sprintf("0.0.0.0:%d", agentPort))
	hb := startHelper(t, lab, b, "udp", fmt.Sprintf("0.0.0.0:%d", agentPort))
	ma, mb := mapped(t, ha, rendezvous), mapped(t, hb, rendezvous)
	start := time.Now()
	ha.Send(fmt.Sprintf("punch %s %d", mb, punchWindow.Milliseconds()))
	hb.Send(fmt.Sprintf("punch %s %d", ma, punchWindow.Milliseconds()))
	ra, rb := ha.Next(), hb.Next()
	elapsed := time.Since(start)
	ha.Stop()
	hb.Stop()
	ok := strings.HasPrefix(ra, "punch ok") && strings.HasPrefix(rb, "punch ok")
	if !ok {
		t.Logf("punch %s (mapped %v): %s; %s (mapped %v): %s", a, ma, ra, b, mb, rb)
	}
	return ok, elapsed
}

func TestCloseRemovesEverything(t *testing.T) {
	// The lab runs no goroutines of its own, and the helper's end with it.
	tstest.CheckGoroutines(t)
	lab := newTestLab(t, []HostConfig{
		{Name: "pub"},
		{Name: "fc", NAT: NATFullCone, Port: 7000},
		{Name: "sym", NAT: NATSymmetric},
	})
	prefix := lab.Prefix()
	if _, err := os.Stat(statePath(prefix)); err != nil {
		t.Fatalf("state file: %v", err)
	}
	names := netnsList(t, prefix)
	if len(names) != 6 {
		t.Fatalf("namespaces %v, want 6 (inet, 3 hosts, 2 routers)", names)
	}
	// A process left running in the lab is killed by Close.
	stray := startHelper(t, lab, "sym", "udp", "0.0.0.0:7000")
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stray.Done():
	case <-time.After(tstest.DefaultChildTimeout):
		t.Fatal("a process in the lab survived Close")
	}
	if left := netnsList(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left after Close: %v", left)
	}
	if _, err := os.Stat(statePath(prefix)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file after Close: %v", err)
	}
	if err := lab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := lab.Command("pub", "true").Run(); !errors.Is(err, ErrClosed) {
		t.Errorf("Command after Close: %v, want ErrClosed", err)
	}
}

// netnsList returns the lab's namespaces as `ip netns list` shows them.
func netnsList(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names
}

func TestCleanupStaleAfterCrash(t *testing.T) {
	requireLab(t)
	// A child process builds a lab and is killed before it can Close.
	owner := tstest.StartChild(t, "owner", tstest.ChildConfig{Mode: "make-lab"})
	prefix := owner.Next()
	t.Cleanup(func() { Cleanup(context.Background(), nil, prefix) })
	if len(netnsList(t, prefix)) == 0 {
		t.Fatalf("lab %s has no namespaces", prefix)
	}
	owner.Kill()
	if len(netnsList(t, prefix)) == 0 {
		t.Fatalf("lab %s vanished with its owner; nothing to test", prefix)
	}
	stale, err := CleanupStale(context.Background(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range stale {
		found = found || p == prefix
	}
	if !found {
		// Only another process's New or CleanupStale, running at the same
		// moment, may have removed it first; then it is gone all the same.
		t.Logf("CleanupStale removed %v, not the crashed lab %s", stale, prefix)
	}
	if left := netnsList(t, prefix); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
	if _, err := os.Stat(statePath(prefix)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file left: %v", err)
	}
}

func TestCleanupStaleSparesLiveLabs(t *testing.T) {
	lab := newTestLab(t, []HostConfig{{Name: "a"}})
	stale, err := CleanupStale(context.Background(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if p == lab.Prefix() {
			t.Fatalf("CleanupStale removed a live lab %s", p)
		}
	}
	if len(netnsList(t, lab.Prefix())) != 2 {
		t.Errorf("live lab lost namespaces")
	}
}

// A New that fails half-way, here because its context expires, leaves no
// namespace and no state file behind.
func TestNewFailingHalfWayLeavesNothing(t *testing.T) {
	requireLab(t)
	own := prefixHead + strconv.FormatInt(int64(os.Getpid()), 36) + "-"
	failed := 0
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		lab, err := New(ctx, Config{Hosts: natLabHosts, Logger: testLogger(t)})
		cancel()
		if err == nil {
			t.Logf("New finished within %v", d)
			if err := lab.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		failed++
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("New with %v: %v, want context.DeadlineExceeded", d, err)
		}
		for _, dir := range []string{netnsDir, StateDir} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), own) {
					t.Errorf("New with %v (%v) left %s/%s", d, err, dir, e.Name())
				}
			}
		}
	}
	if failed == 0 {
		t.Error("no New failed; nothing was tested")
	}
}

func BenchmarkNewClose(b *testing.B) {
	if err := Available(); err != nil {
		b.Skipf("skipping: needs root with ip (iproute2) and nft (nftables): %v", err)
	}
	for _, n := range []int{1, 4, 16} {
		// n hosts behind each kind of NAT, and one public host.
		hosts := []HostConfig{{Name: "server"}}
		for i := range n {
			hosts = append(hosts,
				HostConfig{Name: fmt.Sprintf("fc%d", i), NAT: NATFullCone, Port: agentPort},
				HostConfig{Name: fmt.Sprintf("pr%d", i), NAT: NATPortRestricted},
				HostConfig{Name: fmt.Sprintf("sym%d", i), NAT: NATSymmetric},
			)
		}
		b.Run(fmt.Sprintf("hosts=%d", len(hosts)), func(b *testing.B) {
			var up, down time.Duration
			for b.Loop() {
				start := time.Now()
				lab, err := New(context.Background(), Config{Hosts: hosts})
				if err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := lab.Close(); err != nil {
					b.Fatal(err)
				}
				up += mid.Sub(start)
				down += time.Since(mid)
			}
			b.ReportMetric(float64(up.Milliseconds())/float64(b.N), "ms-up/op")
			b.ReportMetric(float64(down.Milliseconds())/float64(b.N), "ms-down/op")
		})
	}
}
