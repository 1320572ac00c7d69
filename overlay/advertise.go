package overlay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ProtocolProposal serves a provider's current signed proposal.
const ProtocolProposal protocol.ID = "/mystp2p/proposal/1"

const proposalStreamTimeout = 10 * time.Second

// Offer is what a provider offers; the node fills in identity, addresses,
// sequence and validity when it signs. A hermes hub offers HermesTerms and
// nothing else but an optional Country. A node advertises one offer.
type Offer struct {
	Service   string // default ServiceWireGuard; ServiceHermes when HermesTerms is set
	Country   string
	IPType    string
	PriceHour string // base units
	PriceGiB  string // base units
	Hermes    []string
	// HermesTerms makes the offer a hermes hub's.
	HermesTerms *HermesTerms
}

// Namespaces are the DHT namespaces a proposal is announced under.
func Namespaces(service, country string) []string {
	base := "mystp2p/1/" + service
	if country == "" {
		return []string{base}
	}
	return []string{base, base + "/" + country}
}

// Advertise signs o, serves it, publishes it on gossip, stores it in the DHT
// and announces this node under its namespaces, then re-signs and re-announces
// every ProposalTTL/3 until ctx ends or the node closes. It returns once the
// first round is out, or with the reason the offer was refused.
func (n *Node) Advertise(ctx context.Context, o Offer) (*SignedProposal, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	switch {
	case o.HermesTerms != nil:
		o.Service, o.PriceHour, o.PriceGiB = ServiceHermes, "0", "0"
	case o.Service == "":
		o.Service = ServiceWireGuard
	}
	n.current.RLock()
	busy := n.current.sp != nil
	n.current.RUnlock()
	if busy {
		return nil, errors.New("this node already advertises an offer: run the provider and the hermes hub as separate nodes")
	}
	sp, err := n.sign(o)
	if err != nil {
		return nil, err
	}
	n.current.Lock()
	n.current.offer, n.current.ctx = o, ctx
	n.current.Unlock()
	n.announce(ctx, sp)
	n.wg.Go(func() {
		if err := n.dht.Advertise(ctx, Namespaces(o.Service, o.Country)...); err != nil && ctx.Err() == nil && n.ctx.Err() == nil {
			n.log.Warn("first DHT announcement failed; will retry", "err", err)
		}
	})
	// Re-sign every ProposalTTL/3, and when the host's addresses change
	// (a relay reservation, an observed public address): a proposal
	// signed before then names addresses nobody outside can dial, and
	// peers pass it on (gossip, offer exchange) until the next one.
	sub, err := n.host.EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	if err != nil {
		return nil, fmt.Errorf("watch local addresses: %w", err)
	}
	n.wg.Go(func() {
		defer sub.Close()
		t := time.NewTicker(n.cfg.ProposalTTL / 3)
		defer t.Stop()
		var soon <-chan time.Time // a pending re-sign after an address change
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.ctx.Done():
				return
			case <-sub.Out():
				if soon == nil {
					soon = time.After(addrChangeDebounce)
				}
				continue
			case <-soon:
				soon = nil
				n.current.RLock()
				same := n.current.sp != nil && slices.Equal(n.current.sp.Proposal.Addrs, n.advertisedAddrs())
				n.current.RUnlock()
				if same {
					continue
				}
			case <-t.C:
			}
			if _, err := n.resign(nil); err != nil {
				n.log.Error("re-sign proposal", "err", err)
			}
		}
	})
	return sp, nil
}

// addrChangeDebounce gathers a burst of address changes into one re-sign.
const addrChangeDebounce = time.Second

// CurrentProposal is this node's own live proposal, if it advertises.
func (n *Node) CurrentProposal() *SignedProposal {
	n.current.RLock()
	defer n.current.RUnlock()
	return n.current.sp
}

func (n *Node) sign(o Offer) (*SignedProposal, error) {
	now := n.cfg.Now()
	p := Proposal{
		Format:    ProposalFormat,
		Service:   o.Service,
		Country:   o.Country,
		IPType:    o.IPType,
		PriceHour: o.PriceHour,
		PriceGiB:  o.PriceGiB,
		Hermes:    append([]string{}, o.Hermes...),
		Addrs:     n.advertisedAddrs(),
		Seq:       uint64(now.UnixNano()),
		IssuedAt:  now.UnixMilli(),
		ExpiresAt: now.Add(n.cfg.ProposalTTL).UnixMilli(),
	}
	if o.HermesTerms != nil {
		t := *o.HermesTerms
		p.HermesTerms = &t
	}
	if p.Hermes == nil {
		p.Hermes = []string{}
	}
	sp, err := SignProposal(p, n.id)
	if err != nil {
		return nil, fmt.Errorf("offer refused: %w", err)
	}
	raw, err := sp.Encode()
	if err != nil {
		return nil, err
	}
	n.current.Lock()
	n.current.sp, n.current.raw = sp, raw
	n.current.Unlock()
	return sp, nil
}

// SetPrices re-signs the advertised offer with new prices (base units) and
// announces it at once; the re-signs that follow keep them. Consumers that
// open at the old price are refused with price_changed and look again. A
// price that does not parse, or a node that advertises no provider offer,
// is an error and changes nothing.
func (n *Node) SetPrices(hour, gib string) (*SignedProposal, error) {
	return n.resign(func(o *Offer) error {
		if o.HermesTerms != nil {
			return errors.New("a hermes hub has no prices to set")
		}
		o.PriceHour, o.PriceGiB = hour, gib
		return nil
	})
}

// resign signs the advertised offer again, changed by edit if set, makes
// it the offer from now on and announces it. It is serialised: the last
// to sign is the offer that stays.
func (n *Node) resign(edit func(*Offer) error) (*SignedProposal, error) {
	n.signMu.Lock()
	defer n.signMu.Unlock()
	n.current.RLock()
	o, ctx := n.current.offer, n.current.ctx
	n.current.RUnlock()
	if ctx == nil {
		return nil, errors.New("this node advertises no offer yet")
	}
	if edit != nil {
		if err := edit(&o); err != nil {
			return nil, err
		}
	}
	sp, err := n.sign(o)
	if err != nil {
		return nil, err
	}
	n.current.Lock()
	n.current.offer = o
	n.current.Unlock()
	n.announce(ctx, sp)
	return sp, nil
}

// advertisedAddrs are the host's addresses, relay circuits included, capped
// at the proposal limit with the most useful first.
func (n *Node) advertisedAddrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		if len(out) == maxAddrs {
			break
		}
		if manet.IsIPUnspecified(a) {
			continue
		}
		out = append(out, a.String())
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// announce publishes sp on gossip and in the DHT, in the background so a
// slow network never holds the caller.
func (n *Node) announce(ctx context.Context, sp *SignedProposal) {
	raw, err := sp.Encode()
	if err != nil {
		n.log.Error("encode proposal", "err", err)
		return
	}
	// A newer round supersedes a publish still waiting for topic peers.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	n.current.Lock()
	if n.current.cancelPublish != nil {
		n.current.cancelPublish()
	}
	n.current.cancelPublish = cancel
	n.current.Unlock()
	n.wg.Go(func() {
		defer cancel()
		if err := n.feed.Publish(pctx, raw); err != nil && pctx.Err() == nil && n.ctx.Err() == nil {
			n.log.Warn("gossip publish failed", "err", err)
		}
	})
	n.wg.Go(func() {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := n.dht.PutRecord(pctx, sp.Proposal.Provider.String(), raw); err != nil && ctx.Err() == nil && n.ctx.Err() == nil {
			n.log.Debug("dht record put failed", "err", err)
		}
	})
}

// serveProposal writes the current proposal and closes the stream.
func (n *Node) serveProposal(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(proposalStreamTimeout))
	n.current.RLock()
	raw := n.current.raw
	n.current.RUnlock()
	if raw == nil {
		_ = s.Reset()
		return
	}
	if _, err := s.Write(raw); err != nil {
		_ = s.Reset()
	}
}

// FetchProposal asks a provider for its current proposal directly. It works
// over a relayed connection too.
func (n *Node) FetchProposal(ctx context.Context, ai peer.AddrInfo) (*SignedProposal, error) {
	ctx, cancel := context.WithTimeout(ctx, proposalStreamTimeout)
	defer cancel()
	if len(ai.Addrs) > 0 {
		n.host.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
	}
	s, err := n.host.NewStream(network.WithAllowLimitedConn(ctx, "proposal"), ai.ID, ProtocolProposal)
	if err != nil {
		return nil, fmt.Errorf("fetch proposal from %s: %w", ai.ID, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	raw, err := io.ReadAll(io.LimitReader(s, MaxProposalSize+1))
	if err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("fetch proposal from %s: %w", ai.ID, err)
	}
	sp, err := DecodeProposal(raw, n.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("proposal from %s: %w", ai.ID, err)
	}
	if sp.Proposal.Provider != ai.ID {
		return nil, fmt.Errorf("%w: %s served a proposal of %s", ErrProposalSignature, ai.ID, sp.Proposal.Provider)
	}
	n.feed.Add(entryOf(sp, raw))
	return sp, nil
}
