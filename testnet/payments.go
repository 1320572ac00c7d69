package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/tunnel"
)

// ScenarioPayments runs sessions that pay through a hermes hub, settles
// them on an in-process chain and checks the books.
const ScenarioPayments = "payments"

// PaymentsResult is the payments scenario's account. Amounts are decimal
// strings in token base units; Mismatch is ConsumerSpent − ProviderSettled
// − HermesFees − Unsettled and must be "0", and so must DepositMismatch,
// Deposited − ConsumerSpent − ConsumerWithdrawn − Left.
type PaymentsResult struct {
	Hermes          int    `json:"hermes"` // hubs in the network
	Sessions        int    `json:"sessions"`
	Invoices        int    `json:"invoices"`
	Promises        int    `json:"promises"`
	ConsumerSpent   string `json:"consumer_spent"`
	ProviderSettled string `json:"provider_settled"`
	HermesFees      string `json:"hermes_fees"`
	Unsettled       string `json:"unsettled"`
	Mismatch        string `json:"mismatch"`
	// Deposited is what consumers topped up; ConsumerWithdrawn what they
	// took back by withdrawing; Left what their channels still hold.
	Deposited         string `json:"deposited"`
	ConsumerWithdrawn string `json:"consumer_withdrawn"`
	Left              string `json:"left"`
	DepositMismatch   string `json:"deposit_mismatch"`
	// HermesWithdrawn is the fees hubs withdrew (part of HermesFees).
	HermesWithdrawn string `json:"hermes_withdrawn"`
}

// Payments scenario parameters.
const (
	paymentsFeeBp = 250
	// paymentsInvoiceInterval is short so that every session sees several
	// invoices.
	paymentsInvoiceInterval = 250 * time.Millisecond
	paymentsInvoiceTick     = 50 * time.Millisecond
	// paymentsChunks is how many downloads a session makes, each followed
	// by an invoice.
	paymentsChunks = 3
)

var (
	oneToken      = big.NewInt(params.Ether) // 18 decimals, like ether
	paymentsStake = new(big.Int).Div(oneToken, big.NewInt(1000))
	gasMoney      = big.NewInt(params.Ether)
)

// payNet is a testnet with a chain, hermes hubs and charging providers.
type payNet struct {
	net  *Network
	sim  *devchain.Chain
	dir  string
	hubs []*payHub

	mu        sync.Mutex // guards the fields below (providers are added from hooks)
	providers []*payProvider
	paid      []server.SessionPaid
}

// payHub is a hermes hub: its node, identity, service and store, all
// owned by role.
type payHub struct {
	role  *role.Hermes
	node  *overlay.Node
	id    *identity.Identity
	hub   *hermes.Hub
	store *hermes.Store
}

func (h *payHub) Close() error { return h.role.Close() }

// payProvider is a charging provider's books (owned by its role.Provider).
type payProvider struct {
	id          *identity.Identity
	store       *hermes.Store
	settler     *hermes.Settler
	beneficiary common.Address
	proposal    *overlay.SignedProposal
	hubs        []*payHub // the hubs it accepts
}

// payConsumer is a consumer with a topped-up channel with one hub.
type payConsumer struct {
	node    *overlay.Node
	hub     *payHub
	payer   *hermes.Payer
	payment *client.Payment
}

// Close stops the network, then what it used: stores after the nodes that
// write them, the chain last.
func (p *payNet) Close() error {
	var errs []error
	if p.net != nil {
		errs = append(errs, p.net.Close())
	}
	// The providers' stores and settlers closed with them (role.Provider).
	for _, h := range p.hubs {
		errs = append(errs, h.Close())
	}
	if p.sim != nil {
		errs = append(errs, p.sim.Close())
	}
	errs = append(errs, os.RemoveAll(p.dir))
	return errors.Join(errs...)
}

// startPayNet starts the chain, the network, hubs hermes hubs and
// cfg.Providers providers that charge through them (see acceptedHubs).
func startPayNet(ctx context.Context, cfg Config, hubs int) (_ *payNet, err error) {
	p := &payNet{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.dir, err = os.MkdirTemp("", "mystp2p-payments-"); err != nil {
		return nil, err
	}
	if p.sim, err = devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1)}); err != nil {
		return nil, fmt.Errorf("start chain: %w", err)
	}
	providers := cfg.Providers
	cfg.Providers = 0
	if p.net, err = Start(ctx, cfg); err != nil {
		return nil, err
	}
	for i := range hubs {
		h, err := p.addHub(ctx, cfg, i)
		if err != nil {
			return nil, fmt.Errorf("hermes %d: %w", i, err)
		}
		p.hubs = append(p.hubs, h)
	}
	for i := range providers {
		if err := p.addProvider(ctx, i); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addHub registers a hermes on chain and starts it through
// role.StartHermes, as `mystp2p hermes` does.
func (p *payNet) addHub(ctx context.Context, cfg Config, i int) (*payHub, error) {
	id, err := identity.Generate()
	if err != nil {
		return nil, err
	}
	if err := p.fund(ctx, id.Address(), paymentsStake); err != nil {
		return nil, fmt.Errorf("fund: %w", err)
	}
	if err := p.sim.Chain.RegisterHermes(ctx, id, paymentsStake); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	dir := filepath.Join(p.dir, fmt.Sprintf("hermes-%d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r, err := role.StartHermes(ctx, role.HermesConfig{
		Node: overlay.Config{
			Host:        overlay.HostConfig{Identity: id, Listen: loopback},
			Bootstrap:   p.net.Bootstrap(),
			DHTServer:   true,
			ProposalTTL: p.net.cfg.ProposalTTL,
			RecordTTL:   p.net.cfg.RecordTTL,
			Logger:      cfg.Logger.With("role", "hermes", "hermes", i),
		},
		Chain: p.sim.Chain, DataDir: dir, FeeBp: paymentsFeeBp,
		SettleInterval: -1, // the scenario pulls consumers' promises itself at the end
	})
	if err != nil {
		return nil, err
	}
	return &payHub{role: r, node: r.Node, id: id, hub: r.Hub, store: r.Store}, nil
}

// acceptedHubs is which hubs provider i accepts: the first provider all of
// them, every other one hub of its own, in turn — so that providers differ
// in what they accept and consumers of some hubs have fewer providers.
func (p *payNet) acceptedHubs(i int) []*payHub {
	if i == 0 {
		return p.hubs
	}
	return []*payHub{p.hubs[(len(p.hubs)-1+i)%len(p.hubs)]}
}

// fund gives addr gas money and tokens.
func (p *payNet) fund(ctx context.Context, addr common.Address, tokens *big.Int) error {
	if err := p.sim.SendEther(ctx, addr, gasMoney); err != nil {
		return err
	}
	return p.sim.MintTokens(ctx, addr, tokens)
}

// addProvider starts a provider that accepts the hub and charges through it.
func (p *payNet) addProvider(ctx context.Context, i int) error {
	pp := &payProvider{hubs: p.acceptedHubs(i)}
	prov, err := p.net.addProvider(ctx, func(cfg *role.ProviderConfig) error {
		for _, h := range pp.hubs {
			cfg.Offer.Hermes = append(cfg.Offer.Hermes, h.id.Address().Hex())
		}
		pp.id = cfg.Node.Host.Identity
		if err := p.sim.SendEther(ctx, pp.id.Address(), gasMoney); err != nil {
			return fmt.Errorf("gas: %w", err)
		}
		ben, err := identity.Generate()
		if err != nil {
			return err
		}
		pp.beneficiary = ben.Address()
		cfg.DataDir = filepath.Join(p.dir, fmt.Sprintf("provider-%d", i))
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
		cfg.Chain, cfg.Beneficiary = p.sim.Chain, pp.beneficiary
		cfg.InvoiceInterval, cfg.InvoiceTick = paymentsInvoiceInterval, paymentsInvoiceTick
		cfg.OnPaid = func(sp server.SessionPaid) {
			p.mu.Lock()
			p.paid = append(p.paid, sp)
			p.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	pp.store, pp.settler = prov.Role.Books.Store, prov.Role.Books.Settler
	p.mu.Lock()
	p.providers = append(p.providers, pp)
	p.mu.Unlock()
	pp.proposal = prov.Proposal
	return nil
}

// addConsumer starts a consumer node, tops its channel with hub up on chain,
// finds the hub through its advertisement and makes its payment from what
// the hub says it may spend.
func (p *payNet) addConsumer(ctx context.Context, deposit *big.Int, hub *payHub) (_ *payConsumer, err error) {
	c := &payConsumer{hub: hub}
	if c.node, err = p.net.newNode(ctx, "consumer", overlay.Config{Bootstrap: p.net.Bootstrap()}); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	id := c.node.Identity()
	if err := p.fund(ctx, id.Address(), deposit); err != nil {
		return nil, fmt.Errorf("fund consumer: %w", err)
	}
	if err := p.sim.Chain.TopUp(ctx, id, id.Address(), hub.id.Address(), deposit); err != nil {
		return nil, fmt.Errorf("top up: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ad, err := c.node.FindHermes(fctx, hub.id.Address().Hex())
	if err != nil {
		return nil, err
	}
	pay, st, err := client.PayThrough(fctx, c.node, ad, paymentsFeeBp)
	if err != nil {
		return nil, err
	}
	c.payer, c.payment = pay.Payer, pay
	if st.Spendable().Cmp(deposit) != 0 {
		return nil, fmt.Errorf("hermes sees %s spendable after a top-up of %s", st.Spendable(), deposit)
	}
	return c, nil
}

// Close stops paying and the consumer's node.
func (c *payConsumer) Close() error {
	var errs []error
	if c.payer != nil {
		errs = append(errs, c.payer.Close())
	}
	return errors.Join(append(errs, c.node.Close())...)
}

// paidSession is one paying session's result and what it paid.
type paidSession struct {
	SessionResult
	total, fee *big.Int
}

// runPaidSession opens a paying session with target, downloads size bytes
// through its SOCKS5 port in paymentsChunks parts, waiting for an invoice
// to be paid after each, and closes it.
func (p *payNet) runPaidSession(ctx context.Context, c *payConsumer, target *overlay.SignedProposal, size int64) (r paidSession) {
	r.SessionResult = SessionResult{ConsumerNAT: "none", ProviderNAT: "none"}
	r.total, r.fee = new(big.Int), new(big.Int)
	fail := func(err error) paidSession {
		r.Error = err.Error()
		return r
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := client.Connect(sctx, c.node, client.Config{Proposal: target, Payment: c.payment})
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	r.Path, r.Transport, r.ConnectMS = string(s.Path()), string(s.Transport()), float64(s.ConnectTime.Microseconds())/1000
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer socks.Close()
	var took time.Duration // downloading, not waiting for invoices
	for i := range int64(paymentsChunks) {
		// The last part takes the remainder.
		chunk := size/paymentsChunks + min(1, i/(paymentsChunks-1))*(size%paymentsChunks)
		before, _ := s.Invoices()
		start := time.Now()
		got, err := FetchThroughSOCKS(sctx, socks.Addr().String(), fmt.Sprintf("%sbytes/%d", p.net.Origin.URL(), chunk), io.Discard)
		took += time.Since(start)
		r.Bytes += got
		if err != nil {
			return fail(err)
		}
		if got != chunk {
			return fail(fmt.Errorf("fetched %d bytes, want %d", got, chunk))
		}
		if err := waitInvoice(sctx, s, before); err != nil {
			return fail(err)
		}
	}
	r.ThroughputMbps = mbps(r.Bytes, took)
	if err := s.Close(); err != nil {
		return fail(fmt.Errorf("close session: %w", err))
	}
	r.total, r.fee = s.Paid()
	r.OK = true
	return r
}

// refusedSession asks target for a session paid through c's hub, which
// target does not accept; it returns nil when the provider refuses it so.
func (p *payNet) refusedSession(ctx context.Context, c *payConsumer, target *overlay.SignedProposal) error {
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	s, err := client.Connect(sctx, c.node, client.Config{Proposal: target, Payment: c.payment})
	if err == nil {
		s.Close()
		return fmt.Errorf("provider %s opened a session paid through hermes %s, which it does not list", target.Proposal.Provider, c.hub.id.Address())
	}
	var rej *session.RejectedError
	if !errors.As(err, &rej) || rej.Code != session.RejectHermes {
		return fmt.Errorf("provider %s: %w (want %s)", target.Proposal.Provider, err, session.RejectHermes)
	}
	return nil
}

// waitInvoice waits until s has paid more than before invoices.
func waitInvoice(ctx context.Context, s *client.Session, before int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Polls: a session's invoice count has no event to wait on.
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if n, _ := s.Invoices(); n > before {
			return nil
		}
		select {
		case <-ctx.Done():
			_, refused := s.Invoices()
			return fmt.Errorf("no invoice paid after a download (%d refused): %w", refused, ctx.Err())
		case <-s.Done():
			return fmt.Errorf("session ended while waiting for an invoice: %w", s.Err())
		case <-t.C:
		}
	}
}

// RunPayments starts a simulated chain with the contracts, cfg.Hermes
// hermes hubs (default 2) that advertise themselves, cfg.Providers
// providers (default 2) that charge through some of them (the first all,
// the others one each) and cfg.Consumers consumers (default 2), each with a
// channel topped up with one hub in turn, found through its advertisement.
// Every consumer opens a session with every provider that accepts its hub
// (one session per channel at a time), downloads cfg.FetchBytes from the
// origin through it while paying, and closes it; the providers that do not
// accept its hub must refuse it. Then the hubs pull the consumers' promises
// into their pools, the providers settle on chain, and the books are
// checked to the base unit.
func RunPayments(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Providers == 0 {
		cfg.Providers = 2
	}
	if cfg.Consumers <= 0 {
		cfg.Consumers = 2
	}
	if cfg.FetchBytes <= 0 {
		cfg.FetchBytes = 4 << 20
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	hubs := cfg.Hermes
	if hubs <= 0 {
		hubs = 2
	}
	begin := time.Now()
	p, err := startPayNet(ctx, cfg, hubs)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rep := &Report{Scenario: ScenarioPayments, Nodes: Nodes{Providers: cfg.Providers, Consumers: cfg.Consumers, Relays: 1}}

	consumers := make([]*payConsumer, cfg.Consumers)
	for i := range consumers {
		c, err := p.addConsumer(ctx, oneToken, p.hubs[i%len(p.hubs)])
		if err != nil {
			for _, c := range consumers[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("consumer %d: %w", i, err)
		}
		consumers[i] = c
	}
	defer func() {
		for _, c := range consumers {
			c.Close()
		}
	}()

	p.mu.Lock()
	providers := append([]*payProvider{}, p.providers...)
	p.mu.Unlock()
	results := make([][]paidSession, len(consumers))
	refusals := make([][]error, len(consumers)) // providers that do not accept the consumer's hub
	var wg sync.WaitGroup
	for i, c := range consumers {
		wg.Go(func() {
			for _, pp := range providers {
				if !pp.proposal.Proposal.AcceptsHermes(c.hub.id.Address()) {
					refusals[i] = append(refusals[i], p.refusedSession(ctx, c, pp.proposal))
					continue
				}
				results[i] = append(results[i], p.runPaidSession(ctx, c, pp.proposal, cfg.FetchBytes))
			}
		})
	}
	wg.Wait()
	res := PaymentsResult{Hermes: len(p.hubs)}
	var refused, wrongly int
	var why []error
	for _, rs := range refusals {
		for _, err := range rs {
			refused++
			if err != nil {
				wrongly++
				why = append(why, err)
			}
		}
	}
	rep.check("providers refuse hubs they do not accept", wrongly == 0,
		"%d sessions through a hub the provider does not list, %d not refused as hermes_not_accepted %v", refused, wrongly, errors.Join(why...))
	consumerPaid := new(big.Int)
	ok := 0
	for _, rs := range results {
		for _, r := range rs {
			rep.Sessions = append(rep.Sessions, r.SessionResult)
			res.Sessions++
			consumerPaid.Add(consumerPaid, r.total)
			if r.OK {
				ok++
			}
		}
	}
	rep.check("every paying session fetched from the origin", ok == res.Sessions, "%d of %d", ok, res.Sessions)

	p.mu.Lock()
	providerPaid := new(big.Int)
	for _, sp := range p.paid {
		res.Invoices += sp.Invoices
		res.Promises += sp.Promises
		providerPaid.Add(providerPaid, sp.Paid)
	}
	reported := len(p.paid)
	p.mu.Unlock()
	// An answer lost on the way is paid with the next invoice, so the
	// counts may fall short of one invoice per download.
	rep.check("several invoices per session", reported == res.Sessions && res.Invoices >= 2*res.Sessions && res.Promises >= res.Sessions,
		"%d sessions accounted, %d invoices, %d hermes promises", reported, res.Invoices, res.Promises)
	rep.check("providers got what consumers paid", providerPaid.Cmp(consumerPaid) == 0 && providerPaid.Sign() > 0,
		"providers %s, consumers %s (agreement totals)", providerPaid, consumerPaid)

	if err := p.settle(ctx, rep, consumers, &res); err != nil {
		return nil, err
	}
	if err := p.withdraw(ctx, rep, consumers, oneToken, &res); err != nil {
		return nil, err
	}
	rep.Payments = &res
	rep.finish(begin)
	return rep, nil
}

// settle has every hub pull its consumers' funds and the providers settle
// on chain, fills in the books and checks them against the chain.
func (p *payNet) settle(ctx context.Context, rep *Report, consumers []*payConsumer, res *PaymentsResult) error {
	chain := p.sim.Chain
	spent, fees := new(big.Int), new(big.Int)
	hubFees := map[*payHub]*big.Int{}
	for _, h := range p.hubs {
		hubFees[h] = new(big.Int)
	}
	for _, c := range consumers {
		a, f := c.payment.Wallet.Promised()
		spent.Add(spent, a)
		fees.Add(fees, f)
		hubFees[c.hub].Add(hubFees[c.hub], f)
	}
	moved, channelsSettled := new(big.Int), new(big.Int)
	var pullErrs []error
	for _, h := range p.hubs {
		hubSettler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: chain, From: h.id, Store: h.store})
		if err != nil {
			return err
		}
		m, err := hubSettler.SettleConsumers(ctx, h.hub)
		hubSettler.Close()
		if err != nil {
			pullErrs = append(pullErrs, err)
		} else {
			moved.Add(moved, m)
		}
	}
	for _, c := range consumers {
		ch, cerr := chain.ConsumerChannel(ctx, c.node.Identity().Address(), c.hub.id.Address())
		if cerr != nil {
			return fmt.Errorf("read consumer channel: %w", cerr)
		}
		channelsSettled.Add(channelsSettled, ch.Settled)
	}
	rep.check("hermes hubs pulled the consumers' promises on chain", len(pullErrs) == 0 && moved.Cmp(spent) == 0 && channelsSettled.Cmp(spent) == 0,
		"moved %v, channels settled %s, consumers promised %s (%v)", moved, channelsSettled, spent, errors.Join(pullErrs...))

	settled, unsettled, benefits := new(big.Int), new(big.Int), new(big.Int)
	hubUnsettled := map[*payHub]*big.Int{}
	for _, h := range p.hubs {
		hubUnsettled[h] = new(big.Int)
	}
	settlements := 0
	var errs []error
	p.mu.Lock()
	providers := append([]*payProvider{}, p.providers...)
	p.mu.Unlock()
	for _, pp := range providers {
		for _, h := range pp.hubs {
			hubAddr := h.id.Address()
			paid, err := pp.settler.SettleProvider(ctx, hubAddr)
			switch {
			case errors.Is(err, hermes.ErrNothingToSettle):
			case err != nil:
				errs = append(errs, fmt.Errorf("provider %s, hermes %s: %w", pp.id.Address(), hubAddr, err))
			default:
				settled.Add(settled, paid)
				settlements++
			}
			e, err := pp.store.Earning(hubAddr)
			if err != nil {
				return err
			}
			unsettled.Add(unsettled, e.Unsettled())
			hubUnsettled[h].Add(hubUnsettled[h], e.Unsettled())
		}
		b, err := chain.TokenBalance(ctx, pp.beneficiary)
		if err != nil {
			return err
		}
		benefits.Add(benefits, b)
	}
	rep.check("providers settled on chain", len(errs) == 0 && settlements > 0 && benefits.Cmp(settled) == 0,
		"%d settlements paying %s, beneficiaries hold %s (%v)", settlements, settled, benefits, errors.Join(errs...))
	var pools []string
	poolsOK := true
	for i, h := range p.hubs {
		st, err := chain.Hub(ctx, h.id.Address())
		if err != nil {
			return err
		}
		pool := new(big.Int).Sub(st.Pool(), st.Stake)
		want := new(big.Int).Add(hubFees[h], hubUnsettled[h])
		poolsOK = poolsOK && pool.Cmp(want) == 0
		pools = append(pools, fmt.Sprintf("hermes %d: pool beyond stake %s, fees %s + unsettled %s", i, pool, hubFees[h], hubUnsettled[h]))
	}
	rep.check("each hermes pool holds its fees and what is unsettled", poolsOK, "%s", strings.Join(pools, "; "))

	mismatch := new(big.Int).Sub(spent, settled)
	mismatch.Sub(mismatch, fees)
	mismatch.Sub(mismatch, unsettled)
	res.ConsumerSpent, res.ProviderSettled, res.HermesFees = spent.String(), settled.String(), fees.String()
	res.Unsettled, res.Mismatch = unsettled.String(), mismatch.String()
	rep.check("books balance to the base unit", mismatch.Sign() == 0,
		"consumers spent %s = providers settled %s + hermes fees %s + unsettled %s (mismatch %s)", spent, settled, fees, unsettled, mismatch)
	return nil
}

// withdraw has the first consumer take back what its channel still holds
// (announce, a withdrawal asked too early is refused, the delay mined on
// the simulated chain, complete) and the first hub withdraw the fees it
// earned, then checks the deposits: deposited = spent + withdrawn + left.
func (p *payNet) withdraw(ctx context.Context, rep *Report, consumers []*payConsumer, deposit *big.Int, res *PaymentsResult) error {
	chain := p.sim.Chain
	spent, _ := new(big.Int).SetString(res.ConsumerSpent, 10)
	deposited := new(big.Int).Mul(deposit, big.NewInt(int64(len(consumers))))
	withdrawn := new(big.Int)
	if len(consumers) > 0 {
		c := consumers[0]
		id, hub := c.node.Identity(), c.hub.id.Address()
		before, err := chain.ConsumerChannel(ctx, id.Address(), hub)
		if err != nil {
			return err
		}
		due, err := chain.AnnounceWithdrawal(ctx, id, hub)
		if err != nil {
			return fmt.Errorf("consumer announces its withdrawal: %w", err)
		}
		_, early := chain.Withdraw(ctx, id, hub, id.Address())
		var notDue *hermes.NotDueError
		rep.check("a withdrawal before its delay is refused", errors.As(early, &notDue), "withdraw at once after announcing: %v", early)
		head, err := chain.BlockNumber(ctx)
		if err != nil {
			return err
		}
		if head < due {
			p.sim.Mine(int(due - head))
		}
		got, err := chain.Withdraw(ctx, id, hub, id.Address())
		if err != nil {
			return fmt.Errorf("consumer completes its withdrawal at block %d: %w", due, err)
		}
		withdrawn.Add(withdrawn, got)
		after, err := chain.ConsumerChannel(ctx, id.Address(), hub)
		if err != nil {
			return err
		}
		rep.check("a consumer withdrew what it did not spend", got.Cmp(before.Balance) == 0 && got.Sign() > 0 && after.Balance.Sign() == 0,
			"withdrew %s of a channel holding %s (now %s)", got, before.Balance, after.Balance)
	}
	left := new(big.Int)
	for _, c := range consumers {
		ch, err := chain.ConsumerChannel(ctx, c.node.Identity().Address(), c.hub.id.Address())
		if err != nil {
			return err
		}
		left.Add(left, ch.Balance)
	}
	mismatch := new(big.Int).Sub(deposited, spent)
	mismatch.Sub(mismatch, withdrawn)
	mismatch.Sub(mismatch, left)
	res.Deposited, res.ConsumerWithdrawn, res.Left, res.DepositMismatch = deposited.String(), withdrawn.String(), left.String(), mismatch.String()
	rep.check("deposits balance to the base unit", mismatch.Sign() == 0,
		"deposited %s = spent %s + withdrawn %s + left %s (mismatch %s)", deposited, spent, withdrawn, left, mismatch)

	hubWithdrawn := new(big.Int)
	if len(p.hubs) > 0 {
		h := p.hubs[0]
		st, err := chain.Hub(ctx, h.id.Address())
		if err != nil {
			return err
		}
		had, err := chain.TokenBalance(ctx, h.id.Address())
		if err != nil {
			return err
		}
		tooMuch := chain.HermesWithdraw(ctx, h.id, h.id.Address(), new(big.Int).Add(st.Fees, big.NewInt(1)))
		rep.check("a hub cannot withdraw more than its fees", errors.Is(tooMuch, hermes.ErrExceedsFees),
			"withdraw fees %s + 1: %v", st.Fees, tooMuch)
		if st.Fees.Sign() > 0 {
			if err := chain.HermesWithdraw(ctx, h.id, h.id.Address(), st.Fees); err != nil {
				return fmt.Errorf("hub withdraws its fees: %w", err)
			}
			hubWithdrawn.Add(hubWithdrawn, st.Fees)
		}
		has, err := chain.TokenBalance(ctx, h.id.Address())
		if err != nil {
			return err
		}
		after, err := chain.Hub(ctx, h.id.Address())
		if err != nil {
			return err
		}
		fees, _ := new(big.Int).SetString(res.HermesFees, 10)
		rep.check("a hub withdrew the fees it earned", st.Fees.Sign() > 0 && new(big.Int).Sub(has, had).Cmp(st.Fees) == 0 &&
			after.Fees.Sign() == 0 && after.Stake.Cmp(st.Stake) == 0 && after.Owed.Cmp(st.Owed) == 0 && hubWithdrawn.Cmp(fees) <= 0,
			"withdrew %s (its wallet gained %s), fees left %s, stake %s → %s, owed %s → %s; all hubs' fees %s",
			st.Fees, new(big.Int).Sub(has, had), after.Fees, st.Stake, after.Stake, st.Owed, after.Owed, fees)
	}
	res.HermesWithdrawn = hubWithdrawn.String()
	return nil
}
