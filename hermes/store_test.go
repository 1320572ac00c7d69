package hermes

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// queuedWrites is how many writes wait for the store's writer goroutine.
func queuedWrites(s *Store) int {
	s.queue.Lock()
	defer s.queue.Unlock()
	n := 0
	for _, g := range s.queue.groups {
		n += g.writes
	}
	return n
}

// waitQueued waits until n writes wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queuedWrites(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", queuedWrites(s), n)
		}
		runtime.Gosched()
	}
}

// stallWriter makes the writer goroutine hang in a commit, before it
// publishes the write to readers, until the returned function is called;
// that function returns the stalled write's error.
func stallWriter(t *testing.T, s *Store) (release func() error) {
	t.Helper()
	s.mem.Lock()
	s.queue.Lock()
	taken := s.queue.taken
	s.queue.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.PutR([32]byte{0xee}) }()
	var once sync.Once
	t.Cleanup(func() { once.Do(s.mem.Unlock) }) // a failing test must not leave Close stuck
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.queue.Lock()
		n := s.queue.taken
		s.queue.Unlock()
		if n > taken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writer never took the stalling write")
		}
		runtime.Gosched()
	}
	return func() error {
		once.Do(s.mem.Unlock)
		return <-done
	}
}

func TestStoreGroupCommit(t *testing.T) {
	s, path := openTestStore(t, WithMaxGroup(8))
	release := stallWriter(t, s)

	// While the writer is busy, 20 writes queue up: groups of at most 8.
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	rs := make([][32]byte, n)
	for i := range n {
		rs[i] = [32]byte{byte(i + 1)}
		wg.Go(func() { errs[i] = s.PutR(rs[i]) })
	}
	waitQueued(t, s, n)
	s.queue.Lock()
	var sizes []int
	for _, g := range s.queue.groups {
		sizes = append(sizes, g.writes)
	}
	s.queue.Unlock()
	if fmt.Sprint(sizes) != "[8 8 4]" {
		t.Errorf("queued groups %v, want [8 8 4]", sizes)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}

	// Every write is on disk.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	for i, r := range rs {
		got, ok, err := s2.R(Hashlock(r))
		if err != nil || !ok || got != r {
			t.Fatalf("R %d after reopen: %x, %v, %v", i, got, ok, err)
		}
	}
}

func TestStoreLogFailureIsSticky(t *testing.T) {
	s, _ := openTestStore(t)
	good := [32]byte{0xee}
	if err := s.PutR(good); err != nil {
		t.Fatal(err)
	}
	// After a failed log write no write is accepted: the next one gets
	// the same error without touching the log.
	if err := s.closeLog(); err != nil {
		t.Fatal(err)
	}
	bad1 := s.PutR([32]byte{1})
	if bad1 == nil {
		t.Fatal("write to a closed log succeeded")
	}
	if bad2 := s.PutR([32]byte{2}); bad2 != bad1 {
		t.Fatalf("write after a log failure: %v, want the failure %v", bad2, bad1)
	}
	if _, ok, err := s.R(Hashlock(good)); err != nil || !ok {
		t.Fatalf("acknowledged write: %v, %v", ok, err)
	}
	for _, r := range [][32]byte{{1}, {2}} {
		if _, ok, err := s.R(Hashlock(r)); err != nil || ok {
			t.Fatalf("failed write %x is visible: %v, %v", r[:1], ok, err)
		}
	}
}

func TestStoreCloseFinishesWrites(t *testing.T) {
	s, path := openTestStore(t)
	release := stallWriter(t, s)

	r := [32]byte{7}
	written := make(chan error, 1)
	go func() { written <- s.PutR(r) }()
	waitQueued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close waits for the queued write; writes after Close are refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.queue.Lock()
		c := s.queue.closed
		s.queue.Unlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close never marked the store closed")
		}
		runtime.Gosched()
	}
	if err := s.PutR([32]byte{8}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v, want ErrClosed", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatalf("write queued before Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}

	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	if _, ok, err := s2.R(Hashlock(r)); err != nil || !ok {
		t.Fatalf("queued write after reopen: %v, %v", ok, err)
	}
}

// TestStoreLoneWriterIsNotDelayed: one write at a time never waits for the
// commit delay, however long it is.
func TestStoreLoneWriterIsNotDelayed(t *testing.T) {
	s, _ := openTestStore(t, WithCommitDelay(time.Second))
	start := time.Now()
	for i := range 10 {
		if err := s.PutR([32]byte{byte(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("10 writes one after another took %s: the lone writer waited for the 1 s commit delay", d)
	}
}

// TestStoreCommitDelayFillsGroups: once writes share groups, the writer
// waits for the delay after each commit, so writes that arrive one by one
// a millisecond apart share a few groups instead of taking a commit each.
func TestStoreCommitDelayFillsGroups(t *testing.T) {
	s, path := openTestStore(t, WithCommitDelay(50*time.Millisecond))
	var rs [][32]byte
	var mu sync.Mutex
	var failed []error
	put := func(wg *sync.WaitGroup, r [32]byte) {
		rs = append(rs, r)
		wg.Go(func() {
			if err := s.PutR(r); err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
			}
		})
	}
	// A burst while the writer is held makes a shared group.
	release := stallWriter(t, s)
	var burst sync.WaitGroup
	for i := range 16 {
		put(&burst, [32]byte{1, byte(i + 1)})
	}
	waitQueued(t, s, 16)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	burst.Wait()
	// Then one write each millisecond.
	var trickle sync.WaitGroup
	const n = 100
	for i := range n {
		put(&trickle, [32]byte{2, byte(i + 1)})
		time.Sleep(time.Millisecond)
	}
	trickle.Wait()
	if len(failed) > 0 {
		t.Fatal(failed[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has ended the writer: its sequence number counts the commits.
	if commits := s.log.seq; commits > n/4 {
		t.Errorf("%d writes a millisecond apart took %d commits in all: the delay did not fill the groups", n, commits)
	} else {
		t.Logf("%d commits", commits)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, r := range rs {
		if got, ok, err := s2.R(Hashlock(r)); err != nil || !ok || got != r {
			t.Fatalf("R %x after reopen: %x, %v, %v", r[:2], got, ok, err)
		}
	}
}

func TestWithCommitDelayRejectsBadValues(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, 2 * time.Second} {
		if _, err := OpenStore(filepath.Join(t.TempDir(), "h.db"), WithCommitDelay(d)); err == nil {
			t.Errorf("commit delay %s accepted", d)
		}
	}
}
