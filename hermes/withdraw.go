package hermes

import (
	"context"
	"fmt"
	"math/big"
	"time"

	bind "github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/identity"
)

// NotDueError is a withdrawal or leave whose delay has not passed yet.
type NotDueError struct {
	What string // "withdrawal" or "leave"
	Due  uint64 // first block it may complete in
	Head uint64 // the chain's latest block when asked
}

func (e *NotDueError) Error() string {
	return fmt.Sprintf("%s not yet due: wait %d more blocks (due at block %d, the chain is at block %d)",
		e.What, e.Blocks(), e.Due, e.Head)
}

// Blocks is how many more blocks must be mined before it is due.
func (e *NotDueError) Blocks() uint64 { return e.Due - e.Head }

// Is makes errors.Is(err, ErrNotDue) true.
func (e *NotDueError) Is(target error) bool { return target == ErrNotDue }

// BlockNumber is the chain's latest block.
func (c *Chain) BlockNumber(ctx context.Context) (uint64, error) {
	h, err := c.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("read the latest block: %w", err)
	}
	return h.Number.Uint64(), nil
}

// BlockTime is the average time between the last span blocks (fewer on a
// younger chain; the genesis block, whose time is arbitrary, never counts);
// zero on a chain of fewer than three blocks.
func (c *Chain) BlockTime(ctx context.Context, span uint64) (time.Duration, error) {
	head, err := c.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("read the latest block: %w", err)
	}
	n := head.Number.Uint64()
	if n < 2 {
		return 0, nil
	}
	span = min(span, n-1)
	if span == 0 {
		return 0, nil
	}
	old, err := c.backend.HeaderByNumber(ctx, new(big.Int).SetUint64(n-span))
	if err != nil {
		return 0, fmt.Errorf("read block %d: %w", n-span, err)
	}
	return time.Duration(head.Time-old.Time) * time.Second / time.Duration(span), nil
}

// WithdrawDelay is how many blocks a consumer's withdrawal waits for.
func (c *Chain) WithdrawDelay(ctx context.Context) (uint64, error) {
	d, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackWithdrawDelay(), c.reg.UnpackWithdrawDelay)
	if err != nil {
		return 0, fmt.Errorf("read withdraw delay: %w", err)
	}
	return d.Uint64(), nil
}

// LeaveDelay is how many blocks a hermes's leave waits for.
func (c *Chain) LeaveDelay(ctx context.Context) (uint64, error) {
	d, err := bind.Call(c.registry, c.callOpts(ctx), c.reg.PackLeaveDelay(), c.reg.UnpackLeaveDelay)
	if err != nil {
		return 0, fmt.Errorf("read leave delay: %w", err)
	}
	return d.Uint64(), nil
}

// checkDue fails with a *NotDueError unless the chain has reached due. The
// chain must be at due already (not one block short), because some nodes
// estimate gas in the context of the latest block.
func (c *Chain) checkDue(ctx context.Context, what string, due uint64) error {
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return err
	}
	if head < due {
		return &NotDueError{What: what, Due: due, Head: head}
	}
	return nil
}

// AnnounceWithdrawal starts the withdrawal of consumer's channel with
// hermes and returns the block from which Withdraw completes it. Until
// then the hermes may still settle the consumer's promises, which lowers
// what Withdraw pays; it accepts no new ones.
func (c *Chain) AnnounceWithdrawal(ctx context.Context, consumer *identity.Identity, hermes common.Address) (uint64, error) {
	due, _, err := c.AnnounceWithdrawalTx(ctx, consumer, hermes)
	return due, err
}

// AnnounceWithdrawalTx is AnnounceWithdrawal, returning its transaction too.
func (c *Chain) AnnounceWithdrawalTx(ctx context.Context, consumer *identity.Identity, hermes common.Address) (uint64, Tx, error) {
	ch, err := c.ConsumerChannel(ctx, consumer.Address(), hermes)
	if err != nil {
		return 0, Tx{}, err
	}
	switch {
	case ch.Withdrawing():
		return 0, Tx{}, fmt.Errorf("%w: the withdrawal from the channel with hermes %s is due at block %d; complete it then",
			ErrWithdrawalAnnounced, hermes, ch.WithdrawBlock)
	case ch.Balance.Sign() == 0:
		return 0, Tx{}, fmt.Errorf("%w: the channel of %s with hermes %s holds no tokens", ErrNothingToWithdraw, consumer.Address(), hermes)
	}
	r, err := c.transact(ctx, consumer, c.registry, "announceWithdrawal", c.reg.PackAnnounceWithdrawal(hermes))
	if err != nil {
		return 0, Tx{}, err
	}
	if ch, err = c.ConsumerChannel(ctx, consumer.Address(), hermes); err != nil {
		return 0, txOf(r), err
	}
	return ch.WithdrawBlock, txOf(r), nil
}

// Withdraw completes consumer's announced withdrawal from its channel with
// hermes, paying what the channel still holds to `to`, and returns the
// amount paid.
func (c *Chain) Withdraw(ctx context.Context, consumer *identity.Identity, hermes, to common.Address) (*big.Int, error) {
	got, _, err := c.WithdrawTx(ctx, consumer, hermes, to)
	return got, err
}

// WithdrawTx is Withdraw, returning its transaction too.
func (c *Chain) WithdrawTx(ctx context.Context, consumer *identity.Identity, hermes, to common.Address) (*big.Int, Tx, error) {
	ch, err := c.ConsumerChannel(ctx, consumer.Address(), hermes)
	if err != nil {
		return nil, Tx{}, err
	}
	if !ch.Withdrawing() {
		return nil, Tx{}, fmt.Errorf("%w from the channel of %s with hermes %s: announce it first, then wait %s",
			ErrNoWithdrawal, consumer.Address(), hermes, c.delayText(ctx, c.WithdrawDelay))
	}
	if err := c.checkDue(ctx, "withdrawal", ch.WithdrawBlock); err != nil {
		return nil, Tx{}, err
	}
	r, err := c.transact(ctx, consumer, c.registry, "withdraw", c.reg.PackWithdraw(hermes, to))
	if err != nil {
		return nil, Tx{}, err
	}
	for _, l := range r.Logs {
		if ev, err := c.reg.UnpackWithdrawnEvent(l); err == nil {
			return ev.Amount, txOf(r), nil
		}
	}
	return nil, txOf(r), fmt.Errorf("withdraw: tx %s has no Withdrawn event (is %s the hermes Registry?)", r.TxHash, c.Registry())
}

// delayText describes a delay for an error message, or says it is unknown.
func (c *Chain) delayText(ctx context.Context, read func(context.Context) (uint64, error)) string {
	d, err := read(ctx)
	if err != nil {
		return "the registry's delay"
	}
	return fmt.Sprintf("%d blocks", d)
}

// registeredHub reads id's hub and fails unless it is a registered hermes.
func (c *Chain) registeredHub(ctx context.Context, id common.Address) (HubState, error) {
	st, err := c.Hub(ctx, id)
	if err != nil {
		return HubState{}, err
	}
	if !st.Registered {
		return HubState{}, fmt.Errorf("%s is %w on registry %s", id, ErrHermesNotRegistered, c.Registry())
	}
	return st, nil
}

// HermesWithdraw pays amount of id's earned fees to `to`. Consumer funds
// the hub pulled in stay owed to its providers, and its stake comes back
// only by leaving (AnnounceLeave, WithdrawStake).
func (c *Chain) HermesWithdraw(ctx context.Context, id *identity.Identity, to common.Address, amount *big.Int) error {
	st, err := c.registeredHub(ctx, id.Address())
	if err != nil {
		return err
	}
	if amount.Cmp(st.Fees) > 0 {
		return fmt.Errorf("%w: asked for %s, hermes %s has earned %s in fees it may withdraw (%s more wait for consumer funds; %s is owed to providers)",
			ErrExceedsFees, amount, id.Address(), st.Fees, st.FeesPending, st.Owed)
	}
	_, err = c.transact(ctx, id, c.registry, "hermesWithdraw", c.reg.PackHermesWithdraw(to, amount))
	return err
}

// AnnounceLeave starts id's leave as a hermes and returns the block from
// which WithdrawStake pays the stake back. From now on the Registry takes
// no top-ups for the hub; providers may still settle, and the hub may
// still pull the consumer promises it holds.
func (c *Chain) AnnounceLeave(ctx context.Context, id *identity.Identity) (uint64, error) {
	st, err := c.registeredHub(ctx, id.Address())
	if err != nil {
		return 0, err
	}
	if st.Leaving() {
		return 0, fmt.Errorf("%w: the stake of hermes %s is due at block %d; withdraw it then", ErrLeaveAnnounced, id.Address(), st.LeaveBlock)
	}
	if _, err := c.transact(ctx, id, c.registry, "announceLeave", c.reg.PackAnnounceLeave()); err != nil {
		return 0, err
	}
	if st, err = c.Hub(ctx, id.Address()); err != nil {
		return 0, err
	}
	return st.LeaveBlock, nil
}

// WithdrawStake pays a leaving hermes's stake to `to` once the leave delay
// has passed, and returns the amount. What it lent to providers and gets
// back from consumer funds pulled later can be withdrawn the same way.
func (c *Chain) WithdrawStake(ctx context.Context, id *identity.Identity, to common.Address) (*big.Int, error) {
	st, err := c.registeredHub(ctx, id.Address())
	if err != nil {
		return nil, err
	}
	if !st.Leaving() {
		return nil, fmt.Errorf("%w: hermes %s must announce its leave, then wait %s", ErrNotLeaving, id.Address(), c.delayText(ctx, c.LeaveDelay))
	}
	if err := c.checkDue(ctx, "leave", st.LeaveBlock); err != nil {
		return nil, err
	}
	if st.Stake.Sign() == 0 {
		return nil, fmt.Errorf("%w: hermes %s has no stake left (%s lent to providers comes back as consumer funds are pulled)",
			ErrNothingToWithdraw, id.Address(), st.Lent)
	}
	r, err := c.transact(ctx, id, c.registry, "withdrawStake", c.reg.PackWithdrawStake(to))
	if err != nil {
		return nil, err
	}
	for _, l := range r.Logs {
		if ev, err := c.reg.UnpackStakeWithdrawnEvent(l); err == nil {
			return ev.Amount, nil
		}
	}
	return nil, fmt.Errorf("withdraw stake: tx %s has no StakeWithdrawn event (is %s the hermes Registry?)", r.TxHash, c.Registry())
}

// WithdrawalAnnouncement is a consumer's announced withdrawal from its
// channel with a hermes, as read from the chain's logs.
type WithdrawalAnnouncement struct {
	Consumer common.Address
	Hermes   common.Address
	Due      uint64 // first block the withdrawal may complete in
	Block    uint64 // block the announcement is in
}

// WithdrawalAnnouncements lists the withdrawals announced from channels
// with hermes in blocks from..to (inclusive).
func (c *Chain) WithdrawalAnnouncements(ctx context.Context, hermes common.Address, from, to uint64) ([]WithdrawalAnnouncement, error) {
	it, err := bind.FilterEvents(c.registry, &bind.FilterOpts{Start: from, End: &to, Context: ctx},
		c.reg.UnpackWithdrawalAnnouncedEvent, nil, nil, []any{hermes})
	if err != nil {
		return nil, fmt.Errorf("read withdrawal announcements: %w", err)
	}
	defer it.Close()
	var out []WithdrawalAnnouncement
	for it.Next() {
		ev := it.Value()
		out = append(out, WithdrawalAnnouncement{Consumer: ev.Consumer, Hermes: ev.Hermes, Due: ev.DueBlock.Uint64(), Block: ev.Raw.BlockNumber})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read withdrawal announcements: %w", err)
	}
	return out, nil
}
