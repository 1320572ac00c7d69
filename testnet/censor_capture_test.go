package testnet

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"
)

// ipv4 builds an IPv4 packet to 198.51.100.7:port carrying payload over
// proto (6 TCP, 17 UDP).
func ipv4(proto byte, port uint16, payload []byte) []byte {
	var l4 []byte
	if proto == 6 {
		l4 = make([]byte, 20)
		l4[12] = 5 << 4
	} else {
		l4 = make([]byte, 8)
	}
	binary.BigEndian.PutUint16(l4[2:4], port)
	l4 = append(l4, payload...)
	p := make([]byte, 20, 20+len(l4))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(20+len(l4)))
	p[9] = proto
	copy(p[16:20], []byte{198, 51, 100, 7})
	return append(p, l4...)
}

func TestCapturesKeepFirstPayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	c := newCaptures(path)
	c.add(ipv4(6, 443, nil)) // a SYN: nothing to keep
	c.add(ipv4(6, 443, []byte("hello")))
	c.add(ipv4(6, 443, []byte("later")))
	c.add(ipv4(17, 4001, []byte{1, 2, 3}))
	c.add([]byte{0x60, 0, 0}) // not IPv4
	c.add(ipv4(1, 0, []byte("icmp")))
	ctx := context.Background()
	if got := readCapture(ctx, path, "tcp:198.51.100.7:443", time.Second); string(got) != "hello" {
		t.Fatalf("tcp capture %q, want the first payload", got)
	}
	if got := readCapture(ctx, path, "udp:198.51.100.7:4001", time.Second); len(got) != 3 {
		t.Fatalf("udp capture %v", got)
	}
	if got := readCapture(ctx, path, "tcp:198.51.100.7:80", 100*time.Millisecond); got != nil {
		t.Fatalf("capture of a flow never seen: %q", got)
	}
}

// FuzzFlowPayload: no packet makes the parser panic or return a payload
// outside the packet.
func FuzzFlowPayload(f *testing.F) {
	f.Add(ipv4(6, 443, []byte("hello")))
	f.Add(ipv4(17, 53, []byte{0}))
	f.Add([]byte{0x4f, 0, 0, 10})
	f.Fuzz(func(t *testing.T, p []byte) {
		key, payload, ok := flowPayload(p)
		if ok && (key == "" || len(payload) == 0 || len(payload) > len(p)) {
			t.Fatalf("flowPayload(%x) = %q, %x", p, key, payload)
		}
	})
}
