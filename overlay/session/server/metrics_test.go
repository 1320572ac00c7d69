package server_test

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// metricValue sums the series of metric name in reg whose labels include
// labels: counter and gauge values, a histogram's sample count. A metric
// with no such series is 0.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// A real session's bytes, its end and the provider's limits show on the
// provider's registry, and the series move with the traffic.
func TestSessionMetricsMove(t *testing.T) {
	origin := sizedOrigin(t)
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	reg := prometheus.NewRegistry()
	prov := newTestNode(t, overlay.Config{Host: overlay.HostConfig{Metrics: reg}, Bootstrap: boot})
	ctx := t.Context()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	limits := server.Limits{SessionRate: 8 << 20, TotalRate: 16 << 20, MonthlyCap: 1 << 40}
	if err := serve(t, prov, server.Config{MaxSessions: 3, Policy: loopbackPolicy(t), Limits: limits}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"mystp2p_provider_max_sessions":      3,
		"mystp2p_provider_monthly_cap_bytes": float64(limits.MonthlyCap),
	} {
		if got := metricValue(t, reg, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for scope, want := range map[string]int64{"session": limits.SessionRate, "total": limits.TotalRate} {
		if got := metricValue(t, reg, "mystp2p_provider_rate_limit_bytes_per_second", map[string]string{"scope": scope}); got != float64(want) {
			t.Errorf("rate limit gauge for %s: %v, want %d", scope, got, want)
		}
	}
	srv := serverOf(t, prov)
	if err := srv.SetMaxSessions(2); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "mystp2p_provider_max_sessions", nil); got != 2 {
		t.Errorf("max sessions gauge after SetMaxSessions(2): %v", got)
	}

	cons := newTestNode(t, overlay.Config{Bootstrap: boot})
	s, socks := connectSOCKS(t, cons, sp)
	down := map[string]string{"role": overlay.RoleProvider, "direction": overlay.DirectionDown, "path": "direct"}
	up := map[string]string{"role": overlay.RoleProvider, "direction": overlay.DirectionUp, "path": "direct"}
	var lastDown float64
	for _, size := range []int{200 << 10, 600 << 10} {
		if n, _, err := download(t, socks.Addr(), origin, size); err != nil || n != int64(size) {
			t.Fatalf("downloaded %d of %d: %v", n, size, err)
		}
		tstest.WaitFor(t, 10*time.Second, "the provider's byte counter to count the download", func() bool {
			return metricValue(t, reg, "mystp2p_session_bytes_total", down) >= lastDown+float64(size)
		})
		lastDown = metricValue(t, reg, "mystp2p_session_bytes_total", down)
	}
	if got := metricValue(t, reg, "mystp2p_session_bytes_total", up); got <= 0 || got >= lastDown {
		t.Fatalf("up bytes %v with %v down", got, lastDown)
	}
	if got := metricValue(t, reg, "mystp2p_provider_month_usage_bytes", nil); got < lastDown {
		t.Fatalf("month usage %v, below the %v bytes down", got, lastDown)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 30*time.Second, "the ended session to be counted", func() bool {
		return metricValue(t, reg, "mystp2p_sessions_ended_total",
			map[string]string{"role": overlay.RoleProvider, "outcome": overlay.OutcomeClosed, "path": "direct", "transport": string(s.Transport())}) == 1
	})
	// Every family docs/METRICS.md lists for a provider is registered.
	for _, name := range []string{"mystp2p_sessions_total", "mystp2p_sessions_ended_total", "mystp2p_session_bytes_total",
		"mystp2p_provider_sessions_active", "mystp2p_provider_month_usage_bytes", "mystp2p_provider_monthly_cap_bytes",
		"mystp2p_provider_rate_limit_bytes_per_second", "mystp2p_provider_max_sessions"} {
		if !hasFamily(t, reg, name) {
			t.Errorf("no %s on the provider's registry", name)
		}
	}
}

func hasFamily(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}
