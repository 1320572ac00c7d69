package hermes

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// queuedWrites is how many writes wait for the store's writer goroutine.
func queuedWrites(s *Store) int {
	s.queue.Lock()
	defer s.queue.Unlock()
	n := 0
	for _, g := range s.queue.groups {
		n += len(g.fns)
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

// stallWriter makes the writer goroutine hang in a commit until the
// returned function is called; that function returns the stalled write's error.
func stallWriter(t *testing.T, s *Store) (release func() error) {
	t.Helper()
	entered, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- s.batch(func(*bolt.Tx) error {
			once.Do(func() { close(entered) })
			<-resume
			return nil
		})
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("writer never ran the stalling write")
	}
	return func() error {
		close(resume)
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
		sizes = append(sizes, len(g.fns))
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

func TestStoreGroupFailsAlone(t *testing.T) {
	s, _ := openTestStore(t)
	release := stallWriter(t, s)

	// A group of two good writes and a bad one: only the bad one fails.
	errBad := errors.New("bad write")
	var wg sync.WaitGroup
	var good1, good2, bad error
	r1, r2 := [32]byte{1}, [32]byte{2}
	wg.Go(func() { good1 = s.PutR(r1) })
	waitQueued(t, s, 1)
	wg.Go(func() { bad = s.batch(func(*bolt.Tx) error { return errBad }) })
	waitQueued(t, s, 2)
	wg.Go(func() { good2 = s.PutR(r2) })
	waitQueued(t, s, 3)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if good1 != nil || good2 != nil {
		t.Fatalf("good writes failed: %v, %v", good1, good2)
	}
	if !errors.Is(bad, errBad) {
		t.Fatalf("bad write: %v, want %v", bad, errBad)
	}
	for _, r := range [][32]byte{r1, r2} {
		if _, ok, err := s.R(Hashlock(r)); err != nil || !ok {
			t.Fatalf("R %x: %v, %v", r[:1], ok, err)
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
