package hermes

import (
	"encoding/hex"
	"testing"

	"github.com/mystp2p/mystp2p/identity"
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

// goldenKey signs the golden vectors (a fixed test key, never used elsewhere).
const goldenKey = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

func goldenExchange(t testing.TB) ExchangeMessage {
	t.Helper()
	id, err := identity.FromHex(goldenKey)
	if err != nil {
		t.Fatal(err)
	}
	m := ExchangeMessage{
		Promise:        goldenPromise(),
		AgreementID:    [32]byte{0xaa, 0xbb},
		AgreementTotal: big.NewInt(975_000_000_000_000_000),
		Provider:       common.HexToAddress("0x3333333333333333333333333333333333333333"),
		Hermes:         common.HexToAddress("0x2222222222222222222222222222222222222222"),
	}
	if err := m.Sign(id); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGoldenVectors(t *testing.T) {
	p := goldenPromise()
	h := p.Hash()
	for _, tc := range []struct{ name, got, want string }{
		{"channel ID", hex.EncodeToString(p.ChannelID[:]), goldenChannelID},
		{"hashlock", hex.EncodeToString(p.Hashlock[:]), goldenHashlock},
		{"promise hash", hex.EncodeToString(h[:]), goldenPromiseHash},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %s, want %s", tc.name, tc.got, tc.want)
		}
	}

	// Signatures are deterministic (RFC 6979), so whole encodings are golden too.
	m := goldenExchange(t)
	pb, err := m.Promise.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(pb); got != goldenPromiseBinary {
		t.Errorf("promise binary = %s\nwant %s", got, goldenPromiseBinary)
	}
	eh := m.Hash()
	if got := hex.EncodeToString(eh[:]); got != goldenExchangeHash {
		t.Errorf("exchange hash = %s, want %s", got, goldenExchangeHash)
	}
	mb, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(mb); got != goldenExchangeBinary {
		t.Errorf("exchange binary = %s\nwant %s", got, goldenExchangeBinary)
	}
	inv := Invoice{
		AgreementID: [32]byte{0xaa, 0xbb}, AgreementTotal: big.NewInt(975), Fee: big.NewInt(25),
		Hashlock: p.Hashlock, Provider: m.Provider, ChainID: 1337,
	}
	ib, err := inv.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(ib); got != goldenInvoiceBinary {
		t.Errorf("invoice binary = %s\nwant %s", got, goldenInvoiceBinary)
	}
}

const (
	goldenChannelID      = "a284ddd69adb56d959922d24c73d2cd9e6b24d5e789a4106eca975c86ec900e1"
	goldenHashlock       = "56124931ab59c7e57be4479a70532e29a620a6fa6ee371fdcf2edd845a8945df"
	goldenPromiseHash    = "f73a6dab2be29cbb85ad25fbcc273a5337ef40e8c006ef86756e8ccf86237af0"
	goldenPromiseBinary  = "0000000000000000000000000000000000000000000000000000000000000539a284ddd69adb56d959922d24c73d2cd9e6b24d5e789a4106eca975c86ec900e10000000000000000000000000000000000000000000000000de0b6b3a76400000000000000000000000000000000000000000000000000000058d15e1762800056124931ab59c7e57be4479a70532e29a620a6fa6ee371fdcf2edd845a8945df7aa644f5d211309f756003aa5f0fb142ba7f519c0c527513d75c721cdabf639923f288ed14a35934ffc018e2456d6a4bc2ef0cafb549deb4aa8b79ce650422511c"
	goldenExchangeHash   = "0fc6741d173041636445ebffdcc9e48a9c7de8ea984ceeed7b2abdedf489cdea"
	goldenExchangeBinary = "0000000000000000000000000000000000000000000000000000000000000539a284ddd69adb56d959922d24c73d2cd9e6b24d5e789a4106eca975c86ec900e10000000000000000000000000000000000000000000000000de0b6b3a76400000000000000000000000000000000000000000000000000000058d15e1762800056124931ab59c7e57be4479a70532e29a620a6fa6ee371fdcf2edd845a8945df7aa644f5d211309f756003aa5f0fb142ba7f519c0c527513d75c721cdabf639923f288ed14a35934ffc018e2456d6a4bc2ef0cafb549deb4aa8b79ce650422511caabb0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000d87e5559001800033333333333333333333333333333333333333332222222222222222222222222222222222222222cceedc5421e5eee0169f01c02ad3a8b1564096c828cc5f70d0819dc0ae5dfc6c72ddaf27372c707e6f16c20a229a14a845224bbe8a284a97bd6e5bc473203dae1c"
	goldenInvoiceBinary  = "aabb00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003cf000000000000000000000000000000000000000000000000000000000000001956124931ab59c7e57be4479a70532e29a620a6fa6ee371fdcf2edd845a8945df33333333333333333333333333333333333333330000000000000539"
)

func identityFromHex(t testing.TB, k string) (*identity.Identity, error) {
	t.Helper()
	id, err := identity.FromHex(k)
	if err != nil {
		t.Fatal(err)
	}
	return id, nil
}
