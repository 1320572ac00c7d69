package peercache

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return t0 }

// testID returns the peer ID of the Ed25519 key whose seed is i repeated.
func testID(t testing.TB, i int) peer.ID {
	t.Helper()
	seed := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, ed25519.SeedSize/2)
	sk, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ai(t testing.TB, i int, addrs ...string) peer.AddrInfo {
	t.Helper()
	info := peer.AddrInfo{ID: testID(t, i)}
	for _, a := range addrs {
		info.Addrs = append(info.Addrs, ma.StringCast(a))
	}
	return info
}

func addr(i int) string { return fmt.Sprintf("/ip4/198.51.100.%d/udp/4001/quic-v1", i%250+1) }

func open(t testing.TB, path string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(path, append([]Option{WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ids(ais []peer.AddrInfo) []peer.ID {
	var out []peer.ID
	for _, a := range ais {
		out = append(out, a.ID)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "peers.json")
	c := open(t, path)
	if c.Len() != 0 || c.LoadErr() != nil {
		t.Fatalf("missing file: %d peers, %v", c.Len(), c.LoadErr())
	}
	c.Seen(ai(t, 1, addr(1), "/ip4/198.51.100.1/tcp/4001"), RoleRelay, t0.Add(-time.Hour))
	c.Seen(ai(t, 1, addr(1)), RoleBootstrap, t0.Add(-30*time.Minute))
	c.Succeeded(testID(t, 1), t0.Add(-20*time.Minute))
	c.Seen(ai(t, 2, addr(2)), RoleProvider, t0.Add(-2*time.Hour))
	c.Failed(testID(t, 2), t0.Add(-10*time.Minute))
	c.Seen(ai(t, 3, "/dns4/bridge.example.org/tcp/443/wss"), RoleBridge, t0)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		Version int `json:"version"`
		Peers   []struct {
			ID string `json:"id"`
		} `json:"peers"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Version != 1 || len(head.Peers) != 3 || head.Peers[0].ID != testID(t, 1).String() {
		t.Fatalf("file: %v %+v\n%s", err, head, data)
	}

	d := open(t, path)
	if d.LoadErr() != nil || d.Len() != 3 {
		t.Fatalf("reopen: %d peers, %v", d.Len(), d.LoadErr())
	}
	for i := 1; i <= 3; i++ {
		a, _ := c.Get(testID(t, i))
		b, ok := d.Get(testID(t, i))
		if !ok || !sameEntry(a, b) {
			t.Fatalf("peer %d:\n got %+v\nwant %+v", i, b, a)
		}
	}
	e, _ := d.Get(testID(t, 1))
	if len(e.Addrs) != 2 || e.Addrs[0].String() != addr(1) || fmt.Sprint(e.Roles) != "[bootstrap relay]" ||
		!e.FirstSeen.Equal(t0.Add(-time.Hour)) || !e.LastSeen.Equal(t0.Add(-20*time.Minute)) || !e.LastSuccess.Equal(t0.Add(-20*time.Minute)) {
		t.Fatalf("peer 1: %+v", e)
	}
	e, _ = d.Get(testID(t, 2))
	if e.Failures != 1 || !e.LastFailure.Equal(t0.Add(-10*time.Minute)) || !e.LastSuccess.IsZero() {
		t.Fatalf("peer 2: %+v", e)
	}
	if got := ids(d.Candidates(0, t0)); fmt.Sprint(got) != fmt.Sprint([]peer.ID{testID(t, 1), testID(t, 3), testID(t, 2)}) {
		t.Fatalf("Candidates after reload: %v", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func sameEntry(a, b Entry) bool {
	if a.ID != b.ID || fmt.Sprint(a.Roles) != fmt.Sprint(b.Roles) || a.Failures != b.Failures || len(a.Addrs) != len(b.Addrs) ||
		!a.FirstSeen.Equal(b.FirstSeen) || !a.LastSeen.Equal(b.LastSeen) || !a.LastSuccess.Equal(b.LastSuccess) || !a.LastFailure.Equal(b.LastFailure) ||
		!bytes.Equal(a.BridgeSecret, b.BridgeSecret) {
		return false
	}
	for i := range a.Addrs {
		if !a.Addrs[i].Equal(b.Addrs[i]) {
			return false
		}
	}
	return true
}

func TestSeen(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "peers.json"))
	id := testID(t, 1)
	other := testID(t, 2)

	c.Seen(peer.AddrInfo{ID: id}, RoleRelay, t0)
	if c.Len() != 0 {
		t.Fatal("a new peer without addresses was recorded")
	}
	c.Seen(peer.AddrInfo{Addrs: []ma.Multiaddr{ma.StringCast(addr(1))}}, RoleRelay, t0)
	if c.Len() != 0 {
		t.Fatal("a peer without ID was recorded")
	}
	c.Seen(ai(t, 1,
		addr(1)+"/p2p/"+id.String(),
		addr(2)+"/p2p/"+other.String(),
		addr(1),
		"/ip4/198.51.100.9/tcp/1/p2p/"+other.String()+"/p2p-circuit",
	), Role("wizard"), t0)
	e, ok := c.Get(id)
	if !ok || len(e.Addrs) != 2 || e.Addrs[0].String() != addr(1) || len(e.Roles) != 0 {
		t.Fatalf("first sighting: %+v", e)
	}
	// Newer addresses go first; at most MaxAddrsPerPeer are kept.
	var many []string
	for i := 10; i < 20; i++ {
		many = append(many, addr(i))
	}
	c.Seen(ai(t, 1, many...), RoleHermes, t0.Add(time.Minute))
	e, _ = c.Get(id)
	if len(e.Addrs) != MaxAddrsPerPeer || e.Addrs[0].String() != addr(10) || fmt.Sprint(e.Roles) != "[hermes]" || !e.LastSeen.Equal(t0.Add(time.Minute)) || !e.FirstSeen.Equal(t0) {
		t.Fatalf("second sighting: %+v", e)
	}
	// A known peer seen without addresses keeps them; an older sighting
	// does not move LastSeen back.
	c.Seen(peer.AddrInfo{ID: id}, RoleRelay, t0)
	e, _ = c.Get(id)
	if len(e.Addrs) != MaxAddrsPerPeer || !e.LastSeen.Equal(t0.Add(time.Minute)) || fmt.Sprint(e.Roles) != "[hermes relay]" {
		t.Fatalf("third sighting: %+v", e)
	}
	// Unknown peers are ignored by Succeeded and Failed.
	c.Succeeded(other, t0)
	c.Failed(other, t0)
	if _, ok := c.Get(other); ok || c.Len() != 1 {
		t.Fatal("Succeeded or Failed recorded an unknown peer")
	}
}

func TestCandidates(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "peers.json"))
	now := t0
	seen := func(i int, at time.Duration) { c.Seen(ai(t, i, addr(i)), RoleProvider, now.Add(-at)) }
	// 1: reached an hour ago.
	seen(1, 2*time.Hour)
	c.Succeeded(testID(t, 1), now.Add(-time.Hour))
	// 2: reached ten hours ago.
	seen(2, 20*time.Hour)
	c.Succeeded(testID(t, 2), now.Add(-10*time.Hour))
	// 3: reached two minutes ago, failed once since.
	seen(3, time.Hour)
	c.Succeeded(testID(t, 3), now.Add(-2*time.Minute))
	c.Failed(testID(t, 3), now.Add(-time.Minute))
	// 4: only seen, a minute ago.
	seen(4, time.Minute)
	// 5: only seen, five days ago.
	seen(5, 5*24*time.Hour)
	// 6: seen 31 days ago: too old.
	seen(6, 31*24*time.Hour)
	// 7: failed three times, the last ten minutes ago: backing off.
	seen(7, time.Second)
	for range 3 {
		c.Failed(testID(t, 7), now.Add(-10*time.Minute))
	}
	// 8: failed three times, the last two hours ago: may be tried again.
	seen(8, time.Second)
	for range 3 {
		c.Failed(testID(t, 8), now.Add(-2*time.Hour))
	}
	// 9: reached 40 days ago, seen a day ago: a candidate.
	seen(9, 24*time.Hour)
	c.Succeeded(testID(t, 9), now.Add(-40*24*time.Hour))
	// 10: reached 40 days ago and not seen since: too old.
	seen(10, 41*24*time.Hour)
	c.Succeeded(testID(t, 10), now.Add(-40*24*time.Hour))

	want := []peer.ID{testID(t, 1), testID(t, 2), testID(t, 9), testID(t, 3), testID(t, 4), testID(t, 5), testID(t, 8)}
	if got := ids(c.Candidates(0, now)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Candidates:\n got %v\nwant %v", got, want)
	}
	if got := ids(c.Candidates(2, now)); fmt.Sprint(got) != fmt.Sprint(want[:2]) {
		t.Fatalf("Candidates(2) = %v", got)
	}
	// An hour later 7's backoff is over.
	if got := ids(c.Candidates(0, now.Add(time.Hour))); len(got) != 8 || !slices.Contains(got[6:], testID(t, 7)) {
		t.Fatalf("an hour later: %v", got)
	}
	// The result is a copy.
	cs := c.Candidates(1, now)
	cs[0].Addrs[0] = nil
	if e, _ := c.Get(cs[0].ID); e.Addrs[0] == nil {
		t.Fatal("Candidates shares the cache's addresses")
	}
	// A success clears the failures.
	c.Succeeded(testID(t, 7), now)
	if got := ids(c.Candidates(1, now)); got[0] != testID(t, 7) {
		t.Fatalf("after success: %v", got)
	}

	// A stricter policy.
	d := open(t, filepath.Join(t.TempDir(), "peers.json"), WithFailurePolicy(1, 24*time.Hour), WithMaxAge(time.Hour))
	d.Seen(ai(t, 1, addr(1)), RoleRelay, now)
	d.Seen(ai(t, 2, addr(2)), RoleRelay, now)
	d.Seen(ai(t, 3, addr(3)), RoleRelay, now.Add(-2*time.Hour))
	d.Failed(testID(t, 2), now.Add(-23*time.Hour))
	if got := ids(d.Candidates(0, now)); fmt.Sprint(got) != fmt.Sprint([]peer.ID{testID(t, 1)}) {
		t.Fatalf("strict policy: %v", got)
	}
}

func TestEviction(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "peers.json"), WithMaxPeers(4))
	now := t0
	c.Seen(ai(t, 1, addr(1)), RoleRelay, now.Add(-time.Hour))
	c.Succeeded(testID(t, 1), now.Add(-time.Hour))
	c.Seen(ai(t, 2, addr(2)), RoleRelay, now.Add(-3*time.Hour)) // oldest sighting
	c.Seen(ai(t, 3, addr(3)), RoleRelay, now.Add(-2*time.Hour))
	c.Seen(ai(t, 4, addr(4)), RoleRelay, now.Add(-time.Hour))
	for range 3 {
		c.Failed(testID(t, 4), now) // backing off
	}
	c.Seen(ai(t, 5, addr(5)), RoleRelay, now)
	if _, ok := c.Get(testID(t, 4)); ok || c.Len() != 4 {
		t.Fatalf("the peer backing off was not evicted first (%d peers)", c.Len())
	}
	c.Seen(ai(t, 6, addr(6)), RoleRelay, now)
	if _, ok := c.Get(testID(t, 2)); ok || c.Len() != 4 {
		t.Fatal("the peer seen longest ago was not evicted")
	}
	// A flood of sightings never evicts the peer that was reached, nor the
	// peer being recorded.
	for i := 100; i < 200; i++ {
		c.Seen(ai(t, i, addr(i)), RoleProvider, now)
		if _, ok := c.Get(testID(t, i)); !ok {
			t.Fatalf("the peer being recorded (%d) was evicted", i)
		}
	}
	if _, ok := c.Get(testID(t, 1)); !ok || c.Len() != 4 {
		t.Fatalf("the reached peer was evicted (%d peers)", c.Len())
	}
	// An expired peer goes before a reached one.
	d := open(t, filepath.Join(t.TempDir(), "peers.json"), WithMaxPeers(2))
	d.Seen(ai(t, 1, addr(1)), RoleRelay, now.Add(-40*24*time.Hour))
	d.Seen(ai(t, 2, addr(2)), RoleRelay, now)
	d.Succeeded(testID(t, 2), now)
	d.Seen(ai(t, 3, addr(3)), RoleRelay, now)
	if _, ok := d.Get(testID(t, 1)); ok {
		t.Fatal("the expired peer was not evicted")
	}

	// The bound holds on load too, keeping the best.
	path := filepath.Join(t.TempDir(), "peers.json")
	e := open(t, path)
	for i := range 20 {
		e.Seen(ai(t, i, addr(i)), RoleRelay, now.Add(-time.Duration(i)*time.Minute))
	}
	if err := e.Save(); err != nil {
		t.Fatal(err)
	}
	f := open(t, path, WithMaxPeers(5))
	if got := ids(f.Candidates(0, now)); f.Len() != 5 || fmt.Sprint(got) != fmt.Sprint(ids(e.Candidates(5, now))) {
		t.Fatalf("load over the bound: %v", got)
	}
}

func goodFile(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "peers.json")
	c := open(t, path)
	for i := range 5 {
		c.Seen(ai(t, i, addr(i), "/ip4/198.51.100.7/tcp/4001"), RoleRelay, t0.Add(-time.Duration(i)*time.Hour))
	}
	c.Succeeded(testID(t, 2), t0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBadFiles(t *testing.T) {
	good := goodFile(t)
	id := testID(t, 1).String()
	for _, tc := range []struct {
		name  string
		data  []byte
		want  error
		msg   string
		peers int
	}{
		{"good", good, nil, "", 5},
		{"empty", nil, ErrCorrupt, "empty", 0},
		{"blank", []byte(" \n"), ErrCorrupt, "empty", 0},
		{"garbage", []byte("this is not json"), ErrCorrupt, "invalid character", 0},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe}, ErrCorrupt, "invalid character", 0},
		{"truncated", good[:len(good)/2], ErrCorrupt, "unexpected end", 0},
		{"truncated by one", good[:len(good)-2], ErrCorrupt, "unexpected end", 0},
		{"a list", []byte(`[1,2,3]`), ErrCorrupt, "cannot unmarshal", 0},
		{"no version", []byte(`{"peers":[]}`), ErrCorrupt, "no format version", 0},
		{"version 0", []byte(`{"version":0,"peers":[]}`), ErrCorrupt, "format version 0", 0},
		{"version string", []byte(`{"version":"1","peers":[]}`), ErrCorrupt, "cannot unmarshal", 0},
		{"newer", bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 2`), 1), ErrNewerVersion, "format version 2, this mystp2p reads 1", 0},
		{"peers not a list", []byte(`{"version":1,"peers":"x"}`), ErrCorrupt, "cannot unmarshal", 0},
		{"no peers", []byte(`{"version":1}`), nil, "", 0},
		{"some bad entries", []byte(`{"version":1,"peers":[
			{"id":"` + id + `","addrs":["` + addr(1) + `","/bogus/1"],"last_seen":"2026-06-01T11:00:00Z"},
			{"id":"not a peer","addrs":["` + addr(2) + `"],"last_seen":"2026-06-01T11:00:00Z"},
			{"id":"` + testID(t, 3).String() + `","last_seen":"2026-06-01T11:00:00Z"},
			{"id":"` + testID(t, 4).String() + `","addrs":["` + addr(4) + `"]},
			{"id":"` + testID(t, 5).String() + `","addrs":["` + addr(5) + `"],"last_seen":"2099-01-01T00:00:00Z"},
			{"id":"` + id + `","addrs":["` + addr(6) + `"],"last_seen":"2026-06-01T11:00:00Z"},
			{"id":"` + testID(t, 7).String() + `","addrs":["` + addr(7) + `"],"last_seen":"yesterday"},
			17
		]}`), ErrCorrupt, "skipped 7 of 8 entries", 1},
		{"stale", []byte(`{"version":1,"peers":[{"id":"` + id + `","addrs":["` + addr(1) + `"],"last_seen":"2026-01-01T00:00:00Z"}]}`), ErrStale, "older than", 0},
		{"too big", append([]byte(`{"version":1,"peers":[],"x":"`), bytes.Repeat([]byte("a"), MaxFileSize)...), ErrCorrupt, "larger than", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "peers.json")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := open(t, path, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			err := c.LoadErr()
			if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("LoadErr = %v, want %v saying %q", err, tc.want, tc.msg)
			}
			if (err != nil) != strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("warning logged %q for error %v", logs.String(), err)
			}
			if c.Len() != tc.peers {
				t.Fatalf("%d peers, want %d", c.Len(), tc.peers)
			}
			c.Candidates(10, t0) // does not crash
			// The next save writes a clean file.
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			d := open(t, path)
			if d.LoadErr() != nil || d.Len() != tc.peers {
				t.Fatalf("after save: %d peers, %v", d.Len(), d.LoadErr())
			}
			if err != nil {
				data, _ := os.ReadFile(path)
				if bytes.Equal(data, tc.data) {
					t.Fatal("the bad file was not rewritten")
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Fatal("empty path accepted")
	}
	dir := t.TempDir()
	if _, err := Open(dir); err == nil {
		t.Fatal("a directory opened as a cache")
	}
}

func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers.json")
	if err := os.WriteFile(path, []byte("old garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, path)
	c.Seen(ai(t, 1, addr(1)), RoleRelay, t0)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// An unchanged cache is not rewritten.
	fi1, _ := os.Stat(path)
	if err := os.Chtimes(path, t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(path)
	if !fi2.ModTime().Equal(t0) || fi1.Size() != fi2.Size() {
		t.Fatal("an unchanged cache was rewritten")
	}
	// A save that cannot write leaves the old file and no temporary file.
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		c.Seen(ai(t, 2, addr(2)), RoleRelay, t0)
		os.Chmod(dir, 0o500)
		err := c.Save()
		os.Chmod(dir, 0o700)
		if err == nil {
			t.Fatal("save into a read-only directory succeeded")
		}
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := open(t, path)
	c.Seen(ai(t, 1, addr(1)), RoleRelay, t0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Save(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	c.Seen(ai(t, 2, addr(2)), RoleRelay, t0)
	if c.Len() != 1 || c.Candidates(0, t0) != nil {
		t.Fatal("a closed cache changed or answered")
	}
	if d := open(t, path); d.Len() != 1 {
		t.Fatalf("Close did not save: %d peers", d.Len())
	}
}

func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := open(t, path, WithMaxPeers(50))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := g*1000 + i%80
				now := t0.Add(time.Duration(i) * time.Second)
				c.Seen(ai(t, n, addr(n)), RoleProvider, now)
				switch i % 4 {
				case 0:
					c.Succeeded(testID(t, n), now)
				case 1:
					c.Failed(testID(t, n), now)
				case 2:
					c.Candidates(10, now)
				case 3:
					if i%20 == 3 {
						if err := c.Save(); err != nil {
							t.Error(err)
						}
					}
				}
				c.Get(testID(t, n))
			}
		}()
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("%d peers, bound 50", c.Len())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	d := open(t, path)
	if d.LoadErr() != nil || d.Len() != c.Len() {
		t.Fatalf("reload: %d peers (had %d), %v", d.Len(), c.Len(), d.LoadErr())
	}
}

// FuzzLoad loads arbitrary bytes: never a panic, and what was kept is
// written back as a file that loads cleanly with the same peers.
func FuzzLoad(f *testing.F) {
	good := goodFile(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"version":1,"peers":[{"id":"x"},17,null,{}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"peers":[{"id":"` + testID(f, 1).String() + `","addrs":["/ip4/1.2.3.4/tcp/1","/dns/a/tcp/1/p2p/` + testID(f, 1).String() + `"],"roles":["relay","x"],"last_seen":"2026-06-01T00:00:00Z","failures":-3}]}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newForTest()
		c.load(data)
		c.Candidates(0, t0)
		c.gen++
		out, _, err := c.snapshot()
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		d := newForTest()
		d.load(out)
		if d.loadErr != nil || len(d.peers) != len(c.peers) {
			t.Fatalf("rewritten file: %d peers (had %d), %v\n%s", len(d.peers), len(c.peers), d.loadErr, out)
		}
	})
}

func newForTest() *Cache {
	return &Cache{
		path: "fuzz", log: slog.New(slog.DiscardHandler), maxPeers: 20, maxAge: MaxAge,
		maxFailures: MaxFailures, backoff: FailureBackoff, now: clock, peers: make(map[peer.ID]*Entry),
	}
}

// A bridge's secret survives a save and a reopen, and is handed out for
// the next run's dials; bad lengths are not kept.
func TestBridgeSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := open(t, path)
	secret := bytes.Repeat([]byte{5}, 32)
	c.SetBridgeSecret(ai(t, 1, addr(1)), secret, t0)
	c.SetBridgeSecret(ai(t, 2, addr(2)), []byte("short"), t0)
	c.Seen(ai(t, 3, addr(3)), RoleRelay, t0)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, path)
	e, ok := c.Get(testID(t, 1))
	if !ok || !bytes.Equal(e.BridgeSecret, secret) || !slices.Contains(e.Roles, RoleBridge) {
		t.Fatalf("bridge entry after reopen: %+v", e)
	}
	if got := c.BridgeSecrets(8); len(got) != 1 || !bytes.Equal(got[0], secret) {
		t.Fatalf("BridgeSecrets = %x, want the one secret", got)
	}
	if got := c.BridgeSecrets(0); len(got) != 0 {
		t.Fatalf("BridgeSecrets(0) = %x", got)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode %v, want 0600: it holds a secret", st.Mode().Perm())
	}
	if bytes.Count(b, []byte("bridge_secret")) != 1 {
		t.Fatalf("file holds %d secrets, want 1:\n%s", bytes.Count(b, []byte("bridge_secret")), b)
	}
}
