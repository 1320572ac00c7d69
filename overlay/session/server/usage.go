package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// UsageFileName is the monthly usage file's usual name in a data directory.
const UsageFileName = "usage.db"

// usageFlushEvery bounds how often the month's count is written: a crash
// forgets at most this much of it (the cap is checked against the count
// in memory all along).
const usageFlushEvery = 10 * time.Second

var bucketMonths = []byte("month_usage")

// usage is a provider's month-to-date traffic, both directions summed,
// kept in a bbolt file so that the monthly cap survives a restart. The
// month is the UTC calendar month; a new month starts from zero. Without
// a file it counts in memory only.
type usage struct {
	db *bolt.DB // nil: memory only

	mu      sync.Mutex
	month   time.Time // start of the month counted, UTC
	used    int64
	dirty   bool
	flushed time.Time
}

// monthOf is the start of t's UTC calendar month.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func monthKey(m time.Time) []byte { return []byte(m.Format("2006-01")) }

// openUsage opens (creating if needed) the usage file at path, or counts
// in memory when path is "".
func openUsage(path string, now time.Time) (*usage, error) {
	u := &usage{month: monthOf(now), flushed: now}
	if path == "" {
		return u, nil
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("usage file %s is held by another process (is another provider running with this data directory?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open usage file %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMonths)
		if err != nil {
			return err
		}
		v := b.Get(monthKey(u.month))
		switch {
		case v == nil:
		case len(v) != 8:
			return fmt.Errorf("month %s holds %d bytes, not 8 (remove the file to start the month from zero)", monthKey(u.month), len(v))
		default:
			u.used = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("usage file %s: %w", path, err), db.Close())
	}
	u.db = db
	return u, nil
}

// rollLocked starts a new month when now is past the one counted.
func (u *usage) rollLocked(now time.Time) {
	if m := monthOf(now); m.After(u.month) {
		u.month, u.used, u.dirty = m, 0, true
	}
}

// add counts n bytes at now and returns the month's total.
func (u *usage) add(now time.Time, n int64) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rollLocked(now)
	if n > 0 {
		u.used += n
		u.dirty = true
	}
	return u.used
}

// get is the month's total at now and the month's start.
func (u *usage) get(now time.Time) (int64, time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rollLocked(now)
	return u.used, u.month
}

// flush writes the count if it changed and force or usageFlushEvery has
// passed since the last write.
func (u *usage) flush(now time.Time, force bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.db == nil || !u.dirty || !force && now.Sub(u.flushed) < usageFlushEvery {
		return nil
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(u.used))
	key := monthKey(u.month)
	if err := u.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMonths).Put(key, v[:]) }); err != nil {
		return fmt.Errorf("write usage file: %w", err)
	}
	u.dirty, u.flushed = false, now
	return nil
}

// close writes the count and closes the file.
func (u *usage) close(now time.Time) error {
	err := u.flush(now, true)
	if u.db != nil {
		err = errors.Join(err, u.db.Close())
	}
	return err
}
