package hermes

import (
	"fmt"
	"math/big"
	"time"
)

// GiB is 2^30 bytes, the unit of per-GiB prices.
const GiB = 1 << 30

// Usage is what a session has used so far, as one side measured it.
type Usage struct {
	Duration time.Duration
	Bytes    uint64 // both directions
}

// Price is an agreed price in token base units.
type Price struct {
	PerHour *big.Int
	PerGiB  *big.Int
}

// Validate checks that both prices are set and non-negative.
func (p Price) Validate() error {
	if p.PerHour == nil || p.PerGiB == nil || p.PerHour.Sign() < 0 || p.PerGiB.Sign() < 0 {
		return fmt.Errorf("%w: price per hour %v, per GiB %v", ErrMalformed, p.PerHour, p.PerGiB)
	}
	return nil
}

// Cost is floor(PerHour × duration / 1h) + floor(PerGiB × bytes / GiB).
func (p Price) Cost(u Usage) *big.Int {
	d := max(u.Duration, 0)
	t := new(big.Int).Mul(p.PerHour, big.NewInt(int64(d)))
	t.Quo(t, big.NewInt(int64(time.Hour)))
	b := new(big.Int).Mul(p.PerGiB, new(big.Int).SetUint64(u.Bytes))
	b.Quo(b, big.NewInt(GiB))
	return t.Add(t, b)
}

// Tolerance is how far a provider's invoice may exceed the price of the
// usage the consumer measured itself: the consumer pays at most
// Cost(measured + Slack) × (10000 + Bp) / 10000. Measurements on the two
// sides differ by protocol overhead and by when each side looks.
type Tolerance struct {
	Bp    uint16 // proportional allowance in basis points
	Slack Usage  // absolute allowance
}

// DefaultTolerance allows 5 % plus 10 seconds and 1 MiB.
var DefaultTolerance = Tolerance{Bp: 500, Slack: Usage{Duration: 10 * time.Second, Bytes: 1 << 20}}

// Allowed is the most a consumer that measured u pays at price p.
func (t Tolerance) Allowed(p Price, u Usage) *big.Int {
	c := p.Cost(Usage{Duration: u.Duration + t.Slack.Duration, Bytes: u.Bytes + t.Slack.Bytes})
	c.Mul(c, big.NewInt(10000+int64(t.Bp)))
	return c.Quo(c, big.NewInt(10000))
}
