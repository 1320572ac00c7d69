package wgpath

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// reset forgets every nonce, so that fuzz inputs are judged one by one.
func (r *obfsReplay) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ring, r.n, r.next, r.newest, r.floor = [obfsReplaySlots]obfsReplayEntry{}, 0, 0, 0, 0
}

var fuzzObfsKey = [32]byte{0: 1, 7: 2, 31: 3}

// FuzzObfsOpen feeds arbitrary datagrams to the receive side: it never
// panics, what it accepts is a WireGuard packet no longer than the datagram,
// and re-encoding that packet with the same nonce and padding gives the
// datagram back, so nothing is accepted that the sender could not have
// made.
func FuzzObfsOpen(f *testing.F) {
	tx, err := newObfsCodec(ObfsConfig{Key: fuzzObfsKey})
	if err != nil {
		f.Fatal(err)
	}
	rx, err := newObfsCodec(ObfsConfig{Key: fuzzObfsKey})
	if err != nil {
		f.Fatal(err)
	}
	st := newObfsSendState()
	for _, m := range allWGMessages()[:8] {
		w, err := tx.seal(&st.scratch, make([]byte, 4096), m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w)
		f.Add(m)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 46))
	var s obfsScratch
	f.Fuzz(func(t *testing.T, data []byte) {
		rx.replay.reset()
		b := bytes.Clone(data)
		n, v := rx.open(&s, b)
		if v != obfsOK {
			if len(data) < wgMinTransportSize && v != obfsShort {
				t.Fatalf("%d bytes: verdict %d, want short", len(data), v)
			}
			return
		}
		if n < wgHeaderSize || n > len(data) {
			t.Fatalf("accepted a %d-byte packet from %d bytes", n, len(data))
		}
		pkt := b[:n]
		var again []byte
		if s.sealed {
			again = rx.sealWith(make([]byte, 4096), pkt, data[:obfsNonceSize], s.pad, s.ts)
		} else {
			if !dataFormat(pkt) {
				t.Fatalf("data format yielded a packet that is not data: % x", pkt[:wgHeaderSize])
			}
			again = rx.sealData(&st.scratch, make([]byte, 4096), pkt, s.pad, data[len(data)-s.pad:])
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted datagram does not re-encode:\n got % x\nwant % x", again, data)
		}
	})
}

// FuzzObfsRoundTrip seals arbitrary packets: whatever seal accepts, open
// returns unchanged; what it refuses is too short or too long.
func FuzzObfsRoundTrip(f *testing.F) {
	tx, err := newObfsCodec(ObfsConfig{Key: fuzzObfsKey, MaxPad: 200})
	if err != nil {
		f.Fatal(err)
	}
	rx, err := newObfsCodec(ObfsConfig{Key: fuzzObfsKey})
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range allWGMessages()[:8] {
		f.Add(m[4:], m[0], uint64(7))
	}
	f.Add([]byte{}, byte(4), uint64(1)<<50)
	st := newObfsSendState()
	var s obfsScratch
	f.Fuzz(func(t *testing.T, body []byte, typ byte, ctr uint64) {
		rx.replay.reset()
		p := make([]byte, 4, 4+len(body))
		binary.LittleEndian.PutUint32(p, uint32(typ%6))
		p = append(p, body...)
		if typ%6 == wgTransportType && len(p) >= wgHeaderSize {
			binary.LittleEndian.PutUint64(p[8:], ctr)
		}
		w, err := tx.seal(&st.scratch, make([]byte, len(p)+obfsSealedOverhead+MaxObfsMaxPad), p)
		if err != nil {
			if !errors.Is(err, ErrObfsPacket) || (len(p) >= wgHeaderSize && (dataFormat(p) || len(p)+obfsSealedOverhead <= obfsMaxSealed)) {
				t.Fatalf("%d-byte packet refused: %v", len(p), err)
			}
			return
		}
		if t4 := binary.LittleEndian.Uint32(w); t4 >= 1 && t4 <= 4 {
			t.Fatalf("wire starts like WireGuard type %d", t4)
		}
		n, v := rx.open(&s, w)
		if v != obfsOK || !bytes.Equal(w[:n], p) {
			t.Fatalf("%d-byte packet of type %d: verdict %d, %d bytes back", len(p), typ%6, v, n)
		}
	})
}
