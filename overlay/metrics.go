package overlay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's session, payment and provider-limit metrics, shared
// by its session server and client. They exist (unregistered) even when no
// registry is given, so the code that counts needs no nil checks.
// docs/METRICS.md lists every series and its labels.
//
// Label values: role is "provider" or "consumer"; path is "direct" or
// "relayed"; transport is a wgpath.Transport; direction is "up" (from the
// consumer towards the internet) or "down" (back to the consumer), the
// same at both ends so that their figures compare.
type Metrics struct {
	// Sessions counts sessions whose tunnel came up, by role, path and transport.
	Sessions *prometheus.CounterVec
	// SessionsEnded counts sessions that ended, by role, path, transport
	// and outcome (an Outcome* constant).
	SessionsEnded *prometheus.CounterVec
	// SessionBytes counts tunnel bytes (inner IP packets, as tunnel.Stats
	// counts them) by role, direction and path. The provider's session
	// server feeds the provider side; the consumer side is fed by the
	// session client from its tunnel's Stats.
	SessionBytes *prometheus.CounterVec
	// ConnectSeconds is the time from asking a provider for a session to
	// a tunnel that carries traffic, by path and transport (consumer side).
	ConnectSeconds *prometheus.HistogramVec
	// Upgrades counts relayed sessions moved to a direct path.
	Upgrades prometheus.Counter
	// Rejected counts refused session requests, by reject code.
	Rejected *prometheus.CounterVec
	// BirthdayPunches counts birthday punch rounds (a relayed session with
	// one symmetric NAT), by role, this end's side ("sockets" or "spray")
	// and outcome ("ok" or "failed").
	BirthdayPunches *prometheus.CounterVec
	// Active is the number of sessions this provider serves now.
	Active prometheus.Gauge

	// Invoices counts invoices a provider sent, by result: "paid" (the
	// consumer answered with a valid payment) or "failed".
	Invoices *prometheus.CounterVec
	// Promises counts hermes promises a provider received and stored.
	Promises prometheus.Counter
	// Earned counts what the hermes accepted as paid to this provider, by
	// hermes address, in whole tokens (a float: 1 token = 10^18 base
	// units; the books in the store stay exact).
	Earned *prometheus.CounterVec
	// HermesExchange is how long a provider's exchanges of a consumer's
	// payment for a hermes promise took, by result ("ok" or "failed").
	HermesExchange *prometheus.HistogramVec

	// MonthUsage is the provider's month-to-date traffic (both directions,
	// UTC calendar month), the figure its monthly cap applies to.
	MonthUsage prometheus.Gauge
	// MonthlyCap is the configured monthly cap in bytes (0: none).
	MonthlyCap prometheus.Gauge
	// RateLimit is the configured rate limit in bytes per second, by
	// scope ("session" or "total"; 0: unlimited).
	RateLimit *prometheus.GaugeVec
	// MaxSessions is the configured bound on concurrent sessions.
	MaxSessions prometheus.Gauge
}

// Outcomes of a session, the outcome label of SessionsEnded.
const (
	OutcomeClosed     = "closed"      // the consumer closed it
	OutcomeTimeout    = "timeout"     // the other end stopped answering
	OutcomeNotPaying  = "not_paying"  // the consumer stopped paying
	OutcomeMonthlyCap = "monthly_cap" // the provider's monthly cap was reached
	OutcomeStopping   = "stopping"    // this node shut down
	OutcomeFailed     = "failed"      // the tunnel could not be built or broke
)

// Role label values.
const (
	RoleProvider = "provider"
	RoleConsumer = "consumer"
)

// Direction label values of SessionBytes.
const (
	DirectionUp   = "up"
	DirectionDown = "down"
)

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_total",
			Help: "Sessions whose tunnel came up, by role, path (direct or relayed) and WireGuard transport.",
		}, []string{"role", "path", "transport"}),
		SessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_ended_total",
			Help: "Sessions that ended, by role, path, WireGuard transport and outcome.",
		}, []string{"role", "path", "transport", "outcome"}),
		SessionBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_session_bytes_total",
			Help: "Tunnel bytes (inner IP packets) by role, direction (up: consumer to internet, down: back) and path.",
		}, []string{"role", "direction", "path"}),
		ConnectSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mystp2p_connect_seconds",
			Help:    "Time from asking a provider for a session to a working tunnel, by path and transport.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60},
		}, []string{"path", "transport"}),
		BirthdayPunches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_birthday_punches_total",
			Help: "Birthday punch rounds for relayed sessions with one symmetric NAT, by role, side (sockets or spray) and outcome (ok or failed).",
		}, []string{"role", "side", "outcome"}),
		Upgrades: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mystp2p_session_upgrades_total",
			Help: "Relayed sessions moved to a direct hole-punched path.",
		}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_rejected_total",
			Help: "Session requests this provider refused, by reason.",
		}, []string{"code"}),
		Active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mystp2p_provider_sessions_active",
			Help: "Sessions this provider is serving now.",
		}),
		Invoices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_invoices_total",
			Help: "Invoices this provider sent its consumers, by result (paid or failed).",
		}, []string{"result"}),
		Promises: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mystp2p_promises_total",
			Help: "Hermes promises this provider received and stored.",
		}),
		Earned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_earned_tokens_total",
			Help: "What hermes hubs accepted as paid to this provider, in whole tokens (10^18 base units), by hermes address.",
		}, []string{"hermes"}),
		HermesExchange: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mystp2p_hermes_exchange_seconds",
			Help:    "Time to exchange a consumer's payment for a hermes promise, by result (ok or failed).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		MonthUsage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mystp2p_provider_month_usage_bytes",
			Help: "This provider's traffic in the current UTC calendar month, both directions.",
		}),
		MonthlyCap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mystp2p_provider_monthly_cap_bytes",
			Help: "The configured monthly traffic cap (0: none).",
		}),
		RateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mystp2p_provider_rate_limit_bytes_per_second",
			Help: "The configured rate limit, each direction, by scope (session or total; 0: unlimited).",
		}, []string{"scope"}),
		MaxSessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mystp2p_provider_max_sessions",
			Help: "The configured bound on concurrent sessions.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.Sessions, m.SessionsEnded, m.SessionBytes, m.ConnectSeconds, m.Upgrades, m.BirthdayPunches, m.Rejected,
		m.Active, m.Invoices, m.Promises, m.Earned, m.HermesExchange, m.MonthUsage, m.MonthlyCap, m.RateLimit, m.MaxSessions}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}
