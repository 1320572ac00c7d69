package tunnel

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// Bucket limits bytes per second: a token bucket that several sessions
// may share (a provider's total) or one session holds alone, and whose
// rate can change while traffic flows. A rate of 0 is unlimited.
//
// Its burst is an eighth of a second at the rate, between minBurst and
// maxBurst, so that a download's measured rate stays close to the limit
// over a few seconds while the copy loops still move whole buffers.
type Bucket struct {
	l    *rate.Limiter
	bps  atomic.Int64
	name string
}

const (
	minBurst = 16 << 10
	maxBurst = 1 << 20
)

// NewBucket returns a bucket of bytesPerSecond (0: unlimited). name says
// what it limits in errors and logs ("session", "total").
func NewBucket(name string, bytesPerSecond int64) (*Bucket, error) {
	b := &Bucket{l: rate.NewLimiter(rate.Inf, maxBurst), name: name}
	if err := b.SetRate(bytesPerSecond); err != nil {
		return nil, err
	}
	return b, nil
}

// SetRate changes the rate at once for everyone waiting on the bucket.
func (b *Bucket) SetRate(bytesPerSecond int64) error {
	if bytesPerSecond < 0 {
		return fmt.Errorf("%w: %s rate %d bytes/s is negative (0 means unlimited)", ErrInvalidConfig, b.name, bytesPerSecond)
	}
	b.bps.Store(bytesPerSecond)
	if bytesPerSecond == 0 {
		b.l.SetLimit(rate.Inf)
		return nil
	}
	b.l.SetBurst(burstFor(bytesPerSecond))
	b.l.SetLimit(rate.Limit(bytesPerSecond))
	return nil
}

// Rate is the bucket's rate in bytes per second, 0 for unlimited.
func (b *Bucket) Rate() int64 { return b.bps.Load() }

func burstFor(bps int64) int {
	return int(min(max(bps/8, minBurst), maxBurst))
}

// chunk is the most bytes a write may send before waiting again: the
// bucket's burst, so a wait never asks for more than the bucket holds.
func (b *Bucket) chunk() int {
	if b.bps.Load() == 0 {
		return maxBurst
	}
	return b.l.Burst()
}

// wait takes n bytes from the bucket, waiting for them, in burst-sized
// pieces when n is more than a burst (a large datagram, or a rate change
// that shrank the burst during a write).
func (b *Bucket) wait(ctx context.Context, n int) error {
	if b.bps.Load() == 0 {
		return nil
	}
	for n > 0 {
		k := min(n, b.l.Burst())
		if err := b.l.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // the burst shrank under us: ask again
		}
		n -= k
	}
	return nil
}

// buckets are the limits one direction of a session's traffic obeys: all
// of them, in order (the session's own, then the provider's total).
type buckets []*Bucket

// take waits until every bucket has n bytes for the caller.
func (bs buckets) take(ctx context.Context, n int) error {
	for _, b := range bs {
		if err := b.wait(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// chunk is the largest write all the buckets allow at once.
func (bs buckets) chunk() int {
	c := maxBurst
	for _, b := range bs {
		c = min(c, b.chunk())
	}
	return c
}

// limitedConn throttles writes to a connection: every Write waits for
// its bytes in each bucket before it sends them, in chunks no bigger than
// a burst, so the reader of the other side sees the limited rate and TCP's
// flow control slows the sender down.
type limitedConn struct {
	net.Conn
	ctx context.Context
	bs  buckets
}

// throttle wraps c so that writes obey bs; with no buckets it returns c.
func throttle(ctx context.Context, c net.Conn, bs buckets) net.Conn {
	if len(bs) == 0 {
		return c
	}
	return &limitedConn{Conn: c, ctx: ctx, bs: bs}
}

func (c *limitedConn) Write(p []byte) (int, error) {
	var done int
	for done < len(p) {
		k := min(len(p)-done, c.bs.chunk())
		if err := c.bs.take(c.ctx, k); err != nil {
			return done, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		n, err := c.Conn.Write(p[done : done+k])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// CloseWrite passes a half-close through, for proxyTCP.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
