package overlay

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A node's host counts hole punches on the metrics registry it is given:
// libp2p's basic host adds the hole-punch metrics tracer itself when
// metrics are on, so the node needs none of its own.
func TestHolePunchMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := NewHost(HostConfig{Identity: mustID(t), Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "libp2p_holepunch_") {
			got = append(got, mf.GetName())
		}
	}
	for _, want := range []string{"libp2p_holepunch_outcomes_total", "libp2p_holepunch_address_outcomes_total"} {
		if !slices.Contains(got, want) {
			t.Errorf("the host's registry lacks %s (has %v)", want, got)
		}
	}
}
