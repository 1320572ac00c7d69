package overlay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeMetrics are a node's session counters. They exist (unregistered) even
// when no registry is given, so the code that counts needs no nil checks.
type nodeMetrics struct {
	sessions *prometheus.CounterVec // role, path, transport
	upgrades prometheus.Counter
	rejected *prometheus.CounterVec // code
}

func newNodeMetrics(reg prometheus.Registerer, active func() float64) (*nodeMetrics, error) {
	m := &nodeMetrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_total",
			Help: "Sessions whose tunnel came up, by role, path (direct or relayed) and WireGuard transport.",
		}, []string{"role", "path", "transport"}),
		upgrades: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mystp2p_session_upgrades_total",
			Help: "Relayed sessions moved to a direct hole-punched path.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mystp2p_sessions_rejected_total",
			Help: "Session requests this provider refused, by reason.",
		}, []string{"code"}),
	}
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.sessions, m.upgrades, m.rejected,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mystp2p_provider_sessions_active",
			Help: "Sessions this provider is serving now.",
		}, active),
	}
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
