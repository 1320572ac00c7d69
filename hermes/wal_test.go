package hermes

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestWALRecordGolden(t *testing.T) {
	puts := []put{
		{bucket: bucketProvR, key: []byte{0xaa, 0xbb}, value: []byte("R")},
		{bucket: bucketHubAgreements, key: []byte{1}},
	}
	const want = "0000001a" + "e3474156" + "0000000000000007" + // length, CRC-32C, seq
		"03" + "0002" + "aabb" + "00000001" + "52" + // prov/r
		"02" + "0001" + "01" + "00000000" // hub/agreements, empty value
	b, err := appendWALRecord(nil, 7, puts)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("record %s\nwant   %s", got, want)
	}
	gs, err := decodeWAL(b)
	if err != nil || len(gs) != 1 || gs[0].seq != 7 || len(gs[0].puts) != 2 {
		t.Fatalf("decoded %+v, %v", gs, err)
	}
	if p := gs[0].puts[0]; !bytes.Equal(p.bucket, bucketProvR) || !bytes.Equal(p.key, []byte{0xaa, 0xbb}) || string(p.value) != "R" {
		t.Fatalf("first put %+v", p)
	}
	if _, err := appendWALRecord(nil, 1, []put{{bucket: []byte("nope")}}); err == nil {
		t.Fatal("record with an unknown bucket encoded")
	}
}

func TestWALEndsAtTornRecord(t *testing.T) {
	var log []byte
	for seq := uint64(1); seq <= 3; seq++ {
		var err error
		if log, err = appendWALRecord(log, seq, []put{{bucket: bucketProvR, key: []byte{byte(seq)}, value: []byte("value")}}); err != nil {
			t.Fatal(err)
		}
	}
	rec := len(log) / 3
	for cut := range len(log) + 1 {
		gs, err := decodeWAL(log[:cut])
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(gs) != cut/rec {
			t.Fatalf("cut %d: %d groups, want %d", cut, len(gs), cut/rec)
		}
	}
	// A flipped bit fails the checksum: the log ends before that record.
	bad := bytes.Clone(log)
	bad[rec+walHeaderSize+3] ^= 1
	if gs, err := decodeWAL(bad); err != nil || len(gs) != 1 {
		t.Fatalf("corrupt second record: %d groups, %v", len(gs), err)
	}
	// Intact records whose sequence goes back mean corruption, not a torn tail.
	back := append(bytes.Clone(log), log[:rec]...)
	if _, err := decodeWAL(back); !errors.Is(err, ErrMalformed) {
		t.Fatalf("repeated sequence: %v, want ErrMalformed", err)
	}
}

func FuzzDecodeWAL(f *testing.F) {
	log, _ := appendWALRecord(nil, 1, []put{{bucket: bucketHubConsumers, key: []byte("k"), value: []byte("v")}})
	log, _ = appendWALRecord(log, 2, []put{{bucket: bucketProvSessions, key: make([]byte, 32), value: make([]byte, 300)}, {bucket: bucketProvR, key: []byte{}}})
	f.Add(log)
	f.Add(log[:len(log)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := decodeWAL(b)
		if err != nil {
			return
		}
		// What decodes is a prefix of the input, and encodes back to it.
		var re []byte
		for _, g := range gs {
			if re, err = appendWALRecord(re, g.seq, g.puts); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.HasPrefix(b, re) {
			t.Fatalf("re-encoded %x is not a prefix of %x", re, b)
		}
	})
}

// crashCopy copies an open store's files as a crash would leave them (the
// store must not be checkpointing) into a new directory, and returns the
// copy's path.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", ".wal0", ".wal1"} {
		copyFile(t, path+suffix, dst+suffix)
	}
	return dst
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreReplaysLogAfterCrash(t *testing.T) {
	s, path := openTestStore(t, WithCheckpointBytes(1<<30)) // no checkpoint: everything stays in the log
	const n = 20
	for i := range n {
		if err := s.PutR([32]byte{byte(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(path + ".wal0")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size()%n != 0 {
		t.Fatalf("log of %d bytes for %d equal writes", st.Size(), n)
	}
	rec := st.Size() / n
	// A crash can tear the last record anywhere: the writes before it
	// are all there, the torn one is not.
	for _, cut := range []int64{st.Size(), st.Size() - 1, 5*rec + rec/2, 5 * rec, 1, 0} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dst := crashCopy(t, path)
			if err := os.Truncate(dst+".wal0", cut); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second open finds everything in the bbolt file
				s2, err := OpenStore(dst)
				if err != nil {
					t.Fatal(err)
				}
				for i := range n {
					_, ok, err := s2.R(Hashlock([32]byte{byte(i + 1)}))
					if want := int64(i+1)*rec <= cut; err != nil || ok != want {
						t.Fatalf("R %d: present %v (%v), want %v", i, ok, err, want)
					}
				}
				if err := s2.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(dst + ".wal0"); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("log left after a clean Close: %v", err)
				}
			}
		})
	}
}

func TestStoreCheckpointsUnderLoad(t *testing.T) {
	s, path := openTestStore(t, WithCheckpointBytes(1), WithMaxGroup(4)) // a checkpoint after every group
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := [32]byte{byte(w), byte(i), 1}
				if err := s.PutR(r); err != nil {
					errs <- err
					return
				}
				// Acknowledged means readable, checkpointed or not.
				if got, ok, err := s.R(Hashlock(r)); err != nil || !ok || got != r {
					errs <- fmt.Errorf("R %x after its write: %v, %v", r[:2], ok, err)
					return
				}
				agr := [32]byte{byte(w), byte(i)}
				last := &ExchangeMessage{Promise: Promise{Amount: big.NewInt(1), Fee: new(big.Int), Signature: make([]byte, SignatureSize)}, AgreementTotal: big.NewInt(1), Signature: make([]byte, SignatureSize)}
				if err := s.putSession(agr, &sessionRecord{Hermes: [20]byte{byte(w)}, Last: last, Fee: new(big.Int), Exchanged: new(big.Int)}); err != nil {
					errs <- err
					return
				}
				// view sees every acknowledged write too.
				ps, err := s.unexchangedSessions([20]byte{byte(w)})
				if err != nil || len(ps) != i+1 {
					errs <- fmt.Errorf("writer %d: %d unexchanged sessions after %d writes: %v", w, len(ps), i+1, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	for w := range writers {
		for i := range each {
			r := [32]byte{byte(w), byte(i), 1}
			if _, ok, err := s2.R(Hashlock(r)); err != nil || !ok {
				t.Fatalf("R %x after reopen: %v, %v", r[:2], ok, err)
			}
		}
	}
}

// TestStoreRandomAgainstModel runs random writes, reads, checkpoints,
// clean reopens and crashes against a map.
func TestStoreRandomAgainstModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			open := func(path string) *Store {
				opts := []StoreOption{WithCheckpointBytes([]int64{1, 300, 1 << 30}[rng.IntN(3)])}
				s, err := OpenStore(path, opts...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			path := filepath.Join(t.TempDir(), "model.db")
			s := open(path)
			model := map[string]string{}
			for step := range 400 {
				switch op := rng.IntN(20); {
				case op < 14:
					var puts []put
					for range 1 + rng.IntN(3) {
						k, v := fmt.Sprint("k", rng.IntN(12)), fmt.Sprint("v", step, "-", rng.IntN(1000))
						puts = append(puts, put{bucket: bucketProvR, key: []byte(k), value: []byte(v)})
						model[k] = v
					}
					if err := s.batch(puts...); err != nil {
						t.Fatal(err)
					}
				case op < 16:
					for k, want := range model {
						var got string
						ok, err := s.get(bucketProvR, []byte(k), func(v []byte) error { got = string(v); return nil })
						if err != nil || !ok || got != want {
							t.Fatalf("step %d: get %s = %q, %v, %v; want %q", step, k, got, ok, err, want)
						}
					}
				case op < 18:
					seen := map[string]string{}
					err := s.view(func(tx *bolt.Tx) error {
						return tx.Bucket(bucketProvR).ForEach(func(k, v []byte) error { seen[string(k)] = string(v); return nil })
					})
					if err != nil || fmt.Sprint(seen) != fmt.Sprint(model) {
						t.Fatalf("step %d: view sees %v, %v; want %v", step, seen, err, model)
					}
				case op < 19:
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					s = open(path)
				case s.checkpointBytes < 1<<30:
					// A checkpoint may be running: no crash copy now.
				default:
					// Crash: a view first, so no checkpoint is running while
					// the files are copied.
					if err := s.view(func(*bolt.Tx) error { return nil }); err != nil {
						t.Fatal(err)
					}
					if err := s.batch(put{bucket: bucketProvR, key: []byte("k0"), value: []byte(fmt.Sprint("crash", step))}); err != nil {
						t.Fatal(err)
					}
					model["k0"] = fmt.Sprint("crash", step)
					path = crashCopy(t, path)
					s = open(path)
				}
			}
		})
	}
}
