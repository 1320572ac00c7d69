package devchain_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

func TestConfigRejected(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  devchain.Config
		want string
	}{
		{devchain.Config{}, "Config.MinStake is required"},
		{devchain.Config{MinStake: big.NewInt(-1)}, "Config.MinStake -1 is negative"},
		{devchain.Config{MinStake: big.NewInt(1), MineEvery: -time.Second}, "Config.MineEvery -1s is negative"},
		{devchain.Config{MinStake: big.NewInt(1), Listen: "0.0.0.0:0"}, `Config.Listen "0.0.0.0:0": want a loopback`},
		{devchain.Config{MinStake: big.NewInt(1), Listen: "localhost:8545"}, `Config.Listen "localhost:8545": want a loopback`},
	} {
		c, err := devchain.New(ctx, tc.cfg)
		if err == nil {
			c.Close()
			t.Errorf("%+v accepted", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestInProcess drives a chain that is not served: every transaction goes
// through Chain.Chain and is mined at once.
func TestInProcess(t *testing.T) {
	ctx := context.Background()
	hub := mustID(t)
	c, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(10), Prefund: []common.Address{hub.Address()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.RPCURL() != "" {
		t.Fatalf("RPC URL %q without Config.Listen", c.RPCURL())
	}
	if c.Chain.ChainID() != devchain.ChainID {
		t.Fatalf("chain ID %d, want %d", c.Chain.ChainID(), devchain.ChainID)
	}
	late := mustID(t)
	if err := c.SendEther(ctx, late.Address(), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*identity.Identity{hub, late} {
		if err := c.MintTokens(ctx, id.Address(), big.NewInt(100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Chain.RegisterHermes(ctx, hub, big.NewInt(10)); err != nil {
		t.Fatal(err)
	}
	if err := c.Chain.TopUp(ctx, late, late.Address(), hub.Address(), big.NewInt(40)); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Chain.ConsumerChannel(ctx, late.Address(), hub.Address())
	if err != nil || ch.Deposited().Int64() != 40 {
		t.Fatalf("channel %+v, %v", ch, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestOverRPC drives the chain as another process would: an ethclient over
// HTTP, with no miner of its own.
func TestOverRPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := devchain.New(ctx, devchain.Config{Listen: "127.0.0.1:0", MinStake: big.NewInt(10)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !strings.HasPrefix(c.RPCURL(), "http://127.0.0.1:") {
		t.Fatalf("RPC URL %q is not on loopback", c.RPCURL())
	}
	consumer, hub := mustID(t), mustID(t)
	for _, id := range []*identity.Identity{consumer, hub} {
		if err := c.Fund(ctx, id.Address(), big.NewInt(1e18), big.NewInt(100)); err != nil {
			t.Fatal(err)
		}
	}
	client, err := ethclient.DialContext(ctx, c.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	remote, err := hermes.NewChain(ctx, client, c.Deployment.Registry)
	if err != nil {
		t.Fatal(err)
	}
	if remote.ChainID() != devchain.ChainID || remote.Token() != c.Deployment.Token {
		t.Fatalf("remote chain %d token %s, want %d %s", remote.ChainID(), remote.Token(), devchain.ChainID, c.Deployment.Token)
	}
	if err := remote.RegisterHermes(ctx, hub, big.NewInt(10)); err != nil {
		t.Fatal(err)
	}
	if err := remote.TopUp(ctx, consumer, consumer.Address(), hub.Address(), big.NewInt(40)); err != nil {
		t.Fatal(err)
	}
	ch, err := remote.ConsumerChannel(ctx, consumer.Address(), hub.Address())
	if err != nil || ch.Deposited().Int64() != 40 {
		t.Fatalf("channel %+v, %v", ch, err)
	}
	// A revert reason travels over RPC.
	err = remote.TopUp(ctx, consumer, consumer.Address(), hub.Address(), big.NewInt(1000))
	var re *hermes.RevertError
	if !errors.As(err, &re) {
		t.Fatalf("top-up beyond the balance: %v, want a revert", err)
	}
	// A second chain cannot take the first one's port.
	port := c.RPCURL()[len("http://"):]
	if d, err := devchain.New(ctx, devchain.Config{Listen: port, MinStake: big.NewInt(10)}); err == nil {
		d.Close()
		t.Fatalf("second chain on %s started", port)
	}
	// Close stops the mining goroutine and the endpoint, once.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := client.BlockNumber(ctx); err == nil {
		t.Fatal("RPC endpoint still answers after Close")
	}
}

func mustID(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestBlocksPass: a served chain mines a block every BlockEvery with no
// transaction waiting, and Mine adds blocks at once; the Registry has the
// configured delays.
func TestBlocksPass(t *testing.T) {
	ctx := context.Background()
	c, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1), Listen: "127.0.0.1:0", BlockEvery: 20 * time.Millisecond,
		WithdrawDelay: 7, LeaveDelay: 9})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if d, err := c.Chain.WithdrawDelay(ctx); err != nil || d != 7 {
		t.Fatalf("withdraw delay %d, %v; want 7", d, err)
	}
	if d, err := c.Chain.LeaveDelay(ctx); err != nil || d != 9 {
		t.Fatalf("leave delay %d, %v; want 9", d, err)
	}
	start, err := c.Chain.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Blocks have no event to wait on here: read the head until it moves.
	tstest.WaitFor(t, 10*time.Second, "blocks mined with nothing to mine", func() bool {
		n, err := c.Chain.BlockNumber(ctx)
		return err == nil && n >= start+3
	})

	idle, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idle.Close() })
	before, _ := idle.Chain.BlockNumber(ctx)
	idle.Mine(4)
	if after, _ := idle.Chain.BlockNumber(ctx); after != before+4 {
		t.Fatalf("Mine(4) went from block %d to %d", before, after)
	}
	if d, err := idle.Chain.WithdrawDelay(ctx); err != nil || d != devchain.DefaultWithdrawDelay {
		t.Fatalf("default withdraw delay %d, %v", d, err)
	}
}
