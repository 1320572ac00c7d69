package client

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
)

const (
	// hubQueryTimeout bounds a balance query at the hermes.
	hubQueryTimeout = 5 * time.Second
	// paidCloseTimeout is how long a paying consumer waits for the provider
	// to acknowledge a close, which includes the final invoice.
	paidCloseTimeout = overlay.FinalInvoiceTimeout + 3*time.Second
)

// Errors payable wraps when no discovered provider will do.
var (
	// ErrInsufficientBalance means the consumer's channel cannot pay for a session.
	ErrInsufficientBalance = errors.New("balance too low")
	// ErrNeedsPayment means every matching provider charges and the
	// consumer gave no Payment.
	ErrNeedsPayment = errors.New("pay through a hermes they accept")
)

// Payment is how a consumer pays for a session.
type Payment struct {
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
func (c *Payment) Spendable() *big.Int {
	if c.deposited == nil {
		return nil
	}
	promised, _ := c.Wallet.Promised()
	return new(big.Int).Sub(c.deposited, promised)
}

// Close stops answering invoices.
func (c *Payment) Close() error { return c.Payer.Close() }

// PayThrough readies node to pay for sessions through the hermes hub ad
// advertises: it asks the hub what node's channel holds and has promised
// so far, and starts a wallet and a payer from that. Close the payment
// when done. A hub whose fee is above maxFeeBp is refused.
func PayThrough(ctx context.Context, node *overlay.Node, ad *overlay.SignedProposal, maxFeeBp uint16) (*Payment, hermes.ConsumerState, error) {
	hub, err := node.HermesClient(ad)
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	p := &ad.Proposal
	if p.HermesTerms.FeeBp > maxFeeBp {
		return nil, hermes.ConsumerState{}, fmt.Errorf("hermes %s charges a fee of %d bp, above the %d bp you accept", p.Provider, p.HermesTerms.FeeBp, maxFeeBp)
	}
	st, err := overlay.ConsumerState(ctx, hub, node.Identity().Address())
	if err != nil {
		return nil, hermes.ConsumerState{}, fmt.Errorf("ask hermes %s for your balance: %w", p.Provider, err)
	}
	if st.FeeBp > maxFeeBp {
		return nil, hermes.ConsumerState{}, fmt.Errorf("hermes %s charges a fee of %d bp, above the %d bp you accept", p.Provider, st.FeeBp, maxFeeBp)
	}
	wallet, err := hermes.NewWallet(node.Identity(), p.HermesAddress(), p.HermesTerms.ChainID, st.Promised, st.Fee)
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	payer, err := hermes.NewPayer(node.Host(), hermes.WithPayerLogger(node.Logger().With("role", "payer")))
	if err != nil {
		return nil, hermes.ConsumerState{}, err
	}
	return &Payment{Payer: payer, Wallet: wallet, Hub: p.Provider, MaxFeeBp: maxFeeBp, deposited: st.Deposited, feeBp: st.FeeBp}, st, nil
}

// resync restarts the wallet of a payment made by PayThrough from what its
// hermes last accepted, between sessions: a payment a provider never
// exchanged would otherwise block every later one. A hub that cannot be
// asked leaves the wallet as it is.
func resync(ctx context.Context, node *overlay.Node, c *Payment) {
	if c.deposited == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, hubQueryTimeout)
	defer cancel()
	hub, err := hermes.NewHubClient(node.Host(), c.Hub)
	if err != nil {
		return
	}
	log := node.Logger()
	st, err := overlay.ConsumerState(ctx, hub, node.Identity().Address())
	if err != nil {
		log.Debug("hermes balance before a session", "hermes", c.Hub, "err", err)
		return
	}
	if promised, _ := c.Wallet.Promised(); promised.Cmp(st.Promised) != 0 {
		log.Info("wallet restarts from what the hermes accepted", "hermes", c.Hub, "wallet", promised, "hermes_accepted", st.Promised)
	}
	if err := c.Wallet.Rebase(st.Promised, st.Fee); err != nil {
		log.Warn("rebase wallet", "err", err)
		return
	}
	c.deposited, c.feeBp = st.Deposited, st.FeeBp
}

// payable keeps the proposals a consumer can use as it pays: free ones,
// and, with pay, those that accept its hub and whose minimum balance it
// covers. When none is left the error says why: ErrInsufficientBalance,
// or ErrNoProposals (with ErrNeedsPayment when pay is nil).
func payable(ps []*overlay.SignedProposal, pay *Payment) ([]*overlay.SignedProposal, error) {
	var out []*overlay.SignedProposal
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
			price, err := overlay.ProposalPrice(p)
			if err != nil {
				continue
			}
			need := overlay.MinBalance(price, pay.feeBp)
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
		return nil, fmt.Errorf("%w: %d matching providers accept your hermes, but your balance there (%s base units) is below what the cheapest needs to start (%s)",
			ErrInsufficientBalance, poor, pay.Spendable(), cheapest)
	case pay == nil:
		return nil, fmt.Errorf("%w: all %d matching providers charge: %w", ErrNoProposals, wrongHub, ErrNeedsPayment)
	default:
		return nil, fmt.Errorf("%w: none of the %d matching providers accepts hermes %s", ErrNoProposals, wrongHub, pay.Hub)
	}
}

func (c *Payment) validate() error {
	switch {
	case c.Payer == nil:
		return errors.New("client: Payment.Payer is required")
	case c.Wallet == nil:
		return errors.New("client: Payment.Wallet is required")
	case c.Hub == "":
		return errors.New("client: Payment.Hub is required (the peer ID of the hermes the wallet's channel is with)")
	}
	addr, err := identity.AddressOf(c.Hub)
	if err != nil {
		return fmt.Errorf("client: payment hermes %s: %w", c.Hub, err)
	}
	if addr != c.Wallet.Hermes() {
		return fmt.Errorf("client: hermes %s (%s) is not the hermes of the wallet's channel (%s); pay through the hermes you topped up",
			c.Hub, addr, c.Wallet.Hermes())
	}
	return nil
}
