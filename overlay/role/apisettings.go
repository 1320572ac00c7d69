package role

import (
	"fmt"
	"math/big"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/tunnel"
)

// MaxSessionsLimit bounds max_sessions in PUT /v1/settings.
const MaxSessionsLimit = 10_000

// Settings is what GET /v1/settings answers: what a provider may change
// while it runs. Rates are bytes per second, each direction; the cap is
// bytes per UTC month, both directions; 0 is unlimited.
type Settings struct {
	// PriceHour and PriceGiB are the live proposal's prices, base units.
	// They are read-only here (see docs/API.md).
	PriceHour   string        `json:"price_hour"`
	PriceGiB    string        `json:"price_gib"`
	MaxSessions int           `json:"max_sessions"`
	Limits      LimitSettings `json:"limits"`
	// ExitPolicy is the rules the exit policy was built from, in the
	// --exit-policy syntax (allow-private, allow-loopback, deny:CIDR,
	// deny-port:N) on top of the default policy; null when the provider
	// was started without telling them (ProviderConfig.ExitRules) and none
	// were set since.
	ExitPolicy []string   `json:"exit_policy"`
	Usage      MonthUsage `json:"month_usage"`
}

// LimitSettings are the bandwidth controls.
type LimitSettings struct {
	SessionRate int64 `json:"session_rate"`
	TotalRate   int64 `json:"total_rate"`
	MonthlyCap  int64 `json:"monthly_cap"`
}

// MonthUsage is the traffic counted against the monthly cap.
type MonthUsage struct {
	Used  int64     `json:"used"`
	Month time.Time `json:"month"`
}

// SettingsUpdate is PUT /v1/settings's body: every field is optional, and
// what is left out stays as it is. The whole update is checked before any
// of it applies.
type SettingsUpdate struct {
	PriceHour   *string              `json:"price_hour,omitempty"`
	PriceGiB    *string              `json:"price_gib,omitempty"`
	MaxSessions *int                 `json:"max_sessions,omitempty"`
	Limits      *LimitSettingsUpdate `json:"limits,omitempty"`
	ExitPolicy  *[]string            `json:"exit_policy,omitempty"`
}

// LimitSettingsUpdate changes some of the bandwidth controls.
type LimitSettingsUpdate struct {
	SessionRate *int64 `json:"session_rate,omitempty"`
	TotalRate   *int64 `json:"total_rate,omitempty"`
	MonthlyCap  *int64 `json:"monthly_cap,omitempty"`
}

// ParseExitRules builds an exit policy from rules in the --exit-policy
// syntax: allow-private, allow-loopback, deny:CIDR, deny-port:N.
func ParseExitRules(rules []string) (*tunnel.ExitPolicy, error) {
	var opts []tunnel.PolicyOption
	for _, t := range rules {
		kind, val, _ := strings.Cut(t, ":")
		switch kind {
		case "allow-private":
			opts = append(opts, tunnel.WithAllowPrivate())
		case "allow-loopback":
			opts = append(opts, tunnel.WithAllowLoopback())
		case "deny":
			p, err := netip.ParsePrefix(val)
			if err != nil {
				return nil, fmt.Errorf("rule %q: %v (want deny:203.0.113.0/24)", t, err)
			}
			opts = append(opts, tunnel.WithDenyPrefixes(p))
		case "deny-port":
			port, err := strconv.ParseUint(val, 10, 16)
			if err != nil || port == 0 {
				return nil, fmt.Errorf("rule %q: want deny-port:1-65535", t)
			}
			opts = append(opts, tunnel.WithDenyTCPPorts(uint16(port)))
		default:
			return nil, fmt.Errorf("rule %q: want allow-private, allow-loopback, deny:CIDR or deny-port:N", t)
		}
	}
	return tunnel.NewExitPolicy(opts...)
}

// settings serves GET and PUT /v1/settings for a provider's session
// server; rules are the exit rules it started with.
type settings struct {
	p   *Provider
	srv *server.Server

	mu    sync.Mutex // serialises updates; guards rules
	rules []string
}

func (st *settings) get() Settings {
	l := st.srv.Limits()
	used, month := st.srv.MonthUsage()
	out := Settings{MaxSessions: st.srv.MaxSessions(), Limits: LimitSettings{SessionRate: l.SessionRate, TotalRate: l.TotalRate,
		MonthlyCap: l.MonthlyCap}, Usage: MonthUsage{Used: used, Month: month}}
	if sp := st.p.Node.CurrentProposal(); sp != nil {
		out.PriceHour, out.PriceGiB = sp.Proposal.PriceHour, sp.Proposal.PriceGiB
	}
	st.mu.Lock()
	if st.rules != nil {
		out.ExitPolicy = append([]string{}, st.rules...)
	}
	st.mu.Unlock()
	return out
}

// put checks u whole, then applies it.
func (st *settings) put(u SettingsUpdate) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	plan, err := checkUpdate(u, st.now())
	if err != nil {
		return err
	}
	// Checked: apply. The server refuses only what was checked, and the
	// prices, which go first, only a proposal that will not sign.
	if plan.prices {
		if _, err := st.p.Node.SetPrices(plan.priceHour, plan.priceGiB); err != nil {
			return badRequest("prices: %v", err)
		}
	}
	if plan.policy != nil {
		if err := st.srv.SetPolicy(plan.policy); err != nil {
			return err
		}
		st.rules = append([]string{}, *u.ExitPolicy...)
	}
	if plan.limits != nil {
		if err := st.srv.SetLimits(*plan.limits); err != nil {
			return err
		}
	}
	if u.MaxSessions != nil {
		if err := st.srv.SetMaxSessions(*u.MaxSessions); err != nil {
			return err
		}
	}
	return nil
}

// settingsPlan is a checked update: what to set.
type settingsPlan struct {
	policy *tunnel.ExitPolicy
	limits *server.Limits
	// prices says the proposal is re-signed with priceHour and priceGiB.
	prices              bool
	priceHour, priceGiB string
}

// checkUpdate checks u against cur, naming the first bad field.
func checkUpdate(u SettingsUpdate, cur settingsNow) (settingsPlan, error) {
	var plan settingsPlan
	hour, gib := cur.PriceHour, cur.PriceGiB
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"price_hour", u.PriceHour, &hour}, {"price_gib", u.PriceGiB, &gib}} {
		if f.v == nil || *f.v == *f.dst {
			continue
		}
		if cur.PriceHour == "" {
			return plan, badRequest("%s: this provider advertises no offer to price", f.name)
		}
		if v, ok := new(big.Int).SetString(*f.v, 10); !ok || v.Sign() < 0 {
			return plan, badRequest("%s %q: want a whole number of base units (1 token = 10^18), 0 or more", f.name, *f.v)
		}
		*f.dst = *f.v
		plan.prices = true
	}
	plan.priceHour, plan.priceGiB = hour, gib
	if u.MaxSessions != nil && (*u.MaxSessions <= 0 || *u.MaxSessions > MaxSessionsLimit) {
		return plan, badRequest("max_sessions %d: want 1 to %d", *u.MaxSessions, MaxSessionsLimit)
	}
	if u.Limits != nil {
		l := cur.limits
		for _, f := range []struct {
			name string
			v    *int64
			dst  *int64
		}{{"limits.session_rate", u.Limits.SessionRate, &l.SessionRate}, {"limits.total_rate", u.Limits.TotalRate, &l.TotalRate},
			{"limits.monthly_cap", u.Limits.MonthlyCap, &l.MonthlyCap}} {
			if f.v == nil {
				continue
			}
			if *f.v < 0 {
				return plan, badRequest("%s %d: must not be negative (0 is unlimited)", f.name, *f.v)
			}
			*f.dst = *f.v
		}
		plan.limits = &l
	}
	if u.ExitPolicy != nil {
		var err error
		if plan.policy, err = ParseExitRules(*u.ExitPolicy); err != nil {
			return plan, badRequest("exit_policy: %v", err)
		}
	}
	return plan, nil
}

// settingsNow is what put compares an update with.
type settingsNow struct {
	PriceHour, PriceGiB string
	limits              server.Limits
}

func (st *settings) now() settingsNow {
	c := settingsNow{limits: st.srv.Limits()}
	if sp := st.p.Node.CurrentProposal(); sp != nil {
		c.PriceHour, c.PriceGiB = sp.Proposal.PriceHour, sp.Proposal.PriceGiB
	}
	return c
}

// register serves GET and PUT /v1/settings.
func (st *settings) register(rs routes) {
	rs.handle(http.MethodGet, "/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, st.get(), nil)
	})
	rs.handle(http.MethodPut, "/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		var u SettingsUpdate
		if err := decodeJSON(r, &u, false); err != nil {
			writeJSON(w, nil, err)
			return
		}
		if err := st.put(u); err != nil {
			writeJSON(w, nil, err)
			return
		}
		writeJSON(w, st.get(), nil)
	})
}

// sessionRows lists srv's live sessions for GET /v1/sessions.
func sessionRows(srv *server.Server, now time.Time) []SessionRow {
	infos := srv.Sessions()
	rows := make([]SessionRow, 0, len(infos))
	for _, s := range infos {
		earned := "0"
		if s.Earned != nil {
			earned = s.Earned.String()
		}
		rows = append(rows, SessionRow{ID: s.ID, Consumer: s.Consumer.String(), Path: s.Path, Transport: s.Transport,
			Obfuscated: s.Obfuscated, BytesUp: s.BytesUp, BytesDown: s.BytesDown, Started: s.Started,
			DurationSeconds: int64(now.Sub(s.Started).Seconds()), Earned: earned, Hermes: s.Hermes})
	}
	slices.SortFunc(rows, func(a, b SessionRow) int { return a.Started.Compare(b.Started) })
	return rows
}

// trafficMeter turns the live sessions' byte counts into the bytes moved
// since its last call. A session that ended between two calls loses what
// it moved after the earlier one.
type trafficMeter struct {
	srv  *server.Server
	last map[string][2]uint64 // only the recorder's goroutine uses it
}

func (m *trafficMeter) delta() (up, down uint64) {
	next := map[string][2]uint64{}
	for _, s := range m.srv.Sessions() {
		prev := m.last[s.ID]
		if s.BytesUp >= prev[0] {
			up += s.BytesUp - prev[0]
		}
		if s.BytesDown >= prev[1] {
			down += s.BytesDown - prev[1]
		}
		next[s.ID] = [2]uint64{s.BytesUp, s.BytesDown}
	}
	m.last = next
	return up, down
}
