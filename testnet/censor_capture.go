package testnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Capture limits.
const (
	maxCaptureFlows   = 4096
	maxCapturePayload = 2048
)

// captures keeps the first payload the region sent on each flow, by
// "tcp:ip:port" or "udp:ip:port" of the destination, and mirrors them to a
// JSON file (written whole, then renamed) for the prober.
type captures struct {
	path  string
	mu    sync.Mutex
	first map[string][]byte
}

func newCaptures(path string) *captures {
	return &captures{path: path, first: map[string][]byte{}}
}

// add records the payload of one IPv4 packet if it is its flow's first.
// Anything that is not IPv4 TCP or UDP with a payload is ignored.
func (c *captures) add(pkt []byte) {
	key, payload, ok := flowPayload(pkt)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.first[key]; seen || len(c.first) >= maxCaptureFlows {
		return
	}
	c.first[key] = bytes.Clone(payload[:min(len(payload), maxCapturePayload)])
	b, err := json.Marshal(c.first)
	if err != nil || c.path == "" {
		return
	}
	tmp := c.path + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, c.path)
	}
}

// flowPayload parses an IPv4 packet: its destination as "tcp:ip:port" or
// "udp:ip:port", and its transport payload, if any.
func flowPayload(p []byte) (key string, payload []byte, ok bool) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return "", nil, false
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if ihl < 20 || total < ihl || total > len(p) {
		return "", nil, false
	}
	dst, _ := netip.AddrFromSlice(p[16:20])
	l4 := p[ihl:total]
	var proto string
	switch p[9] {
	case 6:
		if len(l4) < 20 {
			return "", nil, false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return "", nil, false
		}
		proto, payload = "tcp", l4[off:]
	case 17:
		if len(l4) < 8 {
			return "", nil, false
		}
		proto, payload = "udp", l4[8:]
	default:
		return "", nil, false
	}
	if len(payload) == 0 {
		return "", nil, false
	}
	port := binary.BigEndian.Uint16(l4[2:4])
	return proto + ":" + netip.AddrPortFrom(dst, port).String(), payload, true
}

// readCapture waits up to within for the capture file to hold key's first
// payload.
func readCapture(ctx context.Context, path, key string, within time.Duration) []byte {
	deadline := time.Now().Add(within)
	for {
		var m map[string][]byte
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &m) == nil {
			if p, ok := m[key]; ok {
				return p
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probeReplay sends payload, captured from the region's first packet to
// target, again from the censor's own address, as a prober that replays
// handshakes does. Over TCP a reply holding multistream's header gives
// libp2p away; over UDP any reply at all does (WireGuard, obfuscated or
// not, never answers a replayed initiation; a QUIC server answers a
// replayed Initial).
func probeReplay(ctx context.Context, proto, target string, payload []byte) (bool, string) {
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.DialContext(ctx, proto, target)
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := c.Write(payload); err != nil {
		return false, err.Error()
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if n == 0 {
		if err != nil {
			return false, fmt.Sprintf("replayed %d bytes: no answer (%v)", len(payload), err)
		}
		return false, fmt.Sprintf("replayed %d bytes: no answer", len(payload))
	}
	if proto == "udp" {
		return true, fmt.Sprintf("replayed %d bytes: answered %d", len(payload), n)
	}
	if bytes.Contains(buf[:n], []byte(multistreamHeader)) {
		return true, fmt.Sprintf("replayed %d bytes: answered /multistream/1.0.0", len(payload))
	}
	return false, fmt.Sprintf("replayed %d bytes: answered %d bytes, not libp2p (first byte 0x%02x)", len(payload), n, buf[0])
}
