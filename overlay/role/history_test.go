package role_test

import (
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/overlay/role"
)

// The history survives a restart, keeps at most its bound per series (the
// newest), answers from a time on, oldest first, and refuses unknown
// series.
func TestHistory(t *testing.T) {
	dir := t.TempDir()
	h, err := role.OpenHistory(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 8 {
		if err := h.Add(role.SeriesTraffic, role.Sample{T: t0.Add(time.Duration(i) * time.Second), Up: uint64(i), Down: uint64(10 * i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Add(role.SeriesEarnings, role.Sample{T: t0, Earned: "12345678901234567890"}); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("bytes", role.Sample{T: t0}); err == nil {
		t.Fatal("an unknown series was accepted")
	}
	if _, err := role.OpenHistory(dir, 5); err == nil {
		t.Fatal("a second process opened the history while the first holds it")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	h, err = role.OpenHistory(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	got, err := h.Since(role.SeriesTraffic, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Up != 3 || got[4].Up != 7 || got[4].Down != 70 || !got[0].T.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("after a restart: %+v, want samples 3..7", got)
	}
	// One more drops the oldest, across the restart too.
	if err := h.Add(role.SeriesTraffic, role.Sample{T: t0.Add(time.Minute), Up: 99}); err != nil {
		t.Fatal(err)
	}
	got, _ = h.Since(role.SeriesTraffic, t0.Add(5*time.Second), 0)
	if len(got) != 4 || got[0].Up != 5 || got[3].Up != 99 {
		t.Fatalf("since sample 5: %+v", got)
	}
	got, _ = h.Since(role.SeriesTraffic, time.Time{}, 2)
	if len(got) != 2 || got[0].Up != 7 || got[1].Up != 99 {
		t.Fatalf("the newest 2: %+v", got)
	}
	e, _ := h.Since(role.SeriesEarnings, time.Time{}, 0)
	if len(e) != 1 || e[0].Earned != "12345678901234567890" {
		t.Fatalf("earnings: %+v", e)
	}
}
