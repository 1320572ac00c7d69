package wgpath

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// coalescedMsg is one merged read for the unpack tests: datagrams of one
// size, the last possibly shorter.
type coalescedMsg struct{ dgrams [][]byte }

func (m coalescedMsg) bytes() []byte { return bytes.Join(m.dgrams, nil) }

// randomCoalesced makes a message of 1–maxSegs datagrams with distinct
// contents (seq numbers them across messages).
func randomCoalesced(r *rand.Rand, seq *int, maxSegs, maxSize int) coalescedMsg {
	size := 1 + r.IntN(maxSize)
	segs := 1 + r.IntN(maxSegs)
	var m coalescedMsg
	for s := range segs {
		n := size
		if s == segs-1 {
			n = 1 + r.IntN(size) // the tail may be shorter
		}
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(*seq + i)
		}
		d[0] = byte(*seq)
		*seq++
		m.dgrams = append(m.dgrams, d)
	}
	return m
}

// TestPendingQueueModel checks the pending queue against the obvious
// model: every datagram of every message comes out once, in order, whole,
// however many buffers each call has.
func TestPendingQueueModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		nbufs := 1 + r.IntN(16)
		bufs := make([][]byte, nbufs)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		seq := 0
		var want [][]byte
		var q pendingQueue
		push := func() {
			m := randomCoalesced(r, &seq, 12, 2048/12)
			b := m.bytes()
			buf := getScratch()
			copy(buf, b)
			size := 0
			if len(m.dgrams) > 1 || r.IntN(2) == 0 {
				size = len(m.dgrams[0])
			}
			if c := q.push(buf, len(b), size); c != len(m.dgrams) {
				t.Fatalf("round %d: push counted %d datagrams, want %d", round, c, len(m.dgrams))
			}
			want = append(want, m.dgrams...)
		}
		for range 1 + r.IntN(nbufs) {
			push()
		}
		sizes := make([]int, nbufs)
		var got [][]byte
		extra := 4 // reads between cuts, at most
		for q.left() {
			n := q.cut(bufs, sizes)
			if n == 0 {
				t.Fatalf("round %d: messages left but cut gave nothing", round)
			}
			for i := range n {
				got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			}
			if extra > 0 && r.IntN(3) == 0 {
				extra--
				push() // a read between cuts queues behind what is left
			}
		}
		if len(got) != len(want) {
			t.Fatalf("round %d (%d bufs): got %d datagrams, want %d", round, nbufs, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("round %d (%d bufs): datagram %d differs: got %x, want %x", round, nbufs, i, got[i][:min(8, len(got[i]))], want[i][:min(8, len(want[i]))])
			}
		}
	}
}

// FuzzPendingQueue gives the pending queue arbitrary lengths and segment
// sizes (what the kernel reports is trusted for neither): it must not
// panic, and must hand out exactly the bytes it was given, in order, with
// no empty datagram.
func FuzzPendingQueue(f *testing.F) {
	f.Add(uint8(4), []byte{10, 3, 0, 7, 7, 2, 20, 0})
	f.Add(uint8(1), []byte{200, 1, 200, 2})
	f.Add(uint8(2), []byte{255, 255, 0, 0, 1, 200})
	f.Fuzz(func(t *testing.T, nbufs uint8, spec []byte) {
		n := 1 + int(nbufs%32)
		bufs := make([][]byte, n)
		for i := range bufs {
			bufs[i] = make([]byte, 256)
		}
		var q pendingQueue
		var want []byte
		for i := 0; i+1 < len(spec) && i < 64; i += 2 {
			ln, size := int(spec[i]), int(spec[i+1])
			if i%4 == 2 {
				ln = -ln // a length out of range must be refused, not trusted
			}
			buf := getScratch()
			for j := range min(max(ln, 0), len(buf)) {
				buf[j] = byte(i*31 + j)
			}
			q.push(buf, ln, size)
			want = append(want, buf[:min(max(ln, 0), len(buf))]...)
		}
		sizes := make([]int, n)
		var got []byte
		for steps := 0; q.left(); steps++ {
			if steps > 10000 {
				t.Fatal("the queue does not drain")
			}
			out := q.cut(bufs, sizes)
			for i := range out {
				if sizes[i] == 0 {
					t.Fatalf("an empty datagram in buffer %d", i)
				}
				got = append(got, bufs[i][:sizes[i]]...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("handed out %d bytes, want %d (or in another order)", len(got), len(want))
		}
	})
}

// TestUDPBindSegmentedRoundTrip sends batches through two UDPBinds on
// loopback sockets, where the kernel does segment and coalesce: runs of
// equal datagrams, a shorter tail, sizes that change mid-batch and between
// batches, and single datagrams must all arrive in order and intact,
// through both the scattered and the whole reads.
func TestUDPBindSegmentedRoundTrip(t *testing.T) {
	a, b := udpBindPair(t)
	fns, _, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, _, err := a.Open(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	batches := [][]int{
		repeatSizes(64, 1452),
		append(repeatSizes(40, 1452), 300),
		{1452, 1452, 800, 800, 800, 1452, 32, 32},
		{148},
		append(repeatSizes(64, 1452), repeatSizes(64, 96)...),
		// After runs of 96: one datagram longer than that, then single
		// datagrams until reads stop expecting merged ones, then a run.
		{1452}, {96}, {96}, {96}, {96}, {96}, {96}, {96}, {96}, {96}, {1452},
		repeatSizes(64, 1452),
	}
	seq := 0
	for bi, sizes := range batches {
		var sent [][]byte
		for _, n := range sizes {
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(seq + i)
			}
			p[0], p[1] = byte(seq>>8), byte(seq)
			seq++
			sent = append(sent, p)
		}
		if err := a.Send(sent, nil); err != nil {
			t.Fatalf("batch %d: send: %v", bi, err)
		}
		got := receiveN(t, fns[0], len(sent))
		for i := range sent {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("batch %d: datagram %d: got %d bytes %x…, want %d bytes %x…", bi, i, len(got[i]), got[i][:2], len(sent[i]), sent[i][:2])
			}
		}
	}
}

func repeatSizes(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// udpBindPair is two UDPBinds on loopback sockets aimed at each other.
func udpBindPair(t *testing.T) (*UDPBind, *UDPBind) {
	t.Helper()
	ca, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close() })
	cb, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	a, err := NewUDPBind(ca, cb.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewUDPBind(cb, ca.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// receiveN calls fn with WireGuard-sized buffers until want datagrams came.
func receiveN(t *testing.T, fn conn.ReceiveFunc, want int) [][]byte {
	t.Helper()
	const batch = udpBatchSize
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 1<<16-1)
	}
	sizes := make([]int, batch)
	eps := make([]conn.Endpoint, batch)
	var got [][]byte // written by the goroutine until done
	done := make(chan error, 1)
	go func() {
		for len(got) < want {
			n, err := fn(bufs, sizes, eps)
			if err != nil {
				done <- err
				return
			}
			for i := range n {
				if sizes[i] > 0 {
					got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
				}
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("fewer than %d datagrams arrived in 10 s", want)
	}
	return got
}
