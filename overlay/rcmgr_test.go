package overlay

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// The resource manager admits more connections than the connection
// manager keeps: a relay (high watermark 4000) used to refuse its 250th
// peer at libp2p's default of 256 inbound connections.
func TestResourceManagerFollowsHighWatermark(t *testing.T) {
	for _, c := range []struct {
		low, high, want int
	}{
		{0, 0, 500}, // the default watermarks, 100/400
		{2000, 4000, 5000},
	} {
		h := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/udp/0/quic-v1"}, ConnLow: c.low, ConnHigh: c.high})
		err := h.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
			sl, ok := s.(rcmgr.ResourceScopeLimiter)
			if !ok {
				t.Fatalf("system scope %T has no limit to read", s)
			}
			l := sl.Limit()
			if in, all := l.GetConnLimit(network.DirInbound), l.GetConnTotalLimit(); in < c.want || all < c.want {
				t.Errorf("high watermark %d: the system scope admits %d inbound and %d connections in all, want at least %d", c.high, in, all, c.want)
			}
			if st := l.GetStreamLimit(network.DirInbound); st < 4*c.want {
				t.Errorf("high watermark %d: %d inbound streams, want at least %d", c.high, st, 4*c.want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
