package wgpath

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// On loopback nothing filters, so the sockets' probes reach the spraying
// side at once and its answer picks the socket: the exchange itself, both
// directions' checks and the clean-up are what is tested here. The NAT lab
// (testnet, TestNATMatrix) punches through real symmetric and
// port-restricted NATs.
func TestPunchLoopback(t *testing.T) {
	m := newTestMux(t)
	key, err := NewPunchKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	loop := netip.MustParseAddr("127.0.0.1")
	target := netip.AddrPortFrom(loop, m.Port())
	type sprayed struct {
		from netip.AddrPort
		err  error
	}
	got := make(chan sprayed, 1)
	go func() {
		from, err := PunchSpray(ctx, m, key, loop, 64)
		got <- sprayed{from, err}
	}()
	c, err := PunchFromSockets(ctx, key, loop, target, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := c.LocalAddr().(*net.UDPAddr).AddrPort(); r.from != unmapped(want) {
		t.Fatalf("spray heard %s, the winning socket is %s", r.from, want)
	}
	// The punched path carries datagrams both ways.
	if _, err := c.WriteToUDPAddrPort([]byte{0x3f, 1, 2, 3}, target); err != nil {
		t.Fatal(err)
	}
	if err := m.writeTo([]byte("back"), r.from); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no datagram back on the punched socket: %v", err)
		}
		if string(buf[:n]) == "back" {
			break
		}
	}
	if fns := m.probes.fns.Load(); fns != nil && len(*fns) != 0 {
		t.Errorf("%d probe listeners left on the mux", len(*fns))
	}
}

// A probe under another key, a reflected probe (the other direction) and
// junk are ignored: the round times out.
func TestPunchIgnoresForeignProbes(t *testing.T) {
	m := newTestMux(t)
	key, _ := NewPunchKey()
	other, _ := NewPunchKey()
	loop := netip.MustParseAddr("127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := PunchSpray(ctx, m, key, loop, 16)
		done <- err
	}()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := netip.AddrPortFrom(loop, m.Port())
	for ctx.Err() == nil {
		for _, b := range [][]byte{other.probe(probeFromSockets), key.probe(probeFromSpray), make([]byte, ProbeSize)} {
			_, _ = c.WriteToUDPAddrPort(b, to)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-done; !errors.Is(err, ErrPunchFailed) {
		t.Fatalf("spray with only foreign probes: %v, want ErrPunchFailed", err)
	}
}

func TestPunchBadConfig(t *testing.T) {
	m := newTestMux(t)
	key, _ := NewPunchKey()
	ctx := context.Background()
	if _, err := PunchFromSockets(ctx, key, netip.Addr{}, netip.AddrPort{}, 4); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no target: %v", err)
	}
	if _, err := PunchFromSockets(ctx, key, netip.Addr{}, netip.MustParseAddrPort("127.0.0.1:9"), 0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no sockets: %v", err)
	}
	if _, err := PunchSpray(ctx, m, key, netip.Addr{}, 4); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no IP: %v", err)
	}
}

// FuzzPunchProbe: any datagram is judged without panicking, and only a
// probe made under the key for that direction passes.
func FuzzPunchProbe(f *testing.F) {
	key := PunchKey{1, 2, 3}
	f.Add(key.probe(probeFromSockets))
	f.Add(key.probe(probeFromSpray))
	f.Add(make([]byte, ProbeSize))
	f.Add([]byte{0x41})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dir := range []byte{probeFromSockets, probeFromSpray} {
			if key.valid(dir, b) {
				// Forging a tag means breaking HMAC-SHA256: only a real
				// probe gets here, and its first byte is neither QUIC nor
				// WireGuard.
				if classify(b) != kindDrop {
					t.Fatalf("valid probe %x classifies as %v", b, classify(b))
				}
			}
		}
	})
}
