package overlay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's session counters, shared by its session server and
// client. They exist (unregistered) even when no registry is given, so the
// code that counts needs no nil checks.
type Metrics struct {
	// Sessions counts sessions whose tunnel came up, by role, path and transport.
	Sessions *prometheus.CounterVec
	// Upgrades counts relayed sessions moved to a direct path.
	Upgrades prometheus.Counter
	// Rejected counts refused session requests, by reject code.
	Rejected *prometheus.CounterVec
	// Active is the number of sessions this provider serves now.
	Active prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_total",
			Help: "Sessions whose tunnel came up, by role, path (direct or relayed) and WireGuard transport.",
		}, []string{"role", "path", "transport"}),
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
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.Sessions, m.Upgrades, m.Rejected, m.Active}
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
