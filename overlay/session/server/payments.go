package server

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/tunnel"
)

// Payments makes a provider's sessions pay through the hermes hubs its
// proposal lists. A consumer names the hub it pays through when it opens a
// session; the provider refuses hubs it does not list
// (session.RejectHermes) and consumers whose spendable balance at the hub
// is below the price of overlay.MinBalanceDuration and
// overlay.MinBalanceBytes plus the hermes fee (session.RejectBalance).
// Once the tunnel is up a hermes.Invoicer invoices the consumer for the
// tunnel's measured time and bytes; a consumer that stops paying loses the
// session. When a session ends the provider sends a final invoice, retried
// for at most overlay.FinalInvoiceTimeout, before it closes the tunnel and
// acknowledges the close.
type Payments struct {
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

func (p *Payments) validate() error {
	switch {
	case p.Store == nil:
		return errors.New("server: Payments.Store is required")
	case p.ChainID == 0:
		return errors.New("server: Payments.ChainID is required (the chain the hermes promises are for)")
	case p.Interval < 0 || p.Tick < 0:
		return errors.New("server: Payments Interval and Tick must not be negative")
	case p.Threshold != nil && p.Threshold.Sign() <= 0, p.MaxUnpaid != nil && p.MaxUnpaid.Sign() <= 0:
		return errors.New("server: Payments Threshold and MaxUnpaid must be positive")
	}
	return nil
}

const (
	// hubQueryTimeout bounds the provider's balance check at the hermes.
	hubQueryTimeout = 5 * time.Second
	// finalInvoiceRetry is the pause between attempts of a final invoice
	// that failed (the hermes did not answer, or the consumer's answer was
	// lost): a payment the consumer signed but the hermes never exchanged
	// would be lost to both.
	finalInvoiceRetry = 200 * time.Millisecond
)

// payment is a paying session's terms at the provider, fixed at open.
type payment struct {
	hub   *hermes.HubClient
	feeBp uint16
	price hermes.Price
}

// checkPayment decides whether consumer may open a paying session through
// hub: the hub must be one the proposal lists, and the consumer's spendable
// balance there must cover overlay.MinBalanceDuration and MinBalanceBytes.
func (s *Server) checkPayment(consumer peer.ID, p *overlay.Proposal, hub string) (*payment, *session.Reply) {
	fail := func(code session.RejectCode, format string, a ...any) (*payment, *session.Reply) {
		rep := session.Reject(code, format, a...)
		return nil, &rep
	}
	if hub == "" {
		return fail(session.RejectHermes, "this provider charges for sessions: pay through one of the hermes hubs it accepts (%s)", overlay.AcceptedHermes(p))
	}
	hubID, err := peer.Decode(hub)
	if err != nil {
		return fail(session.RejectBadRequest, "hermes %q is not a peer ID", hub)
	}
	hubAddr, err := identity.AddressOf(hubID)
	if err != nil {
		return fail(session.RejectBadRequest, "hermes %s: %v", hubID, err)
	}
	if !p.AcceptsHermes(hubAddr) {
		return fail(session.RejectHermes, "this provider does not accept hermes %s (%s); it accepts %s: pay through one of those",
			hubID, hubAddr, overlay.AcceptedHermes(p))
	}
	if st := s.cfg.Payments.Settler; st != nil {
		// The Registry says so, whatever the hub answers: new promises
		// from a hub that is leaving could not be settled after it left.
		if due, leaving := st.Leaving(hubAddr); leaving {
			return fail(session.RejectHermes, "hermes %s announced it is leaving the network (its stake can go at block %d): pay through another hub this provider accepts (%s)",
				hubID, due, overlay.AcceptedHermes(p))
		}
	}
	price, err := overlay.ProposalPrice(p)
	if err != nil {
		return fail(session.RejectInternal, "own proposal: %v", err)
	}
	consumerAddr, err := identity.AddressOf(consumer)
	if err != nil {
		return fail(session.RejectBadRequest, "your identity: %v", err)
	}
	client, err := hermes.NewHubClient(s.host, hubID)
	if err != nil {
		return fail(session.RejectBadRequest, "hermes %s: %v", hubID, err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, hubQueryTimeout)
	defer cancel()
	s.node.FindPeer(ctx, hubID)
	st, err := overlay.ConsumerState(ctx, client, consumerAddr)
	if err != nil {
		s.log.Warn("balance check at hermes failed", "hermes", hubID, "consumer", consumer, "err", err)
		return fail(session.RejectHermes, "this provider cannot check your balance at hermes %s now (%v); try again later or pay through another hermes", hubID, err)
	}
	need := overlay.MinBalance(price, st.FeeBp)
	if have := st.Spendable(); have.Cmp(need) < 0 {
		return fail(session.RejectBalance, "your spendable balance at hermes %s is %s base units; this provider needs at least %s to start (%s and %d MiB at its price, plus the hermes fee): top up your channel with hermes %s on chain, then connect again",
			hubID, have, need, overlay.MinBalanceDuration, overlay.MinBalanceBytes>>20, hubID)
	}
	return &payment{hub: client, feeBp: st.FeeBp, price: price}, nil
}

// startInvoicer invoices the consumer of ps for what stats measures.
func (s *Server) startInvoicer(ps *provSession, stats func() tunnel.Stats) (*hermes.Invoicer, error) {
	cfg := s.cfg.Payments
	ic := hermes.InvoicerConfig{
		Host: s.host, Consumer: ps.consumer, AgreementID: overlay.AgreementID(ps.id),
		Hermes: ps.pay.hub, HermesFeeBp: ps.pay.feeBp, ChainID: cfg.ChainID, Store: cfg.Store,
		Price: ps.pay.price, Usage: overlay.TunnelUsage(stats),
		Interval: cfg.Interval, Tick: cfg.Tick, Threshold: cfg.Threshold, MaxUnpaid: cfg.MaxUnpaid,
		Log: s.log.With("session", ps.id),
		OnInvoice: func(err error) {
			s.met.Invoices.WithLabelValues(result(err, "paid")).Inc()
		},
		OnExchange: func(took time.Duration, err error) {
			s.met.HermesExchange.WithLabelValues(result(err, "ok")).Observe(took.Seconds())
		},
	}
	if cfg.Settler != nil {
		ic.OnPromise = cfg.Settler.Notify
	}
	inv, err := hermes.NewInvoicer(ic)
	if err != nil {
		return nil, fmt.Errorf("start invoicing: %w", err)
	}
	return inv, nil
}

// result is a metric's result label: ok without err, else "failed".
func result(err error, ok string) string {
	if err != nil {
		return "failed"
	}
	return ok
}

// closeInvoicer stops invoicing an ended session and reports what it paid.
func (s *Server) closeInvoicer(ps *provSession, inv *hermes.Invoicer) {
	_ = inv.Close()
	invoices, promises := inv.Stats()
	paid := SessionPaid{Session: ps.id, Consumer: ps.consumer, Hermes: ps.pay.hub.Address(), Paid: inv.Paid(),
		Invoices: invoices, Promises: promises, Err: inv.Err()}
	s.log.Info("session paid", "session", ps.id, "consumer", ps.consumer, "hermes", paid.Hermes, "amount", paid.Paid,
		"invoices", invoices, "promises", promises)
	if s.cfg.Payments.OnPaid != nil {
		s.cfg.Payments.OnPaid(paid)
	}
}

// finalInvoice invoices what is still unpaid, retrying for at most
// overlay.FinalInvoiceTimeout; it gives up at once on a consumer reported
// as not paying. Call it while the tunnel still counts: a retry then
// invoices a little more, which the consumer pays together with any
// payment whose answer was lost.
func (s *Server) finalInvoice(ps *provSession, inv *hermes.Invoicer) {
	ctx, cancel := context.WithTimeout(context.Background(), overlay.FinalInvoiceTimeout)
	defer cancel()
	for inv.Err() == nil {
		err := inv.InvoiceNow(ctx)
		if err == nil {
			return
		}
		s.log.Warn("final invoice failed", "session", ps.id, "consumer", ps.consumer, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(finalInvoiceRetry):
		}
	}
}
