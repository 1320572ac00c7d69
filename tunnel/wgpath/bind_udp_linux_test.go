package wgpath

import (
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
)

// rcvBuf is the receive buffer the kernel gave c, as SO_RCVBUF reports it:
// twice what was asked (the kernel counts its bookkeeping against it).
func rcvBuf(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		n, opErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		t.Fatal(err)
	}
	if opErr != nil {
		t.Fatal(opErr)
	}
	return n
}

// A UDPBind's socket must hold a burst of WireGuard datagrams that arrives
// while WireGuard is busy: with the kernel's default buffer (208 KiB) most of
// this burst was dropped, and the loss stalled TCP through the tunnel.
func TestUDPBindHoldsBurst(t *testing.T) {
	const (
		burst = 1000
		size  = testMTU + 32 // a full WireGuard data message
	)
	// Plain sockets: the listenUDP helper sizes its buffers itself.
	recv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	send, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { send.Close() })
	before := rcvBuf(t, recv)
	b, err := NewUDPBind(recv, send.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	after := rcvBuf(t, recv)
	if after < 2*udpSocketBuffer {
		if os.Geteuid() != 0 {
			t.Skipf("not root: net.core.rmem_max keeps SO_RCVBUF at %d (asked for %d bytes); run as root to force it", after, udpSocketBuffer)
		}
		t.Fatalf("SO_RCVBUF %d after NewUDPBind (%d before), want %d (twice the %d bytes asked)", after, before, 2*udpSocketBuffer, udpSocketBuffer)
	}

	// The whole burst is queued before anyone reads, as when WireGuard's
	// receive goroutine is descheduled; on loopback what does not fit is
	// dropped at once.
	msg := make([]byte, size)
	to := recv.LocalAddr().(*net.UDPAddr)
	for range burst {
		if _, err := send.WriteToUDP(msg, to); err != nil {
			t.Fatal(err)
		}
	}
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		bufs := make([][]byte, b.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		sizes := make([]int, len(bufs))
		eps := make([]conn.Endpoint, len(bufs))
		n := 0
		for n < burst {
			k, err := fns[0](bufs, sizes, eps)
			if err != nil {
				break
			}
			for _, s := range sizes[:k] {
				if s == size {
					n++
				}
			}
		}
		got <- n
	}()
	select {
	case n := <-got:
		if n != burst {
			t.Fatalf("received %d of %d datagrams", n, burst)
		}
	case <-time.After(10 * time.Second):
		b.Close()
		t.Fatalf("received %d of %d datagrams; the socket dropped the rest (SO_RCVBUF %d)", <-got, burst, after)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
