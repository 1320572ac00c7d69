package wgpath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/conn"
)

// listenUDP opens a loopback UDP socket, closed when the test ends.
func listenUDP(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	c.SetWriteBuffer(4 << 20)
	tb.Cleanup(func() { c.Close() })
	return c
}

func recvOne(t *testing.T, fn conn.ReceiveFunc) ([]byte, error) {
	t.Helper()
	bufs := [][]byte{make([]byte, 4096)}
	sizes := []int{0}
	eps := []conn.Endpoint{nil}
	n, err := fn(bufs, sizes, eps)
	if err != nil {
		return nil, err
	}
	if n != 1 || eps[0] == nil {
		t.Fatalf("receive returned n=%d ep=%v", n, eps[0])
	}
	return bufs[0][:sizes[0]], nil
}

func TestPipeBind(t *testing.T) {
	a, b := net.Pipe()
	ba, err := NewPipeBind(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := NewPipeBind(b)
	if err != nil {
		t.Fatal(err)
	}
	// WireGuard closes a bind before it first opens it.
	if err := bb.Close(); err != nil {
		t.Fatal(err)
	}
	fnsB, _, err := bb.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bb.Open(0); !errors.Is(err, conn.ErrBindAlreadyOpen) {
		t.Fatalf("second Open: %v", err)
	}
	ep, _ := ba.ParseEndpoint("anything")
	msgs := [][]byte{bytes.Repeat([]byte{1}, 148), bytes.Repeat([]byte{4}, 1452)}
	go ba.Send(msgs, ep)
	for _, want := range msgs {
		got, err := recvOne(t, fnsB[0])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, %v", len(got), err)
		}
	}
	if err := ba.Send([][]byte{make([]byte, DefaultMaxFrame+1)}, ep); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
	bb.Close()
	if _, err := recvOne(t, fnsB[0]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("receive after Close: %v", err)
	}
	if _, _, err := bb.Open(0); !errors.Is(err, ErrBindClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	<-bb.Done()
	// The peer notices the end of the stream on its next write.
	if err := ba.Send(msgs[:1], ep); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send to a closed stream: %v", err)
	}
	<-ba.Done()
}

func TestPipeBindRejectsHostileFrames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"oversized", binary.BigEndian.AppendUint16(nil, DefaultMaxFrame+1)},
		{"zero length", []byte{0, 0}},
		{"truncated", append(binary.BigEndian.AppendUint16(nil, 100), 1, 2, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			bb, err := NewPipeBind(b)
			if err != nil {
				t.Fatal(err)
			}
			fns, _, err := bb.Open(0)
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				a.Write(tc.frame)
				a.Close()
			}()
			if _, err := recvOne(t, fns[0]); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("err = %v, want net.ErrClosed", err)
			}
			<-bb.Done()
			if bb.Err() == nil {
				t.Fatal("Err() nil after failure")
			}
		})
	}
	if _, err := NewPipeBind(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatal(err)
	}
	a, _ := net.Pipe()
	if _, err := NewPipeBind(a, WithMaxFrame(100)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatal(err)
	}
}

func TestUDPBind(t *testing.T) {
	ca, cb, stranger := listenUDP(t), listenUDP(t), listenUDP(t)
	addrA := ca.LocalAddr().(*net.UDPAddr).AddrPort()
	addrB := cb.LocalAddr().(*net.UDPAddr).AddrPort()
	bb, err := NewUDPBind(cb, addrA)
	if err != nil {
		t.Fatal(err)
	}
	bb.Close() // before Open, as WireGuard does
	fns, port, err := bb.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	if port != addrB.Port() {
		t.Fatalf("port %d, want %d", port, addrB.Port())
	}
	// A datagram from another socket is ignored; the peer's gets through.
	stranger.WriteToUDPAddrPort([]byte("spoof"), addrB)
	ca.WriteToUDPAddrPort([]byte("hello"), addrB)
	got, err := recvOne(t, fns[0])
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
	ep, _ := bb.ParseEndpoint("ignored")
	if err := bb.Send([][]byte{[]byte("back")}, ep); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, from, err := ca.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "back" || from != addrB {
		t.Fatalf("peer got %q from %s, %v", buf[:n], from, err)
	}
	// Close unblocks a pending receive; the socket survives and the bind
	// reopens.
	errc := make(chan error, 1)
	go func() { _, err := recvOne(t, fns[0]); errc <- err }()
	bb.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("receive after Close: %v", err)
	}
	fns, _, err = bb.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	ca.WriteToUDPAddrPort([]byte("again"), addrB)
	if got, err := recvOne(t, fns[0]); err != nil || string(got) != "again" {
		t.Fatalf("after reopen got %q, %v", got, err)
	}
	bb.Close()
	if _, err := NewUDPBind(cb, netip.AddrPort{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatal(err)
	}
}
