package tunnel

import (
	"fmt"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// switchBind is the bind a session hands to WireGuard. It forwards to one
// transport at a time and lets the session move to another (relayed →
// direct) without restarting WireGuard or the network stack, so open
// connections survive. The switch itself is WireGuard's BindUpdate: it
// closes the current transport and opens the next one.
type switchBind struct {
	mu   sync.Mutex
	cur  conn.Bind // guarded by mu
	next conn.Bind // guarded by mu; becomes cur on the next Open
}

var _ conn.Bind = (*switchBind)(nil)

func newSwitchBind(b conn.Bind) *switchBind { return &switchBind{cur: b} }

func (s *switchBind) current() conn.Bind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *switchBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	s.mu.Lock()
	if s.next != nil {
		s.cur, s.next = s.next, nil
	}
	b := s.cur
	s.mu.Unlock()
	return b.Open(port)
}

func (s *switchBind) Close() error              { return s.current().Close() }
func (s *switchBind) SetMark(mark uint32) error { return s.current().SetMark(mark) }
func (s *switchBind) Endpoint() string          { return bindEndpoint(s.current()) }
func (s *switchBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	return s.current().Send(bufs, ep)
}
func (s *switchBind) ParseEndpoint(e string) (conn.Endpoint, error) {
	return s.current().ParseEndpoint(e)
}

// BatchSize is fixed: WireGuard sizes some buffers once, and the
// transports of this package accept any batch.
func (s *switchBind) BatchSize() int { return deviceBatchSize }

// switchTo makes dev move from its current transport to b. endpoint is the
// peer's endpoint on b ("" for binds with a single peer).
func (s *switchBind) switchTo(dev *device.Device, peer PublicKey, b conn.Bind, endpoint string) error {
	if b == nil {
		return fmt.Errorf("%w: nil bind", ErrInvalidConfig)
	}
	if endpoint == "" {
		endpoint = bindEndpoint(b)
	}
	s.mu.Lock()
	s.next = b
	s.mu.Unlock()
	if err := dev.BindUpdate(); err != nil {
		return fmt.Errorf("switch transport: %w", err)
	}
	if endpoint == "" {
		return nil
	}
	if err := dev.IpcSet(fmt.Sprintf("public_key=%s\nupdate_only=true\nendpoint=%s\n", peer.Hex(), endpoint)); err != nil {
		return fmt.Errorf("switch transport: set endpoint: %w", err)
	}
	return nil
}
