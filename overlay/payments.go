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
	"github.com/mystp2p/mystp2p/identity"
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
	// hubQueryTimeout bounds a balance query at the hermes.
	hubQueryTimeout = 5 * time.Second
	// hubQueryAttempts and hubQueryRetry: how often, and how far apart,
	// a failed balance query is repeated.
	hubQueryAttempts = 3
	hubQueryRetry    = 100 * time.Millisecond
	// FinalInvoiceTimeout bounds the invoice a provider sends when a
	// session ends, retries included.
	FinalInvoiceTimeout = 5 * time.Second
	// paidCloseTimeout is how long a paying consumer waits for the provider
	// to acknowledge a close, which includes the final invoice.
	paidCloseTimeout = FinalInvoiceTimeout + 3*time.Second
)

// ConsumerPayment is how a consumer pays for a session.
type ConsumerPayment struct {
	// Payer answers invoices on the consumer's host (required).
	Payer *hermes.Payer
	// Wallet is the consumer's channel with Hub (required).
	Wallet *hermes.Wallet
	// Hub is the peer ID of the hermes the wallet's channel is with.
	Hub peer.ID
	// MaxFeeBp is the highest hermes fee accepted, in basis points.
	MaxFeeBp uint16

	// deposited is what the hub said the channel holds (PayThrough); with
	// the wallet's promises it tells what is left to spend.
	deposited *big.Int
	feeBp     uint16
}

// Spendable is what the channel has left: its deposit when PayThrough
// asked the hub, less everything promised since. Nil when unknown.
func (c *ConsumerPayment) Spendable() *big.Int {
	if c.deposited == nil {
		return nil
	}
	promised, _ := c.Wallet.Promised()
	return new(big.Int).Sub(c.deposited, promised)
}

// Close stops answering invoices.
func (c *ConsumerPayment) Close() error { return c.Payer.Close() }

// resync restarts the wallet of a payment made by PayThrough from what its
// hermes last accepted, between sessions: a payment a provider never
// exchanged would otherwise block every later one. A hub that cannot be
// asked leaves the wallet as it is.
func (n *Node) resync(ctx context.Context, c *ConsumerPayment) {
	if c.deposited == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hubQueryTimeout)
	defer cancel()
	client, err := hermes.NewHubClient(n.host, c.Hub)
	if err != nil {
		return
	}
	st, err := ConsumerState(ctx, client, n.id.Address())
	if err != nil {
		n.log.Debug("hermes balance before a session", "hermes", c.Hub, "err", err)
		return
	}
	if promised, _ := c.Wallet.Promised(); promised.Cmp(st.Promised) != 0 {
		n.log.Info("wallet restarts from what the hermes accepted", "hermes", c.Hub, "wallet", promised, "hermes_accepted", st.Promised)
	}
	if err := c.Wallet.Rebase(st.Promised, st.Fee); err != nil {
		n.log.Warn("rebase wallet", "err", err)
		return
	}
	c.deposited, c.feeBp = st.Deposited, st.FeeBp
}

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
		n.awaitProposal(ctx, q, time.Second)
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

// PayThrough readies this node to pay for sessions through the hermes hub
// ad advertises: it asks the hub what this node's channel holds and has
// promised so far, and starts a wallet and a payer from that. Close the
// payment when done. A hub whose fee is above maxFeeBp is refused.
func (n *Node) PayThrough(ctx context.Context, ad *SignedProposal, maxFeeBp uint16) (*ConsumerPayment, hermes.ConsumerState, error) {
	client, err := n.HermesClient(ad)
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	p := &ad.Proposal
	if p.HermesTerms.FeeBp > maxFeeBp {
		return nil, hermes.ConsumerState{}, fmt.Errorf("hermes %s charges a fee of %d bp, above the %d bp you accept", p.Provider, p.HermesTerms.FeeBp, maxFeeBp)
	}
	st, err := ConsumerState(ctx, client, n.id.Address())
	if err != nil {
		return nil, hermes.ConsumerState{}, fmt.Errorf("ask hermes %s for your balance: %w", p.Provider, err)
	}
	if st.FeeBp > maxFeeBp {
		return nil, hermes.ConsumerState{}, fmt.Errorf("hermes %s charges a fee of %d bp, above the %d bp you accept", p.Provider, st.FeeBp, maxFeeBp)
	}
	wallet, err := hermes.NewWallet(n.id, p.HermesAddress(), p.HermesTerms.ChainID, st.Promised, st.Fee)
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	payer, err := hermes.NewPayer(n.host, hermes.WithPayerLogger(n.log.With("role", "payer")))
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	return &ConsumerPayment{Payer: payer, Wallet: wallet, Hub: p.Provider, MaxFeeBp: maxFeeBp, deposited: st.Deposited, feeBp: st.FeeBp}, st, nil
}

// payable keeps the proposals a consumer can use as it pays: free ones,
// and, with pay, those that accept its hub and whose minimum balance it
// covers. When none is left the error says why.
func payable(ps []*SignedProposal, pay *ConsumerPayment) ([]*SignedProposal, error) {
	var out []*SignedProposal
	var wrongHub, poor int
	var cheapest *big.Int
	for _, sp := range ps {
		p := &sp.Proposal
		switch {
		case !p.Charges():
			out = append(out, sp)
		case pay == nil || !p.AcceptsHermes(pay.Wallet.Hermes()):
			wrongHub++
		default:
			price, err := ProposalPrice(p)
			if err != nil {
				continue
			}
			need := MinBalance(price, pay.feeBp)
			if have := pay.Spendable(); have != nil && have.Cmp(need) < 0 {
				poor++
				if cheapest == nil || need.Cmp(cheapest) < 0 {
					cheapest = need
				}
				continue
			}
			out = append(out, sp)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	switch {
	case poor > 0:
		return nil, fmt.Errorf("%w: %d matching providers accept your hermes, but your balance there (%s base units) is below what the cheapest needs to start (%s): top up with `mystp2p account topup --amount N --hermes %s`",
			ErrInsufficientBalance, poor, pay.Spendable(), cheapest, pay.Hub)
	case pay == nil:
		return nil, fmt.Errorf("%w: all %d matching providers charge: pay through a hermes they accept with --hermes ID (top it up first with `mystp2p account topup`)", ErrNoProposals, wrongHub)
	default:
		return nil, fmt.Errorf("%w: none of the %d matching providers accepts hermes %s", ErrNoProposals, wrongHub, pay.Hub)
	}
}

// ErrInsufficientBalance means the consumer's channel cannot pay for a session.
var ErrInsufficientBalance = errors.New("balance too low")

func (c *ConsumerPayment) validate() error {
	switch {
	case c.Payer == nil:
		return errors.New("overlay: ConsumerPayment.Payer is required")
	case c.Wallet == nil:
		return errors.New("overlay: ConsumerPayment.Wallet is required")
	case c.Hub == "":
		return errors.New("overlay: ConsumerPayment.Hub is required (the peer ID of the hermes the wallet's channel is with)")
	}
	addr, err := identity.AddressOf(c.Hub)
	if err != nil {
		return fmt.Errorf("overlay: payment hermes %s: %w", c.Hub, err)
	}
	if addr != c.Wallet.Hermes() {
		return fmt.Errorf("overlay: hermes %s (%s) is not the hermes of the wallet's channel (%s); pay through the hermes you topped up",
			c.Hub, addr, c.Wallet.Hermes())
	}
	return nil
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
