package testnet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/testnet/netlab"
)

// ScenarioNATMatrix connects a consumer behind each NAT kind to a provider
// behind each NAT kind, in network namespaces (`testnet run --netns`).
const ScenarioNATMatrix = "nat-matrix"

// observers is how many public observer nodes the lab runs besides the
// relay: go-libp2p trusts an observed address only after 4 distinct
// observers saw it (the relay is the fourth).
const observers = 3

// ChildEnv is set in the environment of lab child processes; test binaries
// use it to act as `mystp2p testnet node`.
const ChildEnv = "MYSTP2P_TESTNET_CHILD"

// childOutputGrace is how long a child's output is still read after it
// exited: a process it started may hold its standard output or error open.
const childOutputGrace = 5 * time.Second

// childProc is a running lab node. A reader keeps every event the child
// prints until wait takes it, however many nobody waits for: neither the
// child (blocked writing to a full pipe) nor the reader (blocked handing
// an event over) ever waits for the parent, so stop always returns.
type childProc struct {
	name   string
	cmd    *exec.Cmd
	stderr *tailBuffer

	mu     sync.Mutex
	queue  []childEvent  // read and not yet taken by wait, oldest first
	more   chan struct{} // closed and replaced when queue grows; closed when exited
	exited bool
	err    error // cmd.Wait's, once exited

	done chan struct{} // closed once the child has exited and its output is read
}

// startChild runs `<exe> testnet node <args>` in host and reads its events.
func startChild(ctx context.Context, lab *netlab.Lab, exe, host string, args []string) (*childProc, error) {
	cmd := lab.CommandContext(ctx, host, exe, append([]string{"testnet", "node"}, args...)...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	return runChild(host, cmd)
}

// runChild starts cmd, a lab node named name, and reads its events.
func runChild(name string, cmd *exec.Cmd) (*childProc, error) {
	c := &childProc{name: name, cmd: cmd, stderr: &tailBuffer{max: 256 << 10},
		more: make(chan struct{}), done: make(chan struct{})}
	// A pipe of our own rather than cmd.StdoutPipe: Wait may then run
	// while the output is read, and the read end closed if something
	// the child started keeps the write end open.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = pw
	cmd.Stderr = c.stderr
	cmd.WaitDelay = childOutputGrace
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close() // the child has its own copy
	read := make(chan struct{})
	go func() {
		defer close(read)
		c.read(pr)
	}()
	go func() {
		err := cmd.Wait()
		t := time.NewTimer(childOutputGrace)
		select {
		case <-read:
		case <-t.C:
		}
		t.Stop()
		pr.Close()
		<-read
		c.mu.Lock()
		c.exited, c.err = true, err
		close(c.more)
		c.mu.Unlock()
		close(c.done)
	}()
	return c, nil
}

// read queues every event on r until it ends; other lines are ignored.
func (c *childProc) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		var ev childEvent
		if json.Unmarshal(line, &ev) == nil && ev.Event != "" {
			c.mu.Lock()
			c.queue = append(c.queue, ev)
			close(c.more)
			c.more = make(chan struct{})
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// wait returns the child's next event of kind, dropping the events before
// it, or why there is none.
func (c *childProc) wait(ctx context.Context, kind string, within time.Duration) (childEvent, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		c.mu.Lock()
		for len(c.queue) > 0 {
			ev := c.queue[0]
			c.queue[0] = childEvent{}
			c.queue = c.queue[1:]
			if ev.Event == kind {
				c.mu.Unlock()
				return ev, nil
			}
		}
		exited, more := c.exited, c.more
		c.mu.Unlock()
		if exited {
			return childEvent{}, fmt.Errorf("%s exited before %q: %s", c.name, kind, c.stderr.String())
		}
		select {
		case <-more:
		case <-t.C:
			return childEvent{}, fmt.Errorf("%s: no %q within %s: %s", c.name, kind, within, c.stderr.String())
		case <-ctx.Done():
			return childEvent{}, ctx.Err()
		}
	}
}

// stop interrupts the child, kills it if it has not exited 5 s later, and
// returns once it has exited and its output is read. It may be called
// more than once.
func (c *childProc) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tailBuffer keeps the last max bytes written (a child's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// NATMatrixConfig configures the namespace scenario.
type NATMatrixConfig struct {
	// Exe is the mystp2p binary to run in each namespace (default: this one).
	Exe  string
	NATs []netlab.NAT
	// ConsumerNATs are the consumers' NATs (default: NATs, plus
	// udp-blocked when NATs is the default too).
	ConsumerNATs []netlab.NAT
	FetchBytes   int64
	// Logger hears progress; Debug adds every node's stderr to it.
	Logger io.Writer
	Debug  bool
	// TUN makes every consumer use a kernel TUN device instead of SOCKS5.
	TUN bool
}

// RunNATMatrix builds a lab (root only), starts a relay, an origin, and a
// provider and a consumer behind each NAT kind, then has every consumer
// connect to every provider and fetch from the origin through SOCKS5.
func RunNATMatrix(ctx context.Context, cfg NATMatrixConfig) (_ *Report, err error) {
	if err := netlab.Available(); err != nil {
		return nil, err
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	if len(cfg.NATs) == 0 {
		cfg.NATs = netlab.NATs
		if len(cfg.ConsumerNATs) == 0 {
			cfg.ConsumerNATs = append(slices.Clone(netlab.NATs), netlab.NATUDPBlocked)
		}
	}
	if len(cfg.ConsumerNATs) == 0 {
		cfg.ConsumerNATs = cfg.NATs
	}
	if cfg.FetchBytes == 0 {
		cfg.FetchBytes = 4 << 20
	}
	logw := cfg.Logger
	if logw == nil {
		logw = io.Discard
	}
	begin := time.Now()
	hosts := []netlab.HostConfig{{Name: "relay"}, {Name: "origin"}}
	for i := range observers {
		hosts = append(hosts, netlab.HostConfig{Name: fmt.Sprintf("obs-%d", i+1)})
	}
	port := func(n netlab.NAT) uint16 {
		if n == netlab.NATFullCone {
			return LabPort
		}
		return 0
	}
	for _, n := range cfg.NATs {
		hosts = append(hosts, netlab.HostConfig{Name: "p-" + string(n), NAT: n, Port: port(n)})
	}
	for _, n := range cfg.ConsumerNATs {
		hosts = append(hosts, netlab.HostConfig{Name: "c-" + string(n), NAT: n, Port: port(n)})
	}
	lab, err := netlab.New(ctx, netlab.Config{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	var ranges []string
	for _, p := range netlab.InternetPrefixes() {
		ranges = append(ranges, p.String())
	}
	common := []string{"--lab-ranges", strings.Join(ranges, ",")}
	if cfg.Debug {
		common = append(common, "--log-level", "debug")
	}
	var children []*childProc
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	start := func(host string, args ...string) (*childProc, error) {
		c, err := startChild(ctx, lab, cfg.Exe, host, append(args, common...))
		if err == nil {
			children = append(children, c)
		}
		return c, err
	}

	relayProc, err := start("relay", "--role", RoleRelay, "--public")
	if err != nil {
		return nil, err
	}
	rev, err := relayProc.wait(ctx, "ready", 30*time.Second)
	if err != nil {
		return nil, err
	}
	relayAddr := fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", lab.Addr("relay"), LabPort, rev.ID)
	boot := []string{relayAddr}
	// The relay's TCP address, for a consumer on a network that drops UDP.
	relayTCP := fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", lab.Addr("relay"), LabPort, rev.ID)
	for i := range observers {
		host := fmt.Sprintf("obs-%d", i+1)
		o, err := start(host, "--role", RoleObserver, "--public", "--bootstrap", relayAddr)
		if err != nil {
			return nil, err
		}
		ev, err := o.wait(ctx, "ready", 30*time.Second)
		if err != nil {
			return nil, err
		}
		boot = append(boot, fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", lab.Addr(host), LabPort, ev.ID))
	}
	common = append(common, "--relay", relayAddr, "--bootstrap", strings.Join(boot, ","))
	originProc, err := start("origin", "--role", RoleOrigin, "--public")
	if err != nil {
		return nil, err
	}
	if _, err := originProc.wait(ctx, "ready", 30*time.Second); err != nil {
		return nil, err
	}
	origin := fmt.Sprintf("http://%s/", lab.Addr("origin"))

	providers := map[netlab.NAT]string{}
	for _, n := range cfg.NATs {
		args := []string{"--role", RoleProvider}
		if n == netlab.NATNone {
			args = append(args, "--public")
		}
		p, err := start("p-"+string(n), args...)
		if err != nil {
			return nil, err
		}
		ev, err := p.wait(ctx, "ready", 45*time.Second)
		if err != nil {
			return nil, err
		}
		providers[n] = ev.ID
		fmt.Fprintf(logw, "provider behind %s: %s %v\n", n, ev.ID, ev.Addrs)
	}

	rep := &Report{Scenario: ScenarioNATMatrix, Nodes: Nodes{Providers: len(cfg.NATs), Consumers: len(cfg.ConsumerNATs), Relays: 1}}
	// Consumers behind different NATs run in parallel; each runs its pairs
	// one after another (one consumer process per pair).
	results := make([][]SessionResult, len(cfg.ConsumerNATs))
	var wg sync.WaitGroup
	for ci, cn := range cfg.ConsumerNATs {
		wg.Go(func() {
			for _, pn := range cfg.NATs {
				args := []string{"--role", RoleConsumer, "--provider", providers[pn],
					"--origin", origin, "--fetch-bytes", fmt.Sprint(cfg.FetchBytes),
					"--consumer-nat", string(cn), "--provider-nat", string(pn)}
				if cn == netlab.NATNone {
					args = append(args, "--public")
				}
				if cfg.TUN {
					args = append(args, "--tun", "mystp2p0")
				}
				r := SessionResult{ConsumerNAT: string(cn), ProviderNAT: string(pn)}
				args = append(args, common...)
				if cn == netlab.NATUDPBlocked {
					// The last --bootstrap wins: the same list and the
					// relay's TCP address.
					args = append(args, "--bootstrap", strings.Join(append(slices.Clone(boot), relayTCP), ","))
				}
				c, err := startChild(ctx, lab, cfg.Exe, "c-"+string(cn), args)
				if err == nil {
					var ev childEvent
					ev, err = c.wait(ctx, "result", 90*time.Second)
					if err == nil && ev.Result != nil {
						r = *ev.Result
					}
					c.stop()
					if cfg.Debug {
						fmt.Fprintf(logw, "--- consumer %s→%s stderr:\n%s\n", cn, pn, c.stderr.String())
					}
				}
				if err != nil {
					r.Error = err.Error()
				}
				results[ci] = append(results[ci], r)
			}
		})
	}
	wg.Wait()
	// Every session must leave the internet at its provider.
	for _, rs := range results {
		for i := range rs {
			r := &rs[i]
			want := lab.PublicAddr("p-" + r.ProviderNAT).String()
			if r.OK && r.ExitAddr != want {
				r.OK = false
				r.Error = fmt.Sprintf("the origin saw %q, not the provider's %s", r.ExitAddr, want)
			}
		}
	}
	if cfg.Debug {
		for _, c := range children {
			fmt.Fprintf(logw, "--- %s stderr:\n%s\n", c.name, c.stderr.String())
		}
	}
	for _, rs := range results {
		rep.Sessions = append(rep.Sessions, rs...)
	}
	judgeMatrix(rep)
	rep.finish(begin)
	return rep, nil
}

// MustGoDirect says whether the nat-matrix requires a pair to end up
// direct: every pair with UDP, except two symmetric NATs. Pairs a
// simultaneous open cannot get through (netlab.DirectPathPossible) with one
// symmetric side go direct by a birthday punch.
func MustGoDirect(a, b netlab.NAT) bool {
	if a == netlab.NATUDPBlocked || b == netlab.NATUDPBlocked {
		return false
	}
	return a != netlab.NATSymmetric || b != netlab.NATSymmetric
}

// judgeMatrix applies the nat-matrix pass rules: every pair ok; every pair
// but symmetric↔symmetric (and those without UDP) is direct; no direct
// session's tunnel bytes crossed a relay.
func judgeMatrix(rep *Report) {
	ok, direct, wantDirect, leaked := 0, 0, 0, 0
	var failed []string
	for _, s := range rep.Sessions {
		pair := s.ConsumerNAT + "→" + s.ProviderNAT
		if s.OK {
			ok++
		} else {
			failed = append(failed, pair+": "+s.Error)
		}
		if MustGoDirect(netlab.NAT(s.ConsumerNAT), netlab.NAT(s.ProviderNAT)) {
			wantDirect++
			if s.OK && s.Path == "direct" {
				direct++
			} else {
				failed = append(failed, pair+": not direct")
			}
		}
		if s.Path == "direct" && s.RelayBytes != 0 {
			leaked++
		}
	}
	rep.check("every pair connects and fetches", ok == len(rep.Sessions), "%d of %d", ok, len(rep.Sessions))
	rep.check("every pair but symmetric↔symmetric is direct", direct == wantDirect, "%d of %d", direct, wantDirect)
	rep.check("no direct session crossed a relay", leaked == 0, "%d leaked", leaked)
	if len(failed) > 0 {
		rep.check("failures", false, "%s", strings.Join(failed, "; "))
	}
	connectGoal(rep)
}

// connectGoalMS is issue 10's target: SOCKS5 ready within 1.5 s of the
// start of a connect, for every pair.
const connectGoalMS = 1500

// connectGoal reports the slowest connect against connectGoalMS.
func connectGoal(rep *Report) {
	var worst SessionResult
	for _, s := range rep.Sessions {
		if s.OK && s.ConnectMS > worst.ConnectMS {
			worst = s
		}
	}
	if worst.ConnectMS == 0 {
		return
	}
	rep.goal(fmt.Sprintf("every pair ready within %d ms", connectGoalMS), worst.ConnectMS <= connectGoalMS,
		"slowest %.0f ms (%s→%s, %s)", worst.ConnectMS, worst.ConsumerNAT, worst.ProviderNAT, worst.Path)
}
