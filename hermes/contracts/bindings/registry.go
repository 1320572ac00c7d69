// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package bindings

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// RegistryMetaData contains all meta data concerning the Registry contract.
var RegistryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"minStake_\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"}],\"name\":\"HermesRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"HermesWithdrawn\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"identity\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"}],\"name\":\"IdentityRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"PromiseSettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"paid\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"}],\"name\":\"ProviderSettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"ToppedUp\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"beneficiaryOf\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"party\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"}],\"name\":\"channelId\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"pure\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"consumerChannels\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"settled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"feeSettled\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"hermesWithdraw\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"hubs\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"registered\",\"type\":\"bool\"},{\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"pool\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"minStake\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"channel\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"hashlock\",\"type\":\"bytes32\"}],\"name\":\"promiseHash\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"pure\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"providerChannels\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"settled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"feeSettled\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"}],\"name\":\"registerHermes\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"}],\"name\":\"registerIdentity\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"r\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"settlePromise\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"r\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"settleProvider\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"topUp\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "Registry",
	Bin: "0x60c060405234801561000f575f5ffd5b506040516114f93803806114f983398101604081905261002e9161009e565b6001600160a01b0382166100885760405162461bcd60e51b815260206004820152601560248201527f746f6b656e206973207a65726f20616464726573730000000000000000000000604482015260640160405180910390fd5b6001600160a01b0390911660805260a0526100d5565b5f5f604083850312156100af575f5ffd5b82516001600160a01b03811681146100c5575f5ffd5b6020939093015192949293505050565b60805160a0516113e76101125f395f818161017e0152610a2d01525f81816102c801528181610c1301528181610f6a015261107d01526113e75ff3fe608060405234801561000f575f5ffd5b50600436106100e5575f3560e01c80638bbe2fe611610088578063ba7bffd311610063578063ba7bffd314610220578063ca3106ae14610260578063df95d546146102b0578063fc0c546a146102c3575f5ffd5b80638bbe2fe6146101e7578063a1e459c0146101fa578063a70165d11461020d575f5ffd5b8063375b3c0a116100c3578063375b3c0a1461017957806363b8f8ff146101ae57806369901858146101c15780637459e1f5146101d4575f5ffd5b806322064036146100e957806325efa4d6146100fe5780632675dc631461014b575b5f5ffd5b6100fc6100f7366004611122565b6102ea565b005b61012b61010c3660046111d4565b600260208190525f918252604090912080546001820154919092015483565b604080519384526020840192909252908201526060015b60405180910390f35b61012b6101593660046111d4565b60036020525f908152604090208054600182015460029092015490919083565b6101a07f000000000000000000000000000000000000000000000000000000000000000081565b604051908152602001610142565b6100fc6101bc3660046111eb565b610476565b6100fc6101cf366004611204565b61052b565b6101a06101e236600461123e565b610695565b6101a06101f536600461126f565b6106df565b6100fc610208366004611122565b610725565b6100fc61021b3660046111d4565b6109cb565b61024861022e3660046111eb565b5f602081905290815260409020546001600160a01b031681565b6040516001600160a01b039091168152602001610142565b61029361026e3660046111eb565b600160208190525f918252604090912080549181015460029091015460ff9092169183565b604080519315158452602084019290925290820152606001610142565b6100fc6102be3660046112a6565b610aed565b6102487f000000000000000000000000000000000000000000000000000000000000000081565b46861461032c5760405162461bcd60e51b815260206004820152600b60248201526a3bb937b7339031b430b4b760a91b60448201526064015b60405180910390fd5b6001600160a01b0387165f908152600160205260409020805460ff166103645760405162461bcd60e51b8152600401610323906112ce565b858511156103845760405162461bcd60e51b8152600401610323906112fd565b5f61038f8a8a610695565b90505f6103c789838a8a8a6040516020016103ac91815260200190565b604051602081830303815290604052805190602001206106df565b90505f6103d5828787610ce2565b90506001600160a01b0381161580159061040057508a6001600160a01b0316816001600160a01b0316145b801561041e57508a6001600160a01b03168c6001600160a01b031614155b61045a5760405162461bcd60e51b815260206004820152600d60248201526c626164207369676e617475726560981b6044820152606401610323565b61046883858e8e8d8d610dbf565b505050505050505050505050565b6001600160a01b0381166104cc5760405162461bcd60e51b815260206004820152601b60248201527f62656e6566696369617279206973207a65726f206164647265737300000000006044820152606401610323565b335f818152602081815260409182902080546001600160a01b0319166001600160a01b03861690811790915591519182527f6ae73635c50d24a45af6fbd5e016ac4bed179addbc8bf24e04ff0fcc6d33af19910160405180910390a250565b6001600160a01b0382165f9081526001602052604090205460ff166105625760405162461bcd60e51b8152600401610323906112ce565b6001600160a01b0383161580159061058c5750816001600160a01b0316836001600160a01b031614155b6105c75760405162461bcd60e51b815260206004820152600c60248201526b3130b21031b7b739bab6b2b960a11b6044820152606401610323565b5f81116106045760405162461bcd60e51b815260206004820152600b60248201526a1e995c9bc8185b5bdd5b9d60aa1b6044820152606401610323565b5f61060f8484610695565b5f8181526002602052604081208054929350849290919061063190849061133d565b9091555061064190503383611051565b826001600160a01b0316846001600160a01b0316827f303e5fd44bab2e078463f05730a49a83f3ed1ae3193144418721bcc83c76f2a88560405161068791815260200190565b60405180910390a450505050565b6040516bffffffffffffffffffffffff19606084811b8216602084015283901b1660348201525f906048016040516020818303038152906040528051906020012090505b92915050565b60408051602080820197909752808201959095526060850193909352608084019190915260a0808401919091528151808403909101815260c09092019052805191012090565b4686146107625760405162461bcd60e51b815260206004820152600b60248201526a3bb937b7339031b430b4b760a91b6044820152606401610323565b6001600160a01b0387165f908152600160205260409020805460ff1661079a5760405162461bcd60e51b8152600401610323906112ce565b858511156107ba5760405162461bcd60e51b8152600401610323906112fd565b5f6107c58a8a610695565b90505f6107e289838a8a8a6040516020016103ac91815260200190565b90505f6107f0828787610ce2565b90506001600160a01b0381161580159061081b57508b6001600160a01b0316816001600160a01b0316145b801561083957508a6001600160a01b03168c6001600160a01b031614155b6108755760405162461bcd60e51b815260206004820152600d60248201526c626164207369676e617475726560981b6044820152606401610323565b5f83815260026020526040902060018101548a116108c75760405162461bcd60e51b815260206004820152600f60248201526e185b1c9958591e481cd95d1d1b1959608a1b6044820152606401610323565b5f81600101548b6108d89190611350565b825490915081111561092c5760405162461bcd60e51b815260206004820152601c60248201527f696e73756666696369656e74206368616e6e656c2062616c616e6365000000006044820152606401610323565b80825f015f82825461093e9190611350565b9091555050600182018b905560028083018b9055860180548291905f9061096690849061133d565b925050819055508c6001600160a01b03168e6001600160a01b0316867f054945d445e3512ebe3302163b4d5691e29958f2dad1db174c1d44d3db43cc8f846040516109b391815260200190565b60405180910390a45050505050505050505050505050565b335f908152600160205260409020805460ff1615610a2b5760405162461bcd60e51b815260206004820152601960248201527f6865726d657320616c72656164792072656769737465726564000000000000006044820152606401610323565b7f0000000000000000000000000000000000000000000000000000000000000000821015610a915760405162461bcd60e51b81526020600482015260136024820152727374616b652062656c6f77206d696e696d756d60681b6044820152606401610323565b805460ff191660019081178255810182905560028101829055610ab43383611051565b60405182815233907f02bfa40b6b811a875b78f24e7f5b6dde72a5f55e1dbeadc711e716f9f397cfc09060200160405180910390a25050565b335f908152600160205260409020805460ff16610b1c5760405162461bcd60e51b8152600401610323906112ce565b6001600160a01b038316610b725760405162461bcd60e51b815260206004820152601860248201527f776974686472617720746f207a65726f206164647265737300000000000000006044820152606401610323565b818160010154610b82919061133d565b81600201541015610bd55760405162461bcd60e51b815260206004820152601c60248201527f7769746864726177616c20776f756c6420746f756368207374616b65000000006044820152606401610323565b81816002015f828254610be89190611350565b909155505060405163a9059cbb60e01b81526001600160a01b038481166004830152602482018490527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af1158015610c59573d5f5f3e3d5ffd5b505050506040513d601f19601f82011682018060405250810190610c7d9190611363565b610c995760405162461bcd60e51b815260040161032390611382565b604080516001600160a01b03851681526020810184905233917f34ef5bcab3bba544364f0356dc6f74508bf56bbf5146dd46a44c096cdec1759d910160405180910390a2505050565b5f60418214610cf257505f610db8565b8235602084013560408501355f1a601b8114801590610d1557508060ff16601c14155b15610d25575f9350505050610db8565b7f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0821115610d58575f9350505050610db8565b604080515f81526020810180835289905260ff831691810191909152606081018490526080810183905260019060a0016020604051602081039080840390855afa158015610da8573d5f5f3e3d5ffd5b5050506020604051035193505050505b9392505050565b5f86815260036020526040902060018101548311610e115760405162461bcd60e51b815260206004820152600f60248201526e185b1c9958591e481cd95d1d1b1959608a1b6044820152606401610323565b8060020154821015610e555760405162461bcd60e51b815260206004820152600d60248201526c19995948191958dc99585cd959609a1b6044820152606401610323565b5f816002015483610e669190611350565b90505f826001015485610e799190611350565b905080821115610e9b5760405162461bcd60e51b8152600401610323906112fd565b5f610ea68383611350565b90508089600201541015610efc5760405162461bcd60e51b815260206004820152601860248201527f6865726d657320706f6f6c20696e73756666696369656e7400000000000000006044820152606401610323565b80896002015f828254610f0f9190611350565b909155505060018401869055600284018590556001600160a01b038089165f908152602081905260409020541680610f445750875b60405163a9059cbb60e01b81526001600160a01b038281166004830152602482018490527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af1158015610fb0573d5f5f3e3d5ffd5b505050506040513d601f19601f82011682018060405250810190610fd49190611363565b610ff05760405162461bcd60e51b815260040161032390611382565b604080516001600160a01b03838116825260208201859052918101869052818a16918b16908d907fca2d7f7fb3e2439783e95cd42f8f2e01997524ae66abd0f80e6dadac8af09dd39060600160405180910390a45050505050505050505050565b6040516323b872dd60e01b81526001600160a01b038381166004830152306024830152604482018390527f000000000000000000000000000000000000000000000000000000000000000016906323b872dd906064016020604051808303815f875af11580156110c3573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906110e79190611363565b6111035760405162461bcd60e51b815260040161032390611382565b5050565b80356001600160a01b038116811461111d575f5ffd5b919050565b5f5f5f5f5f5f5f5f60e0898b031215611139575f5ffd5b61114289611107565b975061115060208a01611107565b965060408901359550606089013594506080890135935060a0890135925060c089013567ffffffffffffffff811115611187575f5ffd5b8901601f81018b13611197575f5ffd5b803567ffffffffffffffff8111156111ad575f5ffd5b8b60208284010111156111be575f5ffd5b989b979a50959850939692959194602001935050565b5f602082840312156111e4575f5ffd5b5035919050565b5f602082840312156111fb575f5ffd5b610db882611107565b5f5f5f60608486031215611216575f5ffd5b61121f84611107565b925061122d60208501611107565b929592945050506040919091013590565b5f5f6040838503121561124f575f5ffd5b61125883611107565b915061126660208401611107565b90509250929050565b5f5f5f5f5f60a08688031215611283575f5ffd5b505083359560208501359550604085013594606081013594506080013592509050565b5f5f604083850312156112b7575f5ffd5b6112c083611107565b946020939093013593505050565b6020808252601590820152741a195c9b595cc81b9bdd081c9959da5cdd195c9959605a1b604082015260600190565b60208082526012908201527119995948195e18d959591cc8185b5bdd5b9d60721b604082015260600190565b634e487b7160e01b5f52601160045260245ffd5b808201808211156106d9576106d9611329565b818103818111156106d9576106d9611329565b5f60208284031215611373575f5ffd5b81518015158114610db8575f5ffd5b6020808252601590820152741d1bdad95b881d1c985b9cd9995c8819985a5b1959605a1b60408201526060019056fea2646970667358221220a2addf16c72236551aa169f5296dc791f0f9b3a192c465457ce36f571fdd687664736f6c634300081c0033",
}

// Registry is an auto generated Go binding around an Ethereum contract.
type Registry struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *Registry) GetABI() abi.ABI {
	return c.abi
}

// NewRegistry creates a new instance of Registry.
func NewRegistry() *Registry {
	parsed, err := RegistryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &Registry{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *Registry) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address token_, uint256 minStake_) returns()
func (registry *Registry) PackConstructor(token_ common.Address, minStake_ *big.Int) []byte {
	enc, err := registry.abi.Pack("", token_, minStake_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackBeneficiaryOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xba7bffd3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function beneficiaryOf(address ) view returns(address)
func (registry *Registry) PackBeneficiaryOf(arg0 common.Address) []byte {
	enc, err := registry.abi.Pack("beneficiaryOf", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBeneficiaryOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xba7bffd3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function beneficiaryOf(address ) view returns(address)
func (registry *Registry) TryPackBeneficiaryOf(arg0 common.Address) ([]byte, error) {
	return registry.abi.Pack("beneficiaryOf", arg0)
}

// UnpackBeneficiaryOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xba7bffd3.
//
// Solidity: function beneficiaryOf(address ) view returns(address)
func (registry *Registry) UnpackBeneficiaryOf(data []byte) (common.Address, error) {
	out, err := registry.abi.Unpack("beneficiaryOf", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackChannelId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7459e1f5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function channelId(address party, address hermes) pure returns(bytes32)
func (registry *Registry) PackChannelId(party common.Address, hermes common.Address) []byte {
	enc, err := registry.abi.Pack("channelId", party, hermes)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackChannelId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7459e1f5.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function channelId(address party, address hermes) pure returns(bytes32)
func (registry *Registry) TryPackChannelId(party common.Address, hermes common.Address) ([]byte, error) {
	return registry.abi.Pack("channelId", party, hermes)
}

// UnpackChannelId is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x7459e1f5.
//
// Solidity: function channelId(address party, address hermes) pure returns(bytes32)
func (registry *Registry) UnpackChannelId(data []byte) ([32]byte, error) {
	out, err := registry.abi.Unpack("channelId", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackConsumerChannels is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x25efa4d6.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) PackConsumerChannels(arg0 [32]byte) []byte {
	enc, err := registry.abi.Pack("consumerChannels", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackConsumerChannels is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x25efa4d6.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) TryPackConsumerChannels(arg0 [32]byte) ([]byte, error) {
	return registry.abi.Pack("consumerChannels", arg0)
}

// ConsumerChannelsOutput serves as a container for the return parameters of contract
// method ConsumerChannels.
type ConsumerChannelsOutput struct {
	Balance    *big.Int
	Settled    *big.Int
	FeeSettled *big.Int
}

// UnpackConsumerChannels is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x25efa4d6.
//
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) UnpackConsumerChannels(data []byte) (ConsumerChannelsOutput, error) {
	out, err := registry.abi.Unpack("consumerChannels", data)
	outstruct := new(ConsumerChannelsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Balance = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.Settled = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.FeeSettled = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackHermesWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdf95d546.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hermesWithdraw(address to, uint256 amount) returns()
func (registry *Registry) PackHermesWithdraw(to common.Address, amount *big.Int) []byte {
	enc, err := registry.abi.Pack("hermesWithdraw", to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackHermesWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdf95d546.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function hermesWithdraw(address to, uint256 amount) returns()
func (registry *Registry) TryPackHermesWithdraw(to common.Address, amount *big.Int) ([]byte, error) {
	return registry.abi.Pack("hermesWithdraw", to, amount)
}

// PackHubs is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xca3106ae.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 pool)
func (registry *Registry) PackHubs(arg0 common.Address) []byte {
	enc, err := registry.abi.Pack("hubs", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackHubs is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xca3106ae.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 pool)
func (registry *Registry) TryPackHubs(arg0 common.Address) ([]byte, error) {
	return registry.abi.Pack("hubs", arg0)
}

// HubsOutput serves as a container for the return parameters of contract
// method Hubs.
type HubsOutput struct {
	Registered bool
	Stake      *big.Int
	Pool       *big.Int
}

// UnpackHubs is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xca3106ae.
//
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 pool)
func (registry *Registry) UnpackHubs(data []byte) (HubsOutput, error) {
	out, err := registry.abi.Unpack("hubs", data)
	outstruct := new(HubsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Registered = *abi.ConvertType(out[0], new(bool)).(*bool)
	outstruct.Stake = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.Pool = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackMinStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x375b3c0a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function minStake() view returns(uint256)
func (registry *Registry) PackMinStake() []byte {
	enc, err := registry.abi.Pack("minStake")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMinStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x375b3c0a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function minStake() view returns(uint256)
func (registry *Registry) TryPackMinStake() ([]byte, error) {
	return registry.abi.Pack("minStake")
}

// UnpackMinStake is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x375b3c0a.
//
// Solidity: function minStake() view returns(uint256)
func (registry *Registry) UnpackMinStake(data []byte) (*big.Int, error) {
	out, err := registry.abi.Unpack("minStake", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackPromiseHash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8bbe2fe6.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function promiseHash(uint256 chainId, bytes32 channel, uint256 amount, uint256 fee, bytes32 hashlock) pure returns(bytes32)
func (registry *Registry) PackPromiseHash(chainId *big.Int, channel [32]byte, amount *big.Int, fee *big.Int, hashlock [32]byte) []byte {
	enc, err := registry.abi.Pack("promiseHash", chainId, channel, amount, fee, hashlock)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPromiseHash is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8bbe2fe6.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function promiseHash(uint256 chainId, bytes32 channel, uint256 amount, uint256 fee, bytes32 hashlock) pure returns(bytes32)
func (registry *Registry) TryPackPromiseHash(chainId *big.Int, channel [32]byte, amount *big.Int, fee *big.Int, hashlock [32]byte) ([]byte, error) {
	return registry.abi.Pack("promiseHash", chainId, channel, amount, fee, hashlock)
}

// UnpackPromiseHash is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8bbe2fe6.
//
// Solidity: function promiseHash(uint256 chainId, bytes32 channel, uint256 amount, uint256 fee, bytes32 hashlock) pure returns(bytes32)
func (registry *Registry) UnpackPromiseHash(data []byte) ([32]byte, error) {
	out, err := registry.abi.Unpack("promiseHash", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackProviderChannels is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2675dc63.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) PackProviderChannels(arg0 [32]byte) []byte {
	enc, err := registry.abi.Pack("providerChannels", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackProviderChannels is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x2675dc63.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) TryPackProviderChannels(arg0 [32]byte) ([]byte, error) {
	return registry.abi.Pack("providerChannels", arg0)
}

// ProviderChannelsOutput serves as a container for the return parameters of contract
// method ProviderChannels.
type ProviderChannelsOutput struct {
	Balance    *big.Int
	Settled    *big.Int
	FeeSettled *big.Int
}

// UnpackProviderChannels is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x2675dc63.
//
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled)
func (registry *Registry) UnpackProviderChannels(data []byte) (ProviderChannelsOutput, error) {
	out, err := registry.abi.Unpack("providerChannels", data)
	outstruct := new(ProviderChannelsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Balance = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.Settled = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.FeeSettled = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackRegisterHermes is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa70165d1.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function registerHermes(uint256 stake) returns()
func (registry *Registry) PackRegisterHermes(stake *big.Int) []byte {
	enc, err := registry.abi.Pack("registerHermes", stake)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRegisterHermes is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa70165d1.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function registerHermes(uint256 stake) returns()
func (registry *Registry) TryPackRegisterHermes(stake *big.Int) ([]byte, error) {
	return registry.abi.Pack("registerHermes", stake)
}

// PackRegisterIdentity is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x63b8f8ff.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function registerIdentity(address beneficiary) returns()
func (registry *Registry) PackRegisterIdentity(beneficiary common.Address) []byte {
	enc, err := registry.abi.Pack("registerIdentity", beneficiary)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRegisterIdentity is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x63b8f8ff.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function registerIdentity(address beneficiary) returns()
func (registry *Registry) TryPackRegisterIdentity(beneficiary common.Address) ([]byte, error) {
	return registry.abi.Pack("registerIdentity", beneficiary)
}

// PackSettlePromise is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa1e459c0.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function settlePromise(address consumer, address hermes, uint256 chainId, uint256 amount, uint256 fee, bytes32 r, bytes signature) returns()
func (registry *Registry) PackSettlePromise(consumer common.Address, hermes common.Address, chainId *big.Int, amount *big.Int, fee *big.Int, r [32]byte, signature []byte) []byte {
	enc, err := registry.abi.Pack("settlePromise", consumer, hermes, chainId, amount, fee, r, signature)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSettlePromise is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa1e459c0.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function settlePromise(address consumer, address hermes, uint256 chainId, uint256 amount, uint256 fee, bytes32 r, bytes signature) returns()
func (registry *Registry) TryPackSettlePromise(consumer common.Address, hermes common.Address, chainId *big.Int, amount *big.Int, fee *big.Int, r [32]byte, signature []byte) ([]byte, error) {
	return registry.abi.Pack("settlePromise", consumer, hermes, chainId, amount, fee, r, signature)
}

// PackSettleProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x22064036.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function settleProvider(address provider, address hermes, uint256 chainId, uint256 amount, uint256 fee, bytes32 r, bytes signature) returns()
func (registry *Registry) PackSettleProvider(provider common.Address, hermes common.Address, chainId *big.Int, amount *big.Int, fee *big.Int, r [32]byte, signature []byte) []byte {
	enc, err := registry.abi.Pack("settleProvider", provider, hermes, chainId, amount, fee, r, signature)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSettleProvider is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x22064036.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function settleProvider(address provider, address hermes, uint256 chainId, uint256 amount, uint256 fee, bytes32 r, bytes signature) returns()
func (registry *Registry) TryPackSettleProvider(provider common.Address, hermes common.Address, chainId *big.Int, amount *big.Int, fee *big.Int, r [32]byte, signature []byte) ([]byte, error) {
	return registry.abi.Pack("settleProvider", provider, hermes, chainId, amount, fee, r, signature)
}

// PackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function token() view returns(address)
func (registry *Registry) PackToken() []byte {
	enc, err := registry.abi.Pack("token")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function token() view returns(address)
func (registry *Registry) TryPackToken() ([]byte, error) {
	return registry.abi.Pack("token")
}

// UnpackToken is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (registry *Registry) UnpackToken(data []byte) (common.Address, error) {
	out, err := registry.abi.Unpack("token", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackTopUp is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x69901858.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function topUp(address consumer, address hermes, uint256 amount) returns()
func (registry *Registry) PackTopUp(consumer common.Address, hermes common.Address, amount *big.Int) []byte {
	enc, err := registry.abi.Pack("topUp", consumer, hermes, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTopUp is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x69901858.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function topUp(address consumer, address hermes, uint256 amount) returns()
func (registry *Registry) TryPackTopUp(consumer common.Address, hermes common.Address, amount *big.Int) ([]byte, error) {
	return registry.abi.Pack("topUp", consumer, hermes, amount)
}

// RegistryHermesRegistered represents a HermesRegistered event raised by the Registry contract.
type RegistryHermesRegistered struct {
	Hermes common.Address
	Stake  *big.Int
	Raw    *types.Log // Blockchain specific contextual infos
}

const RegistryHermesRegisteredEventName = "HermesRegistered"

// ContractEventName returns the user-defined event name.
func (RegistryHermesRegistered) ContractEventName() string {
	return RegistryHermesRegisteredEventName
}

// UnpackHermesRegisteredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event HermesRegistered(address indexed hermes, uint256 stake)
func (registry *Registry) UnpackHermesRegisteredEvent(log *types.Log) (*RegistryHermesRegistered, error) {
	event := "HermesRegistered"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryHermesRegistered)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// RegistryHermesWithdrawn represents a HermesWithdrawn event raised by the Registry contract.
type RegistryHermesWithdrawn struct {
	Hermes common.Address
	To     common.Address
	Amount *big.Int
	Raw    *types.Log // Blockchain specific contextual infos
}

const RegistryHermesWithdrawnEventName = "HermesWithdrawn"

// ContractEventName returns the user-defined event name.
func (RegistryHermesWithdrawn) ContractEventName() string {
	return RegistryHermesWithdrawnEventName
}

// UnpackHermesWithdrawnEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event HermesWithdrawn(address indexed hermes, address to, uint256 amount)
func (registry *Registry) UnpackHermesWithdrawnEvent(log *types.Log) (*RegistryHermesWithdrawn, error) {
	event := "HermesWithdrawn"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryHermesWithdrawn)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// RegistryIdentityRegistered represents a IdentityRegistered event raised by the Registry contract.
type RegistryIdentityRegistered struct {
	Identity    common.Address
	Beneficiary common.Address
	Raw         *types.Log // Blockchain specific contextual infos
}

const RegistryIdentityRegisteredEventName = "IdentityRegistered"

// ContractEventName returns the user-defined event name.
func (RegistryIdentityRegistered) ContractEventName() string {
	return RegistryIdentityRegisteredEventName
}

// UnpackIdentityRegisteredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event IdentityRegistered(address indexed identity, address beneficiary)
func (registry *Registry) UnpackIdentityRegisteredEvent(log *types.Log) (*RegistryIdentityRegistered, error) {
	event := "IdentityRegistered"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryIdentityRegistered)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// RegistryPromiseSettled represents a PromiseSettled event raised by the Registry contract.
type RegistryPromiseSettled struct {
	ChannelId [32]byte
	Consumer  common.Address
	Hermes    common.Address
	Amount    *big.Int
	Raw       *types.Log // Blockchain specific contextual infos
}

const RegistryPromiseSettledEventName = "PromiseSettled"

// ContractEventName returns the user-defined event name.
func (RegistryPromiseSettled) ContractEventName() string {
	return RegistryPromiseSettledEventName
}

// UnpackPromiseSettledEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event PromiseSettled(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount)
func (registry *Registry) UnpackPromiseSettledEvent(log *types.Log) (*RegistryPromiseSettled, error) {
	event := "PromiseSettled"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryPromiseSettled)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// RegistryProviderSettled represents a ProviderSettled event raised by the Registry contract.
type RegistryProviderSettled struct {
	ChannelId   [32]byte
	Provider    common.Address
	Hermes      common.Address
	Beneficiary common.Address
	Paid        *big.Int
	Fee         *big.Int
	Raw         *types.Log // Blockchain specific contextual infos
}

const RegistryProviderSettledEventName = "ProviderSettled"

// ContractEventName returns the user-defined event name.
func (RegistryProviderSettled) ContractEventName() string {
	return RegistryProviderSettledEventName
}

// UnpackProviderSettledEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ProviderSettled(bytes32 indexed channelId, address indexed provider, address indexed hermes, address beneficiary, uint256 paid, uint256 fee)
func (registry *Registry) UnpackProviderSettledEvent(log *types.Log) (*RegistryProviderSettled, error) {
	event := "ProviderSettled"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryProviderSettled)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// RegistryToppedUp represents a ToppedUp event raised by the Registry contract.
type RegistryToppedUp struct {
	ChannelId [32]byte
	Consumer  common.Address
	Hermes    common.Address
	Amount    *big.Int
	Raw       *types.Log // Blockchain specific contextual infos
}

const RegistryToppedUpEventName = "ToppedUp"

// ContractEventName returns the user-defined event name.
func (RegistryToppedUp) ContractEventName() string {
	return RegistryToppedUpEventName
}

// UnpackToppedUpEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ToppedUp(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount)
func (registry *Registry) UnpackToppedUpEvent(log *types.Log) (*RegistryToppedUp, error) {
	event := "ToppedUp"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryToppedUp)
	if len(log.Data) > 0 {
		if err := registry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range registry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}
