package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mystp2p/mystp2p/overlay/role"
)

// statusReport is what `status --json` prints: the node's status and, by
// role, its live sessions or its consumer session.
type statusReport struct {
	Node     role.NodeStatus      `json:"node"`
	Sessions []role.SessionRow    `json:"sessions,omitempty"`
	Consumer *role.ConsumerStatus `json:"consumer,omitempty"`
}

func cmdStatus(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "status", "status [--data-dir DIR] [--json]")
	var idf idFlags
	idf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (amounts in base units, bytes as counts)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var rep statusReport
	err := callLocalAPI(ctx, idf.dataDir, http.MethodGet, "/v1/status", nil, &rep.Node)
	var se *apiStatusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return fmt.Errorf("the node running with data dir %s is a relay or a hermes hub: status shows providers and consumers (see its log and metrics)", idf.dataDir)
	}
	if err != nil {
		return noNodeHint(err, idf.dataDir)
	}
	switch {
	case hasRole(rep.Node, "consumer"):
		var c role.ConsumerStatus
		if err := callLocalAPI(ctx, idf.dataDir, http.MethodGet, "/v1/consumer/status", nil, &c); err != nil {
			return noNodeHint(err, idf.dataDir)
		}
		rep.Consumer = &c
	case hasRole(rep.Node, "provider"):
		rep.Sessions = []role.SessionRow{}
		if err := callLocalAPI(ctx, idf.dataDir, http.MethodGet, "/v1/sessions", nil, &rep.Sessions); err != nil {
			return noNodeHint(err, idf.dataDir)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(e, rep)
	return nil
}

// noNodeHint says how to start a node when none runs on dataDir.
func noNodeHint(err error, dataDir string) error {
	if errors.Is(err, errNoAPI) {
		return fmt.Errorf("no node is running with data dir %s: start `mystp2p provide` or `mystp2p connect` (with --data-dir %s)", dataDir, dataDir)
	}
	return err
}

func hasRole(st role.NodeStatus, r string) bool {
	for _, x := range st.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func printStatus(e env, rep statusReport) {
	n := rep.Node
	fmt.Fprintf(e.stdout, "%s %s, up %s, version %s\n", strings.Join(n.Roles, "+"), n.PeerID,
		(time.Duration(n.UptimeSeconds) * time.Second).String(), n.Version)
	nat := "unknown"
	if len(n.NAT) > 0 {
		var parts []string
		for _, proto := range []string{"udp", "tcp"} {
			if k, ok := n.NAT[proto]; ok {
				parts = append(parts, proto+" "+k)
			}
		}
		nat = strings.Join(parts, ", ")
	}
	fmt.Fprintf(e.stdout, "reachability %s, NAT %s, %d peers, transports %s\n", n.Reachability, nat, n.Peers, orNone(n.Transports))
	if len(n.Relays) > 0 {
		fmt.Fprintf(e.stdout, "relays: %s\n", strings.Join(n.Relays, ", "))
	}
	if c := rep.Consumer; c != nil {
		if c.State != "connected" {
			fmt.Fprintf(e.stdout, "no session: %s since %s", c.State, c.Since.Format(time.TimeOnly))
			if c.LastError != "" {
				fmt.Fprintf(e.stdout, " (last error: %s)", c.LastError)
			}
			fmt.Fprintf(e.stdout, "; spent %s tokens this run\n", tokenString(c.SpentTotal))
			return
		}
		since := ""
		if c.ConnectedSince != nil {
			since = time.Since(*c.ConnectedSince).Round(time.Second).String()
		}
		fmt.Fprintf(e.stdout, "session %s with provider %s for %s\n", c.Session, c.Provider, since)
		fmt.Fprintf(e.stdout, "  path %s, transport %s, obfuscation %s\n", c.Path, c.Transport, c.Obfuscation)
		fmt.Fprintf(e.stdout, "  %s up, %s down; spent %s tokens (%s this run)\n", byteCount(c.BytesUp), byteCount(c.BytesDown),
			tokenString(c.Spent), tokenString(c.SpentTotal))
		return
	}
	if !hasRole(n, "provider") {
		return
	}
	if len(rep.Sessions) == 0 {
		fmt.Fprintln(e.stdout, "no live sessions")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONSUMER\tPATH\tTRANSPORT\tUP\tDOWN\tFOR\tEARNED")
	for _, s := range rep.Sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Consumer, s.Path, s.Transport, byteCount(s.BytesUp), byteCount(s.BytesDown),
			(time.Duration(s.DurationSeconds) * time.Second).String(), tokenString(s.Earned))
	}
	fmt.Fprintln(tw, "(UP: consumer to the internet; EARNED in tokens)")
	tw.Flush()
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

// byteCount prints n bytes in binary units.
func byteCount(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
