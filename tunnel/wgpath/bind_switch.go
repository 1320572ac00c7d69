package wgpath

import (
	"encoding/hex"
	"fmt"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// SwitchBind is the bind a session hands to WireGuard. It forwards to one
// transport at a time and lets the session move to another (relayed →
// direct) without restarting WireGuard or the network stack, so open
// connections survive. The switch itself is WireGuard's BindUpdate: it
// closes the current transport and opens the next one.
type SwitchBind struct {
	batchSize int
	mu        sync.Mutex
	cur       conn.Bind // guarded by mu
	next      conn.Bind // guarded by mu; becomes cur on the next Open
}

var _ conn.Bind = (*SwitchBind)(nil)

// NewSwitchBind returns a switch bind that starts on b. batchSize is what
// BatchSize reports for the bind's whole life: WireGuard sizes some buffers
// once, so pass the device's batch size; the binds of this package accept
// any batch.
func NewSwitchBind(b conn.Bind, batchSize int) *SwitchBind {
	return &SwitchBind{cur: b, batchSize: batchSize}
}

func (s *SwitchBind) current() conn.Bind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Open implements conn.Bind; it first moves to the bind SwitchTo chose.
func (s *SwitchBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	s.mu.Lock()
	if s.next != nil {
		s.cur, s.next = s.next, nil
	}
	b := s.cur
	s.mu.Unlock()
	return b.Open(port)
}

// Close implements conn.Bind.
func (s *SwitchBind) Close() error { return s.current().Close() }

// SetMark implements conn.Bind.
func (s *SwitchBind) SetMark(mark uint32) error { return s.current().SetMark(mark) }

// Endpoint is the single peer of the current bind, if it has one.
func (s *SwitchBind) Endpoint() string { return BindEndpoint(s.current()) }

// Send implements conn.Bind.
func (s *SwitchBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	return s.current().Send(bufs, ep)
}

// ParseEndpoint implements conn.Bind.
func (s *SwitchBind) ParseEndpoint(e string) (conn.Endpoint, error) {
	return s.current().ParseEndpoint(e)
}

// BatchSize implements conn.Bind: it is fixed at NewSwitchBind.
func (s *SwitchBind) BatchSize() int { return s.batchSize }

// SwitchTo makes dev move from its current transport to next. peer is the
// public key of dev's one peer; endpoint is the peer's endpoint on next
// ("" for binds with a single peer).
func (s *SwitchBind) SwitchTo(dev *device.Device, peer [32]byte, next conn.Bind, endpoint string) error {
	if next == nil {
		return fmt.Errorf("%w: nil bind", ErrInvalidConfig)
	}
	if endpoint == "" {
		endpoint = BindEndpoint(next)
	}
	s.mu.Lock()
	s.next = next
	s.mu.Unlock()
	if err := dev.BindUpdate(); err != nil {
		return fmt.Errorf("switch transport: %w", err)
	}
	if endpoint == "" {
		return nil
	}
	if err := dev.IpcSet(fmt.Sprintf("public_key=%s\nupdate_only=true\nendpoint=%s\n", hex.EncodeToString(peer[:]), endpoint)); err != nil {
		return fmt.Errorf("switch transport: set endpoint: %w", err)
	}
	return nil
}

// Endpointer is implemented by binds that know their single peer (UDPBind,
// PipeBind, a PeerBind of the Mux); a session uses it when the caller gives
// no endpoint string.
type Endpointer interface{ Endpoint() string }

// BindEndpoint returns the single peer of binds that have one, or "".
func BindEndpoint(b conn.Bind) string {
	if e, ok := b.(Endpointer); ok {
		return e.Endpoint()
	}
	return ""
}
