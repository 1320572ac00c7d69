package role

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// HistoryFile is the name of a node's history store in its data directory.
const HistoryFile = "history.db"

// History defaults.
const (
	// DefaultHistoryInterval is how often a provider samples its traffic
	// and earnings.
	DefaultHistoryInterval = 30 * time.Second
	// DefaultHistoryMax bounds the samples kept per series (the oldest go
	// first): at DefaultHistoryInterval, about 35 days.
	DefaultHistoryMax = 100_000
	// HistoryMaxAnswer bounds the samples one GET /v1/history answers.
	HistoryMaxAnswer = 2000
)

// Series is a history series.
type Series string

// The series a provider keeps.
const (
	// SeriesTraffic: bytes carried in each interval, each way.
	SeriesTraffic Series = "traffic"
	// SeriesEarnings: what was earned in all (promised − fee, every hermes) at each sample.
	SeriesEarnings Series = "earnings"
)

// ErrUnknownSeries means a history series that is not kept.
var ErrUnknownSeries = errors.New("unknown history series (want traffic or earnings)")

func (s Series) valid() bool { return s == SeriesTraffic || s == SeriesEarnings }

// Sample is one point of a series. Traffic samples carry Up (consumer to
// the internet) and Down, the bytes of the interval ending at T; earnings
// samples carry Earned, cumulative base units.
type Sample struct {
	T      time.Time `json:"t"`
	Up     uint64    `json:"up,omitempty"`
	Down   uint64    `json:"down,omitempty"`
	Earned string    `json:"earned,omitempty"`
}

// History keeps samples in a bbolt file, one bucket per series keyed by
// time, at most max per series.
type History struct {
	db  *bolt.DB
	max int

	mu sync.Mutex // guards n
	n  map[Series]int
}

// OpenHistory opens (or creates) the history in dataDir, keeping at most
// max samples per series (0: DefaultHistoryMax).
func OpenHistory(dataDir string, max int) (*History, error) {
	if max <= 0 {
		max = DefaultHistoryMax
	}
	path := filepath.Join(dataDir, HistoryFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("history %s: %w (is another mystp2p process using %s?)", path, err, dataDir)
	}
	h := &History{db: db, max: max, n: map[Series]int{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, s := range []Series{SeriesTraffic, SeriesEarnings} {
			b, err := tx.CreateBucketIfNotExists([]byte(s))
			if err != nil {
				return err
			}
			h.n[s] = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	return h, nil
}

// Close closes the file.
func (h *History) Close() error { return h.db.Close() }

// timeKey orders samples by time: big-endian unix nanoseconds.
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}

// Add appends s to series, dropping the oldest samples beyond the bound.
func (h *History) Add(series Series, s Sample) error {
	if !series.valid() {
		return fmt.Errorf("%w: %q", ErrUnknownSeries, series)
	}
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.n[series]
	err = h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(series))
		key := timeKey(s.T)
		if b.Get(key) == nil {
			n++
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n > h.max; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return nil
	})
	if err == nil {
		h.n[series] = n
	}
	return err
}

// Since returns series' samples from since on, oldest first, at most
// limit (the newest ones when there are more).
func (h *History) Since(series Series, since time.Time, limit int) ([]Sample, error) {
	if !series.valid() {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSeries, series)
	}
	if limit <= 0 || limit > HistoryMaxAnswer {
		limit = HistoryMaxAnswer
	}
	out := []Sample{}
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(series)).Cursor()
		var start []byte // nil: from the first sample
		if since.After(time.Unix(0, 0)) {
			start = timeKey(since)
		}
		// Walk back from the newest so that limit keeps the latest.
		for k, v := c.Last(); k != nil && (start == nil || string(k) >= string(start)); k, v = c.Prev() {
			s, err := decodeSample(v)
			if err != nil {
				return fmt.Errorf("history %s at %x: %w", series, k, err)
			}
			out = append(out, s)
			if len(out) == limit {
				break
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// decodeSample reads a stored sample.
func decodeSample(v []byte) (Sample, error) {
	var s Sample
	if err := json.Unmarshal(v, &s); err != nil {
		return Sample{}, err
	}
	if s.Earned != "" {
		if _, ok := new(big.Int).SetString(s.Earned, 10); !ok {
			return Sample{}, fmt.Errorf("earned %q is not a decimal amount", s.Earned)
		}
	}
	return s, nil
}

// recorder samples a node's traffic and earnings into a History every
// interval until Close.
type recorder struct {
	h        *History
	interval time.Duration
	// traffic is the bytes carried up and down since the last call;
	// earned the cumulative earnings (nil: no books).
	traffic func() (up, down uint64)
	earned  func() (*big.Int, error)
	log     *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startRecorder samples at once (so a restart shows where it came back),
// then every interval.
func startRecorder(r *recorder) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() {
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			r.sample(time.Now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return r
}

func (r *recorder) sample(now time.Time) {
	up, down := r.traffic()
	if err := r.h.Add(SeriesTraffic, Sample{T: now, Up: up, Down: down}); err != nil {
		r.log.Warn("history: traffic sample", "err", err)
	}
	if r.earned == nil {
		return
	}
	e, err := r.earned()
	if err == nil {
		err = r.h.Add(SeriesEarnings, Sample{T: now, Earned: e.String()})
	}
	if err != nil {
		r.log.Warn("history: earnings sample", "err", err)
	}
}

// Close stops sampling (taking one last sample) and waits.
func (r *recorder) Close() error {
	r.cancel()
	r.wg.Wait()
	r.sample(time.Now())
	return nil
}
