package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/params"

	"github.com/mystp2p/mystp2p/identity"
)

// testChain is a simulated chain (ID 1337) with deployed contracts and a few
// funded identities.
type testChain struct {
	sim      *simulated.Backend
	chain    *Chain
	deployer *identity.Identity
}

// testRegistryParams are the Registry parameters of test chains.
var testRegistryParams = RegistryParams{MinStake: big.NewInt(1000), WithdrawDelay: testWithdrawDelay, LeaveDelay: testLeaveDelay}

// Delays of test chains, in blocks. Every transaction is a block there.
const (
	testWithdrawDelay = 5
	testLeaveDelay    = 8
)

// mine adds n empty blocks.
func (tc *testChain) mine(n int) {
	for range n {
		tc.sim.Commit()
	}
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

func newTestChain(t testing.TB, ids ...*identity.Identity) *testChain {
	t.Helper()
	deployer := mustIdentity(t)
	alloc := types.GenesisAlloc{deployer.Address(): {Balance: ether(1000)}}
	for _, id := range ids {
		alloc[id.Address()] = types.Account{Balance: ether(1000)}
	}
	sim := simulated.NewBackend(alloc)
	t.Cleanup(func() { sim.Close() })
	ctx := context.Background()
	d, err := Deploy(ctx, sim.Client(), deployer, testRegistryParams, func() { sim.Commit() })
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain(ctx, sim.Client(), d.Registry, WithMiner(func() { sim.Commit() }))
	if err != nil {
		t.Fatal(err)
	}
	if c.ChainID() != 1337 {
		t.Fatalf("chain ID %d, want 1337", c.ChainID())
	}
	return &testChain{sim: sim, chain: c, deployer: deployer}
}

func mustIdentity(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// wantRevert fails unless err is a revert with the given reason.
func wantRevert(t *testing.T, err error, reason string) {
	t.Helper()
	var re *RevertError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want revert %q", err, reason)
	}
	if re.Reason != reason {
		t.Fatalf("revert reason %q, want %q", re.Reason, reason)
	}
	if !errors.Is(err, ErrReverted) {
		t.Fatal("revert error is not ErrReverted")
	}
}

// sendEther sends value wei from the deployer to addr.
func sendEther(tc *testChain, to common.Address, value *big.Int) error {
	return tc.chain.SendEther(context.Background(), tc.deployer, to, value)
}
