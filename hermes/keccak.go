package hermes

import (
	"sync"

	ethcrypto "github.com/ethereum/go-ethereum/crypto"
)

// keccak is a Keccak-256 state with room for the preimages this package
// hashes (at most a promise's 160 bytes) and the digest. Hashing through
// it allocates nothing: ethcrypto.Keccak256Hash takes its input and output
// through an interface, which moves both to the heap on every call, and the
// hub hashes seven times per promise.
type keccak struct {
	st  ethcrypto.KeccakState
	buf [160]byte
	sum [32]byte
}

var keccakPool = sync.Pool{New: func() any { return &keccak{st: ethcrypto.NewKeccakState()} }}

func getKeccak() *keccak { return keccakPool.Get().(*keccak) }

// sum256 returns keccak256(k.buf[:n]) and puts k back in the pool; k must
// not be used afterwards.
func (k *keccak) sum256(n int) [32]byte {
	k.st.Reset()
	k.st.Write(k.buf[:n])
	k.st.Read(k.sum[:])
	sum := k.sum
	keccakPool.Put(k)
	return sum
}

// keccak256 is keccak256(b), without allocating for b of up to 160 bytes.
func keccak256(b []byte) [32]byte {
	if len(b) > len(keccak{}.buf) {
		return ethcrypto.Keccak256Hash(b)
	}
	k := getKeccak()
	return k.sum256(copy(k.buf[:], b))
}
