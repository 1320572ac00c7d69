package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// pumpDevices moves packets from one netDevice to the other, batch bufs
// at a time, until from closes. A small batch makes Read leave the
// segments of offloaded packets pending across calls.
func pumpDevices(from, to *netDevice, batch int) {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 16+MTU)
	}
	sizes := make([]int, batch)
	out := make([][]byte, batch)
	for {
		n, err := from.Read(bufs, sizes, 16)
		if err != nil {
			return
		}
		for i := range n {
			if sizes[i] > MTU {
				panic("netDevice.Read handed out a packet over the MTU")
			}
			out[i] = bufs[i][:16+sizes[i]]
		}
		if _, err := to.Write(out[:n], 16); err != nil {
			return
		}
	}
}

// TestNetDevicesStreamThroughOffload runs TCP between two netDevices
// wired back to back, no WireGuard between them: everything the sender's
// TCP hands the link as 64 KiB packets must reach the receiver's TCP
// through segmentation, checksums and GRO, byte for byte, with WireGuard's
// batch as small as 1 and as large as 64.
func TestNetDevicesStreamThroughOffload(t *testing.T) {
	for _, batch := range []int{1, 3, deviceBatchSize} {
		a4, b4 := netip.MustParseAddr("10.7.0.1"), netip.MustParseAddr("10.7.0.2")
		ma, mb := newMeter(time.Now), newMeter(time.Now)
		da, err := newNetDevice(stackConfig{addrs: []netip.Addr{a4}}, ma)
		if err != nil {
			t.Fatal(err)
		}
		db, err := newNetDevice(stackConfig{addrs: []netip.Addr{b4}}, mb)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { pumpDevices(da, db, batch) })
		wg.Go(func() { pumpDevices(db, da, batch) })
		t.Cleanup(func() { da.Close(); db.Close(); wg.Wait() })

		faB, proto := fullAddr(netip.AddrPortFrom(b4, 80))
		ln, err := gonet.ListenTCP(db.stack, faB, proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		payload := make([]byte, 3<<20)
		rand.Read(payload)
		got := make(chan []byte, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- b
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := gonet.DialContextTCP(ctx, da.stack, faB, proto)
		cancel()
		if err != nil {
			t.Fatalf("batch %d: dial: %v", batch, err)
		}
		if _, err := c.Write(payload); err != nil {
			t.Fatalf("batch %d: write: %v", batch, err)
		}
		c.Close()
		select {
		case b := <-got:
			if !bytes.Equal(b, payload) {
				t.Fatalf("batch %d: received %d bytes, want the %d sent", batch, len(b), len(payload))
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("batch %d: stream did not finish in 30 s", batch)
		}
		// Metering counts the IP packets that crossed, headers included:
		// what a left, b took in.
		if tx, rx := ma.stats().TxBytes, mb.stats().RxBytes; tx < uint64(len(payload)) || rx != tx {
			t.Fatalf("batch %d: a sent %d bytes, b received %d; want equal and at least %d", batch, tx, rx, len(payload))
		}
	}
}

// FuzzNetDeviceWrite feeds hostile batches (what a peer could send through
// WireGuard) into a provider-style stack through Write and GRO: nothing
// may panic, and Write accepts the whole batch or rejects a packet that is
// not IPv4 or IPv6.
func FuzzNetDeviceWrite(f *testing.F) {
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	seg := func(seq uint32, n int) []byte {
		p := offloadedTCP(false, bytes.Repeat([]byte{'x'}, n), header.TCPFlagAck, ts)
		header.TCP(p[header.IPv4MinimumSize:]).SetSequenceNumber(seq)
		return p
	}
	f.Add(bytes.Join([][]byte{seg(1, 100), seg(101, 100), seg(201, 50)}, []byte{0xff, 0xfe}))
	f.Add(offloadedTCP(true, make([]byte, 30), header.TCPFlagSyn, nil))
	f.Add([]byte{0x45, 0, 0, 10})
	nd, err := newNetDevice(stackConfig{addrs: []netip.Addr{netip.MustParseAddr("10.7.0.1")}, terminate: true}, newMeter(time.Now))
	if err != nil {
		f.Fatal(err)
	}
	var wg sync.WaitGroup
	f.Cleanup(func() { nd.Close(); wg.Wait() })
	wg.Go(func() { // drain what the stack answers
		bufs, sizes := [][]byte{make([]byte, MTU)}, []int{0}
		for {
			if _, err := nd.Read(bufs, sizes, 0); errors.Is(err, os.ErrClosed) {
				return
			}
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		// 0xff 0xfe separates the packets of one batch.
		pkts := bytes.Split(data, []byte{0xff, 0xfe})
		_, err := nd.Write(pkts, 0)
		if err != nil && !errors.Is(err, syscall.EAFNOSUPPORT) {
			t.Fatalf("Write: %v", err)
		}
	})
}
