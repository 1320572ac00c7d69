package hermes

import (
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/guard"
)

// PayProtocol carries invoices from provider to consumer and the consumer's
// promises back: one invoice and one answer per stream, opened by the provider.
const PayProtocol protocol.ID = "/mystp2p/pay/1"

// Payer is a consumer's side of /mystp2p/pay/1. It answers the invoices of
// the sessions it was told to Pay for, and refuses everything else.
type Payer struct {
	host    host.Host
	log     *slog.Logger
	timeout time.Duration

	mu       sync.Mutex
	sessions map[[32]byte]*PaySession
	closed   bool
	wg       sync.WaitGroup
}

// PayerOption configures a Payer.
type PayerOption func(*Payer) error

// WithPayerLogger sets the logger.
func WithPayerLogger(l *slog.Logger) PayerOption {
	return func(p *Payer) error {
		if l == nil {
			return errors.New("nil logger")
		}
		p.log = l
		return nil
	}
}

// NewPayer registers the consumer's /mystp2p/pay/1 handler on h.
func NewPayer(h host.Host, opts ...PayerOption) (*Payer, error) {
	p := &Payer{host: h, log: slog.New(slog.DiscardHandler), timeout: DefaultRequestTimeout, sessions: make(map[[32]byte]*PaySession)}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, fmt.Errorf("payer option: %w", err)
		}
	}
	h.SetStreamHandler(PayProtocol, guard.Handler(p.log, PayProtocol, p.handleStream))
	return p, nil
}

// Close removes the handler and waits for invoices being answered. Idempotent.
func (p *Payer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.host.RemoveStreamHandler(PayProtocol)
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Terms are what a consumer agreed to pay for one session.
type Terms struct {
	AgreementID [32]byte
	Provider    peer.ID
	Price       Price
	Wallet      *Wallet      // the consumer's channel with the hermes it pays through
	MaxFeeBp    uint16       // the most hermes fee accepted, in bp of the agreement total
	Usage       func() Usage // the consumer's own measurement of the session
	Tolerance   Tolerance    // zero value: DefaultTolerance
}

// PaySession is one session a Payer pays for.
type PaySession struct {
	payer    *Payer
	terms    Terms
	provider common.Address

	mu       sync.Mutex
	total    *big.Int // agreement total paid
	fee      *big.Int // agreement fee paid
	invoices int
	refused  int
}

// Pay starts paying the invoices of one session under terms.
func (p *Payer) Pay(t Terms) (*PaySession, error) {
	if t.Wallet == nil || t.Usage == nil {
		return nil, errors.New("payer: Terms need a Wallet and a Usage function")
	}
	if err := t.Price.Validate(); err != nil {
		return nil, err
	}
	if t.Tolerance == (Tolerance{}) {
		t.Tolerance = DefaultTolerance
	}
	addr, err := identity.AddressOf(t.Provider)
	if err != nil {
		return nil, fmt.Errorf("payer: provider %s: %w", t.Provider, err)
	}
	s := &PaySession{payer: p, terms: t, provider: addr, total: new(big.Int), fee: new(big.Int)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if _, dup := p.sessions[t.AgreementID]; dup {
		return nil, fmt.Errorf("payer: agreement %x is already being paid", t.AgreementID)
	}
	p.sessions[t.AgreementID] = s
	return s, nil
}

// Paid returns the agreement total and hermes fee paid so far.
func (s *PaySession) Paid() (total, fee *big.Int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return new(big.Int).Set(s.total), new(big.Int).Set(s.fee)
}

// Invoices returns how many invoices were paid and refused.
func (s *PaySession) Invoices() (paid, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invoices, s.refused
}

// Close stops paying for the session. Idempotent.
func (s *PaySession) Close() error {
	s.payer.mu.Lock()
	defer s.payer.mu.Unlock()
	if s.payer.sessions[s.terms.AgreementID] == s {
		delete(s.payer.sessions, s.terms.AgreementID)
	}
	return nil
}

func (p *Payer) handleStream(st network.Stream) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = st.Reset()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	remote := st.Conn().RemotePeer()
	log := p.log.With("peer", remote)
	_ = st.SetDeadline(time.Now().Add(p.timeout))
	typ, body, err := readFrame(st)
	if err != nil || typ != msgInvoice {
		log.Debug("bad pay request", "type", typ, "err", err)
		_ = st.Reset()
		return
	}
	var inv Invoice
	if err := inv.UnmarshalBinary(body); err != nil {
		log.Debug("bad invoice", "err", err)
		_ = st.Reset()
		return
	}
	p.mu.Lock()
	s := p.sessions[inv.AgreementID]
	p.mu.Unlock()
	var m *ExchangeMessage
	if s == nil || s.terms.Provider != remote {
		err = fmt.Errorf("%w: no session %x with %s", ErrRejected, inv.AgreementID, remote)
	} else {
		m, err = s.answer(&inv)
	}
	if err != nil {
		log.Info("invoice refused", "session", fmt.Sprintf("%x", inv.AgreementID), "amount", inv.AgreementTotal, "err", err)
		if werr := writeFrame(st, msgError, encodeError(err)); werr != nil {
			_ = st.Reset()
			return
		}
		_ = st.Close()
		return
	}
	b, err := m.MarshalBinary()
	if err == nil {
		err = writeFrame(st, msgExchange, b)
	}
	if err != nil {
		_ = st.Reset()
		return
	}
	_ = st.Close()
}

// answer checks an invoice against the terms and the consumer's own usage
// and signs the payment. It never pays beyond the tolerance.
func (s *PaySession) answer(inv *Invoice) (*ExchangeMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.terms
	refuse := func(err error) (*ExchangeMessage, error) { s.refused++; return nil, err }
	switch {
	case inv.ChainID != t.Wallet.chainID:
		return refuse(fmt.Errorf("%w: invoice for chain %d", ErrWrongChain, inv.ChainID))
	case inv.Provider != s.provider:
		return refuse(fmt.Errorf("%w: invoice names provider %s", ErrWrongProvider, inv.Provider))
	case inv.AgreementTotal.Cmp(s.total) < 0 || inv.Fee.Cmp(s.fee) < 0:
		return refuse(fmt.Errorf("%w: invoice total %s fee %s, already paid %s fee %s", ErrNotIncreasing, inv.AgreementTotal, inv.Fee, s.total, s.fee))
	case inv.AgreementTotal.Cmp(s.total) == 0 && inv.Fee.Cmp(s.fee) == 0:
		return refuse(fmt.Errorf("%w: nothing due, %s already paid", ErrNotIncreasing, s.total))
	}
	if maxFee := RequiredFee(inv.AgreementTotal, t.MaxFeeBp); inv.Fee.Cmp(maxFee) > 0 {
		return refuse(fmt.Errorf("%w: fee %s on %s exceeds %d bp", ErrFeeTooHigh, inv.Fee, inv.AgreementTotal, t.MaxFeeBp))
	}
	used := t.Usage()
	if allowed := t.Tolerance.Allowed(t.Price, used); inv.AgreementTotal.Cmp(allowed) > 0 {
		return refuse(fmt.Errorf("%w: invoice %s, measured %v and %d bytes allow at most %s", ErrOvercharge, inv.AgreementTotal, used.Duration, used.Bytes, allowed))
	}
	dTotal := new(big.Int).Sub(inv.AgreementTotal, s.total)
	dFee := new(big.Int).Sub(inv.Fee, s.fee)
	m, err := t.Wallet.Pay(t.AgreementID, s.provider, inv.Hashlock, inv.AgreementTotal, dTotal, dFee)
	if err != nil {
		return refuse(err)
	}
	s.total, s.fee = new(big.Int).Set(inv.AgreementTotal), new(big.Int).Set(inv.Fee)
	s.invoices++
	return m, nil
}
