package hermes

import (
	"context"
	"math/big"
	"testing"

	bind "github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes/contracts/bindings"
	"github.com/mystp2p/mystp2p/identity"
)

// contractWorld is a chain with a registered hermes and a funded consumer channel.
type contractWorld struct {
	*testChain
	hermes, consumer, provider, beneficiary, stranger *identity.Identity
}

func newContractWorld(t *testing.T) *contractWorld {
	t.Helper()
	w := &contractWorld{
		hermes: mustIdentity(t), consumer: mustIdentity(t), provider: mustIdentity(t), beneficiary: mustIdentity(t), stranger: mustIdentity(t),
	}
	w.testChain = newTestChain(t, w.hermes, w.consumer, w.provider, w.stranger)
	ctx := context.Background()
	c := w.chain
	for _, id := range []*identity.Identity{w.hermes, w.consumer} {
		if err := c.Mint(ctx, id, id.Address(), big.NewInt(1_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RegisterHermes(ctx, w.hermes, big.NewInt(5000)); err != nil {
		t.Fatal(err)
	}
	if err := c.TopUp(ctx, w.consumer, w.consumer.Address(), w.hermes.Address(), big.NewInt(10_000)); err != nil {
		t.Fatal(err)
	}
	return w
}

// promise makes a promise on party's channel with hermes signed by signer.
func (w *contractWorld) promise(t *testing.T, signer identity.Signer, party common.Address, chainID uint64, amount, fee int64) (Promise, [32]byte) {
	t.Helper()
	r, lock, err := NewR()
	if err != nil {
		t.Fatal(err)
	}
	p := Promise{ChainID: chainID, ChannelID: ChannelID(party, w.hermes.Address()), Amount: big.NewInt(amount), Fee: big.NewInt(fee), Hashlock: lock}
	if err := p.Sign(signer); err != nil {
		t.Fatal(err)
	}
	return p, r
}

func (w *contractWorld) balance(t *testing.T, a common.Address) int64 {
	t.Helper()
	b, err := w.chain.TokenBalance(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return b.Int64()
}

func (w *contractWorld) pool(t *testing.T) int64 {
	t.Helper()
	h, err := w.chain.Hub(context.Background(), w.hermes.Address())
	if err != nil {
		t.Fatal(err)
	}
	return h.Pool().Int64()
}

func TestContractSolidityHashEqualsGo(t *testing.T) {
	tc := newTestChain(t)
	p := goldenPromise()
	got, err := bind.Call(tc.chain.registry, nil,
		tc.chain.reg.PackPromiseHash(new(big.Int).SetUint64(p.ChainID), p.ChannelID, p.Amount, p.Fee, p.Hashlock),
		tc.chain.reg.UnpackPromiseHash)
	if err != nil {
		t.Fatal(err)
	}
	if want := p.Hash(); got != want {
		t.Fatalf("solidity hash %x, go hash %x", got, want)
	}
	a, b := common.HexToAddress("0x1111111111111111111111111111111111111111"), common.HexToAddress("0x2222222222222222222222222222222222222222")
	id, err := bind.Call(tc.chain.registry, nil, tc.chain.reg.PackChannelId(a, b), tc.chain.reg.UnpackChannelId)
	if err != nil {
		t.Fatal(err)
	}
	if id != ChannelID(a, b) {
		t.Fatalf("solidity channel ID %x, go %x", id, ChannelID(a, b))
	}
}

func TestContractHappyPath(t *testing.T) {
	w := newContractWorld(t)
	ctx := context.Background()
	c := w.chain
	if err := c.RegisterIdentity(ctx, w.provider, w.beneficiary.Address()); err != nil {
		t.Fatal(err)
	}
	if b, err := c.Beneficiary(ctx, w.provider.Address()); err != nil || b != w.beneficiary.Address() {
		t.Fatalf("beneficiary %s, %v", b, err)
	}
	ch, err := c.ConsumerChannel(ctx, w.consumer.Address(), w.hermes.Address())
	if err != nil || ch.Balance.Int64() != 10_000 || ch.Deposited().Int64() != 10_000 {
		t.Fatalf("consumer channel %+v, %v", ch, err)
	}
	if w.pool(t) != 5000 {
		t.Fatalf("pool %d, want 5000", w.pool(t))
	}

	// The hermes pulls 1000 then 2500 (cumulative) from the consumer channel.
	p1, r1 := w.promise(t, w.consumer, w.consumer.Address(), 1337, 1000, 20)
	if err := c.SettlePromise(ctx, w.hermes, w.consumer.Address(), w.hermes.Address(), p1, r1); err != nil {
		t.Fatal(err)
	}
	p2, r2 := w.promise(t, w.consumer, w.consumer.Address(), 1337, 2500, 50)
	if err := c.SettlePromise(ctx, w.provider, w.consumer.Address(), w.hermes.Address(), p2, r2); err != nil {
		t.Fatal(err)
	}
	ch, _ = c.ConsumerChannel(ctx, w.consumer.Address(), w.hermes.Address())
	if ch.Balance.Int64() != 7500 || ch.Settled.Int64() != 2500 || ch.Deposited().Int64() != 10_000 {
		t.Fatalf("consumer channel after settle %+v", ch)
	}
	if w.pool(t) != 7500 {
		t.Fatalf("pool %d, want 7500", w.pool(t))
	}

	// The provider settles hermes promises: pays (amount − settled) − (fee − feeSettled).
	q1, s1 := w.promise(t, w.hermes, w.provider.Address(), 1337, 1000, 20)
	if err := c.SettleProvider(ctx, w.provider, w.provider.Address(), w.hermes.Address(), q1, s1); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, w.beneficiary.Address()); got != 980 {
		t.Fatalf("beneficiary got %d, want 980", got)
	}
	q2, s2 := w.promise(t, w.hermes, w.provider.Address(), 1337, 2500, 50)
	if err := c.SettleProvider(ctx, w.consumer, w.provider.Address(), w.hermes.Address(), q2, s2); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, w.beneficiary.Address()); got != 2450 {
		t.Fatalf("beneficiary got %d, want 2450", got)
	}
	pc, _ := c.ProviderChannel(ctx, w.provider.Address(), w.hermes.Address())
	if pc.Settled.Int64() != 2500 || pc.FeeSettled.Int64() != 50 {
		t.Fatalf("provider channel %+v", pc)
	}
	// Pool: 7500 − 2450 = 5050; the 50 fee is the hermes's to withdraw, the stake is not.
	if w.pool(t) != 5050 {
		t.Fatalf("pool %d, want 5050", w.pool(t))
	}
	if err := c.HermesWithdraw(ctx, w.hermes, w.beneficiary.Address(), big.NewInt(50)); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, w.beneficiary.Address()); got != 2500 {
		t.Fatalf("beneficiary got %d after withdraw, want 2500", got)
	}

	// Without a registered beneficiary the provider itself is paid.
	other := mustIdentity(t)
	q3, s3 := w.promise(t, w.hermes, other.Address(), 1337, 100, 0)
	if err := c.SettleProvider(ctx, w.provider, other.Address(), w.hermes.Address(), q3, s3); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, other.Address()); got != 100 {
		t.Fatalf("provider without beneficiary got %d, want 100", got)
	}
	// Tokens: transferFrom with an unlimited allowance.
	if err := c.Approve(ctx, w.consumer, maxUint256); err != nil {
		t.Fatal(err)
	}
	if err := c.TopUp(ctx, w.consumer, other.Address(), w.hermes.Address(), big.NewInt(1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Transfer(ctx, w.consumer, other.Address(), big.NewInt(5)); err != nil {
		t.Fatal(err)
	}
	if got := w.balance(t, other.Address()); got != 105 {
		t.Fatalf("transfer: got %d, want 105", got)
	}
}

func TestContractReverts(t *testing.T) {
	w := newContractWorld(t)
	ctx := context.Background()
	c := w.chain
	H, C, P := w.hermes.Address(), w.consumer.Address(), w.provider.Address()
	stranger := w.stranger
	zero := common.Address{}
	chainID := big.NewInt(1337)

	rawSettle := func(method string, from *identity.Identity, party common.Address, p Promise, r [32]byte) error {
		var data []byte
		if method == "settlePromise" {
			data = c.reg.PackSettlePromise(party, H, new(big.Int).SetUint64(p.ChainID), p.Amount, p.Fee, r, p.Signature)
		} else {
			data = c.reg.PackSettleProvider(party, H, new(big.Int).SetUint64(p.ChainID), p.Amount, p.Fee, r, p.Signature)
		}
		_, err := c.transact(ctx, from, c.registry, method, data)
		return err
	}
	withSig := func(p Promise, mutate func([]byte) []byte) Promise {
		q := p.Clone()
		q.Signature = mutate(q.Signature)
		return q
	}

	// Token.
	wantRevert(t, c.Mint(ctx, w.consumer, zero, big.NewInt(1)), "mint to zero address")
	wantRevert(t, c.Transfer(ctx, w.consumer, zero, big.NewInt(1)), "transfer to zero address")
	wantRevert(t, c.Transfer(ctx, stranger, C, big.NewInt(1)), "insufficient balance")
	_, err := c.transact(ctx, stranger, c.token, "transferFrom", c.tok.PackTransferFrom(C, stranger.Address(), big.NewInt(1)))
	wantRevert(t, err, "insufficient allowance")

	// Registry constructor.
	opts := bind.NewKeyedTransactor(w.deployer.PrivateKey(), chainID)
	_, _, err = bind.DeployContract(opts, common.FromHex(bindings.RegistryMetaData.Bin), w.sim.Client(), c.reg.PackConstructor(zero, big.NewInt(1), big.NewInt(1), big.NewInt(1)))
	wantRevert(t, revertError("constructor", err), "token is zero address")
	_, _, err = bind.DeployContract(opts, common.FromHex(bindings.RegistryMetaData.Bin), w.sim.Client(), c.reg.PackConstructor(c.Token(), big.NewInt(1), big.NewInt(0), big.NewInt(1)))
	wantRevert(t, revertError("constructor", err), "withdraw delay is zero")
	_, _, err = bind.DeployContract(opts, common.FromHex(bindings.RegistryMetaData.Bin), w.sim.Client(), c.reg.PackConstructor(c.Token(), big.NewInt(1), big.NewInt(1), big.NewInt(0)))
	wantRevert(t, revertError("constructor", err), "leave delay is zero")

	// Identities and hermes registration.
	wantRevert(t, c.RegisterIdentity(ctx, w.provider, zero), "beneficiary is zero address")
	wantRevert(t, c.RegisterHermes(ctx, w.hermes, big.NewInt(5000)), "hermes already registered")
	wantRevert(t, c.RegisterHermes(ctx, w.consumer, big.NewInt(999)), "stake below minimum")
	_, err = c.transact(ctx, stranger, c.registry, "registerHermes", c.reg.PackRegisterHermes(big.NewInt(1000)))
	wantRevert(t, err, "insufficient allowance")
	rawWithdraw := func(from *identity.Identity, to common.Address, amount int64) error {
		_, err := c.transact(ctx, from, c.registry, "hermesWithdraw", c.reg.PackHermesWithdraw(to, big.NewInt(amount)))
		return err
	}
	wantRevert(t, rawWithdraw(stranger, C, 1), "hermes not registered")
	wantRevert(t, rawWithdraw(w.hermes, zero, 1), "withdraw to zero address")
	wantRevert(t, rawWithdraw(w.hermes, C, 0), "zero amount")
	wantRevert(t, rawWithdraw(w.hermes, C, 1), "amount exceeds earned fees")

	// Top-ups.
	wantRevert(t, c.TopUp(ctx, w.consumer, C, stranger.Address(), big.NewInt(1)), "hermes not registered")
	wantRevert(t, c.TopUp(ctx, w.consumer, zero, H, big.NewInt(1)), "bad consumer")
	wantRevert(t, c.TopUp(ctx, w.consumer, H, H, big.NewInt(1)), "bad consumer")
	wantRevert(t, c.TopUp(ctx, w.consumer, C, H, big.NewInt(0)), "zero amount")
	wantRevert(t, c.TopUp(ctx, stranger, C, H, big.NewInt(1)), "insufficient balance")

	// settlePromise (hermes pulls consumer funds).
	good, r := w.promise(t, w.consumer, C, 1337, 1000, 10)
	wrongChain, rw := w.promise(t, w.consumer, C, 1, 1000, 10)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, wrongChain, rw), "wrong chain")
	_, err = c.transact(ctx, w.hermes, c.registry, "settlePromise",
		c.reg.PackSettlePromise(C, stranger.Address(), chainID, good.Amount, good.Fee, r, good.Signature))
	wantRevert(t, err, "hermes not registered")
	feeHigh := good.Clone()
	feeHigh.Fee = big.NewInt(1001)
	wantRevert(t, rawSettle("settlePromise", w.hermes, C, feeHigh, r), "fee exceeds amount")
	byProvider, rp := w.promise(t, w.provider, C, 1337, 1000, 10)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, byProvider, rp), "bad signature")
	byHermes, rh := w.promise(t, w.hermes, C, 1337, 1000, 10)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, byHermes, rh), "bad signature")
	var wrongR [32]byte
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, good, wrongR), "bad signature")
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, withSig(good, func(s []byte) []byte { s[64] -= 27; return s }), r), "bad signature")
	wantRevert(t, rawSettle("settlePromise", w.hermes, C, withSig(good, func(s []byte) []byte { return s[:64] }), r), "bad signature")
	// High-S twin of a valid signature: s' = n − s, V flipped.
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, withSig(good, highS), r), "bad signature")
	// Consumer address zero with garbage signature must not pass as ecrecover's zero.
	wantRevert(t, rawSettle("settlePromise", w.hermes, zero, withSig(good, func(s []byte) []byte { clear(s); s[64] = 27; return s }), r), "bad signature")
	tooMuch, rt := w.promise(t, w.consumer, C, 1337, 10_001, 0)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, tooMuch, rt), "insufficient channel balance")
	if err := c.SettlePromise(ctx, w.hermes, C, H, good, r); err != nil {
		t.Fatal(err)
	}
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, good, r), "already settled")
	older, ro := w.promise(t, w.consumer, C, 1337, 999, 0)
	wantRevert(t, c.SettlePromise(ctx, w.hermes, C, H, older, ro), "already settled")

	// settleProvider (provider settles a hermes promise).
	q, s := w.promise(t, w.hermes, P, 1337, 1000, 100)
	qWrong, sWrong := w.promise(t, w.hermes, P, 1, 1000, 100)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, qWrong, sWrong), "wrong chain")
	_, err = c.transact(ctx, w.provider, c.registry, "settleProvider",
		c.reg.PackSettleProvider(P, stranger.Address(), chainID, q.Amount, q.Fee, s, q.Signature))
	wantRevert(t, err, "hermes not registered")
	qFee := q.Clone()
	qFee.Fee = big.NewInt(1001)
	wantRevert(t, rawSettle("settleProvider", w.provider, P, qFee, s), "fee exceeds amount")
	qByProvider, sp := w.promise(t, w.provider, P, 1337, 1000, 100)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, qByProvider, sp), "bad signature")
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, q, wrongR), "bad signature")
	// A consumer promise cannot be settled as a provider promise (other signer).
	wantRevert(t, c.SettleProvider(ctx, w.provider, C, H, good, r), "bad signature")
	// Another provider cannot use P's promise: the channel ID differs.
	wantRevert(t, c.SettleProvider(ctx, stranger, stranger.Address(), H, q, s), "bad signature")
	// A hermes cannot be its own provider.
	self, ss := w.promise(t, w.hermes, H, 1337, 10, 0)
	wantRevert(t, c.SettleProvider(ctx, w.hermes, H, H, self, ss), "bad signature")
	huge, sh := w.promise(t, w.hermes, P, 1337, 1_000_000, 0)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, huge, sh), "hermes pool insufficient")
	if err := c.SettleProvider(ctx, w.provider, P, H, q, s); err != nil {
		t.Fatal(err)
	}
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, q, s), "already settled")
	feeDown, sd := w.promise(t, w.hermes, P, 1337, 2000, 99)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, feeDown, sd), "fee decreased")
	// Fee increase larger than the amount increase: 1000→1100 with fee 100→250.
	feeJump, sj := w.promise(t, w.hermes, P, 1337, 1100, 250)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, feeJump, sj), "fee exceeds amount")
}

// highS turns a valid signature into its malleable high-S twin.
func highS(sig []byte) []byte {
	n, _ := new(big.Int).SetString("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16)
	s := new(big.Int).SetBytes(sig[32:64])
	s.Sub(n, s)
	s.FillBytes(sig[32:64])
	sig[64] ^= 1 // 27 <-> 28
	return sig
}

// TestContractTokenTransferFailures covers the "token transfer failed"
// reverts with a token that returns false instead of reverting.
func TestContractTokenTransferFailures(t *testing.T) {
	w := newContractWorld(t) // for its funded identities and chain
	ctx := context.Background()
	sim := w.sim.Client()
	opts := bind.NewKeyedTransactor(w.deployer.PrivateKey(), big.NewInt(1337))
	ft := bindings.NewFailingToken()
	tokenAddr, _, err := bind.DeployContract(opts, common.FromHex(bindings.FailingTokenMetaData.Bin), sim, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.sim.Commit()
	regAddr, _, err := bind.DeployContract(opts, common.FromHex(bindings.RegistryMetaData.Bin), sim, w.chain.reg.PackConstructor(tokenAddr, big.NewInt(10), big.NewInt(testWithdrawDelay), big.NewInt(testLeaveDelay)))
	if err != nil {
		t.Fatal(err)
	}
	w.sim.Commit()
	c, err := NewChain(ctx, sim, regAddr, WithMiner(func() { w.sim.Commit() }))
	if err != nil {
		t.Fatal(err)
	}
	H, C, P := w.hermes.Address(), w.consumer.Address(), w.provider.Address()
	for _, id := range []*identity.Identity{w.hermes, w.consumer, w.stranger} {
		if err := c.Mint(ctx, id, id.Address(), big.NewInt(10_000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RegisterHermes(ctx, w.hermes, big.NewInt(100)); err != nil {
		t.Fatal(err)
	}
	if err := c.TopUp(ctx, w.consumer, C, H, big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	cp, cr := w.promise(t, w.consumer, C, 1337, 500, 0)
	if err := c.SettlePromise(ctx, w.hermes, C, H, cp, cr); err != nil {
		t.Fatal(err)
	}
	// The hub earns a fee (a provider settles).
	fp, fr := w.promise(t, w.hermes, w.stranger.Address(), 1337, 100, 10)
	if err := c.SettleProvider(ctx, w.provider, w.stranger.Address(), H, fp, fr); err != nil {
		t.Fatal(err)
	}
	// Allowances are in place, then the token starts failing.
	if err := c.Approve(ctx, w.consumer, big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	if err := c.Approve(ctx, w.stranger, big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.transact(ctx, w.deployer, c.token, "setFailing", ft.PackSetFailing(true)); err != nil {
		t.Fatal(err)
	}
	_, err = c.transact(ctx, w.stranger, c.registry, "registerHermes", c.reg.PackRegisterHermes(big.NewInt(100)))
	wantRevert(t, err, "token transfer failed")
	_, err = c.transact(ctx, w.consumer, c.registry, "topUp", c.reg.PackTopUp(C, H, big.NewInt(1)))
	wantRevert(t, err, "token transfer failed")
	// The consumer and the hub announce their withdrawal and leave, and the delays pass.
	if _, err := c.AnnounceWithdrawal(ctx, w.consumer, H); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnnounceLeave(ctx, w.hermes); err != nil {
		t.Fatal(err)
	}
	w.mine(testLeaveDelay)
	wantRevert(t, c.HermesWithdraw(ctx, w.hermes, C, big.NewInt(1)), "token transfer failed")
	pp, pr := w.promise(t, w.hermes, P, 1337, 100, 0)
	wantRevert(t, c.SettleProvider(ctx, w.provider, P, H, pp, pr), "token transfer failed")
	_, err = c.Withdraw(ctx, w.consumer, H, C)
	wantRevert(t, err, "token transfer failed")
	_, err = c.WithdrawStake(ctx, w.hermes, H)
	wantRevert(t, err, "token transfer failed")
}
