package wgpath

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// probeListeners hand probe-sized datagrams that are neither QUIC nor
// WireGuard to the birthday punches in progress on a mux.
type probeListeners struct {
	mu   sync.Mutex // serialises writers
	fns  atomic.Pointer[map[uint64]func(netip.AddrPort, []byte)]
	next uint64
}

// hear offers b from from to every listener; it reports whether any
// listened. Listeners check the probe themselves and must not block.
func (l *probeListeners) hear(from netip.AddrPort, b []byte) bool {
	fns := l.fns.Load()
	if fns == nil || len(*fns) == 0 {
		return false
	}
	for _, fn := range *fns {
		fn(from, b)
	}
	return true
}

// listenProbes adds fn until stop is called.
func (m *Mux) listenProbes(fn func(from netip.AddrPort, b []byte)) (stop func(), err error) {
	select {
	case <-m.ctx.Done():
		return nil, ErrMuxClosed
	default:
	}
	l := &m.probes
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.next
	l.next++
	l.swap(func(fns map[uint64]func(netip.AddrPort, []byte)) { fns[id] = fn })
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.swap(func(fns map[uint64]func(netip.AddrPort, []byte)) { delete(fns, id) })
	}, nil
}

// swap replaces the listener map with an edited copy; l.mu is held.
func (l *probeListeners) swap(edit func(map[uint64]func(netip.AddrPort, []byte))) {
	fns := make(map[uint64]func(netip.AddrPort, []byte))
	if cur := l.fns.Load(); cur != nil {
		for k, v := range *cur {
			fns[k] = v
		}
	}
	edit(fns)
	l.fns.Store(&fns)
}

// writeTo sends one datagram from the mux's socket.
func (m *Mux) writeTo(b []byte, to netip.AddrPort) error {
	select {
	case <-m.ctx.Done():
		return ErrMuxClosed
	default:
	}
	_, err := m.conn.WriteToUDPAddrPort(b, to)
	return err
}
