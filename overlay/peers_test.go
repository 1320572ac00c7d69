package overlay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/overlay/peercache"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// deadPeer is a bootstrap entry nobody answers on.
func deadPeer(t *testing.T) peer.AddrInfo {
	return peer.AddrInfo{ID: mustID(t).PeerID(), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/1")}}
}

func openCache(t *testing.T, path string, log *slog.Logger) *peercache.Cache {
	t.Helper()
	c, err := peercache.Open(path, peercache.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A consumer that joined once through a relay joins again through its peer
// cache alone when its only bootstrap address is dead, and discovers a
// provider through the peer it found there.
func TestRejoinThroughPeerCache(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, Config{Bootstrap: boot, DHTServer: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := prov.Advertise(ctx, testOffer); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "peers.json")

	first := openCache(t, path, nil)
	c1 := newTestNode(t, Config{Bootstrap: boot, PeerCache: first})
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	first.Close()
	e, ok := first.Get(r.ID())
	if !ok || e.LastSuccess.IsZero() || len(e.Roles) != 1 || e.Roles[0] != peercache.RoleBootstrap {
		t.Fatalf("relay in the cache after the first join: %+v, %v", e, ok)
	}

	dead := deadPeer(t)
	second := openCache(t, path, nil)
	if err := second.LoadErr(); err != nil {
		t.Fatal(err)
	}
	c2 := newTestNode(t, Config{Bootstrap: []peer.AddrInfo{dead}, PeerCache: second})
	if c2.Host().Network().Connectedness(r.ID()) != network.Connected {
		t.Fatal("not connected to the cached relay")
	}
	if got := c2.Bootstrap(); len(got) < 2 || !slices.ContainsFunc(got[1:], func(ai peer.AddrInfo) bool { return ai.ID == r.ID() }) {
		t.Fatalf("bootstrap after joining through the cache: %v", got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, err := c2.Discover(ctx, Query{Country: "DE"})
		if err == nil && len(ps) == 1 && ps[0].Proposal.Provider == prov.ID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejoined consumer did not find the provider: %v %v", ps, err)
		}
	}
	// The provider is recorded too once the consumer has reached it.
	if _, err := c2.FetchProposal(ctx, prov.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if e, ok := second.Get(prov.ID()); !ok || e.LastSuccess.IsZero() {
		t.Fatalf("provider in the cache: %+v, %v", e, ok)
	}

	// With the cache's peers gone too, the error says what was tried.
	r.Close()
	prov.Close()
	third := openCache(t, path, nil)
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
	defer ccancel()
	_, err := New(cctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: []peer.AddrInfo{dead}, PeerCache: third})
	if !errors.Is(err, ErrNoBootstrap) || !strings.Contains(err.Error(), "peer cache") {
		t.Fatalf("join with every peer dead: %v", err)
	}
}

// A corrupt cache file is ignored with a warning, the node joins through
// its bootstrap peer, and the file is rewritten cleanly on Close.
func TestCorruptPeerCacheRewritten(t *testing.T) {
	r := newRelay(t)
	path := filepath.Join(t.TempDir(), "peers.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"peers":[{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs tstest.Buffer
	c := openCache(t, path, slog.New(slog.NewTextHandler(&logs, nil)))
	if !errors.Is(c.LoadErr(), peercache.ErrCorrupt) || !strings.Contains(logs.String(), "WARN") {
		t.Fatalf("corrupt file: LoadErr %v, log %q", c.LoadErr(), logs.String())
	}
	n := newTestNode(t, Config{Bootstrap: []peer.AddrInfo{r.AddrInfo()}, PeerCache: c})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version int `json:"version"`
		Peers   []struct {
			ID string `json:"id"`
		} `json:"peers"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.Version != peercache.FormatVersion || len(f.Peers) == 0 || f.Peers[0].ID != r.ID().String() {
		t.Fatalf("rewritten file %s: %v", raw, err)
	}
	again := openCache(t, path, nil)
	if again.LoadErr() != nil || again.Len() != 1 {
		t.Fatalf("reopened: %v, %d peers", again.LoadErr(), again.Len())
	}
}

// A bootstrap address that drops packets, as a censor's block does, fails
// only by timing out; the join does not wait for that but reaches a
// cached peer within the head start.
func TestJoinDoesNotWaitForBlockedBootstrap(t *testing.T) {
	r := newRelay(t)
	path := filepath.Join(t.TempDir(), "peers.json")
	cache := openCache(t, path, nil)
	cache.Seen(r.AddrInfo(), peercache.RoleRelay, time.Now())
	// A bound UDP socket that never answers: a QUIC dial to it hangs until
	// its timeout, like a dial to a blocked address.
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	blocked := peer.AddrInfo{ID: mustID(t).PeerID(),
		Addrs: []ma.Multiaddr{ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/udp/%d/quic-v1", silent.LocalAddr().(*net.UDPAddr).Port))}}
	start := time.Now()
	c := newTestNode(t, Config{Bootstrap: []peer.AddrInfo{blocked}, PeerCache: cache})
	if c.Host().Network().Connectedness(r.ID()) != network.Connected {
		t.Fatal("not connected to the cached relay")
	}
	if d := time.Since(start); d > bootstrapDialTimeout/2 {
		t.Fatalf("join took %s: it waited for the blocked bootstrap's timeout (%s)", d, bootstrapDialTimeout)
	}
}
