package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// A throttled write takes as long as its bytes need at the bucket's rate
// (less the first burst), and a rate change applies to a write already
// waiting. Fake time (synctest) makes the figures exact.
func TestBucketThrottlesWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 64 << 10
		b, err := NewBucket("session", rate)
		if err != nil {
			t.Fatal(err)
		}
		a, z := net.Pipe()
		defer a.Close()
		defer z.Close()
		go io.Copy(io.Discard, z)
		w := throttle(t.Context(), a, buckets{b})
		start := time.Now()
		if _, err := w.Write(make([]byte, 4*rate)); err != nil {
			t.Fatal(err)
		}
		// 4 s of bytes, less the burst the bucket started with.
		got, want := time.Since(start), 4*time.Second-time.Duration(burstFor(rate))*time.Second/rate
		if d := got - want; d < -10*time.Millisecond || d > 10*time.Millisecond {
			t.Fatalf("4 s of bytes at %d B/s took %v, want %v", rate, got, want)
		}

		// Double the rate while a write waits: the rest goes twice as fast.
		done := make(chan time.Duration)
		go func() {
			start := time.Now()
			_, _ = w.Write(make([]byte, 4*rate))
			done <- time.Since(start)
		}()
		time.Sleep(2 * time.Second) // fake time: half of it at the old rate
		if err := b.SetRate(2 * rate); err != nil {
			t.Fatal(err)
		}
		if got := <-done; got < 2900*time.Millisecond || got > 3100*time.Millisecond {
			t.Fatalf("2 s at %d B/s then the rest at twice that took %v, want about 3 s", rate, got)
		}

		// Unlimited: no wait at all.
		if err := b.SetRate(0); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		if _, err := w.Write(make([]byte, 64*rate)); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("an unlimited write waited %v", got)
		}
	})
}

// Each byte waits in every bucket: the slower one sets the pace, and a
// shared bucket splits its rate among its writers.
func TestBucketsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 32 << 10
		total, _ := NewBucket("total", rate)
		fast1, _ := NewBucket("session", 10*rate)
		fast2, _ := NewBucket("session", 10*rate)
		ctx := t.Context()
		done := make(chan time.Duration, 2)
		for _, own := range []*Bucket{fast1, fast2} {
			a, z := net.Pipe()
			defer a.Close()
			defer z.Close()
			go io.Copy(io.Discard, z)
			w := throttle(ctx, a, buckets{own, total})
			go func() {
				start := time.Now()
				_, _ = w.Write(make([]byte, 4*rate))
				done <- time.Since(start)
			}()
		}
		// 8 s of bytes at the total rate, less its first burst.
		want := 8*time.Second - time.Duration(burstFor(rate))*time.Second/rate
		last := max(<-done, <-done)
		if d := last - want; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Fatalf("the writers sharing %d B/s finished after %v, want %v", rate, last, want)
		}
	})
}

// A write waiting for tokens ends when its context does, with ErrClosed.
func TestBucketWaitEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := NewBucket("session", minBurst) // one burst per second
		a, z := net.Pipe()
		defer a.Close()
		defer z.Close()
		go io.Copy(io.Discard, z)
		ctx, cancel := context.WithCancel(t.Context())
		w := throttle(ctx, a, buckets{b})
		errc := make(chan error)
		go func() {
			_, err := w.Write(make([]byte, 100*minBurst))
			errc <- err
		}()
		time.Sleep(3 * time.Second)
		cancel()
		if err := <-errc; !errors.Is(err, ErrClosed) || !errors.Is(err, context.Canceled) {
			t.Fatalf("write after cancel: %v, want ErrClosed and context.Canceled", err)
		}
	})
}

func TestBucketRejectsNegativeRates(t *testing.T) {
	if _, err := NewBucket("session", -1); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewBucket(-1): %v, want ErrInvalidConfig", err)
	}
	b, _ := NewBucket("total", 1000)
	if err := b.SetRate(-5); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("SetRate(-5): %v", err)
	}
	if b.Rate() != 1000 {
		t.Fatalf("a refused rate changed the bucket to %d", b.Rate())
	}
	if _, err := NewProvider(ProviderConfig{}, WithRateLimits([]*Bucket{nil}, nil)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil bucket: %v", err)
	}
}

// The exit holds TCP downloads and uploads and UDP to their limits, over
// the in-memory bind and real loopback UDP.
func TestProviderRateLimits(t *testing.T) {
	const rate = 128 << 10
	for _, transport := range []string{"mem", "udp"} {
		t.Run(transport, func(t *testing.T) {
			up, _ := NewBucket("session", rate)
			down, _ := NewBucket("session", rate)
			cons, _ := newSessionPair(t, transport, pairOptions{
				policy:   []PolicyOption{WithAllowLoopback()},
				provider: []ProviderOption{WithRateLimits([]*Bucket{up}, []*Bucket{down})},
			})
			t.Run("tcp down", func(t *testing.T) {
				origin := tcpOrigin(t, func(c net.Conn) { c.Write(make([]byte, 3*rate)); c.Close() })
				c, err := cons.DialTCP(t.Context(), origin)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				start := time.Now()
				n, err := io.Copy(io.Discard, c)
				checkRate(t, n, 3*rate, err, time.Since(start), rate)
			})
			t.Run("tcp up", func(t *testing.T) {
				got := make(chan int64, 1)
				origin := tcpOrigin(t, func(c net.Conn) {
					n, _ := io.Copy(io.Discard, c)
					got <- n
					c.Close()
				})
				c, err := cons.DialTCP(t.Context(), origin)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				start := time.Now()
				if _, err := c.Write(make([]byte, 3*rate)); err != nil {
					t.Fatal(err)
				}
				c.(interface{ CloseWrite() error }).CloseWrite()
				n := <-got
				checkRate(t, n, 3*rate, nil, time.Since(start), rate)
			})
			t.Run("udp up", func(t *testing.T) {
				// The origin counts what arrives; the exit must not pass it on
				// faster than the limit (some datagrams may be dropped).
				pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				uc, err := cons.ListenUDP(false)
				if err != nil {
					t.Fatal(err)
				}
				defer uc.Close()
				const size, count = 1000, 2 * rate / 1000
				dst := net.UDPAddrFromAddrPort(pc.LocalAddr().(*net.UDPAddr).AddrPort())
				arrived := make(chan int64, 1)
				go func() {
					buf := make([]byte, 2048)
					var n int64
					var first time.Time
					for {
						pc.SetReadDeadline(time.Now().Add(2 * time.Second))
						k, _, err := pc.ReadFrom(buf)
						if err != nil {
							break
						}
						if first.IsZero() {
							first = time.Now()
						}
						n += int64(k)
					}
					arrived <- n
				}()
				start := time.Now()
				for range count {
					if _, err := uc.WriteTo(make([]byte, size), dst); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Millisecond) // do not overrun the tunnel's own buffers
				}
				n := <-arrived
				took := time.Since(start) - 2*time.Second // the reader's final idle wait
				if n < size {
					t.Fatal("no datagram arrived")
				}
				if r := float64(n) / took.Seconds(); r > 2*rate {
					t.Fatalf("%d bytes of UDP in %v: %.0f B/s, limit %d B/s", n, took, r, rate)
				}
				t.Logf("udp up: %d of %d bytes in %v (limit %d B/s)", n, size*count, took, rate)
			})
		})
	}
}

// tcpOrigin serves each connection with serve on loopback.
func tcpOrigin(t *testing.T, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// checkRate: all want bytes came, no faster than twice the limit (the
// first burst and buffers in flight allow some excess, not double).
func checkRate(t *testing.T, n, want int64, err error, took time.Duration, limit int64) {
	t.Helper()
	if err != nil || n != want {
		t.Fatalf("moved %d of %d bytes: %v", n, want, err)
	}
	r := float64(n) / took.Seconds()
	if r > 2*float64(limit) {
		t.Fatalf("%d bytes in %v: %.0f B/s, limit %d B/s", n, took, r, limit)
	}
	t.Logf("%d bytes in %v: %.0f B/s (limit %d B/s)", n, took, r, limit)
}
