package hermes

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Buckets of the store. Hub and provider state may share one file.
var (
	bucketHubConsumers  = []byte("hub/consumers")  // consumer channel ID → consumerRecord
	bucketHubProviders  = []byte("hub/providers")  // provider channel ID → providerRecord
	bucketHubAgreements = []byte("hub/agreements") // consumer channel ID ‖ agreement ID → agreementRecord
	bucketProvR         = []byte("prov/r")         // hashlock → R
	bucketProvSessions  = []byte("prov/sessions")  // agreement ID → sessionRecord
	bucketProvEarnings  = []byte("prov/earnings")  // hermes address → earningRecord
	// hermes address ‖ cumulative settled amount (uint256) → Settlement
	bucketProvSettlements = []byte("prov/settlements")
)

// Store is the durable state of a hermes hub and of a provider: a bbolt
// file and, beside it, a write-ahead log in two files (path.wal0 and
// path.wal1, see wal.go). Every write is on disk before the call returns.
// Concurrent writes are group-committed: writes queue up while a commit is
// in flight, and the one writer goroutine then takes every waiting write
// into one log record and one fsync. A lone write is committed at once;
// under load the groups grow by themselves, which is what lets a hub answer
// thousands of promise requests per second.
//
// Acknowledged writes are served from memory until a checkpoint has copied
// them into the bbolt file, the newest value of each key in one transaction.
// A checkpoint runs in its own goroutine when the log has grown by
// WithCommitDelay sets the least time between two log commits while
// concurrent writes share them (default 2 ms, see defaultCommitDelay); 0
// commits each group as soon as the previous one is on disk.
func WithCommitDelay(d time.Duration) StoreOption {
	return func(s *Store) error {
		if d < 0 || d > time.Second {
			return fmt.Errorf("commit delay %s: must be between 0 and 1s", d)
		}
		s.commitDelay = d
		return nil
	}
}

// WithCheckpointBytes, when a reader needs the bbolt file complete (view),
// and at Close; OpenStore first replays whatever the log still holds.
//
// All methods return ErrClosed after Close.
type Store struct {
	db              *bolt.DB
	walPaths        [2]string
	maxGroup        int
	checkpointBytes int64
	commitDelay     time.Duration

	queue struct {
		sync.Mutex
		groups []*writeGroup // waiting for the writer, oldest first
		taken  uint64        // groups the writer has taken
		puts   int           // puts in the last group taken: how many to make room for in the next
		closed bool
		err    error // a failed log write or checkpoint: no write is accepted after it
	}
	wake chan struct{} // holds a token when the writer has news
	wg   sync.WaitGroup

	// log is the writer goroutine's, but for files, which are set before
	// it starts and closed after it ends.
	log struct {
		files [2]*os.File
		cur   int   // the file being appended to; the other is empty or being checkpointed
		size  int64 // bytes in files[cur]
		seq   uint64
		buf   []byte
	}

	// mem holds the acknowledged writes that are not yet in the bbolt
	// file, the newest value of each key (memKey).
	mem struct {
		sync.Mutex
		cond     sync.Cond
		pending  map[string][]byte // in log.files[log.cur]
		flushing map[string][]byte // in the other log file, being checkpointed
		acked    uint64            // seq of the last acknowledged group
		durable  uint64            // seq of the last group in the bbolt file
		ckptBusy bool
		err      error // a failed checkpoint
	}
	checkpoints chan checkpoint // writer → checkpointer, at most one in flight
	flushReq    atomic.Bool     // a reader waits for a checkpoint

	closeOnce sync.Once
	closeErr  error
}

// writeGroup is writes that share one log record. done is closed when the
// record is on disk; err is then every write's result.
type writeGroup struct {
	puts   []put
	writes int // batch calls in the group
	done   chan struct{}
	err    error
}

// checkpoint is the writes of one log file, on their way to the bbolt file.
type checkpoint struct {
	file   int    // index in log.files, emptied once the writes are in the bbolt file
	last   uint64 // seq of the newest group among them
	writes map[string][]byte
}

// defaultCommitDelay is the least time between two log commits while writes
// keep coming. Group commit alone syncs as soon as the last sync ends, and
// a fast disk then syncs groups of a few writes: on this project's 2-core
// test machine a synchronous 13 KB write took about 0.3 ms and 100 µs of
// system CPU (dd oflag=dsync), and the hub spent 129 CPU-µs per promise at
// 12.3k promises/s with its store on that disk against 101 on tmpfs
// (BenchmarkHermesExchange). While writes share groups, the writer waits
// this long after a commit before the next, so the group fills: 12.3k
// promises/s became 17.5k, at 2 ms of added latency at most. A lone
// writer's groups hold one write each and are never delayed, nor is a
// write after a quiet spell.
const defaultCommitDelay = 2 * time.Millisecond

// StoreOption configures a Store.
type StoreOption func(*Store) error

// WithMaxGroup sets how many writes may share one commit (default 4096).
func WithMaxGroup(n int) StoreOption {
	return func(s *Store) error {
		if n <= 0 {
			return fmt.Errorf("max group %d: must be positive", n)
		}
		s.maxGroup = n
		return nil
	}
}

// WithCheckpointBytes sets how far the log grows before its writes are
// copied into the bbolt file (default 32 MiB). The writes not yet copied
// are held in memory and replayed from the log on open.
func WithCheckpointBytes(n int64) StoreOption {
	return func(s *Store) error {
		if n <= 0 {
			return fmt.Errorf("checkpoint bytes %d: must be positive", n)
		}
		s.checkpointBytes = n
		return nil
	}
}

// OpenStore opens (creating if needed) the store at path, replaying the
// writes its log holds from before a crash.
func OpenStore(path string, opts ...StoreOption) (*Store, error) {
	s := &Store{maxGroup: 4096, checkpointBytes: 32 << 20, commitDelay: defaultCommitDelay, wake: make(chan struct{}, 1), checkpoints: make(chan checkpoint, 1)}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("store option: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		NoFreelistSync:  true, // rebuilt on open; saves page writes per commit
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("open hermes store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range storeBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("init hermes store %s: %w", path, err), db.Close())
	}
	s.db = db
	s.mem.cond.L = &s.mem.Mutex
	s.mem.pending = make(map[string][]byte)
	if err := s.openLog(path); err != nil {
		return nil, errors.Join(fmt.Errorf("hermes store %s: %w", path, err), s.closeLog(), db.Close())
	}
	s.wg.Go(s.writeLoop)
	s.wg.Go(s.checkpointLoop)
	return s, nil
}

// openLog opens the log files, copies what they hold into the bbolt file
// and empties them.
func (s *Store) openLog(path string) error {
	var groups []walGroup
	for i := range s.log.files {
		s.walPaths[i] = fmt.Sprintf("%s.wal%d", path, i)
		f, err := os.OpenFile(s.walPaths[i], os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		s.log.files[i] = f
		b, err := io.ReadAll(f)
		if err != nil {
			return fmt.Errorf("read log %s: %w", s.walPaths[i], err)
		}
		g, err := decodeWAL(b)
		if err != nil {
			return fmt.Errorf("log %s: %w", s.walPaths[i], err)
		}
		groups = append(groups, g...)
	}
	// The two files hold disjoint runs of groups; replay them oldest first.
	slices.SortStableFunc(groups, func(a, b walGroup) int { return cmp.Compare(a.seq, b.seq) })
	for i := 1; i < len(groups); i++ {
		if groups[i].seq == groups[i-1].seq {
			return fmt.Errorf("%w: both log files hold group %d", ErrMalformed, groups[i].seq)
		}
	}
	if len(groups) > 0 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, g := range groups {
				for _, p := range g.puts {
					if err := tx.Bucket(p.bucket).Put(p.key, p.value); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay log: %w", err)
		}
		s.log.seq = groups[len(groups)-1].seq
	}
	for _, f := range s.log.files {
		if err := emptyLog(f); err != nil {
			return err
		}
	}
	// The log files may be new: make their names durable.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	s.mem.acked, s.mem.durable = s.log.seq, s.log.seq
	return nil
}

func emptyLog(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("empty log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("empty log: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("sync %s: %w", dir, err), d.Close())
	}
	return d.Close()
}

func (s *Store) closeLog() error {
	var errs []error
	for _, f := range s.log.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// Close finishes pending writes, copies them into the bbolt file and closes
// the files. Idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.queue.Lock()
		s.queue.closed = true
		s.queue.Unlock()
		s.signal()
		s.wg.Wait()
		s.mem.Lock()
		err := s.mem.err
		clean := err == nil && len(s.mem.pending) == 0 && s.mem.flushing == nil
		s.mem.Unlock()
		errs := []error{err, s.closeLog()}
		if clean {
			// Everything is in the bbolt file: the empty logs can go.
			for _, p := range s.walPaths {
				errs = append(errs, os.Remove(p))
			}
		}
		s.closeErr = errors.Join(append(errs, s.db.Close())...)
	})
	return s.closeErr
}

// signal wakes the writer goroutine if it waits.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// batch durably puts values, group-committed with concurrent calls. The
// values must not change afterwards.
func (s *Store) batch(puts ...put) error {
	for _, p := range puts {
		// The buckets update writes are not batch's (see update).
		if _, ok := bucketIndex(p.bucket); !ok || bytes.Equal(p.bucket, bucketProvEarnings) || bytes.Equal(p.bucket, bucketProvSettlements) ||
			len(p.key) > math.MaxUint16 || len(p.value) > walMaxRecord {
			return fmt.Errorf("hermes store: bad write to bucket %q (key %d bytes, value %d bytes)", p.bucket, len(p.key), len(p.value))
		}
	}
	s.queue.Lock()
	if s.queue.closed {
		s.queue.Unlock()
		return ErrClosed
	}
	if err := s.queue.err; err != nil {
		s.queue.Unlock()
		return err
	}
	var g *writeGroup
	q := s.queue.groups
	if n := len(q); n > 0 && q[n-1].writes < s.maxGroup {
		g = q[n-1]
	} else {
		g = &writeGroup{done: make(chan struct{}), puts: make([]put, 0, max(len(puts), s.queue.puts))}
		s.queue.groups = append(q, g)
	}
	g.writes++
	g.puts = append(g.puts, puts...)
	first := g.writes == 1
	s.queue.Unlock()
	if first {
		s.signal() // a group's first write wakes the writer; the others find it queued
	}
	<-g.done
	return g.err
}

// writeLoop is the one writer: it commits the queued groups in order and
// starts checkpoints. Once the store is closed and nothing is left to
// write, it hands the last checkpoint over and returns.
func (s *Store) writeLoop() {
	var (
		committed time.Time // when the last commit ended
		shared    bool      // the last group held more than one write
	)
	for {
		if d := s.commitDelay - time.Since(committed); shared && d > 0 && s.queuedWrites() < s.maxGroup {
			// Busy: let the next group fill for the rest of the delay.
			time.Sleep(d)
		}
		g, closed := s.nextGroup()
		if g != nil {
			s.commit(g)
			committed, shared = time.Now(), g.writes > 1
		}
		if g == nil && closed {
			s.finish()
			return
		}
		s.maybeCheckpoint()
		if g == nil {
			<-s.wake
		}
	}
}

// queuedWrites is how many batch calls wait in the first queued group.
func (s *Store) queuedWrites() int {
	s.queue.Lock()
	defer s.queue.Unlock()
	if len(s.queue.groups) == 0 {
		return 0
	}
	return s.queue.groups[0].writes
}

func (s *Store) nextGroup() (*writeGroup, bool) {
	s.queue.Lock()
	defer s.queue.Unlock()
	if len(s.queue.groups) == 0 {
		return nil, s.queue.closed
	}
	g := s.queue.groups[0]
	s.queue.groups[0] = nil
	s.queue.groups = s.queue.groups[1:]
	s.queue.taken++
	s.queue.puts = min(len(g.puts), 1024)
	return g, false
}

// commit appends a group's record to the log, syncs it and publishes its
// writes to readers. A failed write or sync fails the group and every later
// write: after a failed fsync, what reached the disk is unknown.
func (s *Store) commit(g *writeGroup) {
	s.queue.Lock()
	err := s.queue.err
	s.queue.Unlock()
	seq := s.log.seq + 1
	if err == nil {
		s.log.buf, err = appendWALRecord(s.log.buf[:0], seq, g.puts)
	}
	if err == nil {
		f := s.log.files[s.log.cur]
		if _, err = f.Write(s.log.buf); err == nil {
			err = f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("hermes store: write log: %w", err)
			s.queue.Lock()
			s.queue.err = err
			s.queue.Unlock()
		}
	}
	if err == nil {
		s.log.seq = seq
		s.log.size += int64(len(s.log.buf))
		s.mem.Lock()
		for _, p := range g.puts {
			s.mem.pending[memKey(p.bucket, p.key)] = p.value
		}
		s.mem.acked = seq
		s.mem.Unlock()
	}
	if cap(s.log.buf) > 4<<20 {
		s.log.buf = nil // a huge group's buffer is not kept
	}
	g.err = err
	close(g.done)
}

// maybeCheckpoint starts a checkpoint of the pending writes if the log has
// grown enough or a reader asks for one, and none is in flight.
func (s *Store) maybeCheckpoint() {
	if s.log.size < s.checkpointBytes && !s.flushReq.Load() {
		return
	}
	s.mem.Lock()
	defer s.mem.Unlock()
	s.startCheckpointLocked()
}

// startCheckpointLocked hands the pending writes to the checkpointer and
// moves the writer to the other, empty log file. The caller holds mem and
// is the writer goroutine.
func (s *Store) startCheckpointLocked() {
	switch {
	case s.mem.ckptBusy || s.mem.err != nil:
		return
	case len(s.mem.pending) == 0:
		// Nothing since the last checkpoint: everything is in the bbolt file.
		if s.mem.durable != s.mem.acked {
			s.mem.durable = s.mem.acked
			s.mem.cond.Broadcast()
		}
		s.flushReq.Store(false)
		return
	}
	s.checkpoints <- checkpoint{file: s.log.cur, last: s.mem.acked, writes: s.mem.pending}
	s.mem.flushing, s.mem.pending = s.mem.pending, make(map[string][]byte, len(s.mem.pending))
	s.mem.ckptBusy = true
	s.flushReq.Store(false)
	s.log.cur, s.log.size = 1-s.log.cur, 0
}

// finish waits for the checkpoint in flight, starts the last one and ends
// the checkpointer once that is done.
func (s *Store) finish() {
	s.mem.Lock()
	for s.mem.ckptBusy {
		s.mem.cond.Wait()
	}
	s.startCheckpointLocked()
	s.mem.Unlock()
	close(s.checkpoints)
}

// checkpointLoop copies checkpoints into the bbolt file, one at a time.
func (s *Store) checkpointLoop() {
	for c := range s.checkpoints {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for k, v := range c.writes {
				if err := tx.Bucket(storeBuckets[k[0]]).Put([]byte(k[1:]), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			err = emptyLog(s.log.files[c.file])
		}
		s.mem.Lock()
		if err != nil {
			err = fmt.Errorf("hermes store: checkpoint: %w", err)
			s.mem.err = err
		} else {
			s.mem.flushing, s.mem.durable = nil, c.last
		}
		s.mem.ckptBusy = false
		s.mem.cond.Broadcast()
		s.mem.Unlock()
		if err != nil {
			s.queue.Lock()
			s.queue.err = err
			s.queue.Unlock()
		}
		s.signal() // the writer may have another checkpoint to start
	}
}

// flush returns once every write acknowledged before the call is in the
// bbolt file.
func (s *Store) flush() error {
	s.mem.Lock()
	defer s.mem.Unlock()
	for target := s.mem.acked; s.mem.durable < target && s.mem.err == nil; {
		s.flushReq.Store(true)
		s.signal()
		s.mem.cond.Wait()
	}
	return s.mem.err
}

// memKey is a write's key in mem: its bucket's index, then its key.
func memKey(bucket, key []byte) string {
	i, _ := bucketIndex(bucket)
	var k strings.Builder
	k.Grow(1 + len(key))
	k.WriteByte(byte(i))
	k.Write(key)
	return k.String()
}

// memGet returns an acknowledged value not yet in the bbolt file.
func (s *Store) memGet(bucket, key []byte) ([]byte, bool) {
	k := memKey(bucket, key)
	s.mem.Lock()
	defer s.mem.Unlock()
	if v, ok := s.mem.pending[k]; ok {
		return v, true
	}
	v, ok := s.mem.flushing[k]
	return v, ok
}

// view runs fn on the bbolt file once it holds every acknowledged write.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.viewUpdated(fn)
}

// viewUpdated runs fn on the bbolt file as it is, which is enough for fn
// that reads only the buckets update writes.
func (s *Store) viewUpdated(fn func(*bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// get decodes the value at key into dec; ok is false when absent.
func (s *Store) get(bucket, key []byte, dec func([]byte) error) (ok bool, err error) {
	if v, ok := s.memGet(bucket, key); ok {
		return true, dec(v)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(key)
		if v == nil {
			return nil
		}
		ok = true
		return dec(v)
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return false, ErrClosed
	}
	return ok, err
}

// consumerRecord is what a hub knows of a consumer channel.
type consumerRecord struct {
	Consumer common.Address
	Amount   *big.Int // cumulative amount of the last accepted promise
	Fee      *big.Int // cumulative fee of the last accepted promise
	Latest   *Promise // the last accepted promise: proof of Amount and Fee
	Settle   *Promise // highest promise whose R is known: what the hub can settle
	SettleR  [32]byte
	Settled  *big.Int // amount already settled on chain
}

func newConsumerRecord(consumer common.Address) *consumerRecord {
	return &consumerRecord{Consumer: consumer, Amount: new(big.Int), Fee: new(big.Int), Settled: new(big.Int)}
}

func (c *consumerRecord) marshal() ([]byte, error) { return c.appendBinary(make([]byte, 0, 640)) }

// appendBinary appends the record to b. Settle is most often the very
// promise Latest points to (the R came with it); it is then written as
// flag 2 instead of a second copy of the promise.
func (c *consumerRecord) appendBinary(b []byte) ([]byte, error) {
	w := recordWriter{b: b}
	w.addr(c.Consumer)
	w.amount(c.Amount)
	w.amount(c.Fee)
	if err := w.promise(c.Latest); err != nil {
		return nil, err
	}
	if c.Settle != nil && c.Settle == c.Latest {
		w.b = append(w.b, flagSameAsLatest)
	} else if err := w.promise(c.Settle); err != nil {
		return nil, err
	}
	w.bytes(c.SettleR[:])
	w.amount(c.Settled)
	return w.b, nil
}

// flagSameAsLatest stands for a consumer record's Settle that is its Latest.
const flagSameAsLatest = 2

func (c *consumerRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*c = consumerRecord{Consumer: r.addr(), Amount: r.amount(), Fee: r.amount(), Latest: r.promise()}
	if len(r.b) > 0 && r.b[0] == flagSameAsLatest && r.err == nil {
		r.take(1)
		if c.Latest == nil {
			r.err = fmt.Errorf("%w: consumer record settles its latest promise but has none", ErrMalformed)
		}
		c.Settle = c.Latest
	} else {
		c.Settle = r.promise()
	}
	c.SettleR, c.Settled = r.bytes32(), r.amount()
	return r.done()
}

// providerRecord is what a hub knows of a provider channel.
type providerRecord struct {
	Provider common.Address
	Amount   *big.Int // cumulative amount of the last issued promise
	Fee      *big.Int
	Latest   *Promise // last issued promise
	// A promise issued without R: the hub waits for the provider to reveal it.
	Pending         bool
	PendingChannel  [32]byte // consumer channel of the pending promise
	PendingConsumer *Promise // the consumer promise R unlocks
}

func newProviderRecord(provider common.Address) *providerRecord {
	return &providerRecord{Provider: provider, Amount: new(big.Int), Fee: new(big.Int)}
}

func (p *providerRecord) marshal() ([]byte, error) { return p.appendBinary(make([]byte, 0, 600)) }

func (p *providerRecord) appendBinary(b []byte) ([]byte, error) {
	w := recordWriter{b: b}
	w.addr(p.Provider)
	w.amount(p.Amount)
	w.amount(p.Fee)
	if err := w.promise(p.Latest); err != nil {
		return nil, err
	}
	w.flag(p.Pending)
	w.bytes(p.PendingChannel[:])
	if err := w.promise(p.PendingConsumer); err != nil {
		return nil, err
	}
	return w.b, nil
}

func (p *providerRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*p = providerRecord{Provider: r.addr(), Amount: r.amount(), Fee: r.amount(), Latest: r.promise(), Pending: r.flag(), PendingChannel: r.bytes32(), PendingConsumer: r.promise()}
	return r.done()
}

// agreementRecord is what a hub knows of one session paid from a consumer channel.
type agreementRecord struct {
	Provider common.Address
	Total    *big.Int // cumulative agreement total paid
	Fee      *big.Int // cumulative hermes fee paid for this agreement
}

func (a *agreementRecord) marshal() []byte { return a.appendBinary(make([]byte, 0, 84)) }

func (a *agreementRecord) appendBinary(b []byte) []byte {
	w := recordWriter{b: b}
	w.addr(a.Provider)
	w.amount(a.Total)
	w.amount(a.Fee)
	return w.b
}

func (a *agreementRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*a = agreementRecord{Provider: r.addr(), Total: r.amount(), Fee: r.amount()}
	return r.done()
}

func agreementKey(channel, agreement [32]byte) (k [64]byte) {
	copy(k[:], channel[:])
	copy(k[32:], agreement[:])
	return k
}

// sessionRecord is what a provider knows of a session it invoices.
type sessionRecord struct {
	Consumer common.Address
	Hermes   common.Address
	Last     *ExchangeMessage // last valid payment from the consumer
	Fee      *big.Int         // cumulative fee of the agreement paid with Last
	// Exchanged is the agreement total the hermes has accepted.
	Exchanged *big.Int
}

func (s *sessionRecord) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 450)}
	w.addr(s.Consumer)
	w.addr(s.Hermes)
	w.amount(s.Fee)
	w.amount(s.Exchanged)
	w.flag(s.Last != nil)
	if s.Last != nil {
		var err error
		if w.b, err = s.Last.appendBinary(w.b); err != nil {
			return nil, err
		}
	}
	return w.b, nil
}

func (s *sessionRecord) unmarshal(b []byte) error {
	r := recordReader{b: b}
	*s = sessionRecord{Consumer: r.addr(), Hermes: r.addr(), Fee: r.amount(), Exchanged: r.amount()}
	if r.flag() {
		s.Last = new(ExchangeMessage)
		if err := s.Last.UnmarshalBinary(r.take(ExchangeMessageSize)); err != nil && r.err == nil {
			r.err = err
		}
	}
	return r.done()
}

// Earning is what a provider has earned through one hermes.
type Earning struct {
	Hermes     common.Address
	Promise    *Promise // latest hermes promise; nil if none yet
	R          [32]byte // unlocks Promise
	Settled    *big.Int // cumulative amount of the last settlement on chain
	FeeSettled *big.Int
}

// Unsettled is what settling the latest promise would pay the beneficiary:
// (amount − settled) − (fee − feeSettled).
func (e Earning) Unsettled() *big.Int {
	if e.Promise == nil {
		return new(big.Int)
	}
	u := new(big.Int).Sub(e.Promise.Amount, e.Settled)
	u.Sub(u, new(big.Int).Sub(e.Promise.Fee, e.FeeSettled))
	if u.Sign() < 0 {
		return new(big.Int)
	}
	return u
}

func (e *Earning) marshal() ([]byte, error) {
	w := recordWriter{b: make([]byte, 0, 350)}
	if err := w.promise(e.Promise); err != nil {
		return nil, err
	}
	w.bytes(e.R[:])
	w.amount(e.Settled)
	w.amount(e.FeeSettled)
	return w.b, nil
}

func (e *Earning) unmarshal(hermes common.Address, b []byte) error {
	r := recordReader{b: b}
	*e = Earning{Hermes: hermes, Promise: r.promise(), R: r.bytes32(), Settled: r.amount(), FeeSettled: r.amount()}
	return r.done()
}

// PutR durably records an R a provider is about to invoice with.
func (s *Store) PutR(r [32]byte) error {
	lock := Hashlock(r)
	return s.batch(put{bucket: bucketProvR, key: lock[:], value: r[:]})
}

// R returns the R behind a hashlock, if this provider made it.
func (s *Store) R(hashlock [32]byte) (r [32]byte, ok bool, err error) {
	ok, err = s.get(bucketProvR, hashlock[:], func(v []byte) error {
		if len(v) != 32 {
			return fmt.Errorf("%w: stored R is %d bytes", ErrMalformed, len(v))
		}
		r = [32]byte(v)
		return nil
	})
	return r, ok, err
}

func (s *Store) session(agreement [32]byte) (*sessionRecord, bool, error) {
	var rec sessionRecord
	ok, err := s.get(bucketProvSessions, agreement[:], rec.unmarshal)
	return &rec, ok, err
}

func (s *Store) putSession(agreement [32]byte, rec *sessionRecord) error {
	v, err := rec.marshal()
	if err != nil {
		return err
	}
	return s.batch(put{bucket: bucketProvSessions, key: agreement[:], value: v})
}

// pendingSession is a provider's session whose last payment the hermes
// has not accepted.
type pendingSession struct {
	agreement [32]byte
	rec       *sessionRecord
}

// unexchangedSessions lists the sessions paying through hermes whose last
// payment was stored but not exchanged.
func (s *Store) unexchangedSessions(hermes common.Address) ([]pendingSession, error) {
	var out []pendingSession
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvSessions).ForEach(func(k, v []byte) error {
			var rec sessionRecord
			if err := rec.unmarshal(v); err != nil {
				return err
			}
			if rec.Hermes == hermes && rec.Last != nil && rec.Last.AgreementTotal.Cmp(rec.Exchanged) > 0 {
				out = append(out, pendingSession{agreement: [32]byte(k), rec: &rec})
			}
			return nil
		})
	})
	return out, err
}

// Earning returns what the provider has earned through hermes.
func (s *Store) Earning(hermes common.Address) (Earning, error) {
	e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
	_, err := s.get(bucketProvEarnings, hermes[:], func(v []byte) error { return e.unmarshal(hermes, v) })
	return e, err
}

// Earnings lists what the provider has earned through every hermes.
func (s *Store) Earnings() ([]Earning, error) {
	var out []Earning
	err := s.viewUpdated(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketProvEarnings).ForEach(func(k, v []byte) error {
			var e Earning
			if len(k) != common.AddressLength {
				return fmt.Errorf("%w: earnings key is %d bytes", ErrMalformed, len(k))
			}
			if err := e.unmarshal(common.Address(k), v); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// putHermesPromise stores a newer hermes promise and its R, keeping the
// settled amounts. Older or equal promises are ignored.
func (s *Store) putHermesPromise(hermes common.Address, p Promise, r [32]byte) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProvEarnings)
		e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
		if v := b.Get(hermes[:]); v != nil {
			if err := e.unmarshal(hermes, v); err != nil {
				return err
			}
		}
		if e.Promise != nil && e.Promise.Amount.Cmp(p.Amount) >= 0 {
			return nil
		}
		e.Promise, e.R = &p, r
		v, err := e.marshal()
		if err != nil {
			return err
		}
		return b.Put(hermes[:], v)
	})
}

// Settlement is one provider settlement on chain, as the provider sent it.
type Settlement struct {
	Hermes common.Address
	Amount *big.Int // cumulative amount of the settled promise
	Paid   *big.Int // what this settlement paid the beneficiary
	Fee    *big.Int // the hermes fee this settlement took
	Tx     Tx
}

func (st *Settlement) marshal() []byte {
	w := recordWriter{b: make([]byte, 0, 32*5+8+8)}
	w.amount(st.Amount)
	w.amount(st.Paid)
	w.amount(st.Fee)
	w.bytes(st.Tx.Hash[:])
	w.bytes(binary.BigEndian.AppendUint64(nil, st.Tx.Block))
	w.bytes(binary.BigEndian.AppendUint64(nil, st.Tx.GasUsed))
	w.amount(st.Tx.GasPrice)
	return w.b
}

func (st *Settlement) unmarshal(hermes common.Address, b []byte) error {
	r := recordReader{b: b}
	*st = Settlement{Hermes: hermes, Amount: r.amount(), Paid: r.amount(), Fee: r.amount()}
	st.Tx.Hash = common.Hash(r.bytes32())
	st.Tx.Block = binary.BigEndian.Uint64(r.take(8))
	st.Tx.GasUsed = binary.BigEndian.Uint64(r.take(8))
	st.Tx.GasPrice = r.amount()
	return r.done()
}

func settlementKey(hermes common.Address, amount *big.Int) []byte {
	k := make([]byte, common.AddressLength+32)
	copy(k, hermes[:])
	putUint256(k[common.AddressLength:], amount)
	return k
}

// Settlements lists the provider's settlements through hermes, oldest
// first. Settlements found already done on chain (after a crash between
// the transaction and the store write) have no record here.
func (s *Store) Settlements(hermes common.Address) ([]Settlement, error) {
	var out []Settlement
	err := s.viewUpdated(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketProvSettlements).Cursor()
		for k, v := c.Seek(hermes[:]); k != nil && bytes.HasPrefix(k, hermes[:]); k, v = c.Next() {
			var st Settlement
			if err := st.unmarshal(hermes, v); err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// markSettled records a settlement on chain of a promise with amount and
// fee, and st, if not nil, in the same transaction.
func (s *Store) markSettled(hermes common.Address, amount, fee *big.Int, st *Settlement) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketProvEarnings)
		e := Earning{Hermes: hermes, Settled: new(big.Int), FeeSettled: new(big.Int)}
		if v := b.Get(hermes[:]); v != nil {
			if err := e.unmarshal(hermes, v); err != nil {
				return err
			}
		}
		if e.Settled.Cmp(amount) >= 0 {
			return nil
		}
		e.Settled, e.FeeSettled = new(big.Int).Set(amount), new(big.Int).Set(fee)
		v, err := e.marshal()
		if err != nil {
			return err
		}
		if st != nil {
			if err := tx.Bucket(bucketProvSettlements).Put(settlementKey(hermes, amount), st.marshal()); err != nil {
				return err
			}
		}
		return b.Put(hermes[:], v)
	})
}

// update runs fn in its own fsynced write transaction (read-modify-write)
// on the bbolt file directly. fn must only touch buckets batch never
// writes (the provider's earnings and settlements), whose newest values
// are therefore always in the bbolt file.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	err := s.db.Update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
