package gossip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// The test messages are "key:seq" or "bad"; the validator accepts the former.
func testValidate(_ peer.ID, data []byte) (Entry, error) {
	k, s, ok := strings.Cut(string(data), ":")
	if !ok {
		return Entry{}, errors.New("bad message")
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Key: k, Seq: seq, Expires: time.Now().Add(time.Minute), Value: string(data), Raw: data}, nil
}

// hosts makes n connected hosts, either real (TCP on loopback) or in memory.
func hosts(t *testing.T, n int, real bool) []host.Host {
	t.Helper()
	var hs []host.Host
	if real {
		for range n {
			h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.Close() })
			hs = append(hs, h)
		}
		for _, h := range hs[1:] {
			if err := h.Connect(context.Background(), peer.AddrInfo{ID: hs[0].ID(), Addrs: hs[0].Addrs()}); err != nil {
				t.Fatal(err)
			}
		}
		return hs
	}
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	for range n {
		h, err := mn.GenPeer()
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	for _, h := range hs[1:] {
		if _, err := mn.LinkPeers(hs[0].ID(), h.ID()); err != nil {
			t.Fatal(err)
		}
		if _, err := mn.ConnectPeers(hs[0].ID(), h.ID()); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}

func feeds(t *testing.T, hs []host.Host) []*Feed {
	var fs []*Feed
	for _, h := range hs {
		f, err := NewFeed(h, Config{Topic: "test/1", Validate: testValidate})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

func TestFeed(t *testing.T) {
	for _, mode := range []struct {
		name string
		real bool
	}{{"mocknet", false}, {"tcp", true}} {
		t.Run(mode.name, func(t *testing.T) {
			hs := hosts(t, 3, mode.real)
			fs := feeds(t, hs)
			_, pub, sub := fs[0], fs[1], fs[2]
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// A message that reaches the hub before the hub grafted the
			// subscriber into its mesh is never forwarded to it (gossipsub
			// only gossips IDs to non-mesh peers), so publish rising
			// sequence numbers until one arrives, as providers' refreshes do.
			var seq uint64
			tstest.WaitFor(t, 15*time.Second, "an entry at the subscriber", func() bool {
				if _, ok := sub.Get("alice"); ok {
					return true
				}
				seq++
				if err := pub.Publish(ctx, []byte("alice:"+strconv.FormatUint(seq, 10))); err != nil {
					t.Fatal(err)
				}
				return false
			})
			tstest.WaitFor(t, 15*time.Second, "the newest entry at the subscriber", func() bool {
				e, ok := sub.Get("alice")
				return ok && e.Seq == seq
			})
			if seq < 2 {
				seq++
				if err := pub.Publish(ctx, []byte("alice:"+strconv.FormatUint(seq, 10))); err != nil {
					t.Fatal(err)
				}
				tstest.WaitFor(t, 15*time.Second, "the second entry at the subscriber", func() bool {
					e, ok := sub.Get("alice")
					return ok && e.Seq == seq
				})
			}
			// An older sequence is a replay: rejected everywhere, the newer kept.
			if err := pub.Publish(ctx, []byte("alice:"+strconv.FormatUint(seq-1, 10))); err == nil {
				t.Fatal("publishing a stale entry succeeded")
			}
			// Garbage is rejected at the first hop, and the sender is penalised.
			for i := range 4 {
				if err := pub.Publish(ctx, []byte("bad"+strconv.Itoa(i))); err == nil {
					t.Fatal("publishing garbage succeeded")
				}
			}
			if e, _ := sub.Get("alice"); e.Seq != seq {
				t.Fatalf("subscriber holds seq %d, want %d", e.Seq, seq)
			}
			if got := len(sub.Entries()); got != 1 {
				t.Fatalf("subscriber holds %d entries, want 1", got)
			}
		})
	}
}

// A peer that sends invalid messages loses score at its neighbours. The
// hostile peer here publishes raw gossipsub messages without our validator.
func TestInvalidSenderPenalised(t *testing.T) {
	hs := hosts(t, 3, false)
	fs := feeds(t, hs[:2])
	hub, sub := fs[0], fs[1]
	hostile := newRawPublisher(t, hs[2], "test/1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tstest.WaitFor(t, 15*time.Second, "hostile peer to see the topic", func() bool { return len(hostile.ListPeers()) > 0 })
	// Like Feed.Publish, keep sending: gossipsub drops what is sent before
	// its stream to the hub is open.
	i := 0
	tstest.WaitFor(t, 15*time.Second, "the hub to penalise the hostile peer", func() bool {
		i++
		if err := hostile.Publish(ctx, []byte("garbage"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		return hub.Score(hs[2].ID()) < 0
	})
	if n := len(sub.Entries()) + len(hub.Entries()); n != 0 {
		t.Fatalf("%d invalid entries were accepted", n)
	}
}

func TestWatchAndExpiry(t *testing.T) {
	hs := hosts(t, 1, false)
	now := time.Now()
	clock := func() time.Time { return now }
	f, err := NewFeed(hs[0], Config{Topic: "t", Validate: testValidate, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	w := f.Watch(ctx)
	if !f.Add(Entry{Key: "k", Seq: 1, Expires: now.Add(time.Minute)}) {
		t.Fatal("new entry not added")
	}
	if f.Add(Entry{Key: "k", Seq: 1, Expires: now.Add(time.Minute)}) {
		t.Fatal("duplicate added")
	}
	if f.Add(Entry{Key: "k", Seq: 0, Expires: now.Add(time.Minute)}) {
		t.Fatal("stale added")
	}
	if e := <-w; e.Key != "k" {
		t.Fatalf("watch got %+v", e)
	}
	now = now.Add(2 * time.Minute)
	if _, ok := f.Get("k"); ok {
		t.Fatal("expired entry still served")
	}
	if len(f.Entries()) != 0 {
		t.Fatal("expired entry listed")
	}
	cancel()
	for range w {
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := f.Publish(context.Background(), []byte("k:3")); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// Gossip reorders: an entry forwarded on a mesh link can overtake an older
// one still answering an IWANT. A peer that hands on the older entry after
// the newer is honest, so the feed drops the older one without penalising
// the peer; a penalty would graylist the honest hub after two such
// overtakes and starve its neighbour of every later entry.
func TestOutOfOrderForwarderNotPenalised(t *testing.T) {
	hs := hosts(t, 2, false)
	fs := feeds(t, hs[:1])
	sub := fs[0]
	fwd := newRawPublisher(t, hs[1], "test/1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tstest.WaitFor(t, 15*time.Second, "the forwarder to see the topic", func() bool { return len(fwd.ListPeers()) > 0 })
	// Keep sending newer entries until one lands: gossipsub drops what is
	// sent before its stream is open.
	var seq uint64 = 100
	tstest.WaitFor(t, 15*time.Second, "a newer entry at the subscriber", func() bool {
		if _, ok := sub.Get("alice"); ok {
			return true
		}
		seq++
		if err := fwd.Publish(ctx, []byte("alice:"+strconv.FormatUint(seq, 10))); err != nil {
			t.Fatal(err)
		}
		return false
	})
	// Then several older ones, as a reordering path would deliver them,
	// and a marker entry under another key: once it has arrived, every
	// older one before it on the same stream has been judged.
	for old := range uint64(5) {
		if err := fwd.Publish(ctx, []byte("alice:"+strconv.FormatUint(old+1, 10))); err != nil {
			t.Fatal(err)
		}
	}
	if err := fwd.Publish(ctx, []byte("marker:1")); err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 15*time.Second, "the marker at the subscriber", func() bool {
		_, ok := sub.Get("marker")
		return ok
	})
	if e, _ := sub.Get("alice"); e.Seq < 101 {
		t.Fatalf("subscriber holds seq %d, want the newer entry (> 100) kept", e.Seq)
	}
	// Scores are sampled each second; wait for two samples.
	time.Sleep(2500 * time.Millisecond)
	if s := sub.Score(hs[1].ID()); s < 0 {
		t.Fatalf("forwarder of reordered entries scored %v, want no penalty", s)
	}
}
