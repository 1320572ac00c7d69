package server

import (
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
)

// Limits are a provider's bandwidth controls; zero means unlimited.
//
// The rates are token buckets in the exit's forwarding path (TCP and UDP,
// each direction on its own): a session's bytes wait in its own bucket
// and in the one all sessions share. The monthly cap counts the tunnel's
// bytes (tunnel.Stats, both directions) once a second: at the cap, new
// sessions are refused with session.RejectMonthlyCap and live ones end,
// their consumers told why on their next ping. A session may run over the
// cap by what it moves in that second.
type Limits struct {
	SessionRate int64 // bytes per second per session, each direction
	TotalRate   int64 // bytes per second over all sessions, each direction
	MonthlyCap  int64 // bytes per calendar month (UTC), both directions summed
}

func (l Limits) validate() error {
	if l.SessionRate < 0 || l.TotalRate < 0 || l.MonthlyCap < 0 {
		return fmt.Errorf("server: limits must not be negative (0 is unlimited): session rate %d, total rate %d, monthly cap %d",
			l.SessionRate, l.TotalRate, l.MonthlyCap)
	}
	return nil
}

// Limits are the bandwidth controls in force.
func (s *Server) Limits() Limits {
	s.limits.Lock()
	defer s.limits.Unlock()
	return s.limits.cur
}

// SetLimits changes the bandwidth controls; live sessions obey the new
// rates at once. A negative value is an error and changes nothing. A cap
// at or below the month's usage ends the live sessions before SetLimits
// returns (paying ones after their final invoice).
func (s *Server) SetLimits(l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	s.limits.Lock()
	s.limits.cur = l
	// Buckets only reject negative rates, checked above.
	_ = s.totalUp.SetRate(l.TotalRate)
	_ = s.totalDown.SetRate(l.TotalRate)
	for _, ps := range s.snapshot() {
		_ = ps.up.SetRate(l.SessionRate)
		_ = ps.down.SetRate(l.SessionRate)
	}
	s.limits.Unlock()
	s.publishLimits(l)
	s.log.Info("limits set", "session_rate", l.SessionRate, "total_rate", l.TotalRate, "monthly_cap", l.MonthlyCap)
	s.enforceCap()
	return nil
}

func (s *Server) publishLimits(l Limits) {
	s.met.RateLimit.WithLabelValues("session").Set(float64(l.SessionRate))
	s.met.RateLimit.WithLabelValues("total").Set(float64(l.TotalRate))
	s.met.MonthlyCap.Set(float64(l.MonthlyCap))
}

// SetMaxSessions changes the bound on concurrent sessions. Sessions above
// a lowered bound keep going; new ones are refused until fewer remain.
func (s *Server) SetMaxSessions(n int) error {
	if n <= 0 {
		return fmt.Errorf("server: max sessions %d must be positive", n)
	}
	s.table.Lock()
	s.table.max = n
	s.table.Unlock()
	s.met.MaxSessions.Set(float64(n))
	return nil
}

// MaxSessions is the bound on concurrent sessions in force.
func (s *Server) MaxSessions() int {
	s.table.Lock()
	defer s.table.Unlock()
	return s.table.max
}

// SetPolicy makes new sessions, and the new flows of live ones, obey p.
func (s *Server) SetPolicy(p *tunnel.ExitPolicy) error {
	if p == nil {
		return errors.New("server: nil exit policy")
	}
	s.policy.Store(p)
	for _, ps := range s.snapshot() {
		if tun := ps.tunnel(); tun != nil {
			_ = tun.SetPolicy(p) // p is not nil: it cannot fail
		}
	}
	return nil
}

// Policy is the exit policy in force.
func (s *Server) Policy() *tunnel.ExitPolicy { return s.policy.Load() }

// MonthUsage is the month-to-date traffic the monthly cap applies to, and
// the start of that month (UTC).
func (s *Server) MonthUsage() (used int64, month time.Time) {
	return s.usage.get(s.now())
}

// SessionInfo describes one live session.
type SessionInfo struct {
	ID       string
	Consumer peer.ID
	// Path is "direct" or "relayed"; Transport the WireGuard transport.
	Path, Transport string
	Obfuscated      bool
	// BytesUp went from the consumer to the internet, BytesDown back
	// (tunnel bytes, as tunnel.Stats counts them).
	BytesUp, BytesDown uint64
	Started            time.Time
	// Earned is what the hermes accepted as paid so far, in base units;
	// nil for a free session.
	Earned *big.Int
	// Hermes is the peer ID of the hub the session pays through, "" if free.
	Hermes string
}

// Sessions is a snapshot of the live (not closing) sessions.
func (s *Server) Sessions() []SessionInfo {
	all := s.snapshot()
	out := make([]SessionInfo, 0, len(all))
	for _, ps := range all {
		if info, ok := ps.info(); ok {
			out = append(out, info)
		}
	}
	return out
}

// snapshot lists the sessions in the table.
func (s *Server) snapshot() []*provSession {
	s.table.Lock()
	defer s.table.Unlock()
	all := make([]*provSession, 0, len(s.table.byID))
	for _, ps := range s.table.byID {
		all = append(all, ps)
	}
	return all
}

// capReached reports whether the monthly cap is set and used up, and the
// refusal that says so.
func (s *Server) capReached() (session.Reply, bool) {
	limit := s.Limits().MonthlyCap
	if limit == 0 {
		return session.Reply{}, false
	}
	used, month := s.usage.get(s.now())
	if used < limit {
		return session.Reply{}, false
	}
	next := month.AddDate(0, 1, 0)
	return session.Reject(session.RejectMonthlyCap, "this provider reached its monthly traffic cap (%d of %d bytes this month, until %s); try another provider",
		used, limit, next.Format(time.DateOnly)), true
}

// account adds what ps moved since it was last accounted to the month's
// usage and to the metrics.
func (s *Server) account(ps *provSession, st tunnel.Stats, inv hermesFigures) {
	ps.acct.Lock()
	defer ps.acct.Unlock()
	up, down := st.RxBytes-ps.acct.up, st.TxBytes-ps.acct.down
	if st.RxBytes < ps.acct.up || st.TxBytes < ps.acct.down { // a new tunnel cannot happen; stay safe
		up, down = 0, 0
	}
	ps.acct.up, ps.acct.down = max(ps.acct.up, st.RxBytes), max(ps.acct.down, st.TxBytes)
	path := string(ps.currentPath())
	if up > 0 {
		s.met.SessionBytes.WithLabelValues(overlay.RoleProvider, overlay.DirectionUp, path).Add(float64(up))
	}
	if down > 0 {
		s.met.SessionBytes.WithLabelValues(overlay.RoleProvider, overlay.DirectionDown, path).Add(float64(down))
	}
	s.met.MonthUsage.Set(float64(s.usage.add(s.now(), int64(up+down))))
	if inv.paid == nil {
		return
	}
	if d := inv.promises - ps.acct.promises; d > 0 {
		s.met.Promises.Add(float64(d))
		ps.acct.promises = inv.promises
	}
	if ps.acct.paid == nil {
		ps.acct.paid = new(big.Int)
	}
	if d := new(big.Int).Sub(inv.paid, ps.acct.paid); d.Sign() > 0 {
		s.met.Earned.WithLabelValues(ps.pay.hub.Address().Hex()).Add(wholeTokens(d))
		ps.acct.paid.Set(inv.paid)
	}
}

// wholeTokens converts base units (10^-18 token) to a float of tokens.
func wholeTokens(v *big.Int) float64 {
	f, _ := new(big.Rat).SetFrac(v, big.NewInt(1e18)).Float64()
	return f
}

// hermesFigures are a paying session's invoicer figures; paid is nil for
// a free session.
type hermesFigures struct {
	paid     *big.Int
	promises int
}

// accountAll accounts every live session, then enforces the cap and
// writes the month's count now and then.
func (s *Server) accountAll() {
	for _, ps := range s.snapshot() {
		if st, inv, ok := ps.sample(); ok {
			s.account(ps, st, inv)
		}
	}
	s.enforceCap()
	if err := s.usage.flush(s.now(), false); err != nil {
		s.log.Warn("monthly usage not saved", "err", err)
	}
}

// enforceCap ends every live session once the monthly cap is reached.
func (s *Server) enforceCap() {
	rej, reached := s.capReached()
	if !reached {
		return
	}
	all := s.snapshot()
	if len(all) == 0 {
		return
	}
	if err := s.usage.flush(s.now(), true); err != nil {
		s.log.Warn("monthly usage not saved", "err", err)
	}
	s.log.Warn("monthly traffic cap reached: ending every session", "sessions", len(all), "cap", s.Limits().MonthlyCap)
	s.dropAll(all, ending{outcome: overlay.OutcomeMonthlyCap, code: rej.Code, why: rej.Message})
}
