package tunnel

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"

	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// benchStreamSize is the size of the one TCP stream each iteration moves.
// Both benchmarks use the same size so their MB/s compare directly.
const benchStreamSize = 64 << 20

// serveBulk accepts connections on ln and writes size bytes to each.
func serveBulk(tb testing.TB, ln net.Listener, size int) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 256<<10)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			for left := size; left > 0; {
				n, err := c.Write(buf[:min(left, len(buf))])
				if err != nil {
					break
				}
				left -= n
			}
			c.Close()
		}
	}()
	tb.Cleanup(func() { ln.Close(); <-done })
}

// cpuMeter reports the process's CPU time (user + system, every goroutine
// and both ends of the tunnel) per GiB moved, as the metric cpu-s/GiB.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) *cpuMeter {
	b.Helper()
	start, _ := processCPU(b)
	return &cpuMeter{start: start}
}

// report adds the metric for bytes moved in total since startCPU.
func (m *cpuMeter) report(b *testing.B, bytes int64) {
	b.Helper()
	if bytes == 0 {
		return
	}
	now, ok := processCPU(b)
	if !ok {
		return
	}
	used := now - m.start
	b.ReportMetric(used.Seconds()/(float64(bytes)/(1<<30)), "cpu-s/GiB")
}

func readAll(b *testing.B, c net.Conn, want int) {
	b.Helper()
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		b.Fatal(err)
	}
	if int(n) != want {
		b.Fatalf("read %d bytes, want %d", n, want)
	}
}

// BenchmarkBulkDownload measures one TCP stream through the whole data
// plane: SOCKS5 on loopback → consumer netstack → WireGuard over real UDP
// sockets (UDPBind) → provider netstack and exit → origin on 127.0.0.1.
func BenchmarkBulkDownload(b *testing.B) { benchBulkDownload(b, "udp") }

// BenchmarkBulkDownloadPipe is the same download with WireGuard framed over
// a loopback TCP stream (PipeBind), the shape of the relayed fallback.
func BenchmarkBulkDownloadPipe(b *testing.B) { benchBulkDownload(b, "pipe") }

// BenchmarkBulkDownloadMux is the same download with WireGuard on each
// end's shared QUIC/WireGuard socket (wgpath.Mux), the direct path most
// sessions take.
func BenchmarkBulkDownloadMux(b *testing.B) {
	var muxes [2]*wgpath.Mux
	for i := range muxes {
		m, err := wgpath.NewMux(&net.UDPAddr{IP: net.IPv4zero})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		muxes[i] = m
	}
	var binds [2]conn.Bind
	for i, m := range muxes {
		peer := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), muxes[1-i].Port())
		pb, err := m.PeerBind(peer)
		if err != nil {
			b.Fatal(err)
		}
		binds[i] = pb
	}
	// The session pair is built over in-memory binds; wrap swaps in the
	// muxes' (consumer's first, then provider's).
	next := 0
	benchBulkDownloadOpts(b, "mem", pairOptions{wrap: func(conn.Bind) conn.Bind {
		next++
		return binds[next-1]
	}})
}

func benchBulkDownload(b *testing.B, transport string) {
	benchBulkDownloadOpts(b, transport, pairOptions{})
}

func benchBulkDownloadOpts(b *testing.B, transport string, po pairOptions) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serveBulk(b, ln, benchStreamSize)
	origin := ln.Addr().(*net.TCPAddr).AddrPort()
	po.policy = append(po.policy, WithAllowLoopback())
	cons, _ := newSessionPair(b, transport, po)
	sc := newSOCKS(b, cons)
	b.SetBytes(benchStreamSize)
	cpu := startCPU(b)
	n := int64(0)
	for b.Loop() {
		c := sc.connect(b, ipPort(origin))
		readAll(b, c, benchStreamSize)
		c.Close()
		n += benchStreamSize
	}
	cpu.report(b, n)
}

// BenchmarkBareWireGuard is the baseline: wireguard-go's own netstack on
// both ends, its standard UDP bind on loopback, and one TCP stream from a
// listener inside one netstack to a dialer inside the other.
func BenchmarkBareWireGuard(b *testing.B) {
	ka, err := GeneratePrivateKey()
	if err != nil {
		b.Fatal(err)
	}
	kb, err := GeneratePrivateKey()
	if err != nil {
		b.Fatal(err)
	}
	addrA, addrB := netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2")
	mk := func(addr netip.Addr) (*netstack.Net, *device.Device) {
		tdev, tnet, err := netstack.CreateNetTUN([]netip.Addr{addr}, nil, MTU)
		if err != nil {
			b.Fatal(err)
		}
		dev := device.NewDevice(tdev, conn.NewDefaultBind(), device.NewLogger(device.LogLevelSilent, ""))
		b.Cleanup(dev.Close)
		return tnet, dev
	}
	netA, devA := mk(addrA)
	netB, devB := mk(addrB)
	if err := devA.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=%s/32\n", ka.Hex(), kb.PublicKey().Hex(), addrB)); err != nil {
		b.Fatal(err)
	}
	if err := devA.Up(); err != nil {
		b.Fatal(err)
	}
	portA := listenPort(b, devA)
	if err := devB.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%s\nendpoint=127.0.0.1:%d\nallowed_ip=%s/32\n", kb.Hex(), ka.PublicKey().Hex(), portA, addrA)); err != nil {
		b.Fatal(err)
	}
	if err := devB.Up(); err != nil {
		b.Fatal(err)
	}
	ln, err := netA.ListenTCPAddrPort(netip.AddrPortFrom(addrA, 80))
	if err != nil {
		b.Fatal(err)
	}
	serveBulk(b, ln, benchStreamSize)
	b.SetBytes(benchStreamSize)
	cpu := startCPU(b)
	n := int64(0)
	for b.Loop() {
		c, err := netB.DialTCPAddrPort(netip.AddrPortFrom(addrA, 80))
		if err != nil {
			b.Fatal(err)
		}
		readAll(b, c, benchStreamSize)
		c.Close()
		n += benchStreamSize
	}
	cpu.report(b, n)
}

// listenPort reads the UDP port a device bound to.
func listenPort(tb testing.TB, dev *device.Device) int {
	tb.Helper()
	s, err := dev.IpcGet()
	if err != nil {
		tb.Fatal(err)
	}
	var port int
	for _, line := range splitLines(s) {
		if _, err := fmt.Sscanf(line, "listen_port=%d", &port); err == nil {
			return port
		}
	}
	tb.Fatalf("no listen_port in %q", s)
	return 0
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// BenchmarkSessionSetup measures the data plane's share of connect time:
// both ends built over loopback UDP, the WireGuard handshake, and a first
// TCP connection through the exit, then teardown.
func BenchmarkSessionSetup(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	serveBulk(b, ln, 1)
	origin := ln.Addr().(*net.TCPAddr).AddrPort()
	for b.Loop() {
		// Closed here; the Cleanups newSessionPair registers only
		// close the sockets, at the end.
		cons, prov := newSessionPair(b, "udp", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
		c, err := cons.DialTCP(b.Context(), origin)
		if err != nil {
			b.Fatal(err)
		}
		readAll(b, c, 1)
		c.Close()
		cons.Close()
		prov.Close()
	}
}
