// Package peercache remembers the peers a node has seen and reached, in a
// small file in its data directory, so that a node that connected once can
// connect again when every bootstrap address is blocked: it dials the
// peers it knows, best first.
//
// The file is JSON, one object with a format version and a list of peers,
// best first, for a person to read. Save writes it atomically (a temporary
// file in the same directory, fsync, rename) with mode 0600. A file that is
// missing starts an empty cache; one that is truncated, garbage, too old or
// from a newer format is ignored with a warning (Open's logger and
// LoadErr), never an error, and the next Save rewrites it.
//
// The cache is bounded: at most MaxPeers peers (WithMaxPeers) and
// MaxAddrsPerPeer addresses each. When it is full the least useful peer is
// evicted: one not heard from within the maximum age, then one backing off
// after repeated failures, then the one Candidates would rank last. The peer
// being recorded is never the one evicted, so fresh sightings get in, while
// a flood of new sightings evicts peers that never answered before any that
// did.
//
// A Cache is safe for concurrent use.
package peercache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Role is what a peer was seen as. The set is closed: Seen ignores any role
// that is not one of the constants below, and Open drops them from a file.
type Role string

// The roles.
const (
	RoleRelay     Role = "relay"
	RoleProvider  Role = "provider"
	RoleHermes    Role = "hermes"
	RoleBootstrap Role = "bootstrap"
	RoleBridge    Role = "bridge"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleRelay, RoleProvider, RoleHermes, RoleBootstrap, RoleBridge:
		return true
	}
	return false
}

// Limits and defaults.
const (
	// FormatVersion is the file format this package writes and reads.
	FormatVersion = 1
	// MaxPeers is the default bound on the number of peers.
	MaxPeers = 1000
	// MaxAddrsPerPeer bounds the addresses kept for one peer, most
	// recently seen first.
	MaxAddrsPerPeer = 8
	// MaxAge is the default age past which a peer not seen nor reached is
	// no candidate and is dropped on Save.
	MaxAge = 30 * 24 * time.Hour
	// MaxFailures and FailureBackoff are the default failure policy: a
	// peer that failed MaxFailures times in a row is no candidate until
	// FailureBackoff has passed since its last failure.
	MaxFailures    = 3
	FailureBackoff = time.Hour
	// MaxFileSize caps the file Open reads.
	MaxFileSize = 8 << 20
	// futureSkew is how far in the future a time in the file may lie
	// before the entry counts as corrupt.
	futureSkew = 24 * time.Hour
)

// Entry is what the cache knows of one peer.
type Entry struct {
	ID peer.ID
	// Addrs are the addresses most recently seen first.
	Addrs []ma.Multiaddr
	// Roles is sorted.
	Roles       []Role
	FirstSeen   time.Time
	LastSeen    time.Time
	LastSuccess time.Time // zero if never reached
	LastFailure time.Time // zero if never failed
	// Failures counts the failures since the last success.
	Failures int
	// BridgeSecret is the secret from the peer's bridge line, for a bridge
	// that answers only those who prove it (nil for other peers). The file
	// is mode 0600 for it, as the line itself would be.
	BridgeSecret []byte
}

func (e *Entry) clone() Entry {
	c := *e
	c.Addrs = slices.Clone(e.Addrs)
	c.Roles = slices.Clone(e.Roles)
	c.BridgeSecret = slices.Clone(e.BridgeSecret)
	return c
}

// lastHeard is the later of LastSeen and LastSuccess.
func (e *Entry) lastHeard() time.Time {
	if e.LastSuccess.After(e.LastSeen) {
		return e.LastSuccess
	}
	return e.LastSeen
}

// Option configures Open.
type Option func(*Cache)

// WithLogger logs load warnings and save failures to log.
func WithLogger(log *slog.Logger) Option {
	return func(c *Cache) {
		if log != nil {
			c.log = log
		}
	}
}

// WithMaxPeers bounds the number of peers (default MaxPeers).
func WithMaxPeers(n int) Option {
	return func(c *Cache) {
		if n > 0 {
			c.maxPeers = n
		}
	}
}

// WithMaxAge sets the age past which a peer is forgotten (default MaxAge).
func WithMaxAge(d time.Duration) Option {
	return func(c *Cache) {
		if d > 0 {
			c.maxAge = d
		}
	}
}

// WithFailurePolicy sets how many failures in a row (default MaxFailures)
// keep a peer out of Candidates, and for how long after the last one
// (default FailureBackoff).
func WithFailurePolicy(failures int, backoff time.Duration) Option {
	return func(c *Cache) {
		if failures > 0 {
			c.maxFailures = failures
		}
		if backoff >= 0 {
			c.backoff = backoff
		}
	}
}

// WithClock sets the clock Open and Save use to drop peers past the
// maximum age (default time.Now). Seen, Succeeded, Failed and Candidates
// take the time as an argument.
func WithClock(now func() time.Time) Option {
	return func(c *Cache) {
		if now != nil {
			c.now = now
		}
	}
}

// Cache is the peer cache. Open makes one.
type Cache struct {
	path        string
	log         *slog.Logger
	maxPeers    int
	maxAge      time.Duration
	maxFailures int
	backoff     time.Duration
	now         func() time.Time

	saveMu sync.Mutex // serialises writes of the file

	mu       sync.Mutex
	peers    map[peer.ID]*Entry
	gen      uint64 // bumped by every change
	savedGen uint64 // gen the file holds
	loadErr  error
	closed   bool
}

// Open loads the cache at path. A missing file gives an empty cache; a
// corrupt, truncated, stale or newer-format file gives an empty (or partly
// filled) cache, a warning on the logger and LoadErr, and is rewritten on
// the next Save. Open fails only when the file exists but cannot be read
// (permissions, a directory in its place); a node can then run without a
// cache.
func Open(path string, opts ...Option) (*Cache, error) {
	if path == "" {
		return nil, errors.New("peer cache: empty path")
	}
	c := &Cache{
		path:        path,
		log:         slog.New(slog.DiscardHandler),
		maxPeers:    MaxPeers,
		maxAge:      MaxAge,
		maxFailures: MaxFailures,
		backoff:     FailureBackoff,
		now:         time.Now,
		peers:       make(map[peer.ID]*Entry),
	}
	for _, o := range opts {
		o(c)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("peer cache: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("peer cache: read %s: %w", path, err)
	}
	c.load(data)
	if c.loadErr != nil {
		c.log.Warn("peer cache: ignoring what could not be read; the next save rewrites the file", "path", path, "err", c.loadErr)
		c.gen++ // rewrite the file cleanly on the next Save
	}
	return c, nil
}

// LoadErr returns what was wrong with the file Open read (wrapping
// ErrCorrupt, ErrNewerVersion or ErrStale), or nil. It is a warning: the
// cache works regardless.
func (c *Cache) LoadErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadErr
}

type fileHeader struct {
	Version *int `json:"version"`
}

type file struct {
	Version int               `json:"version"`
	Saved   time.Time         `json:"saved,omitzero"`
	Peers   []json.RawMessage `json:"peers"`
}

type filePeer struct {
	ID          string    `json:"id"`
	Addrs       []string  `json:"addrs,omitempty"`
	Roles       []Role    `json:"roles,omitempty"`
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	Failures    int       `json:"failures,omitempty"`
	// BridgeSecret is base64 in JSON.
	BridgeSecret []byte `json:"bridge_secret,omitempty"`
}

// load fills c from data and sets c.loadErr. It never fails.
func (c *Cache) load(data []byte) {
	corrupt := func(format string, args ...any) {
		c.loadErr = fmt.Errorf("%w: %s: %s", ErrCorrupt, c.path, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxFileSize {
		corrupt("larger than %d bytes", MaxFileSize)
		return
	}
	if len(bytes.TrimSpace(data)) == 0 {
		corrupt("empty")
		return
	}
	var h fileHeader
	if err := json.Unmarshal(data, &h); err != nil {
		corrupt("%v", err)
		return
	}
	if h.Version == nil {
		corrupt("no format version")
		return
	}
	if *h.Version > FormatVersion {
		c.loadErr = fmt.Errorf("%w: %s has format version %d, this mystp2p reads %d: ignored, and rewritten in version %d on the next save",
			ErrNewerVersion, c.path, *h.Version, FormatVersion, FormatVersion)
		return
	}
	if *h.Version < 1 {
		corrupt("format version %d", *h.Version)
		return
	}
	var fl file
	if err := json.Unmarshal(data, &fl); err != nil {
		corrupt("%v", err)
		return
	}
	now := c.now()
	bad, stale := 0, 0
	for _, raw := range fl.Peers {
		e, ok := c.decodeEntry(raw, now)
		switch {
		case !ok:
			bad++
		case now.Sub(e.lastHeard()) > c.maxAge:
			stale++
		case c.peers[e.ID] != nil:
			bad++ // a duplicate: keep the first
		default:
			c.peers[e.ID] = e
		}
	}
	for len(c.peers) > c.maxPeers {
		c.evict("", now)
	}
	switch {
	case bad > 0:
		corrupt("skipped %d of %d entries that could not be read", bad, len(fl.Peers))
	case stale > 0 && len(c.peers) == 0:
		c.loadErr = fmt.Errorf("%w: %s: all %d peers are older than %v: ignored", ErrStale, c.path, stale, c.maxAge)
	case stale > 0:
		c.gen++ // drop them from the file too
	}
}

func (c *Cache) decodeEntry(raw json.RawMessage, now time.Time) (*Entry, bool) {
	var fp filePeer
	if err := json.Unmarshal(raw, &fp); err != nil {
		return nil, false
	}
	id, err := peer.Decode(fp.ID)
	if err != nil {
		return nil, false
	}
	e := &Entry{
		ID:          id,
		FirstSeen:   fp.FirstSeen,
		LastSeen:    fp.LastSeen,
		LastSuccess: fp.LastSuccess,
		LastFailure: fp.LastFailure,
		Failures:    max(fp.Failures, 0),
	}
	if n := len(fp.BridgeSecret); n >= MinBridgeSecretLen && n <= MaxBridgeSecretLen {
		e.BridgeSecret = fp.BridgeSecret
	}
	for _, s := range fp.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue // one bad address does not spoil the peer
		}
		e.Addrs = addAddr(e.Addrs, id, a)
	}
	if len(e.Addrs) > MaxAddrsPerPeer {
		e.Addrs = e.Addrs[:MaxAddrsPerPeer]
	}
	for _, r := range fp.Roles {
		e.Roles = addRole(e.Roles, r)
	}
	if len(e.Addrs) == 0 || e.LastSeen.IsZero() {
		return nil, false
	}
	for _, t := range []time.Time{e.FirstSeen, e.LastSeen, e.LastSuccess, e.LastFailure} {
		if t.Sub(now) > futureSkew {
			return nil, false
		}
	}
	if e.FirstSeen.IsZero() || e.FirstSeen.After(e.LastSeen) {
		e.FirstSeen = e.LastSeen
	}
	return e, true
}

// addAddr appends a, without a trailing /p2p/<id>, unless it is empty,
// names another peer or is already there.
func addAddr(addrs []ma.Multiaddr, id peer.ID, a ma.Multiaddr) []ma.Multiaddr {
	if len(a) == 0 {
		return addrs
	}
	if last := a[len(a)-1]; last.Code() == ma.P_P2P {
		if pid, err := peer.IDFromBytes(last.RawValue()); err != nil || pid != id {
			return addrs
		}
		a = a[:len(a)-1]
		if len(a) == 0 {
			return addrs
		}
	}
	if slices.ContainsFunc(addrs, a.Equal) {
		return addrs
	}
	// The file holds addresses as text: keep only those that read back.
	if back, err := ma.NewMultiaddr(a.String()); err != nil || !back.Equal(a) {
		return addrs
	}
	return append(addrs, a)
}

func addRole(roles []Role, r Role) []Role {
	if !r.Valid() || slices.Contains(roles, r) {
		return roles
	}
	roles = append(roles, r)
	slices.Sort(roles)
	return roles
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Seen records that ai was seen (in the DHT, on gossip, connected) as role
// at now: its addresses go first in the peer's list, and role joins its
// roles. A role that is not Valid records the sighting without it. A new
// peer with no address is not recorded.
func (c *Cache) Seen(ai peer.AddrInfo, role Role, now time.Time) {
	if ai.ID.Validate() != nil {
		return
	}
	var addrs []ma.Multiaddr
	for _, a := range ai.Addrs {
		addrs = addAddr(addrs, ai.ID, a)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	e := c.peers[ai.ID]
	if e == nil {
		if len(addrs) == 0 {
			return
		}
		e = &Entry{ID: ai.ID, FirstSeen: now, LastSeen: now}
		c.peers[ai.ID] = e
		for len(c.peers) > c.maxPeers {
			c.evict(ai.ID, now)
		}
	}
	for _, a := range e.Addrs {
		addrs = addAddr(addrs, ai.ID, a)
	}
	if len(addrs) > MaxAddrsPerPeer {
		addrs = addrs[:MaxAddrsPerPeer]
	}
	e.Addrs = addrs
	e.Roles = addRole(e.Roles, role)
	e.LastSeen = later(e.LastSeen, now)
	c.gen++
}

// Succeeded records a successful connection to id at now: it clears the
// peer's failures. A peer the cache does not know (never Seen) is ignored.
func (c *Cache) Succeeded(id peer.ID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.peers[id]; e != nil && !c.closed {
		e.LastSuccess = later(e.LastSuccess, now)
		e.LastSeen = later(e.LastSeen, now)
		e.Failures = 0
		c.gen++
	}
}

// Failed records a failed attempt to connect to id at now. A peer the
// cache does not know is ignored.
func (c *Cache) Failed(id peer.ID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.peers[id]; e != nil && !c.closed {
		e.LastFailure = later(e.LastFailure, now)
		e.Failures++
		c.gen++
	}
}

// Bridge secret lengths the cache keeps; others are dropped.
const (
	MinBridgeSecretLen = 16
	MaxBridgeSecretLen = 64
)

// SetBridgeSecret records the secret of the bridge line that names ai and
// the sighting of ai as a bridge, so that a later run can reach that
// bridge through its gate without the line. A secret of another length
// than MinBridgeSecretLen to MaxBridgeSecretLen bytes is ignored.
func (c *Cache) SetBridgeSecret(ai peer.AddrInfo, secret []byte, now time.Time) {
	if n := len(secret); n < MinBridgeSecretLen || n > MaxBridgeSecretLen {
		return
	}
	c.Seen(ai, RoleBridge, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.peers[ai.ID]; e != nil && !c.closed && !bytes.Equal(e.BridgeSecret, secret) {
		e.BridgeSecret = slices.Clone(secret)
		c.gen++
	}
}

// BridgeSecrets returns up to n bridge secrets the cache holds, of the
// best peers first.
func (c *Cache) BridgeSecrets(n int) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var es []*Entry
	for _, e := range c.peers {
		if e.BridgeSecret != nil {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *Entry) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	var out [][]byte
	for _, e := range es[:min(n, len(es))] {
		out = append(out, slices.Clone(e.BridgeSecret))
	}
	return out
}

// WithBridgeSecrets returns have followed by the cache's bridge secrets
// that are not in it already, best peers first, up to max in all: the
// secrets one run's dials prove, those it was given first.
func (c *Cache) WithBridgeSecrets(have [][]byte, max int) [][]byte {
	out := slices.Clone(have[:min(len(have), max)])
	for _, s := range c.BridgeSecrets(max) {
		if len(out) < max && !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, s) }) {
			out = append(out, s)
		}
	}
	return out
}

// Get returns a copy of what the cache knows of id.
func (c *Cache) Get(id peer.ID) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.peers[id]; e != nil {
		return e.clone(), true
	}
	return Entry{}, false
}

// Len returns the number of peers in the cache.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.peers)
}

func (c *Cache) expired(e *Entry, now time.Time) bool {
	return now.Sub(e.lastHeard()) > c.maxAge
}

func (c *Cache) backingOff(e *Entry, now time.Time) bool {
	return e.Failures >= c.maxFailures && now.Sub(e.LastFailure) < c.backoff
}

// better reports whether a ranks before b among candidates: a peer that
// was ever reached before one that never was, then fewer failures since the
// last success, then the more recent success, then the more recent
// sighting; the peer ID breaks ties.
func better(a, b *Entry) bool {
	if as, bs := !a.LastSuccess.IsZero(), !b.LastSuccess.IsZero(); as != bs {
		return as
	}
	if a.Failures != b.Failures {
		return a.Failures < b.Failures
	}
	if !a.LastSuccess.Equal(b.LastSuccess) {
		return a.LastSuccess.After(b.LastSuccess)
	}
	if !a.LastSeen.Equal(b.LastSeen) {
		return a.LastSeen.After(b.LastSeen)
	}
	return a.ID < b.ID
}

// worse reports whether a is less useful than b: expired first, then
// backing off, then ranked lower by better.
func (c *Cache) worse(a, b *Entry, now time.Time) bool {
	if ae, be := c.expired(a, now), c.expired(b, now); ae != be {
		return ae
	}
	if ab, bb := c.backingOff(a, now), c.backingOff(b, now); ab != bb {
		return ab
	}
	return better(b, a)
}

// evict removes the least useful peer other than keep. c.mu is held.
func (c *Cache) evict(keep peer.ID, now time.Time) {
	var worst *Entry
	for id, e := range c.peers {
		if id != keep && (worst == nil || c.worse(e, worst, now)) {
			worst = e
		}
	}
	if worst != nil {
		delete(c.peers, worst.ID)
		c.gen++
	}
}

// Candidates returns up to n peers to dial at now, best first (all of
// them when n <= 0): peers reached before, fewest failures since and most
// recently reached first, then peers only seen, most recently first. It
// leaves out peers neither seen nor reached within the maximum age and
// peers backing off after repeated failures (see WithFailurePolicy).
func (c *Cache) Candidates(n int, now time.Time) []peer.AddrInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	var es []*Entry
	for _, e := range c.peers {
		if len(e.Addrs) > 0 && !c.expired(e, now) && !c.backingOff(e, now) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *Entry) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	if n > 0 && len(es) > n {
		es = es[:n]
	}
	out := make([]peer.AddrInfo, len(es))
	for i, e := range es {
		out[i] = peer.AddrInfo{ID: e.ID, Addrs: slices.Clone(e.Addrs)}
	}
	return out
}

// Save writes the cache to its file if it changed since it was loaded or
// last saved, dropping peers past the maximum age.
func (c *Cache) Save() error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	data, gen, err := c.snapshot()
	c.mu.Unlock()
	if data == nil || err != nil {
		return err
	}
	if err := writeAtomic(c.path, data); err != nil {
		c.log.Warn("peer cache: save failed", "path", c.path, "err", err)
		return fmt.Errorf("peer cache: %w", err)
	}
	c.mu.Lock()
	c.savedGen = max(c.savedGen, gen)
	c.mu.Unlock()
	return nil
}

// snapshot encodes the cache, or returns nil data when the file is up to
// date. c.mu is held.
func (c *Cache) snapshot() ([]byte, uint64, error) {
	if c.gen == c.savedGen {
		return nil, 0, nil
	}
	now := c.now()
	for id, e := range c.peers {
		if c.expired(e, now) {
			delete(c.peers, id)
		}
	}
	es := make([]*Entry, 0, len(c.peers))
	for _, e := range c.peers {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *Entry) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	fl := struct {
		Version int        `json:"version"`
		Saved   time.Time  `json:"saved"`
		Peers   []filePeer `json:"peers"`
	}{Version: FormatVersion, Saved: now.UTC().Round(0), Peers: make([]filePeer, 0, len(es))}
	for _, e := range es {
		fp := filePeer{
			ID:          e.ID.String(),
			Roles:       e.Roles,
			FirstSeen:   e.FirstSeen.Round(0),
			LastSeen:    e.LastSeen.Round(0),
			LastSuccess: e.LastSuccess.Round(0),
			LastFailure: e.LastFailure.Round(0),
			Failures:    e.Failures,

			BridgeSecret: e.BridgeSecret,
		}
		for _, a := range e.Addrs {
			fp.Addrs = append(fp.Addrs, a.String())
		}
		fl.Peers = append(fl.Peers, fp)
	}
	data, err := json.MarshalIndent(fl, "", "\t")
	if err != nil {
		return nil, 0, fmt.Errorf("peer cache: encode: %w", err)
	}
	return append(data, '\n'), c.gen, nil
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, written, synced and renamed over path, mode 0600.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the rename durable where the system can sync a directory
// (not Windows; some file systems answer EINVAL, which is not a failure).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Close saves the cache if it changed and closes it: Save then returns
// ErrClosed and the other methods do nothing. Closing twice is harmless.
func (c *Cache) Close() error {
	err := c.Save()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return err
}
