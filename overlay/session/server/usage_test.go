package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The month's count comes back after a reopen and starts from zero in a
// new UTC month.
func TestUsageMonths(t *testing.T) {
	path := filepath.Join(t.TempDir(), UsageFileName)
	dec31 := time.Date(2026, 12, 31, 23, 59, 0, 0, time.FixedZone("UTC+3", 3*3600)) // 20:59 UTC
	u, err := openUsage(path, dec31)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.add(dec31, 1000); got != 1000 {
		t.Fatalf("add: %d", got)
	}
	if err := u.flush(dec31.Add(time.Second), false); err != nil {
		t.Fatal(err)
	}
	if got := u.add(dec31.Add(2*time.Second), 500); got != 1500 {
		t.Fatalf("add: %d", got)
	}
	// Close writes what the unforced flush above left for later.
	if err := u.close(dec31.Add(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	u, err = openUsage(path, dec31.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	used, month := u.get(dec31.Add(time.Minute))
	if used != 1500 || !month.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("after reopen: %d in %v, want 1500 in December 2026", used, month)
	}
	// A new month (UTC) starts from zero, and a restart in it stays there.
	jan := time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)
	if got := u.add(jan, 7); got != 7 {
		t.Fatalf("first bytes of January: month total %d, want 7", got)
	}
	if err := u.close(jan); err != nil {
		t.Fatal(err)
	}
	u, err = openUsage(path, jan.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer u.close(jan.Add(time.Hour))
	if used, _ := u.get(jan.Add(time.Hour)); used != 7 {
		t.Fatalf("January after a restart: %d, want 7", used)
	}
}

// Writes wait for usageFlushEvery unless forced.
func TestUsageFlushEvery(t *testing.T) {
	path := filepath.Join(t.TempDir(), UsageFileName)
	t0 := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	u, err := openUsage(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	u.add(t0, 42)
	if err := u.flush(t0.Add(usageFlushEvery/2), false); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, u, t0); got != 0 {
		t.Fatalf("written before usageFlushEvery: %d", got)
	}
	if err := u.flush(t0.Add(usageFlushEvery), false); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, u, t0); got != 42 {
		t.Fatalf("after usageFlushEvery the file holds %d, want 42", got)
	}
	u.add(t0, 8)
	if err := u.flush(t0.Add(usageFlushEvery+time.Second), true); err != nil {
		t.Fatal(err)
	}
	if got := stored(t, u, t0); got != 50 {
		t.Fatalf("a forced write left %d, want 50", got)
	}
	if err := u.close(t0); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, u *usage, month time.Time) int64 {
	t.Helper()
	var n int64
	err := u.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMonths).Get(monthKey(monthOf(month))); len(v) == 8 {
			for _, b := range v {
				n = n<<8 | int64(b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Without a file the count lives in memory; a bad file and a file another
// server holds are errors that say what to do.
func TestUsageErrors(t *testing.T) {
	now := time.Now()
	mem, err := openUsage("", now)
	if err != nil {
		t.Fatal(err)
	}
	if mem.add(now, 10) != 10 || mem.flush(now, true) != nil || mem.close(now) != nil {
		t.Fatal("in-memory usage")
	}

	path := filepath.Join(t.TempDir(), UsageFileName)
	u, err := openUsage(path, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openUsage(path, now); err == nil || !strings.Contains(err.Error(), "held by another process") {
		t.Fatalf("second open of a held file: %v", err)
	}
	// A value of the wrong size.
	if err := u.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMonths).Put(monthKey(monthOf(now)), []byte{1, 2, 3})
	}); err != nil {
		t.Fatal(err)
	}
	u.db.Close()
	if _, err := openUsage(path, now); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Fatalf("corrupt month: %v", err)
	}
	// Not a bbolt file at all.
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openUsage(junk, now); err == nil || !strings.Contains(err.Error(), junk) {
		t.Fatalf("junk file: %v", err)
	}
}
