package hermes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	bind "github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/mystp2p/mystp2p/hermes/contracts/bindings"
	"github.com/mystp2p/mystp2p/identity"
)

// ChainBackend is what Chain needs from an Ethereum client: an
// *ethclient.Client or a simulated backend's Client.
type ChainBackend interface {
	bind.ContractBackend
	bind.DeployBackend
	ChainID(ctx context.Context) (*big.Int, error)
	BalanceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (*big.Int, error)
}

// RevertError is a contract call that reverted with a reason string.
type RevertError struct {
	Method string
	Reason string
}

func (e *RevertError) Error() string {
	return fmt.Sprintf("%s reverted: %s", e.Method, e.Reason)
}

// Is makes errors.Is(err, ErrReverted) true.
func (e *RevertError) Is(target error) bool { return target == ErrReverted }

// ChannelState is a channel as the Registry contract holds it.
type ChannelState struct {
	Balance    *big.Int // consumer channels: tokens still held
	Settled    *big.Int // cumulative amount of the last settled promise
	FeeSettled *big.Int // cumulative fee of the last settled promise
	// WithdrawBlock is, for a consumer channel with an announced
	// withdrawal, the first block the withdrawal may complete in; 0 if none.
	WithdrawBlock uint64
}

// Deposited is what a consumer channel holds plus what was settled from it:
// the most a consumer's cumulative promise may reach. It is everything ever
// topped up, less what the consumer withdrew.
func (c ChannelState) Deposited() *big.Int { return new(big.Int).Add(c.Balance, c.Settled) }

// Withdrawing reports whether the consumer announced a withdrawal.
func (c ChannelState) Withdrawing() bool { return c.WithdrawBlock != 0 }

// HubState is a hermes as the Registry contract holds it (see Registry.sol
// for how the balances move).
type HubState struct {
	Registered bool
	// Stake is the hub's own deposit, less what it lent to providers who
	// settled before the consumer funds behind their promises were pulled.
	Stake *big.Int
	// Owed is consumer funds pulled in and not yet paid to providers or
	// earned as fees; the hub can never withdraw it.
	Owed *big.Int
	// Fees is what the hub earned and may withdraw (HermesWithdraw).
	Fees *big.Int
	// Lent is what the stake paid ahead of pulled consumer funds.
	Lent *big.Int
	// FeesPending is fees earned that pulled consumer funds do not back yet.
	FeesPending *big.Int
	// LeaveBlock is, once the hub announced its leave, the first block its
	// stake may be withdrawn in; 0 while the hub is active.
	LeaveBlock uint64
}

// Pool is everything the Registry holds for the hub: Stake + Owed + Fees.
func (h HubState) Pool() *big.Int {
	p := new(big.Int).Add(h.Stake, h.Owed)
	return p.Add(p, h.Fees)
}

// Leaving reports whether the hub announced its leave.
func (h HubState) Leaving() bool { return h.LeaveBlock != 0 }

// Chain talks to the Registry and token contracts. Transactions are sent
// one at a time (one nonce sequence per Chain) and waited for.
type Chain struct {
	backend  ChainBackend
	chainID  uint64
	registry *bind.BoundContract
	token    *bind.BoundContract
	reg      *bindings.Registry
	tok      *bindings.TestToken
	log      *slog.Logger
	mine     func()
	timeout  time.Duration

	txMu sync.Mutex
}

// ChainOption configures a Chain.
type ChainOption func(*Chain) error

// WithMiner sets a function called after each transaction is sent, such as a
// simulated backend's Commit, so that it gets mined.
func WithMiner(mine func()) ChainOption {
	return func(c *Chain) error { c.mine = mine; return nil }
}

// WithChainLogger sets the logger.
func WithChainLogger(l *slog.Logger) ChainOption {
	return func(c *Chain) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithTxTimeout bounds how long a transaction may take to be mined when the
// caller's context has no deadline (default 2 minutes).
func WithTxTimeout(d time.Duration) ChainOption {
	return func(c *Chain) error {
		if d <= 0 {
			return fmt.Errorf("tx timeout %v: must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// NewChain binds to a deployed Registry and the token it uses.
func NewChain(ctx context.Context, backend ChainBackend, registry common.Address, opts ...ChainOption) (*Chain, error) {
	c := &Chain{
		backend: backend,
		reg:     bindings.NewRegistry(),
		tok:     bindings.NewTestToken(),
		log:     slog.New(slog.DiscardHandler),
		timeout: 2 * time.Minute,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("chain option: %w", err)
		}
	}
	id, err := backend.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("read chain ID: %w", err)
	}
	if !id.IsUint64() {
		return nil, fmt.Errorf("chain ID %s does not fit 64 bits", id)
	}
	c.chainID = id.Uint64()
	c.registry = c.reg.Instance(backend, registry)
	tokenAddr, err := bind.Call(c.registry, &bind.CallOpts{Context: ctx}, c.reg.PackToken(), c.reg.UnpackToken)
	if err != nil {
		return nil, fmt.Errorf("registry %s: read token address: %w", registry, err)
	}
	c.token = c.tok.Instance(backend, tokenAddr)
	return c, nil
}

// Deployment is the address of a fresh set of contracts.
type Deployment struct {
	Token    common.Address
	Registry common.Address
}

// Default delays of a Registry deployed for a real chain, in blocks (about
// a day and a week of 12-second blocks).
const (
	DefaultWithdrawDelay = 7200
	DefaultLeaveDelay    = 50400
)

// RegistryParams are the Registry's constructor parameters.
type RegistryParams struct {
	// MinStake is the least stake, in token base units, of a hermes.
	MinStake *big.Int
	// WithdrawDelay is how many blocks a consumer waits between announcing
	// a withdrawal and completing it: its hermes's time to settle the
	// promises it holds. At least 1.
	WithdrawDelay uint64
	// LeaveDelay is how many blocks a hermes waits between announcing its
	// leave and withdrawing its stake: its providers' time to settle. At
	// least 1.
	LeaveDelay uint64
}

func (p RegistryParams) check() error {
	switch {
	case p.MinStake == nil || p.MinStake.Sign() < 0:
		return fmt.Errorf("registry: minimum stake %v: must be 0 or more", p.MinStake)
	case p.WithdrawDelay == 0:
		return errors.New("registry: withdraw delay is 0 blocks: give at least 1, so that a hermes can settle before a consumer withdraws")
	case p.LeaveDelay == 0:
		return errors.New("registry: leave delay is 0 blocks: give at least 1, so that providers can settle before a hermes leaves")
	}
	return nil
}

// Deploy deploys a TestToken and a Registry with params, paid by from.
// mine, if not nil, is called after each transaction (simulated chains).
func Deploy(ctx context.Context, backend ChainBackend, from *identity.Identity, params RegistryParams, mine func()) (Deployment, error) {
	if err := params.check(); err != nil {
		return Deployment{}, err
	}
	var d Deployment
	var err error
	if d.Token, err = DeployTestToken(ctx, backend, from, mine); err != nil {
		return Deployment{}, err
	}
	if d.Registry, err = DeployRegistry(ctx, backend, from, d.Token, params, mine); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// ChainID is the chain's ID.
func (c *Chain) ChainID() uint64 { return c.chainID }

// Registry is the Registry contract's address.
func (c *Chain) Registry() common.Address { return c.registry.Address() }

// Token is the token contract's address.
func (c *Chain) Token() common.Address { return c.token.Address() }

func (c *Chain) callOpts(ctx context.Context) *bind.CallOpts { return &bind.CallOpts{Context: ctx} }

// TokenBalance is addr's token balance.
func (c *Chain) TokenBalance(ctx context.Context, addr common.Address) (*big.Int, error) {
	b, err := bind.Call(c.token, c.callOpts(ctx), c.tok.PackBalanceOf(addr), c.tok.UnpackBalanceOf)
	if err != nil {
		return nil, fmt.Errorf("token balance of %s: %w", addr, err)
	}
	return b, nil
}

// GasBalance is addr's ether balance, which pays for its transactions.
func (c *Chain) GasBalance(ctx context.Context, addr common.Address) (*big.Int, error) {
	b, err := c.backend.BalanceAt(ctx, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("ether balance of %s: %w", addr, err)
	}
	return b, nil
}

// MinStake is the least stake the Registry takes from a hermes.
func (c *Chain) MinStake(ctx context.Context) (*big.Int, error) {
	m, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackMinStake(), c.reg.UnpackMinStake)
	if err != nil {
		return nil, fmt.Errorf("read minimum stake: %w", err)
	}
	return m, nil
}

// ConsumerChannel reads consumer's channel with hermes.
func (c *Chain) ConsumerChannel(ctx context.Context, consumer, hermes common.Address) (ChannelState, error) {
	o, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackConsumerChannels(ChannelID(consumer, hermes)), c.reg.UnpackConsumerChannels)
	if err != nil {
		return ChannelState{}, fmt.Errorf("read consumer channel %s/%s: %w", consumer, hermes, err)
	}
	return ChannelState{Balance: o.Balance, Settled: o.Settled, FeeSettled: o.FeeSettled, WithdrawBlock: o.WithdrawBlock.Uint64()}, nil
}

// ProviderChannel reads provider's channel with hermes.
func (c *Chain) ProviderChannel(ctx context.Context, provider, hermes common.Address) (ChannelState, error) {
	o, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackProviderChannels(ChannelID(provider, hermes)), c.reg.UnpackProviderChannels)
	if err != nil {
		return ChannelState{}, fmt.Errorf("read provider channel %s/%s: %w", provider, hermes, err)
	}
	return ChannelState{Balance: o.Balance, Settled: o.Settled, FeeSettled: o.FeeSettled}, nil
}

// Hub reads a hermes's registration.
func (c *Chain) Hub(ctx context.Context, hermes common.Address) (HubState, error) {
	o, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackHubs(hermes), c.reg.UnpackHubs)
	if err != nil {
		return HubState{}, fmt.Errorf("read hermes %s: %w", hermes, err)
	}
	return HubState{Registered: o.Registered, Stake: o.Stake, Owed: o.Owed, Fees: o.Fees, Lent: o.Lent,
		FeesPending: o.FeesPending, LeaveBlock: o.LeaveBlock.Uint64()}, nil
}

// Beneficiary is where provider settlements for id are paid (id itself when unset).
func (c *Chain) Beneficiary(ctx context.Context, id common.Address) (common.Address, error) {
	b, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackBeneficiaryOf(id), c.reg.UnpackBeneficiaryOf)
	if err != nil {
		return common.Address{}, fmt.Errorf("read beneficiary of %s: %w", id, err)
	}
	if b == (common.Address{}) {
		return id, nil
	}
	return b, nil
}

// Mint mints test tokens to `to` (TestToken only).
func (c *Chain) Mint(ctx context.Context, from *identity.Identity, to common.Address, amount *big.Int) error {
	_, err := c.transact(ctx, from, c.token, "mint", c.tok.PackMint(to, amount))
	return err
}

// Transfer sends tokens from `from` to `to`.
func (c *Chain) Transfer(ctx context.Context, from *identity.Identity, to common.Address, amount *big.Int) error {
	_, err := c.transact(ctx, from, c.token, "transfer", c.tok.PackTransfer(to, amount))
	return err
}

// Approve lets the Registry pull amount tokens from `from`.
func (c *Chain) Approve(ctx context.Context, from *identity.Identity, amount *big.Int) error {
	_, err := c.transact(ctx, from, c.token, "approve", c.tok.PackApprove(c.Registry(), amount))
	return err
}

// RegisterIdentity registers id with a beneficiary for its settlements.
func (c *Chain) RegisterIdentity(ctx context.Context, id *identity.Identity, beneficiary common.Address) error {
	_, err := c.transact(ctx, id, c.registry, "registerIdentity", c.reg.PackRegisterIdentity(beneficiary))
	return err
}

// RegisterHermes approves and registers id as a hermes with stake.
func (c *Chain) RegisterHermes(ctx context.Context, id *identity.Identity, stake *big.Int) error {
	if err := c.Approve(ctx, id, stake); err != nil {
		return err
	}
	_, err := c.transact(ctx, id, c.registry, "registerHermes", c.reg.PackRegisterHermes(stake))
	return err
}

// TopUp approves and adds amount, paid by payer, to consumer's channel with hermes.
func (c *Chain) TopUp(ctx context.Context, payer *identity.Identity, consumer, hermes common.Address, amount *big.Int) error {
	_, err := c.TopUpTx(ctx, payer, consumer, hermes, amount)
	return err
}

// TopUpTx is TopUp, returning its two mined transactions (approve, topUp).
func (c *Chain) TopUpTx(ctx context.Context, payer *identity.Identity, consumer, hermes common.Address, amount *big.Int) ([]Tx, error) {
	ra, err := c.transact(ctx, payer, c.token, "approve", c.tok.PackApprove(c.Registry(), amount))
	if err != nil {
		return nil, err
	}
	rt, err := c.transact(ctx, payer, c.registry, "topUp", c.reg.PackTopUp(consumer, hermes, amount))
	if err != nil {
		return []Tx{txOf(ra)}, err
	}
	return []Tx{txOf(ra), txOf(rt)}, nil
}

// SettlePromise moves what consumer promised (p, unlocked by r) into hermes's
// pool. Anyone may send it; from pays the gas.
func (c *Chain) SettlePromise(ctx context.Context, from *identity.Identity, consumer, hermes common.Address, p Promise, r [32]byte) error {
	if err := p.checkAmounts(); err != nil {
		return err
	}
	_, err := c.transact(ctx, from, c.registry, "settlePromise",
		c.reg.PackSettlePromise(consumer, hermes, new(big.Int).SetUint64(p.ChainID), p.Amount, p.Fee, r, p.Signature))
	return err
}

// SettleProvider pays provider's beneficiary what hermes promised (p,
// unlocked by r) beyond the last settlement, minus the fee. Anyone may send it.
func (c *Chain) SettleProvider(ctx context.Context, from *identity.Identity, provider, hermes common.Address, p Promise, r [32]byte) error {
	_, err := c.SettleProviderTx(ctx, from, provider, hermes, p, r)
	return err
}

// SettleProviderTx is SettleProvider, returning the mined transaction.
func (c *Chain) SettleProviderTx(ctx context.Context, from *identity.Identity, provider, hermes common.Address, p Promise, r [32]byte) (Tx, error) {
	if err := p.checkAmounts(); err != nil {
		return Tx{}, err
	}
	rc, err := c.transact(ctx, from, c.registry, "settleProvider",
		c.reg.PackSettleProvider(provider, hermes, new(big.Int).SetUint64(p.ChainID), p.Amount, p.Fee, r, p.Signature))
	if err != nil {
		return Tx{}, err
	}
	return txOf(rc), nil
}

// Tx is a mined transaction and what its gas cost, from its receipt.
type Tx struct {
	Hash     common.Hash
	Block    uint64
	GasUsed  uint64
	GasPrice *big.Int // effective gas price, wei per gas
}

// GasCost is GasUsed × GasPrice in wei.
func (t Tx) GasCost() *big.Int {
	if t.GasPrice == nil {
		return new(big.Int)
	}
	return new(big.Int).Mul(new(big.Int).SetUint64(t.GasUsed), t.GasPrice)
}

func txOf(r *types.Receipt) Tx {
	t := Tx{Hash: r.TxHash, GasUsed: r.GasUsed, GasPrice: new(big.Int)}
	if r.BlockNumber != nil {
		t.Block = r.BlockNumber.Uint64()
	}
	if r.EffectiveGasPrice != nil {
		t.GasPrice.Set(r.EffectiveGasPrice)
	}
	return t
}

// GasCost sums what txs cost in gas, in wei.
func GasCost(txs ...Tx) *big.Int {
	sum := new(big.Int)
	for _, t := range txs {
		sum.Add(sum, t.GasCost())
	}
	return sum
}

// transact sends one transaction and waits for its receipt. A call that would
// revert is caught by gas estimation and returned as a *RevertError.
func (c *Chain) transact(ctx context.Context, from *identity.Identity, to *bind.BoundContract, method string, data []byte) (*types.Receipt, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	opts := bind.NewKeyedTransactor(from.PrivateKey(), new(big.Int).SetUint64(c.chainID))
	opts.Context = ctx
	tx, err := bind.Transact(to, opts, data)
	if err != nil {
		return nil, revertError(method, err)
	}
	if c.mine != nil {
		c.mine()
	}
	r, err := waitMined(ctx, c.backend, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: wait for tx %s: %w", method, tx.Hash(), err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return nil, &RevertError{Method: method, Reason: "transaction failed on chain"}
	}
	c.log.Debug("transaction mined", "method", method, "tx", tx.Hash(), "gas", r.GasUsed)
	return r, nil
}

// revertError extracts the revert reason of a failed gas estimation.
func revertError(method string, err error) error {
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if data, derr := hexutil.Decode(s); derr == nil {
				if reason, uerr := abi.UnpackRevert(data); uerr == nil {
					return &RevertError{Method: method, Reason: reason}
				}
			}
		}
	}
	return fmt.Errorf("%s: %w", method, err)
}

// waitMined polls for a transaction's receipt, first every 50 ms and then
// less often up to once a second (bind.WaitMined polls once a second, which
// makes every step of a short-block dev chain take a second).
func waitMined(ctx context.Context, b bind.DeployBackend, hash common.Hash) (*types.Receipt, error) {
	pause := 50 * time.Millisecond
	for {
		r, err := b.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
