package overlay

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// A consumer that can reach only one peer (here: the relay) learns the
// offers that peer has heard, by offer exchange, even with no route to the
// providers themselves.
func TestOfferExchange(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := prov.Advertise(ctx, testOffer); err != nil {
		t.Fatal(err)
	}
	tstest.WaitFor(t, 20*time.Second, "the relay to hear the offer on gossip", func() bool {
		_, ok := r.feed.Get(prov.ID().String())
		return ok
	})
	cons := newTestNode(t, Config{Bootstrap: boot})
	n, err := cons.FetchOffers(ctx, r.ID())
	if err != nil || n != 1 {
		t.Fatalf("FetchOffers = %d, %v; want the provider's one offer", n, err)
	}
	if got := cons.Cached(Query{}); len(got) != 1 || got[0].Proposal.Provider != prov.ID() {
		t.Fatalf("cached after the exchange: %v", got)
	}
	// Asking again brings nothing new.
	if n, err := cons.FetchOffers(ctx, r.ID()); err != nil || n != 0 {
		t.Fatalf("second FetchOffers = %d, %v; want 0 new", n, err)
	}
}

// An answer with garbage is an error, and proposals that do not verify
// are skipped; the node keeps what did verify.
func TestOfferExchangeHostile(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	prov.current.RLock()
	good := bytes.Clone(prov.current.raw)
	prov.current.RUnlock()
	tampered := bytes.Replace(bytes.Clone(good), []byte(`"DE"`), []byte(`"FR"`), 1)

	liar := newTestNode(t, Config{Bootstrap: boot})
	// The answer goes from this goroutine to the handler's over a socket,
	// which the race detector cannot see: hand it over under a lock.
	var mu sync.Mutex
	answer := new(bytes.Buffer)
	liar.host.SetStreamHandler(ProtocolOffers, func(s network.Stream) {
		defer s.Close()
		mu.Lock()
		b := bytes.Clone(answer.Bytes())
		mu.Unlock()
		_, _ = s.Write(b)
	})
	cons := newTestNode(t, Config{Bootstrap: boot})
	if err := cons.Host().Connect(ctx, liar.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	_ = writeOffer(answer, tampered)
	_ = writeOffer(answer, []byte("not json"))
	_ = writeOffer(answer, good)
	mu.Unlock()
	if n, err := cons.FetchOffers(ctx, liar.ID()); err != nil || n != 1 {
		t.Fatalf("FetchOffers = %d, %v; want the one good offer, the forged ones skipped", n, err)
	}
	if got := cons.Cached(Query{}); len(got) != 1 || got[0].Proposal.Country != sp.Proposal.Country {
		t.Fatalf("cached: %v", got)
	}
	mu.Lock()
	answer.Reset()
	answer.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}) // a frame far over the limit
	mu.Unlock()
	if _, err := cons.FetchOffers(ctx, liar.ID()); !errors.Is(err, ErrExchangeMalformed) {
		t.Fatalf("oversized frame: %v, want ErrExchangeMalformed", err)
	}
}

// FuzzReadOffers: no answer makes the reader panic or hand out a frame
// over the limit.
func FuzzReadOffers(f *testing.F) {
	var b bytes.Buffer
	_ = writeOffer(&b, []byte("{}"))
	_ = writeOffer(&b, bytes.Repeat([]byte("x"), MaxProposalSize))
	f.Add(b.Bytes())
	f.Add([]byte{0})
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = readOffers(bytes.NewReader(data), func(raw []byte) {
			if len(raw) == 0 || len(raw) > MaxProposalSize {
				t.Fatalf("frame of %d bytes", len(raw))
			}
		})
	})
}
