package hermes

import (
	"context"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// richBalances says every consumer channel holds plenty.
type richBalances struct{}

func (richBalances) ConsumerChannel(context.Context, common.Address, common.Address) (ChannelState, error) {
	return ChannelState{Balance: new(big.Int).Lsh(big.NewInt(1), 128), Settled: new(big.Int), FeeSettled: new(big.Int)}, nil
}

// benchLane is one consumer paying one provider, pre-signed in order. Only
// one goroutine ever works a lane, so its promises arrive in order.
type benchLane struct {
	provider common.Address
	pays     []payment
}

// BenchmarkHermesExchange measures the full hub path per promise: recover
// and check the consumer's exchange message and promise, check amounts,
// fee, deposit and R, sign the hermes promise and fsync the new state
// (concurrent requests share fsyncs). Many requests are in flight at once,
// as on a busy hub; promises/s is the figure to read.
func BenchmarkHermesExchange(b *testing.B) {
	const parallelism = 64 // in-flight requests per CPU
	hermes := mustIdentity(b)
	store, _ := openTestStore(b)
	hub, err := NewHub(HubConfig{Signer: hermes, ChainID: 1337, FeeBp: 250, Store: store, Balances: richBalances{}})
	if err != nil {
		b.Fatal(err)
	}
	workers := parallelism * runtime.GOMAXPROCS(0)
	laneLen := max(1, b.N/(4*workers))
	lanes := make([]benchLane, (b.N+laneLen-1)/laneLen+workers)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(lanes); i = int(next.Add(1) - 1) {
				consumer, provider := mustIdentity(b), mustIdentity(b)
				w := newWallet(b, consumer, hermes.Address())
				l := benchLane{provider: provider.Address(), pays: make([]payment, laneLen)}
				for k := range laneLen {
					l.pays[k] = pay(b, w, [32]byte{byte(i), byte(i >> 8), byte(i >> 16)}, l.provider, int64(k+1)*1000, 1000, 25)
				}
				lanes[i] = l
			}
		})
	}
	wg.Wait()

	var claimed atomic.Int64
	ctx := context.Background()
	b.SetParallelism(parallelism)
	cpu0, cpuOK := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		lane, k := &lanes[claimed.Add(1)-1], 0
		for pb.Next() {
			if k == len(lane.pays) {
				lane, k = &lanes[claimed.Add(1)-1], 0
			}
			p := lane.pays[k]
			k++
			if _, err := hub.Exchange(ctx, lane.provider, p.m, p.r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "promises/s")
	// CPU per promise tells what an idle machine would do, whatever else
	// shares this one: promises/s ≈ cores / cpu-µs/op.
	if cpu1, ok := processCPU(b); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// BenchmarkPromiseCrypto is the floor under BenchmarkHermesExchange: only
// the signature work one promise needs at the hub (recover the consumer's
// promise signer, verify its exchange message signature, sign the hermes
// promise), as many at once as there are CPUs. Its promises/s is the most
// any hub can do on this machine with full verification.
func BenchmarkPromiseCrypto(b *testing.B) {
	id := mustIdentity(b)
	h := crypto.Keccak256([]byte("promise"))
	sig, err := id.SignHash(h)
	if err != nil {
		b.Fatal(err)
	}
	rsv := append([]byte{}, sig...)
	rsv[64] -= 27 // go-ethereum's recovery id
	pub := crypto.FromECDSAPub(&id.PrivateKey().PublicKey)
	cpu0, cpuOK := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := crypto.Ecrecover(h, rsv); err != nil {
				b.Error(err)
				return
			}
			if !crypto.VerifySignature(pub, h, rsv[:64]) {
				b.Error("signature does not verify")
				return
			}
			if _, err := id.SignHash(h); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "promises/s")
	if cpu1, ok := processCPU(b); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
