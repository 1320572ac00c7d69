package hermes

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// goldenPromise is a fixed promise whose hash is pinned in TestGoldenVectors.
func goldenPromise() Promise {
	return Promise{
		ChainID:   1337,
		ChannelID: ChannelID(common.HexToAddress("0x1111111111111111111111111111111111111111"), common.HexToAddress("0x2222222222222222222222222222222222222222")),
		Amount:    big.NewInt(1_000_000_000_000_000_000),
		Fee:       big.NewInt(25_000_000_000_000_000),
		Hashlock:  Hashlock([32]byte{1, 2, 3}),
	}
}
