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

// ProviderPayments makes a provider's sessions pay through the hermes hubs
// its proposal lists (DESIGN.md §8). A consumer names the hub it pays
// through when it opens a session; the provider refuses hubs it does not
// list (RejectHermes) and consumers whose spendable balance at the hub is
// below the price of MinBalanceDuration and MinBalanceBytes plus the
// hermes fee (RejectBalance).
// Once the tunnel is up a hermes.Invoicer invoices the consumer for the
// tunnel's measured time and bytes; a consumer that stops paying loses the
// session. When a session ends the provider sends a final invoice, retried
// for at most finalInvoiceTimeout, before it closes the tunnel and
// acknowledges the close.
type ProviderPayments struct {
	// Store keeps Rs, payments and hermes promises (required).
	Store *hermes.Store
	// ChainID is the chain the promises are for (required).
	ChainID uint64
	// Settler, if set, hears of every new hermes promise (Settler.Notify),
	// so that it settles automatically above its threshold.
	Settler *hermes.Settler
	// Invoicer timing and limits; zero values take the hermes defaults
	// (see hermes.InvoicerConfig).
	Interval, Tick       time.Duration
	Threshold, MaxUnpaid *big.Int
	// OnPaid, if set, hears what each paying session paid once it ended
	// and its final invoice was settled with the hermes (or failed).
	OnPaid func(SessionPaid)
}

// SessionPaid is what one paying session earned its provider.
type SessionPaid struct {
	Session  string
	Consumer peer.ID
	Hermes   common.Address
	// Paid is the agreement total the hermes accepted, in base units.
	Paid               *big.Int
	Invoices, Promises int
	// Err is why the consumer was reported as not paying, if it was.
	Err error
}

func (p *ProviderPayments) validate() error {
	switch {
	case p.Store == nil:
		return errors.New("overlay: ProviderPayments.Store is required")
	case p.ChainID == 0:
		return errors.New("overlay: ProviderPayments.ChainID is required (the chain the hermes promises are for)")
	case p.Interval < 0 || p.Tick < 0:
		return errors.New("overlay: ProviderPayments Interval and Tick must not be negative")
	case p.Threshold != nil && p.Threshold.Sign() <= 0, p.MaxUnpaid != nil && p.MaxUnpaid.Sign() <= 0:
		return errors.New("overlay: ProviderPayments Threshold and MaxUnpaid must be positive")
	}
	return nil
}

// MinBalanceDuration and MinBalanceBytes are the usage a consumer's
// spendable balance must cover, at the provider's price plus the hermes
// fee, before a paying provider opens a session.
const (
	MinBalanceDuration = time.Minute
	MinBalanceBytes    = 4 << 20
)

const (
	// hubQueryTimeout bounds the provider's balance check at the hermes.
	hubQueryTimeout = 5 * time.Second
	// hubQueryAttempts and hubQueryRetry: how often, and how far apart,
	// the provider asks.
	hubQueryAttempts = 3
	hubQueryRetry    = 100 * time.Millisecond
	// finalInvoiceTimeout bounds the invoice a provider sends when a
	// session ends, retries included.
	finalInvoiceTimeout = 5 * time.Second
	// finalInvoiceRetry is the pause between attempts of a final invoice
	// that failed (the hermes did not answer, or the consumer's answer was
	// lost): a payment the consumer signed but the hermes never exchanged
	// would be lost to both.
	finalInvoiceRetry = 200 * time.Millisecond
	// paidCloseTimeout is how long a paying consumer waits for the provider
	// to acknowledge a close, which includes the final invoice.
	paidCloseTimeout = finalInvoiceTimeout + 3*time.Second
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
	st, err := consumerState(ctx, client, n.id.Address())
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

// minBalance is what a consumer must be able to spend before a provider
// charging price through a hub with feeBp opens a session.
func minBalance(price hermes.Price, feeBp uint16) *big.Int {
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
	st, err := consumerState(ctx, client, n.id.Address())
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
			price, err := proposalPrice(p)
			if err != nil {
				continue
			}
			need := minBalance(price, pay.feeBp)
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

// proposalPrice is the proposal's price in base units.
func proposalPrice(p *Proposal) (hermes.Price, error) {
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

// tunnelUsage measures a session from its tunnel: time since it started,
// bytes both ways.
func tunnelUsage(stats func() tunnel.Stats) func() hermes.Usage {
	return func() hermes.Usage {
		st := stats()
		return hermes.Usage{Duration: st.Duration, Bytes: st.RxBytes + st.TxBytes}
	}
}

// sessionPayment is a paying session's state at the provider.
type sessionPayment struct {
	hub   *hermes.HubClient
	feeBp uint16
	price hermes.Price
	inv   *hermes.Invoicer // set once the tunnel is attached (guarded by providerSession.mu)
}

// acceptedHermes lists a proposal's hermes hubs for messages.
func acceptedHermes(p *Proposal) string {
	if len(p.Hermes) == 0 {
		return "none"
	}
	return strings.Join(p.Hermes, ", ")
}

// checkPayment decides whether consumer may open a paying session through
// hub: the hub must be one the proposal lists, and the consumer's spendable
// balance there must cover MinBalanceDuration and MinBalanceBytes.
func (n *Node) checkPayment(consumer peer.ID, p *Proposal, hub string) (*sessionPayment, *sessionReply) {
	fail := func(code, format string, a ...any) (*sessionPayment, *sessionReply) {
		rep := reject(code, format, a...)
		return nil, &rep
	}
	if hub == "" {
		return fail(RejectHermes, "this provider charges for sessions: pay through one of the hermes hubs it accepts (%s)", acceptedHermes(p))
	}
	hubID, err := peer.Decode(hub)
	if err != nil {
		return fail(RejectBadReq, "hermes %q is not a peer ID", hub)
	}
	hubAddr, err := identity.AddressOf(hubID)
	if err != nil {
		return fail(RejectBadReq, "hermes %s: %v", hubID, err)
	}
	if !p.AcceptsHermes(hubAddr) {
		return fail(RejectHermes, "this provider does not accept hermes %s (%s); it accepts %s: pay through one of those",
			hubID, hubAddr, acceptedHermes(p))
	}
	price, err := proposalPrice(p)
	if err != nil {
		return fail(RejectInternal, "own proposal: %v", err)
	}
	consumerAddr, err := identity.AddressOf(consumer)
	if err != nil {
		return fail(RejectBadReq, "your identity: %v", err)
	}
	client, err := hermes.NewHubClient(n.host, hubID)
	if err != nil {
		return fail(RejectBadReq, "hermes %s: %v", hubID, err)
	}
	ctx, cancel := context.WithTimeout(n.ctx, hubQueryTimeout)
	defer cancel()
	n.findPeer(ctx, hubID)
	st, err := consumerState(ctx, client, consumerAddr)
	if err != nil {
		n.log.Warn("balance check at hermes failed", "hermes", hubID, "peer", consumer, "err", err)
		return fail(RejectHermes, "this provider cannot check your balance at hermes %s now (%v); try again later or pay through another hermes", hubID, err)
	}
	need := minBalance(price, st.FeeBp)
	if have := st.Spendable(); have.Cmp(need) < 0 {
		return fail(RejectBalance, "your spendable balance at hermes %s is %s base units; this provider needs at least %s to start (%s and %d MiB at its price, plus the hermes fee): top up your channel with hermes %s on chain, then connect again",
			hubID, have, need, MinBalanceDuration, MinBalanceBytes>>20, hubID)
	}
	return &sessionPayment{hub: client, feeBp: st.FeeBp, price: price}, nil
}

// consumerState asks the hermes what consumer may spend, up to
// hubQueryAttempts times while ctx lasts when a request fails on the way
// (the query changes nothing, so repeating it is safe).
func consumerState(ctx context.Context, client *hermes.HubClient, consumer common.Address) (hermes.ConsumerState, error) {
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

// findPeer makes sure this node can dial p: connected, addresses known, or
// found through the DHT. Dialling reports what is still wrong.
func (n *Node) findPeer(ctx context.Context, p peer.ID) {
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

// startInvoicer invoices the consumer of ps for what tun measures.
func (n *Node) startInvoicer(ps *providerSession, stats func() tunnel.Stats) (*hermes.Invoicer, error) {
	cfg := n.sessionTable().cfg.Payments
	ic := hermes.InvoicerConfig{
		Host: n.host, Consumer: ps.consumer, AgreementID: AgreementID(ps.id),
		Hermes: ps.pay.hub, HermesFeeBp: ps.pay.feeBp, ChainID: cfg.ChainID, Store: cfg.Store,
		Price: ps.pay.price, Usage: tunnelUsage(stats),
		Interval: cfg.Interval, Tick: cfg.Tick, Threshold: cfg.Threshold, MaxUnpaid: cfg.MaxUnpaid,
		Log: n.log.With("session", ps.id),
	}
	if cfg.Settler != nil {
		ic.OnPromise = cfg.Settler.Notify
	}
	inv, err := hermes.NewInvoicer(ic)
	if err != nil {
		return nil, fmt.Errorf("start invoicing: %w", err)
	}
	// A consumer that stops paying loses the session; the watcher ends it
	// from its own goroutine, as the Invoicer asks.
	n.wg.Go(func() {
		select {
		case <-inv.NotPaying():
			n.dropSession(ps, fmt.Sprintf("consumer not paying: %v", inv.Err()))
		case <-ps.ended:
		}
	})
	return inv, nil
}

// closeInvoicer stops invoicing an ended session and reports what it paid.
func (n *Node) closeInvoicer(ps *providerSession, inv *hermes.Invoicer) {
	cfg := n.sessionTable().cfg.Payments
	_ = inv.Close()
	invoices, promises := inv.Stats()
	paid := SessionPaid{Session: ps.id, Consumer: ps.consumer, Hermes: ps.pay.hub.Address(), Paid: inv.Paid(),
		Invoices: invoices, Promises: promises, Err: inv.Err()}
	n.log.Info("session paid", "session", ps.id, "peer", ps.consumer, "hermes", paid.Hermes, "amount", paid.Paid,
		"invoices", invoices, "promises", promises)
	if cfg.OnPaid != nil {
		cfg.OnPaid(paid)
	}
}

// finalInvoice invoices what is still unpaid, retrying for at most
// finalInvoiceTimeout; it gives up at once on a consumer reported as not
// paying. Call it while the tunnel still counts: a retry then invoices a
// little more, which the consumer pays together with any payment whose
// answer was lost.
func (n *Node) finalInvoice(ps *providerSession, inv *hermes.Invoicer) {
	ctx, cancel := context.WithTimeout(context.Background(), finalInvoiceTimeout)
	defer cancel()
	for inv.Err() == nil {
		err := inv.InvoiceNow(ctx)
		if err == nil {
			return
		}
		n.log.Warn("final invoice failed", "session", ps.id, "peer", ps.consumer, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(finalInvoiceRetry):
		}
	}
}
