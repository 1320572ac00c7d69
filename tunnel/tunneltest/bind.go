// Package tunneltest provides in-memory test doubles for package tunnel.
package tunneltest

import (
	"net"
	"net/netip"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
)

// queueLen is how many packets each direction buffers before dropping, like
// a full socket buffer would.
const queueLen = 4096

// Bind is one end of an in-memory WireGuard transport made by NewBindPair.
// It behaves like a UDP socket with exactly one peer: Send never blocks
// (packets are dropped when the peer's queue is full), and the bind can be
// closed and reopened as conn.Bind requires.
type Bind struct {
	rx   chan []byte
	peer *Bind
	name string

	mu     sync.Mutex
	closed chan struct{} // guarded by mu; nil until the first Open
}

var _ conn.Bind = (*Bind)(nil)

// NewBindPair returns two connected binds.
func NewBindPair() (a, b *Bind) {
	a = &Bind{rx: make(chan []byte, queueLen), name: "a"}
	b = &Bind{rx: make(chan []byte, queueLen), name: "b"}
	a.peer, b.peer = b, a
	return a, b
}

// Endpoint returns the peer endpoint string; any string works.
func (b *Bind) Endpoint() string { return "mem-" + b.peer.name }

// Open implements conn.Bind.
func (b *Bind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != nil {
		select {
		case <-b.closed:
		default:
			return nil, 0, conn.ErrBindAlreadyOpen
		}
	}
	closed := make(chan struct{})
	b.closed = closed
	recv := func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		select {
		case <-closed:
			return 0, net.ErrClosed
		case p := <-b.rx:
			sizes[0] = copy(bufs[0], p)
			eps[0] = endpoint(b.peer.name)
			return 1, nil
		}
	}
	return []conn.ReceiveFunc{recv}, 1, nil
}

// Close implements conn.Bind.
func (b *Bind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != nil {
		select {
		case <-b.closed:
		default:
			close(b.closed)
		}
	}
	return nil
}

// SetMark implements conn.Bind.
func (b *Bind) SetMark(uint32) error { return nil }

// BatchSize implements conn.Bind.
func (b *Bind) BatchSize() int { return 1 }

// Send implements conn.Bind.
func (b *Bind) Send(bufs [][]byte, _ conn.Endpoint) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed == nil {
		return net.ErrClosed
	}
	select {
	case <-closed:
		return net.ErrClosed
	default:
	}
	for _, p := range bufs {
		select {
		case b.peer.rx <- append([]byte(nil), p...):
		default: // dropped, as a full UDP buffer would
		}
	}
	return nil
}

// ParseEndpoint implements conn.Bind.
func (b *Bind) ParseEndpoint(s string) (conn.Endpoint, error) { return endpoint(s), nil }

type endpoint string

func (e endpoint) ClearSrc()           {}
func (e endpoint) SrcToString() string { return "" }
func (e endpoint) DstToString() string { return string(e) }
func (e endpoint) DstToBytes() []byte  { return []byte(e) }
func (e endpoint) DstIP() netip.Addr   { return netip.Addr{} }
func (e endpoint) SrcIP() netip.Addr   { return netip.Addr{} }
