package hermes

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	bind "github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/mystp2p/mystp2p/hermes/contracts/bindings"
	"github.com/mystp2p/mystp2p/identity"
)

// DeployTestToken deploys a TestToken (anyone may mint it), paid by from,
// and checks that its code is on chain. mine, if not nil, is called after
// the transaction (simulated chains).
func DeployTestToken(ctx context.Context, backend ChainBackend, from *identity.Identity, mine func()) (common.Address, error) {
	return deployContract(ctx, backend, from, "test token", bindings.TestTokenMetaData.Bin, nil, mine)
}

// DeployRegistry deploys a Registry for token with params, paid by from.
// It first checks that token is an ERC-20 (ErrNotERC20, ErrNoCode), and
// after the receipt that the Registry's code is on chain. mine as for
// DeployTestToken.
func DeployRegistry(ctx context.Context, backend ChainBackend, from *identity.Identity, token common.Address, params RegistryParams, mine func()) (common.Address, error) {
	if err := params.check(); err != nil {
		return common.Address{}, err
	}
	if err := CheckERC20(ctx, backend, token, from.Address()); err != nil {
		return common.Address{}, err
	}
	input := bindings.NewRegistry().PackConstructor(token, params.MinStake,
		new(big.Int).SetUint64(params.WithdrawDelay), new(big.Int).SetUint64(params.LeaveDelay))
	return deployContract(ctx, backend, from, "registry", bindings.RegistryMetaData.Bin, input, mine)
}

// CheckERC20 checks that token holds code that answers the ERC-20 calls
// the Registry makes use of: totalSupply, balanceOf and allowance (of
// holder). It cannot prove that transfers work; a token whose transfers
// fail makes top-ups revert.
func CheckERC20(ctx context.Context, backend ChainBackend, token, holder common.Address) error {
	if err := checkCode(ctx, backend, "token", token); err != nil {
		return err
	}
	tok := bindings.NewTestToken()
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"totalSupply()", tok.PackTotalSupply()},
		{"balanceOf(address)", tok.PackBalanceOf(holder)},
		{"allowance(address,address)", tok.PackAllowance(holder, holder)},
	} {
		out, err := backend.CallContract(ctx, ethereum.CallMsg{From: holder, To: &token, Data: c.data}, nil)
		if err == nil && len(out) != 32 {
			err = fmt.Errorf("answered %d bytes, want 32", len(out))
		}
		if err != nil {
			return fmt.Errorf("token %s: %w: %s: %v", token, ErrNotERC20, c.name, err)
		}
	}
	return nil
}

// checkCode fails with ErrNoCode unless addr holds contract code.
func checkCode(ctx context.Context, backend ChainBackend, name string, addr common.Address) error {
	code, err := backend.CodeAt(ctx, addr, nil)
	if err != nil {
		return fmt.Errorf("%s %s: read code: %w", name, addr, err)
	}
	if len(code) == 0 {
		return fmt.Errorf("%s %s: %w", name, addr, ErrNoCode)
	}
	return nil
}

// deployContract sends a contract creation, waits for its receipt and
// checks the code at the new address.
func deployContract(ctx context.Context, backend ChainBackend, from *identity.Identity, name, bin string, input []byte, mine func()) (common.Address, error) {
	id, err := backend.ChainID(ctx)
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: read chain ID: %w", name, err)
	}
	opts := bind.NewKeyedTransactor(from.PrivateKey(), id)
	opts.Context = ctx
	addr, tx, err := bind.DeployContract(opts, common.FromHex(bin), backend, input)
	if err != nil {
		return common.Address{}, revertError("deploy "+name, err)
	}
	if mine != nil {
		mine()
	}
	r, err := waitMined(ctx, backend, tx.Hash())
	if err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: wait for tx %s: %w", name, tx.Hash(), err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, fmt.Errorf("deploy %s: tx %s: %w", name, tx.Hash(), ErrReverted)
	}
	if err := checkCode(ctx, backend, name, addr); err != nil {
		return common.Address{}, fmt.Errorf("deploy %s: %w", name, err)
	}
	return addr, nil
}

// SendEther sends wei of ether from `from` to `to`, for gas, and waits for
// the receipt.
func (c *Chain) SendEther(ctx context.Context, from *identity.Identity, to common.Address, wei *big.Int) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	nonce, err := c.backend.PendingNonceAt(ctx, from.Address())
	if err != nil {
		return fmt.Errorf("send ether: nonce of %s: %w", from.Address(), err)
	}
	tip, err := c.backend.SuggestGasTipCap(ctx)
	if err != nil {
		return fmt.Errorf("send ether: gas tip: %w", err)
	}
	head, err := c.backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("send ether: head: %w", err)
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	chainID := new(big.Int).SetUint64(c.chainID)
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, To: &to, Value: wei,
	}), types.LatestSignerForChainID(chainID), from.PrivateKey())
	if err != nil {
		return fmt.Errorf("send ether: %w", err)
	}
	if err := c.backend.SendTransaction(ctx, tx); err != nil {
		return fmt.Errorf("send ether to %s: %w", to, err)
	}
	if c.mine != nil {
		c.mine()
	}
	r, err := waitMined(ctx, c.backend, tx.Hash())
	if err != nil {
		return fmt.Errorf("send ether: wait for tx %s: %w", tx.Hash(), err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("send ether: tx %s: %w", tx.Hash(), ErrReverted)
	}
	return nil
}
