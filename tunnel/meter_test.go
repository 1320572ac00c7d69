package tunnel

import (
	"sync"
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := newMeter(clock)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				m.addTx(100)
				m.addRx(1000)
				_ = m.stats()
			}
		})
	}
	wg.Wait()
	advance(90 * time.Second)
	s := m.stats()
	if s.TxBytes != 400_000 || s.RxBytes != 4_000_000 || s.TxPackets != 4000 || s.RxPackets != 4000 {
		t.Fatalf("stats %+v", s)
	}
	if s.TotalBytes() != 4_400_000 || s.Duration != 90*time.Second || !s.Started.Equal(time.Unix(1000, 0)) {
		t.Fatalf("stats %+v", s)
	}
	m.stop()
	advance(time.Hour)
	m.stop()
	if d := m.stats().Duration; d != 90*time.Second {
		t.Fatalf("duration after stop %v", d)
	}
}
