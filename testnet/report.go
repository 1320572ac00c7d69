package testnet

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the machine-readable result every scenario writes.
type Report struct {
	Scenario  string           `json:"scenario"`
	Pass      bool             `json:"pass"`
	Nodes     Nodes            `json:"nodes"`
	Discovery *DiscoveryResult `json:"discovery,omitempty"`
	Sessions  []SessionResult  `json:"sessions,omitempty"`
	// Load sums the sessions scenario's concurrent downloads.
	Load     *LoadResult     `json:"load,omitempty"`
	Payments *PaymentsResult `json:"payments,omitempty"`
	Checks   []Check         `json:"checks"`
	// Goals are performance targets, measured on whatever machine ran the
	// scenario: reported, never part of Pass.
	Goals      []Goal `json:"goals,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	// MemoryMiB is the process's peak resident memory (VmHWM).
	MemoryMiB float64 `json:"memory_mib"`
}

// Nodes counts the network's nodes by role.
type Nodes struct {
	Providers int `json:"providers"`
	Consumers int `json:"consumers"`
	Relays    int `json:"relays"`
}

// DiscoveryResult is the time from a provider's start to its proposal being
// visible at the consumer.
type DiscoveryResult struct {
	Expected int     `json:"expected"`
	Found    int     `json:"found"`
	P50MS    float64 `json:"p50_ms"`
	P95MS    float64 `json:"p95_ms"`
	MaxMS    float64 `json:"max_ms"`
	// PacedMS is how long the starts waited, in all, for the process to
	// catch up (see loadGate); it is not in any provider's time.
	PacedMS int64 `json:"paced_ms"`
	// ProposalTTLS is the providers' proposal TTL in seconds (the provider
	// the vanishing check stops may have a shorter one).
	ProposalTTLS float64 `json:"proposal_ttl_s"`
	// MemoryPerNodeMiB is the peak memory over every node of the run.
	MemoryPerNodeMiB float64 `json:"memory_per_node_mib"`
}

// LoadResult is the sessions scenario's download phase: every session
// connected first, then all started downloading at once.
type LoadResult struct {
	Sessions int `json:"sessions"`
	// Finished counts the sessions that downloaded every byte.
	Finished int `json:"finished"`
	// Bytes is what all sessions downloaded.
	Bytes int64 `json:"bytes"`
	// WallMS is from the common start to the last download's end.
	WallMS float64 `json:"wall_ms"`
	// AggregateMbps is Bytes over WallMS.
	AggregateMbps float64 `json:"aggregate_mbps"`
	// WorstMbps is the slowest session's throughput (0 if one failed).
	WorstMbps float64 `json:"worst_mbps"`
	// ContendedMS is the window in which every session was downloading:
	// from the common start to the first download's end.
	ContendedMS float64 `json:"contended_ms"`
	// MinShare is the least any session got in that window as a fraction
	// of its fair share (the window's bytes over the sessions); 1 is fair.
	MinShare float64 `json:"min_share"`
	// MaxDialMS is the slowest download's connection to open, before the
	// common start (SessionResult.DialMS).
	MaxDialMS float64 `json:"max_dial_ms"`
	// MaxFirstByteMS is the slowest session's first bytes, from the start.
	MaxFirstByteMS float64 `json:"max_first_byte_ms"`
	// MaxStallMS is the longest any download went without bytes after
	// its first.
	MaxStallMS float64 `json:"max_stall_ms"`
}

// Check is one named assertion of a scenario.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail,omitempty"`
}

// Goal is one performance target and whether this run met it.
type Goal struct {
	Name   string `json:"name"`
	Met    bool   `json:"met"`
	Detail string `json:"detail,omitempty"`
}

func (r *Report) goal(name string, met bool, format string, a ...any) {
	r.Goals = append(r.Goals, Goal{Name: name, Met: met, Detail: fmt.Sprintf(format, a...)})
}

func (r *Report) check(name string, pass bool, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Pass: pass, Detail: fmt.Sprintf(format, a...)})
}

func (r *Report) finish(start time.Time) {
	r.DurationMS = time.Since(start).Milliseconds()
	r.MemoryMiB = peakRSSMiB()
	r.Pass = len(r.Checks) > 0
	for _, c := range r.Checks {
		r.Pass = r.Pass && c.Pass
	}
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable prints a short human summary.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	verdict := "FAIL"
	if r.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(tw, "scenario\t%s\t%s\n", r.Scenario, verdict)
	fmt.Fprintf(tw, "nodes\t%d providers, %d consumers, %d relays\t\n", r.Nodes.Providers, r.Nodes.Consumers, r.Nodes.Relays)
	if d := r.Discovery; d != nil {
		fmt.Fprintf(tw, "discovery\tfound %d/%d\tp50 %.0f ms  p95 %.0f ms  max %.0f ms\n", d.Found, d.Expected, d.P50MS, d.P95MS, d.MaxMS)
		fmt.Fprintf(tw, "\t\tstarts paced %.1f s  memory %.1f MiB per node  proposal TTL %.0f s\n", float64(d.PacedMS)/1000, d.MemoryPerNodeMiB, d.ProposalTTLS)
	}
	for _, s := range r.Sessions {
		status := "ok"
		if !s.OK {
			status = "FAILED " + s.Error
		}
		direct := ""
		if s.DirectMS > 0 {
			direct = fmt.Sprintf("  direct at %.0f ms", s.DirectMS)
		}
		fmt.Fprintf(tw, "session\t%s→%s %s/%s\tconnect %.0f ms%s  %d bytes  %.0f Mbit/s  %s\n",
			s.ConsumerNAT, s.ProviderNAT, s.Path, s.Transport, s.ConnectMS, direct, s.Bytes, s.ThroughputMbps, status)
	}
	if l := r.Load; l != nil {
		fmt.Fprintf(tw, "load\t%d/%d sessions finished, %d bytes in %.0f ms\taggregate %.1f Mbit/s  worst %.1f Mbit/s  least share %.2f of fair in the first %.0f ms  connections open in %.0f ms  first bytes by %.0f ms  longest stall %.0f ms\n",
			l.Finished, l.Sessions, l.Bytes, l.WallMS, l.AggregateMbps, l.WorstMbps, l.MinShare, l.ContendedMS, l.MaxDialMS, l.MaxFirstByteMS, l.MaxStallMS)
	}
	if p := r.Payments; p != nil {
		fmt.Fprintf(tw, "payments\t%d hermes, %d sessions, %d invoices, %d promises\tspent %s = settled %s + fees %s + unsettled %s (mismatch %s)\n",
			p.Hermes, p.Sessions, p.Invoices, p.Promises, p.ConsumerSpent, p.ProviderSettled, p.HermesFees, p.Unsettled, p.Mismatch)
	}
	for _, c := range r.Checks {
		mark := "ok"
		if !c.Pass {
			mark = "FAILED"
		}
		fmt.Fprintf(tw, "check\t%s\t%s  %s\n", c.Name, mark, c.Detail)
	}
	for _, g := range r.Goals {
		mark := "met"
		if !g.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(tw, "goal\t%s\t%s  %s\n", g.Name, mark, g.Detail)
	}
	fmt.Fprintf(tw, "took\t%.1f s\tpeak memory %.0f MiB\n", float64(r.DurationMS)/1000, r.MemoryMiB)
	tw.Flush()
}

// percentile of sorted-in-place ms values (nearest rank).
func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	slices.Sort(ms)
	i := int(p*float64(len(ms))+0.999999) - 1
	return ms[max(0, min(i, len(ms)-1))]
}

func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb float64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// mbps is n bytes in d as megabits per second.
func mbps(n int64, d time.Duration) float64 { return float64(n) * 8 / d.Seconds() / 1e6 }
