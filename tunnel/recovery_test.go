package tunnel

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// faultBind wraps a bind's receive functions so that each WireGuard data
// packet is dropped with probability loss.
type faultBind struct {
	conn.Bind
	loss float64

	mu  sync.Mutex
	rng *rand.Rand
}

// Endpoint passes on the wrapped bind's single peer.
func (b *faultBind) Endpoint() string {
	if e, ok := b.Bind.(interface{ Endpoint() string }); ok {
		return e.Endpoint()
	}
	return ""
}

func (b *faultBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, p, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	wrapped := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		wrapped[i] = func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			n, err := fn(bufs, sizes, eps)
			if err != nil {
				return n, err
			}
			b.mu.Lock()
			for j := range n {
				// Type 4 is transport data; handshakes pass.
				if b.loss > 0 && sizes[j] > 0 && bufs[j][0] == 4 && b.rng.Float64() < b.loss {
					sizes[j] = 0 // WireGuard skips what is too short
				}
			}
			b.mu.Unlock()
			return n, nil
		}
	}
	return wrapped, p, nil
}

// bulkOrigin serves size pseudo-random bytes to each connection and
// returns their SHA-256.
func bulkOrigin(t *testing.T, size int) (netip.AddrPort, [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	origin := tcpOrigin(t, func(c net.Conn) {
		defer c.Close()
		c.Write(data)
	})
	return origin, sha256.Sum256(data)
}

// download fetches the origin through the consumer and checks the bytes.
func download(t *testing.T, cons *Consumer, origin netip.AddrPort, size int, want [32]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := cons.DialTCP(ctx, origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("after %d of %d bytes: %v", n, size, err)
	}
	if n != int64(size) || [32]byte(h.Sum(nil)) != want {
		t.Fatalf("got %d bytes (digest match %v), want %d", n, [32]byte(h.Sum(nil)) == want, size)
	}
}

// Loss on the path is found and repaired: the bytes arrive whole and in
// order through the exit's TCP.
func TestLossIsRecovered(t *testing.T) {
	const size = 4 << 20
	for _, transport := range []string{"mem", "udp"} {
		t.Run(transport, func(t *testing.T) {
			origin, want := bulkOrigin(t, size)
			seed := uint64(0)
			cons, prov := newSessionPair(t, transport, pairOptions{
				policy: []PolicyOption{WithAllowLoopback()},
				wrap: func(b conn.Bind) conn.Bind {
					seed++
					return &faultBind{Bind: b, loss: 0.01, rng: rand.New(rand.NewPCG(seed, 99))}
				},
			})
			download(t, cons, origin, size, want)
			if r := prov.netdev.stack.Stats().TCP.Retransmits.Value(); r == 0 {
				t.Fatal("no retransmission at 1% loss: the fault did not bite")
			}
		})
	}
}
