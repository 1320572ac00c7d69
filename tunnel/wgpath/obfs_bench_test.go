package wgpath

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// benchDataSize is a full-MTU WireGuard data datagram: 1420 bytes of
// tunnel packet and 32 of WireGuard overhead.
const benchDataSize = testMTU + 32

// BenchmarkObfsThroughput pushes full-size data datagrams through a pair of
// UDPBinds on loopback, plain and wrapped in ObfsBinds, side by side. An op
// is one datagram sent and received; MB/s counts WireGuard bytes.
func BenchmarkObfsThroughput(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchBindThroughput(b, false) })
	b.Run("obfs", func(b *testing.B) { benchBindThroughput(b, true) })
}

func benchBindThroughput(b *testing.B, obfs bool) {
	ca, cb := listenUDP(b), listenUDP(b)
	ua, err := NewUDPBind(ca, cb.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		b.Fatal(err)
	}
	ub, err := NewUDPBind(cb, ca.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		b.Fatal(err)
	}
	var tx, rx conn.Bind = ua, ub
	if obfs {
		key := obfsKey(b)
		tx, rx = newObfs(b, ua, ObfsConfig{Key: key}), newObfs(b, ub, ObfsConfig{Key: key})
	}
	fns, _, err := rx.Open(0)
	if err != nil {
		b.Fatal(err)
	}
	ep, _ := tx.ParseEndpoint("")
	batch := tx.BatchSize()
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = wgMessage(wgTransportType, benchDataSize, 0)
	}

	// The sender keeps at most window datagrams in flight (well inside the
	// socket buffers), so the figure is what both ends sustain, not how
	// fast the sender can overflow the receiver.
	const window = 16
	credits := make(chan struct{}, window)
	for range window {
		credits <- struct{}{}
	}
	var received, bad atomic.Int64
	rxDone := make(chan struct{})
	go func() {
		defer close(rxDone)
		bufs := make([][]byte, rx.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, 1<<16) // as wireguard-go passes them
		}
		sizes := make([]int, len(bufs))
		eps := make([]conn.Endpoint, len(bufs))
		acc := 0
		for {
			n, err := fns[0](bufs, sizes, eps)
			if err != nil {
				return
			}
			k := 0
			for i := range n {
				switch sizes[i] {
				case 0:
				case benchDataSize:
					k++
				default:
					bad.Add(1)
				}
			}
			received.Add(int64(k))
			for acc += k; acc >= batch; acc -= batch {
				select {
				case credits <- struct{}{}:
				default:
				}
			}
		}
	}()

	stall := time.NewTimer(time.Hour)
	defer stall.Stop()
	stalls := 0
	var ctr uint64
	sent := 0
	b.SetBytes(benchDataSize)
	b.ResetTimer()
	for sent < b.N {
		select {
		case <-credits:
		default:
			stall.Reset(50 * time.Millisecond)
			select {
			case <-credits:
			case <-stall.C: // a datagram was lost; carry on
				stalls++
			}
			stall.Stop()
		}
		k := min(batch, b.N-sent)
		for _, p := range pkts[:k] {
			ctr++
			p[8], p[9], p[10], p[11] = byte(ctr), byte(ctr>>8), byte(ctr>>16), byte(ctr>>24)
		}
		if err := tx.Send(pkts[:k], ep); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	for last, idle := received.Load(), 0; received.Load() < int64(sent) && idle < 20; idle++ {
		time.Sleep(10 * time.Millisecond)
		if r := received.Load(); r != last {
			last, idle = r, 0
		}
	}
	b.StopTimer()
	rx.Close()
	<-rxDone
	if bad.Load() > 0 {
		b.Fatalf("%d datagrams came back with the wrong size", bad.Load())
	}
	b.ReportMetric(float64(int64(sent)-received.Load())/float64(sent), "lost/op")
	if o, ok := rx.(*ObfsBind); ok {
		if s := o.Stats(); s.Unauthenticated+s.Short+s.Replayed != 0 {
			b.Fatalf("receiver dropped genuine datagrams: %+v", s)
		}
	}
}

// BenchmarkObfsWireGuard is a TCP stream between two wireguard-go netstacks
// over UDPBinds on loopback, plain and wrapped in ObfsBinds.
func BenchmarkObfsWireGuard(b *testing.B) {
	for _, obfs := range []bool{false, true} {
		name := "plain"
		if obfs {
			name = "obfs"
		}
		b.Run(name, func(b *testing.B) {
			ca, cb := listenUDP(b), listenUDP(b)
			addrA, addrB := ca.LocalAddr().(*net.UDPAddr).AddrPort(), cb.LocalAddr().(*net.UDPAddr).AddrPort()
			ua, err := NewUDPBind(ca, addrB)
			if err != nil {
				b.Fatal(err)
			}
			ub, err := NewUDPBind(cb, addrA)
			if err != nil {
				b.Fatal(err)
			}
			var ba, bb conn.Bind = ua, ub
			if obfs {
				key := obfsKey(b)
				ba, bb = newObfs(b, ua, ObfsConfig{Key: key}), newObfs(b, ub, ObfsConfig{Key: key})
			}
			wa, wb := newWGNode(b, ba, tunAddrA), newWGNode(b, bb, tunAddrB)
			wa.peerWith(b, wb, addrB)
			wb.peerWith(b, wa, addrA)
			benchTunnel(b, wa, wb)
		})
	}
}

// BenchmarkObfsCodec is the cost per datagram of each format alone.
func BenchmarkObfsCodec(b *testing.B) {
	tx, rx, txs, rxs := codecPair(b, ObfsConfig{})
	data := wgMessage(wgTransportType, benchDataSize, 1)
	init := wgMessage(wgInitiationType, wgInitiationSize, 0)
	dst := make([]byte, 4096)
	b.Run("seal-data", func(b *testing.B) {
		b.SetBytes(benchDataSize)
		for b.Loop() {
			if _, err := tx.seal(txs, dst, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open-data", func(b *testing.B) {
		wire, _ := tx.seal(txs, make([]byte, 4096), data)
		head := [16]byte(wire)
		b.SetBytes(benchDataSize)
		for b.Loop() {
			copy(wire, head[:]) // open rewrote the header in place
			if _, v := rx.open(rxs, wire); v != obfsOK {
				b.Fatal(v)
			}
		}
	})
	b.Run("handshake", func(b *testing.B) {
		for b.Loop() {
			wire, err := tx.seal(txs, dst, init)
			if err != nil {
				b.Fatal(err)
			}
			if _, v := rx.open(rxs, wire); v != obfsOK {
				b.Fatal(v)
			}
		}
	})
	b.Run("garbage", func(b *testing.B) {
		g := make([]byte, benchDataSize)
		copy(g, data)
		for b.Loop() {
			if _, v := rx.open(rxs, g); v == obfsOK {
				b.Fatal("garbage accepted")
			}
		}
	})
}
