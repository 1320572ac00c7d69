package tunnel

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Needless tail-loss probes. When no ACK has come for two smoothed round
// trips, gVisor's TCP sender resends the first MSS of the last segment it
// sent (a tail-loss probe, RFC 8985 §7). At the ACK that covers all it had
// sent by then, it halves its window, unless that ACK carries a D-SACK
// saying the probe was a duplicate. gVisor's receivers never send D-SACKs,
// and one would come too late anyway: the ACK for the original segment is
// on its way before the probe arrives. So between two of our stacks every
// probe cost half the window, and a probe fires on any pause of two round
// trips (about 2 ms on one machine), whether a packet was lost or not.
//
// probeWatch runs the Eifel test (RFC 3522; gVisor runs it too, but only
// to count spurious recoveries) at the link: a retransmission was needless
// when the ACK that covers everything sent before it echoes a timestamp
// older than the retransmission's own, because then the receiver had every
// byte it acknowledges from segments sent earlier. Outbound, it notes per
// TCP flow the end of the data sent so far, and the first retransmission
// since the last episode ended, with its timestamp and that end. Inbound,
// the ACK that reaches that end and proves the retransmission needless
// gets the D-SACK the receiver would have sent for it: a SACK block for
// the retransmitted range, below the cumulative ACK (RFC 2883). The sender
// then keeps its window. An ACK that does not prove it (its echo is as new
// as the probe: the probe filled a hole) is left alone, and the sender
// reduces its window as before.

// probeFloor, in milliseconds (the unit of gVisor's timestamps), is the
// shortest wait for an ACK that a probe is left to answer. The original
// tail-loss-probe design never probed sooner than max(2·SRTT, 10 ms);
// gVisor probes after 2·SRTT, which between two stacks on one machine is
// about 2 ms. Only probes sooner than the floor are undone: that is where
// a short pause in a busy process (a goroutine waiting for a CPU) would
// halve the window. A longer wait is left to cut it. With many sessions on
// one CPU-bound provider, queues grow and round trips reach tens of ms;
// there, with every probe undone, the sessions' windows grew without
// bound, the queues in front of them grew with them, and the longest stall
// went from about 130 ms to 250 ms and aggregate throughput fell a fifth.
const probeFloor = 10

// maxProbeFlows bounds the flows one probeWatch remembers. Past it the
// memory is dropped and starts again: a flow it does not know is only not
// helped.
const maxProbeFlows = 4096

// dsackLen is what probeWatch adds to an ACK's TCP options: two NOPs and a
// SACK option with one block.
const dsackLen = 12

const (
	tcpFlagRST = 0x04
	tcpFlagACK = 0x10
)

type probeWatch struct {
	mu    sync.Mutex
	flows map[tcpFlow]*probeFlow // guarded by mu
	// probes is how many flows have a retransmission whose covering ACK
	// has not come: while it is 0, inbound packets are not looked at.
	probes atomic.Int32
	// covered counts the ACKs that first covered a retransmission;
	// needless, those that showed it needless and got a D-SACK.
	covered, needless atomic.Uint64
	// floor, when set, replaces probeFloor (tests on a loaded machine,
	// where round trips alone pass it).
	floor atomic.Uint32
}

// tcpFlow is a TCP flow as the local stack sends it.
type tcpFlow struct{ local, remote netip.AddrPort }

type probeFlow struct {
	sndNxt uint32 // end of the data sent so far
	// A retransmission of the last segment, [start, end), sent with the
	// timestamp tsval, whose covering ACK has not come.
	probe      bool
	start, end uint32
	high       uint32 // sndNxt when it was sent
	tsval      uint32
}

// tcpView is what probeWatch reads of a TCP/IP packet.
type tcpView struct {
	key      tcpFlow // source as local, destination as remote
	ipLen    int
	hdrLen   int // IP and TCP headers
	seq, ack uint32
	flags    byte
	ts       bool // a timestamp option is present
	tsval    uint32
	tsecr    uint32
	sack     bool // a SACK option is present
}

// parseTCPView reads pkt's IPv4 or IPv6 and TCP headers. ok is false for
// anything else, or for headers that do not fit pkt or its stated length.
// The options are read as gVisor's stack reads them.
func parseTCPView(pkt []byte) (v tcpView, ok bool) {
	tp, err := parseTCPForSegmentation(pkt, 1)
	if err != nil {
		return v, false
	}
	var src, dst netip.Addr
	if tp.v6 {
		if int(binary.BigEndian.Uint16(pkt[4:]))+ipv6HdrLen != len(pkt) {
			return v, false
		}
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
	} else {
		if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
			return v, false
		}
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
	}
	v.ipLen, v.hdrLen = tp.ipLen, tp.hdrLen
	tcp := header.TCP(pkt[v.ipLen:v.hdrLen])
	v.key = tcpFlow{
		local:  netip.AddrPortFrom(src, tcp.SourcePort()),
		remote: netip.AddrPortFrom(dst, tcp.DestinationPort()),
	}
	v.seq, v.ack, v.flags = tcp.SequenceNumber(), tcp.AckNumber(), byte(tcp.Flags())
	opts := header.ParseTCPOptions(tcp[tcpMinLen:])
	v.ts, v.tsval, v.tsecr = opts.TS, opts.TSVal, opts.TSEcr
	v.sack = opts.SACKBlocks != nil
	return v, true
}

// seqLess is a < b in sequence (and timestamp) space.
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// sent notes a packet the local stack sends: pkt is whole, or one
// offloaded packet before it is cut into segments (its first sequence
// number and all of its payload).
func (w *probeWatch) sent(pkt []byte) {
	v, ok := parseTCPView(pkt)
	if !ok {
		return
	}
	ends := v.flags&(tcpFlagFIN|tcpFlagRST) != 0
	payload := uint32(len(pkt) - v.hdrLen)
	if payload == 0 && !ends {
		return // an ACK, a SYN or a keepalive
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ends {
		// The flow ends; a retransmitted FIN is left to the stack.
		if f := w.flows[v.key]; f != nil {
			w.forget(v.key, f)
		}
		return
	}
	end := v.seq + payload
	f := w.flows[v.key]
	if f == nil {
		if len(w.flows) >= maxProbeFlows {
			clear(w.flows)
			w.probes.Store(0)
		}
		if w.flows == nil {
			w.flows = make(map[tcpFlow]*probeFlow)
		}
		w.flows[v.key] = &probeFlow{sndNxt: end}
		return
	}
	switch {
	case seqLess(f.sndNxt, end):
		f.sndNxt = end
	case !f.probe && v.ts:
		// Data sent before: a retransmission. gVisor's tail-loss probe
		// resends the first MSS of the last segment it sent and ends
		// its episode at the ACK that covers everything sent so far.
		w.probes.Add(1)
		f.probe, f.start, f.end, f.high, f.tsval = true, v.seq, end, f.sndNxt, v.tsval
	}
}

// forget drops f; mu must be held.
func (w *probeWatch) forget(k tcpFlow, f *probeFlow) {
	if f.probe {
		w.probes.Add(-1)
	}
	delete(w.flows, k)
}

// received looks at a packet from the peer before the local stack does.
// When it is the ACK that first covers a needless retransmission, it
// returns the packet with a D-SACK block added (in place, within p's
// capacity); otherwise p as it came.
func (w *probeWatch) received(p []byte) []byte {
	if w.probes.Load() == 0 {
		return p
	}
	v, ok := parseTCPView(p)
	if !ok || v.flags&tcpFlagACK == 0 {
		return p
	}
	k := tcpFlow{local: v.key.remote, remote: v.key.local}
	w.mu.Lock()
	f := w.flows[k]
	if f == nil || !f.probe || seqLess(v.ack, f.high) {
		w.mu.Unlock()
		return p
	}
	f.probe = false
	w.probes.Add(-1)
	start, end, tsval := f.start, f.end, f.tsval
	w.mu.Unlock()
	w.covered.Add(1)
	if !v.ts || !seqLess(v.tsecr, tsval) || v.sack || v.flags&tcpFlagRST != 0 {
		// Not shown needless (the probe may have filled a hole), or the
		// receiver said something of its own in SACK.
		return p
	}
	floor := w.floor.Load()
	if floor == 0 {
		floor = probeFloor
	}
	if tsval-v.tsecr >= floor {
		// The echoed segment left probeFloor or more before the probe:
		// a wait that long is a signal the sender should heed.
		return p
	}
	q, ok := addDSACK(p, v, start, end)
	if ok {
		w.needless.Add(1)
	}
	return q
}

// addDSACK inserts a SACK option with the one block [start, end) after
// the TCP options of p (parsed as v), and fixes the lengths and checksums.
// It does nothing (ok false) when the options would pass 40 bytes or p's
// capacity is too small.
func addDSACK(p []byte, v tcpView, start, end uint32) ([]byte, bool) {
	tcpLen := v.hdrLen - v.ipLen
	if tcpLen-tcpMinLen+dsackLen > header.TCPOptionsMaximumSize || cap(p)-len(p) < dsackLen {
		return p, false
	}
	if len(p)+dsackLen > 0xffff {
		return p, false
	}
	q := p[:len(p)+dsackLen]
	copy(q[v.hdrLen+dsackLen:], q[v.hdrLen:len(p)])
	opt := q[v.hdrLen : v.hdrLen+dsackLen]
	opt[0], opt[1], opt[2], opt[3] = header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionSACK, 10
	binary.BigEndian.PutUint32(opt[4:], start)
	binary.BigEndian.PutUint32(opt[8:], end)
	tcp := q[v.ipLen:]
	tcp[12] = byte((tcpLen+dsackLen)/4)<<4 | tcp[12]&0x0f
	finishTCP(q, v.ipLen)
	return q, true
}
