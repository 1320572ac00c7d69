package tunnel

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a session's traffic, as seen by one end.
//
// Bytes are counted at the tunnel interface: whole inner IP packets,
// headers included, excluding WireGuard's own overhead and keepalives.
// Both ends therefore count the same packets (up to loss in flight), which
// lets the consumer check the provider's invoices against its own figures.
type Stats struct {
	// TxBytes and TxPackets went from this end into the tunnel.
	TxBytes, TxPackets uint64
	// RxBytes and RxPackets came out of the tunnel at this end.
	RxBytes, RxPackets uint64
	// Started is when the session endpoint was created.
	Started time.Time
	// Duration is the time from Started until now, or until Close.
	Duration time.Duration
}

// TotalBytes is the sum of both directions, the figure per-GiB prices
// apply to.
func (s Stats) TotalBytes() uint64 { return s.TxBytes + s.RxBytes }

// meter counts packets and bytes with atomics so that Stats can be read at
// any time from any goroutine while traffic flows.
type meter struct {
	txBytes, txPackets atomic.Uint64
	rxBytes, rxPackets atomic.Uint64
	now                func() time.Time
	started            time.Time

	mu      sync.Mutex
	stopped time.Time // guarded by mu; zero while running
}

func newMeter(now func() time.Time) *meter {
	return &meter{now: now, started: now()}
}

func (m *meter) addTx(n int) {
	m.txBytes.Add(uint64(n))
	m.txPackets.Add(1)
}

func (m *meter) addRx(n int) {
	m.rxBytes.Add(uint64(n))
	m.rxPackets.Add(1)
}

// stop freezes Duration; later calls keep the first stop time.
func (m *meter) stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped.IsZero() {
		m.stopped = m.now()
	}
}

func (m *meter) stats() Stats {
	m.mu.Lock()
	end := m.stopped
	m.mu.Unlock()
	if end.IsZero() {
		end = m.now()
	}
	return Stats{
		TxBytes:   m.txBytes.Load(),
		TxPackets: m.txPackets.Load(),
		RxBytes:   m.rxBytes.Load(),
		RxPackets: m.rxPackets.Load(),
		Started:   m.started,
		Duration:  end.Sub(m.started),
	}
}
