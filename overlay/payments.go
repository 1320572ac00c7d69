package overlay

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/tunnel"
)

// MinBalanceDuration and MinBalanceBytes are the usage a consumer's
// spendable balance must cover, at the provider's price plus the hermes
// fee, before a paying provider opens a session.
const (
	MinBalanceDuration = time.Minute
	MinBalanceBytes    = 4 << 20
)

const (
	// hubQueryAttempts and hubQueryRetry: how often, and how far apart,
	// a failed balance query is repeated.
	hubQueryAttempts = 3
	hubQueryRetry    = 100 * time.Millisecond
	// FinalInvoiceTimeout bounds the invoice a provider sends when a
	// session ends, retries included.
	FinalInvoiceTimeout = 5 * time.Second
)

// MinBalance is what a consumer must be able to spend before a provider
// charging price through a hub with feeBp opens a session.
func MinBalance(price hermes.Price, feeBp uint16) *big.Int {
	need := price.Cost(hermes.Usage{Duration: MinBalanceDuration, Bytes: MinBalanceBytes})
	return need.Add(need, hermes.RequiredFee(need, feeBp))
}

// findHermesAttempts is how many DHT lookups FindHermes makes.
const findHermesAttempts = 3

// discoverUntil runs Discover up to findHermesAttempts times, a little
// gossip apart, until found accepts what it returned: a node that has just
// joined may not reach the DHT's providers yet.
func (n *Node) discoverUntil(ctx context.Context, q Query, found func([]*SignedProposal) bool) ([]*SignedProposal, error) {
	for attempt := 1; ; attempt++ {
		ps, err := n.Discover(ctx, q)
		if found(ps) || attempt == findHermesAttempts || ctx.Err() != nil {
			return ps, err
		}
		n.AwaitProposal(ctx, q, time.Second)
	}
}

// DiscoverHermes lists the hermes hubs advertising on the network, looking
// again a few times while none has been found.
func (n *Node) DiscoverHermes(ctx context.Context) ([]*SignedProposal, error) {
	return n.discoverUntil(ctx, Query{Service: ServiceHermes}, func(ps []*SignedProposal) bool { return len(ps) > 0 })
}

// FindHermes finds the advertisement of the hermes hub that id names, by
// peer ID or 0x address, among what this node has seen or through the DHT.
func (n *Node) FindHermes(ctx context.Context, id string) (*SignedProposal, error) {
	var q Query
	q.Service = ServiceHermes
	var want common.Address
	if common.IsHexAddress(id) {
		want = common.HexToAddress(id)
	} else {
		pid, err := peer.Decode(id)
		if err != nil {
			return nil, fmt.Errorf("hermes %q is neither a peer ID nor a 0x address", id)
		}
		q.Provider = pid
	}
	match := func(ps []*SignedProposal) *SignedProposal {
		for _, sp := range ps {
			if want == (common.Address{}) || sp.Proposal.HermesAddress() == want {
				return sp
			}
		}
		return nil
	}
	if sp := match(n.Cached(q)); sp != nil {
		return sp, nil
	}
	ps, err := n.discoverUntil(ctx, q, func(ps []*SignedProposal) bool { return match(ps) != nil })
	if sp := match(ps); sp != nil {
		return sp, nil
	}
	if err == nil {
		err = errors.New("no such hermes advertises on this network")
	}
	return nil, fmt.Errorf("find hermes %s: %w (list hubs with `mystp2p proposals --service hermes`)", id, err)
}

// HermesClient is a client of the hermes hub ad advertises, reachable at
// the addresses it advertises.
func (n *Node) HermesClient(ad *SignedProposal) (*hermes.HubClient, error) {
	p := &ad.Proposal
	if p.Service != ServiceHermes || p.HermesTerms == nil {
		return nil, fmt.Errorf("overlay: %s advertises %s, not a hermes hub", p.Provider, p.Service)
	}
	n.host.Peerstore().AddAddrs(p.Provider, p.AddrInfo().Addrs, 10*time.Minute)
	return hermes.NewHubClient(n.host, p.Provider)
}

// agreementDomain separates agreement IDs from other hashes of session IDs.
var agreementDomain = []byte("mystp2p/agreement/1\x00")

// AgreementID is the payment agreement of a session: both ends derive it
// from the session ID the provider chose.
func AgreementID(session string) [32]byte {
	h := sha256.New()
	h.Write(agreementDomain)
	h.Write([]byte(session))
	return [32]byte(h.Sum(nil))
}

// ProposalPrice is the proposal's price in base units.
func ProposalPrice(p *Proposal) (hermes.Price, error) {
	hour, err := parsePrice(p.PriceHour)
	if err != nil {
		return hermes.Price{}, fmt.Errorf("price per hour: %w", err)
	}
	gib, err := parsePrice(p.PriceGiB)
	if err != nil {
		return hermes.Price{}, fmt.Errorf("price per GiB: %w", err)
	}
	return hermes.Price{PerHour: hour, PerGiB: gib}, nil
}

// TunnelUsage measures a session from its tunnel: time since it started,
// bytes both ways.
func TunnelUsage(stats func() tunnel.Stats) func() hermes.Usage {
	return func() hermes.Usage {
		st := stats()
		return hermes.Usage{Duration: st.Duration, Bytes: st.RxBytes + st.TxBytes}
	}
}

// AcceptedHermes lists a proposal's hermes hubs for messages.
func AcceptedHermes(p *Proposal) string {
	if len(p.Hermes) == 0 {
		return "none"
	}
	return strings.Join(p.Hermes, ", ")
}

// FindPeer makes sure this node can dial p: connected, addresses known, or
// found through the DHT. Dialling reports what is still wrong.
func (n *Node) FindPeer(ctx context.Context, p peer.ID) {
	if n.host.Network().Connectedness(p) == network.Connected || len(n.host.Peerstore().Addrs(p)) > 0 {
		return
	}
	ai, err := n.dht.Kad().FindPeer(ctx, p)
	if err != nil {
		n.log.Debug("find peer", "peer", p, "err", err)
		return
	}
	n.host.Peerstore().AddAddrs(p, ai.Addrs, 10*time.Minute)
}

// ConsumerState asks the hermes what consumer may spend, up to
// hubQueryAttempts times while ctx lasts when a request fails on the way
// (the query changes nothing, so repeating it is safe).
func ConsumerState(ctx context.Context, client *hermes.HubClient, consumer common.Address) (hermes.ConsumerState, error) {
	for attempt := 1; ; attempt++ {
		st, err := client.Consumer(ctx, consumer)
		var remote *hermes.RemoteError
		if err == nil || errors.As(err, &remote) || attempt == hubQueryAttempts {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, err
		case <-time.After(hubQueryRetry):
		}
	}
}
