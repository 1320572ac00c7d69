package wgpath

import (
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
)

// WireStats counts what crossed a bind: encrypted WireGuard datagrams,
// handshakes and keepalives included.
type WireStats struct {
	TxBytes, TxPackets uint64
	RxBytes, RxPackets uint64
}

// MeteredBind wraps a conn.Bind and counts the WireGuard packets it carries,
// so that a session owner can tell how many bytes went over each path (for
// example "relayed" versus "direct") independently of the tunnel's inner
// Stats. Counters are atomic and can be read at any time.
type MeteredBind struct {
	conn.Bind
	txBytes, txPackets atomic.Uint64
	rxBytes, rxPackets atomic.Uint64
}

var _ conn.Bind = (*MeteredBind)(nil)

// NewMeteredBind wraps b.
func NewMeteredBind(b conn.Bind) *MeteredBind { return &MeteredBind{Bind: b} }

// Stats returns the counts so far.
func (m *MeteredBind) Stats() WireStats {
	return WireStats{
		TxBytes: m.txBytes.Load(), TxPackets: m.txPackets.Load(),
		RxBytes: m.rxBytes.Load(), RxPackets: m.rxPackets.Load(),
	}
}

// Endpoint passes on the wrapped bind's single peer, if it has one.
func (m *MeteredBind) Endpoint() string {
	if e, ok := m.Bind.(Endpointer); ok {
		return e.Endpoint()
	}
	return ""
}

// Open implements conn.Bind, counting what the receive functions return.
func (m *MeteredBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, p, err := m.Bind.Open(port)
	if err != nil {
		return nil, p, err
	}
	out := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		out[i] = func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			n, err := fn(bufs, sizes, eps)
			for _, s := range sizes[:n] {
				if s > 0 {
					m.rxBytes.Add(uint64(s))
					m.rxPackets.Add(1)
				}
			}
			return n, err
		}
	}
	return out, p, nil
}

// Send implements conn.Bind, counting what the wrapped bind accepted.
func (m *MeteredBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	if err := m.Bind.Send(bufs, ep); err != nil {
		return err
	}
	for _, b := range bufs {
		m.txBytes.Add(uint64(len(b)))
		m.txPackets.Add(1)
	}
	return nil
}
