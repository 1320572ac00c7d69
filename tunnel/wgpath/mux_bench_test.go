package wgpath

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/conn"
)

// benchStreamSize is what one benchmark op carries through the tunnel.
const benchStreamSize = 64 << 20

// benchTunnel downloads benchStreamSize bytes per op from a's netstack to
// b's over one TCP stream and reports throughput.
func benchTunnel(b *testing.B, wa, wb *wgNode) {
	serveTunnelStream(b, wa, benchStreamSize)
	ctx, cancel := context.WithTimeout(context.Background(), 10*testTimeout)
	defer cancel()
	// Warm up: handshake and TCP window.
	if err := fetchTunnelStream(ctx, wb, wa, 1<<20, false); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchStreamSize)
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := fetchTunnelStream(ctx, wb, wa, benchStreamSize, false); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(benchStreamSize)*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gbit/s")
	// CPU per MiB compares the data paths even when other work shares the
	// machine and wall-clock throughput swings.
	if cpu1, ok := processCPU(); ok && cpuOK {
		mib := float64(benchStreamSize) * float64(b.N) / (1 << 20)
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/mib, "cpu-ms/MiB")
	}
}

// BenchmarkWireGuardOwnSocket is the baseline: wireguard-go with netstack
// on both ends over its standard bind, each on a UDP socket of its own.
func BenchmarkWireGuardOwnSocket(b *testing.B) {
	wa := newWGNode(b, conn.NewStdNetBind(), tunAddrA)
	wb := newWGNode(b, conn.NewStdNetBind(), tunAddrB)
	wa.peerWith(b, wb, netip.AddrPort{})
	var port uint16
	if _, err := fmt.Sscan(wa.ipcValue(b, "listen_port"), &port); err != nil {
		b.Fatal(err)
	}
	wb.peerWith(b, wa, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	benchTunnel(b, wa, wb)
}

// BenchmarkWireGuardMux is the same tunnel over two Muxes whose libp2p
// hosts hold a QUIC connection over the same sockets; b's WireGuard
// endpoint is that connection's remote address.
func BenchmarkWireGuardMux(b *testing.B) {
	p := newMuxPair(b)
	benchTunnel(b, p.wa, p.wb)
	for name, m := range map[string]*Mux{"a": p.ma, "b": p.mb} {
		s := m.Stats()
		if s.Unknown+s.Oversized+s.NoReceiver != 0 {
			b.Errorf("mux %s dropped datagrams: %+v", name, s)
		}
		b.Logf("mux %s: %+v", name, s)
	}
	if len(p.hb.Network().ConnsToPeer(p.ha.ID())) == 0 {
		b.Error("the libp2p connection did not survive the tunnel load")
	}
}
