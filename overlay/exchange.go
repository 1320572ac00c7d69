package overlay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ProtocolOffers is peer exchange for offers: a node answers with every
// live signed proposal it holds (its own and those it has heard on gossip
// or fetched), so that a consumer who can reach only one peer, such as a
// bridge behind a censor, learns the offers that peer knows even when it
// cannot reach the providers or the DHT servers that hold their records.
// Each proposal is signed by its provider; the asker checks every one.
//
// The asker opens the stream and sends nothing. The answer is up to
// MaxExchangeOffers frames, each a uvarint length and that many bytes of a
// signed proposal (at most MaxProposalSize), then the end of the stream.
const ProtocolOffers protocol.ID = "/mystp2p/offers/1"

// Offer exchange limits.
const (
	// MaxExchangeOffers caps the proposals in one answer.
	MaxExchangeOffers = 512
	// exchangeTimeout bounds one exchange, both ends.
	exchangeTimeout = 10 * time.Second
	// exchangeEvery is how often Discover asks the same peer again.
	exchangeEvery = 10 * time.Second
)

// ErrExchangeMalformed is a framing error in an offer exchange answer.
var ErrExchangeMalformed = errors.New("malformed offer exchange answer")

// serveOffers writes the node's live proposals and closes the stream.
func (n *Node) serveOffers(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(exchangeTimeout))
	w := bufio.NewWriter(s)
	var raws [][]byte
	n.current.RLock()
	if n.current.raw != nil {
		raws = append(raws, n.current.raw)
	}
	n.current.RUnlock()
	for _, e := range n.feed.Entries() {
		if len(e.Raw) > 0 && len(e.Raw) <= MaxProposalSize && e.Key != n.ID().String() {
			raws = append(raws, e.Raw)
		}
	}
	for _, raw := range raws[:min(len(raws), MaxExchangeOffers)] {
		if err := writeOffer(w, raw); err != nil {
			_ = s.Reset()
			return
		}
	}
	if err := w.Flush(); err != nil {
		_ = s.Reset()
	}
}

func writeOffer(w io.Writer, raw []byte) error {
	var hdr [binary.MaxVarintLen64]byte
	if _, err := w.Write(hdr[:binary.PutUvarint(hdr[:], uint64(len(raw)))]); err != nil {
		return err
	}
	_, err := w.Write(raw)
	return err
}

// readOffers reads an answer, calling fn with each frame's bytes (valid
// until fn returns). It stops at the end of the stream, after
// MaxExchangeOffers frames, or at the first framing error.
func readOffers(r io.Reader, fn func(raw []byte)) error {
	br := bufio.NewReader(r)
	buf := make([]byte, MaxProposalSize)
	for i := 0; ; i++ {
		size, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: frame %d: %v", ErrExchangeMalformed, i, err)
		}
		if i == MaxExchangeOffers {
			return fmt.Errorf("%w: more than %d offers", ErrExchangeMalformed, MaxExchangeOffers)
		}
		if size == 0 || size > MaxProposalSize {
			return fmt.Errorf("%w: frame %d of %d bytes (limit %d)", ErrExchangeMalformed, i, size, MaxProposalSize)
		}
		if _, err := io.ReadFull(br, buf[:size]); err != nil {
			return fmt.Errorf("%w: frame %d cut short: %v", ErrExchangeMalformed, i, err)
		}
		fn(buf[:size])
	}
}

// FetchOffers asks p for the offers it knows and keeps every one that
// verifies (a proposal signed by its provider, live, newer than what this
// node holds). It returns how many proposals were new here. A proposal
// that does not verify is skipped, not an error: the answering peer may
// only be passing on what it heard.
func (n *Node) FetchOffers(ctx context.Context, p peer.ID) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	s, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "offers"), p, ProtocolOffers)
	if err != nil {
		return 0, fmt.Errorf("offers from %s: %w", p, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	_ = s.CloseWrite()
	added := 0
	now := n.cfg.Now()
	err = readOffers(s, func(raw []byte) {
		sp, err := DecodeProposal(raw, now)
		if err != nil || sp.Proposal.Provider == n.ID() {
			return
		}
		if n.feed.Add(entryOf(sp, append([]byte(nil), raw...))) {
			added++
		}
	})
	if err != nil {
		_ = s.Reset()
		return added, fmt.Errorf("offers from %s: %w", p, err)
	}
	return added, nil
}

// exchangeLimiter remembers when each peer was last asked for offers.
type exchangeLimiter struct {
	mu   sync.Mutex
	last map[peer.ID]time.Time
}

// due reports whether p may be asked now, and if so records the ask.
func (l *exchangeLimiter) due(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[peer.ID]time.Time{}
	}
	if t, ok := l.last[p]; ok && now.Sub(t) < exchangeEvery {
		return false
	}
	l.last[p] = now
	return true
}

// exchangeWithBootstrap asks the connected bootstrap peers (the bridge a
// censored consumer joined through among them) for their offers, each at
// most once per exchangeEvery, and waits for the answers or ctx.
func (n *Node) exchangeWithBootstrap(ctx context.Context) {
	var wg sync.WaitGroup
	now := n.cfg.Now()
	for _, ai := range n.Bootstrap() {
		if n.host.Network().Connectedness(ai.ID) != network.Connected || !n.exchanges.due(ai.ID, now) {
			continue
		}
		wg.Go(func() {
			if k, err := n.FetchOffers(ctx, ai.ID); err != nil {
				n.log.Debug("offer exchange failed", "peer", ai.ID, "err", err)
			} else {
				n.log.Debug("offer exchange", "peer", ai.ID, "new", k)
			}
		})
	}
	wg.Wait()
}
