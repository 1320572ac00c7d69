package hermes

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// TestDeployRegistry deploys a second Registry for the token of a first,
// as an operator with an existing ERC-20 would, and refuses tokens that
// are not ERC-20 contracts.
func TestDeployRegistry(t *testing.T) {
	ctx := context.Background()
	tc := newTestChain(t)
	client := tc.sim.Client()
	commit := func() { tc.sim.Commit() }
	reg, err := DeployRegistry(ctx, client, tc.deployer, tc.chain.Token(), testRegistryParams, commit)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain(ctx, client, reg, WithMiner(commit))
	if err != nil {
		t.Fatal(err)
	}
	if c.Token() != tc.chain.Token() || c.Registry() == tc.chain.Registry() {
		t.Fatalf("second registry %s has token %s; want a new registry for token %s", c.Registry(), c.Token(), tc.chain.Token())
	}
	if m, err := c.MinStake(ctx); err != nil || m.Cmp(testRegistryParams.MinStake) != 0 {
		t.Fatalf("min stake %v, %v", m, err)
	}

	for _, tt := range []struct {
		name  string
		token common.Address
		want  error
	}{
		{"an account", mustIdentity(t).Address(), ErrNoCode},
		{"the registry", tc.chain.Registry(), ErrNotERC20},
	} {
		_, err := DeployRegistry(ctx, client, tc.deployer, tt.token, testRegistryParams, commit)
		if !errors.Is(err, tt.want) {
			t.Errorf("token %s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := DeployRegistry(ctx, client, tc.deployer, tc.chain.Token(), RegistryParams{MinStake: big.NewInt(1), LeaveDelay: 1}, commit); err == nil {
		t.Error("a withdraw delay of 0 blocks was accepted")
	}
}

func TestSendEther(t *testing.T) {
	ctx := context.Background()
	tc := newTestChain(t)
	to := mustIdentity(t).Address()
	if err := tc.chain.SendEther(ctx, tc.deployer, to, big.NewInt(12345)); err != nil {
		t.Fatal(err)
	}
	if b, err := tc.chain.GasBalance(ctx, to); err != nil || b.Int64() != 12345 {
		t.Fatalf("balance %v, %v; want 12345", b, err)
	}
	if err := tc.chain.SendEther(ctx, mustIdentity(t), to, big.NewInt(1)); err == nil {
		t.Fatal("an account without ether sent some")
	}
}
