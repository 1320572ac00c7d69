package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mystp2p/mystp2p/testnet/netlab"
)

// ScenarioFailover kills the provider a consumer's SOCKS5 traffic runs
// through, then that provider's successor and the relay together, and
// measures how long SOCKS5 is out each time
// (`testnet run --netns --scenario failover`).
const ScenarioFailover = "failover"

// failoverWithin is the pass rule: SOCKS5 works again through another
// provider within this long of the kill.
const failoverWithin = 5 * time.Second

// failoverSOCKS is the consumer's SOCKS5 address in its namespace: fixed,
// so the probe loop shows the listener stays the same across the move.
const failoverSOCKS = "127.0.0.1:1080"

// FailoverConfig configures the failover scenario.
type FailoverConfig struct {
	// Exe is the mystp2p binary to run in each namespace (default: this one).
	Exe string
	// Providers is how many providers there are (default and least: 3; two
	// are killed).
	Providers int
	// Logger hears progress; Debug adds every node's stderr to it.
	Logger io.Writer
	Debug  bool
}

// FailoverRound is one kill and the consumer's recovery.
type FailoverRound struct {
	Name string `json:"name"`
	// Killed are the lab hosts killed (SIGKILL) at once.
	Killed []string `json:"killed"`
	From   string   `json:"from_provider"`
	To     string   `json:"to_provider,omitempty"`
	// DetectMS is from the kill to the consumer's session ending;
	// RecoveredMS to the first fetch through the same SOCKS5 listener that
	// worked again.
	DetectMS    float64 `json:"detect_ms"`
	RecoveredMS float64 `json:"recovered_ms"`
	Error       string  `json:"error,omitempty"`
}

// FailoverReport is the failover scenario's report.
type FailoverReport struct {
	Report
	Rounds []FailoverRound `json:"rounds"`
}

// RunFailover builds the lab (root only): a relay, an origin and public
// providers on the lab's internet, and a consumer behind a port-restricted
// NAT running `connect --auto-reconnect`'s loop (client.Consume) with a
// probe fetching through its SOCKS5 listener every 100 ms. Round one kills
// the consumer's provider; round two kills its new provider and the relay.
func RunFailover(ctx context.Context, cfg FailoverConfig) (_ *FailoverReport, err error) {
	if err := netlab.Available(); err != nil {
		return nil, err
	}
	if cfg.Exe == "" {
		if cfg.Exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cfg.Providers = max(cfg.Providers, 3)
	logw := cfg.Logger
	if logw == nil {
		logw = io.Discard
	}
	begin := time.Now()
	hosts := []netlab.HostConfig{{Name: "relay"}, {Name: "origin"}}
	for i := range cfg.Providers {
		hosts = append(hosts, netlab.HostConfig{Name: fmt.Sprintf("p-%d", i+1)})
	}
	hosts = append(hosts, netlab.HostConfig{Name: "consumer", NAT: netlab.NATPortRestricted})
	lab, err := netlab.New(ctx, netlab.Config{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	labRanges := netlab.InternetPrefixes()
	var ranges []string
	for _, p := range labRanges {
		ranges = append(ranges, p.String())
	}
	procs := map[string]*childProc{}
	defer func() {
		for _, c := range procs {
			c.stop()
		}
		if cfg.Debug {
			for name, c := range procs {
				fmt.Fprintf(logw, "--- %s stderr:\n%s\n", name, c.stderr.String())
			}
		}
	}()
	relayProc, err := startChild(ctx, lab, cfg.Exe, "relay", []string{"--role", RoleRelay, "--public", "--lab-ranges", strings.Join(ranges, ",")})
	if err != nil {
		return nil, err
	}
	procs["relay"] = relayProc
	rev, err := relayProc.wait(ctx, "ready", 30*time.Second)
	if err != nil {
		return nil, err
	}
	bootstrap := []string{
		fmt.Sprintf("/ip4/%s/udp/%d/quic-v1/p2p/%s", lab.Addr("relay"), LabPort, rev.ID),
		fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", lab.Addr("relay"), LabPort, rev.ID),
	}
	originProc, err := startChild(ctx, lab, cfg.Exe, "origin", []string{"--role", RoleOrigin, "--public"})
	if err != nil {
		return nil, err
	}
	procs["origin"] = originProc
	if _, err := originProc.wait(ctx, "ready", 30*time.Second); err != nil {
		return nil, err
	}
	start := func(host string, cc CensorChildConfig, stdin *os.File) (*childProc, error) {
		cc.LabRanges, cc.Debug = labRanges, cfg.Debug
		b, _ := json.Marshal(cc)
		cmd := lab.CommandContext(ctx, host, cfg.Exe, "testnet", CensorChildCommand, string(b))
		cmd.Env = append(os.Environ(), ChildEnv+"=1")
		cmd.Stdin = stdin
		return runChild(host, cmd)
	}
	hostOf := map[string]string{} // provider peer ID to lab host
	for i := range cfg.Providers {
		host := fmt.Sprintf("p-%d", i+1)
		p, err := start(host, CensorChildConfig{Role: censorRoleProvider, Bootstrap: bootstrap}, nil)
		if err != nil {
			return nil, err
		}
		procs[host] = p
		ev, err := p.wait(ctx, "ready", 45*time.Second)
		if err != nil {
			return nil, err
		}
		hostOf[ev.ID] = host
	}
	// Let every provider's announcement reach every DHT server (providers
	// re-announce every 10 s in this lab).
	select {
	case <-time.After(12 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pw.Close()
	cons, err := start("consumer", CensorChildConfig{Role: failoverRoleConsumer, Bootstrap: bootstrap,
		Origin: fmt.Sprintf("http://%s/", lab.Addr("origin"))}, pr)
	pr.Close()
	if err != nil {
		return nil, err
	}
	procs["consumer"] = cons
	ev, err := cons.wait(ctx, "ready", 60*time.Second)
	if err != nil {
		return nil, err
	}
	current := ev.ID
	fmt.Fprintf(logw, "consumer fetching through %s (%s)\n", hostOf[current], current)

	rep := &FailoverReport{Report: Report{Scenario: ScenarioFailover, Nodes: Nodes{Providers: cfg.Providers, Consumers: 1, Relays: 1}}}
	for i, round := range []struct {
		name  string
		relay bool
	}{{"provider killed", false}, {"provider and relay killed", true}} {
		// A few seconds of steady fetching first.
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r := FailoverRound{Name: round.name, From: current, Killed: []string{hostOf[current]}}
		if round.relay {
			r.Killed = append(r.Killed, "relay")
		}
		for _, host := range r.Killed {
			if p := procs[host]; p != nil {
				_ = p.cmd.Process.Kill()
			}
		}
		if _, err := io.WriteString(pw, "killed\n"); err != nil {
			return nil, err
		}
		fmt.Fprintf(logw, "round %d: killed %v\n", i+1, r.Killed)
		for _, host := range r.Killed {
			if p := procs[host]; p != nil {
				<-p.done
			}
		}
		if ev, err := cons.wait(ctx, "ended", 60*time.Second); err == nil {
			r.DetectMS = ev.MS
		} else {
			r.Error = err.Error()
		}
		if r.Error == "" {
			if ev, err := cons.wait(ctx, "recovered", 60*time.Second); err == nil {
				r.RecoveredMS, r.To, current = ev.MS, ev.ID, ev.ID
			} else {
				r.Error = err.Error()
			}
		}
		pass := r.Error == "" && r.To != "" && r.To != r.From && r.RecoveredMS <= float64(failoverWithin.Milliseconds())
		rep.check(fmt.Sprintf("round %d: %s", i+1, r.Name), pass, "SOCKS5 back after %.0f ms (session ended after %.0f ms) via %s, want ≤ %s%s",
			r.RecoveredMS, r.DetectMS, hostOf[r.To], failoverWithin, errSuffix(r.Error))
		rep.Rounds = append(rep.Rounds, r)
		if r.Error != "" {
			break
		}
	}
	rep.finish(begin)
	return rep, nil
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": " + e
}

// WriteJSON writes the report to path.
func (r *FailoverReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteTable prints one line per round, then the checks.
func (r *FailoverReport) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "round\tkilled\tsession ended ms\tSOCKS5 back ms\tfrom\tto")
	for i, rd := range r.Rounds {
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.0f\t%s\t%s\n", i+1, strings.Join(rd.Killed, "+"), rd.DetectMS, rd.RecoveredMS, short(rd.From), short(rd.To))
	}
	tw.Flush()
	r.Report.WriteTable(w)
}

func short(id string) string {
	if len(id) > 12 {
		return "…" + id[len(id)-8:]
	}
	return id
}
