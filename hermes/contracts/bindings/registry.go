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
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"minStake_\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"withdrawDelay_\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"leaveDelay_\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"dueBlock\",\"type\":\"uint256\"}],\"name\":\"HermesLeaving\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"}],\"name\":\"HermesRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"HermesWithdrawn\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"identity\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"}],\"name\":\"IdentityRegistered\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"PromiseSettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"paid\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"}],\"name\":\"ProviderSettled\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"StakeWithdrawn\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"ToppedUp\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"dueBlock\",\"type\":\"uint256\"}],\"name\":\"WithdrawalAnnounced\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"channelId\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"Withdrawn\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"announceLeave\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"}],\"name\":\"announceWithdrawal\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"beneficiaryOf\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"party\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"}],\"name\":\"channelId\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"pure\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"consumerChannels\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"settled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"feeSettled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"withdrawBlock\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"hermesWithdraw\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"hubs\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"registered\",\"type\":\"bool\"},{\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"owed\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fees\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"lent\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"feesPending\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"leaveBlock\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"leaveDelay\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"minStake\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"channel\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"hashlock\",\"type\":\"bytes32\"}],\"name\":\"promiseHash\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"pure\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"providerChannels\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"balance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"settled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"feeSettled\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"withdrawBlock\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"stake\",\"type\":\"uint256\"}],\"name\":\"registerHermes\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"beneficiary\",\"type\":\"address\"}],\"name\":\"registerIdentity\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"r\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"settlePromise\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"chainId\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"fee\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"r\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"settleProvider\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractIERC20\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"consumer\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"topUp\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"hermes\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"}],\"name\":\"withdraw\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"withdrawDelay\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"}],\"name\":\"withdrawStake\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "Registry",
	Bin: "0x610100604052348015610010575f5ffd5b50604051611efe380380611efe83398101604081905261002f91610147565b6001600160a01b03841661008a5760405162461bcd60e51b815260206004820152601560248201527f746f6b656e206973207a65726f2061646472657373000000000000000000000060448201526064015b60405180910390fd5b5f82116100d95760405162461bcd60e51b815260206004820152601660248201527f77697468647261772064656c6179206973207a65726f000000000000000000006044820152606401610081565b5f81116101285760405162461bcd60e51b815260206004820152601360248201527f6c656176652064656c6179206973207a65726f000000000000000000000000006044820152606401610081565b6001600160a01b0390931660805260a09190915260c05260e05261018e565b5f5f5f5f6080858703121561015a575f5ffd5b84516001600160a01b0381168114610170575f5ffd5b60208601516040870151606090970151919890975090945092505050565b60805160a05160c05160e051611d056101f95f395f818161020b0152610dea01525f8181610130015261064a01525f81816102320152610cab01525f81816103e501528181610f9c01528181611190015281816113700152818161177e01526118940152611d055ff3fe608060405234801561000f575f5ffd5b5060043610610127575f3560e01c80638bbe2fe6116100a9578063c23a5cea1161006e578063c23a5cea14610321578063ca3106ae14610334578063df95d546146103ba578063f940e385146103cd578063fc0c546a146103e0575f5ffd5b80638bbe2fe6146102a0578063a1e459c0146102b3578063a70165d1146102c6578063b5909b41146102d9578063ba7bffd3146102e1575f5ffd5b8063375b3c0a116100ef578063375b3c0a1461022d578063425d3b691461025457806363b8f8ff14610267578063699018581461027a5780637459e1f51461028d575f5ffd5b80630288a39c1461012b578063220640361461016557806325efa4d61461017a5780632675dc63146101d057806335bd2e4814610206575b5f5ffd5b6101527f000000000000000000000000000000000000000000000000000000000000000081565b6040519081526020015b60405180910390f35b610178610173366004611a09565b610407565b005b6101b0610188366004611abb565b600260208190525f918252604090912080546001820154928201546003909201549092919084565b60408051948552602085019390935291830152606082015260800161015c565b6101b06101de366004611abb565b600360208190525f918252604090912080546001820154600283015492909301549092919084565b6101527f000000000000000000000000000000000000000000000000000000000000000081565b6101527f000000000000000000000000000000000000000000000000000000000000000081565b610178610262366004611ad2565b610593565b610178610275366004611ad2565b6106bd565b610178610288366004611aeb565b610773565b61015261029b366004611b25565b610925565b6101526102ae366004611b56565b61096f565b6101786102c1366004611a09565b6109b5565b6101786102d4366004611abb565b610c49565b610178610d64565b6103096102ef366004611ad2565b5f602081905290815260409020546001600160a01b031681565b6040516001600160a01b03909116815260200161015c565b61017861032f366004611ad2565b610e48565b610383610342366004611ad2565b600160208190525f9182526040909120805491810154600282015460038301546004840154600585015460069095015460ff90961695939492939192909187565b6040805197151588526020880196909652948601939093526060850191909152608084015260a083015260c082015260e00161015c565b6101786103c8366004611b8d565b61106c565b6101786103db366004611b25565b611257565b6103097f000000000000000000000000000000000000000000000000000000000000000081565b4686146104495760405162461bcd60e51b815260206004820152600b60248201526a3bb937b7339031b430b4b760a91b60448201526064015b60405180910390fd5b6001600160a01b0387165f908152600160205260409020805460ff166104815760405162461bcd60e51b815260040161044090611bb5565b858511156104a15760405162461bcd60e51b815260040161044090611be4565b5f6104ac8a8a610925565b90505f6104e489838a8a8a6040516020016104c991815260200190565b6040516020818303038152906040528051906020012061096f565b90505f6104f282878761143d565b90506001600160a01b0381161580159061051d57508a6001600160a01b0316816001600160a01b0316145b801561053b57508a6001600160a01b03168c6001600160a01b031614155b6105775760405162461bcd60e51b815260206004820152600d60248201526c626164207369676e617475726560981b6044820152606401610440565b61058583858e8e8d8d61151a565b505050505050505050505050565b5f61059e3383610925565b5f8181526002602052604090208054919250906105f35760405162461bcd60e51b81526020600482015260136024820152726e6f7468696e6720746f20776974686472617760681b6044820152606401610440565b6003810154156106455760405162461bcd60e51b815260206004820152601c60248201527f7769746864726177616c20616c726561647920616e6e6f756e636564000000006044820152606401610440565b61066f7f000000000000000000000000000000000000000000000000000000000000000043611c24565b600382018190556040519081526001600160a01b03841690339084907fd8e4e53186eedc07baf27975ecd3a9dd0a513289da6cf008ffb223e33afdc4c39060200160405180910390a4505050565b6001600160a01b0381166107135760405162461bcd60e51b815260206004820152601b60248201527f62656e6566696369617279206973207a65726f206164647265737300000000006044820152606401610440565b335f818152602081815260409182902080546001600160a01b0319166001600160a01b03861690811790915591519182527f6ae73635c50d24a45af6fbd5e016ac4bed179addbc8bf24e04ff0fcc6d33af1991015b60405180910390a250565b6001600160a01b0382165f908152600160205260409020805460ff166107ab5760405162461bcd60e51b815260040161044090611bb5565b6006810154156107f15760405162461bcd60e51b81526020600482015260116024820152706865726d6573206973206c656176696e6760781b6044820152606401610440565b6001600160a01b0384161580159061081b5750826001600160a01b0316846001600160a01b031614155b6108565760405162461bcd60e51b815260206004820152600c60248201526b3130b21031b7b739bab6b2b960a11b6044820152606401610440565b5f82116108935760405162461bcd60e51b815260206004820152600b60248201526a1e995c9bc8185b5bdd5b9d60aa1b6044820152606401610440565b5f61089e8585610925565b5f818152600260205260408120805492935085929091906108c0908490611c24565b909155506108d090503384611868565b836001600160a01b0316856001600160a01b0316827f303e5fd44bab2e078463f05730a49a83f3ed1ae3193144418721bcc83c76f2a88660405161091691815260200190565b60405180910390a45050505050565b6040516bffffffffffffffffffffffff19606084811b8216602084015283901b1660348201525f906048016040516020818303038152906040528051906020012090505b92915050565b60408051602080820197909752808201959095526060850193909352608084019190915260a0808401919091528151808403909101815260c09092019052805191012090565b4686146109f25760405162461bcd60e51b815260206004820152600b60248201526a3bb937b7339031b430b4b760a91b6044820152606401610440565b6001600160a01b0387165f908152600160205260409020805460ff16610a2a5760405162461bcd60e51b815260040161044090611bb5565b85851115610a4a5760405162461bcd60e51b815260040161044090611be4565b5f610a558a8a610925565b90505f610a7289838a8a8a6040516020016104c991815260200190565b90505f610a8082878761143d565b90506001600160a01b03811615801590610aab57508b6001600160a01b0316816001600160a01b0316145b8015610ac957508a6001600160a01b03168c6001600160a01b031614155b610b055760405162461bcd60e51b815260206004820152600d60248201526c626164207369676e617475726560981b6044820152606401610440565b5f83815260026020526040902060018101548a11610b575760405162461bcd60e51b815260206004820152600f60248201526e185b1c9958591e481cd95d1d1b1959608a1b6044820152606401610440565b5f81600101548b610b689190611c37565b8254909150811115610bbc5760405162461bcd60e51b815260206004820152601c60248201527f696e73756666696369656e74206368616e6e656c2062616c616e6365000000006044820152606401610440565b80825f015f828254610bce9190611c37565b9091555050600182018b9055600282018a9055610beb868261191e565b8c6001600160a01b03168e6001600160a01b0316867f054945d445e3512ebe3302163b4d5691e29958f2dad1db174c1d44d3db43cc8f84604051610c3191815260200190565b60405180910390a45050505050505050505050505050565b335f908152600160205260409020805460ff1615610ca95760405162461bcd60e51b815260206004820152601960248201527f6865726d657320616c72656164792072656769737465726564000000000000006044820152606401610440565b7f0000000000000000000000000000000000000000000000000000000000000000821015610d0f5760405162461bcd60e51b81526020600482015260136024820152727374616b652062656c6f77206d696e696d756d60681b6044820152606401610440565b805460ff1916600190811782558101829055610d2b3383611868565b60405182815233907f02bfa40b6b811a875b78f24e7f5b6dde72a5f55e1dbeadc711e716f9f397cfc09060200160405180910390a25050565b335f908152600160205260409020805460ff16610d935760405162461bcd60e51b815260040161044090611bb5565b600681015415610de55760405162461bcd60e51b815260206004820152601760248201527f6c6561766520616c726561647920616e6e6f756e6365640000000000000000006044820152606401610440565b610e0f7f000000000000000000000000000000000000000000000000000000000000000043611c24565b6006820181905560405190815233907f44320467d563e8eaf2daf1c32333fb1323e3ca47f42bfce146c0559b4c4bac2390602001610768565b335f908152600160205260409020805460ff16610e775760405162461bcd60e51b815260040161044090611bb5565b6001600160a01b038216610e9d5760405162461bcd60e51b815260040161044090611c4a565b80600601545f03610ee65760405162461bcd60e51b81526020600482015260136024820152721b19585d99481b9bdd08185b9b9bdd5b98d959606a1b6044820152606401610440565b8060060154431015610f2e5760405162461bcd60e51b81526020600482015260116024820152706c65617665206e6f74207965742064756560781b6044820152606401610440565b600181015480610f705760405162461bcd60e51b815260206004820152600d60248201526c1b9bc81cdd185ad9481b19599d609a1b6044820152606401610440565b5f600183015560405163a9059cbb60e01b81526001600160a01b038481166004830152602482018390527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af1158015610fe2573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906110069190611c81565b6110225760405162461bcd60e51b815260040161044090611ca0565b604080516001600160a01b03851681526020810183905233917fb7c918e0e249f999e965cafeb6c664271b3f4317d296461500e71da39f0cbda391015b60405180910390a2505050565b335f908152600160205260409020805460ff1661109b5760405162461bcd60e51b815260040161044090611bb5565b6001600160a01b0383166110c15760405162461bcd60e51b815260040161044090611c4a565b5f82116110fe5760405162461bcd60e51b815260206004820152600b60248201526a1e995c9bc8185b5bdd5b9d60aa1b6044820152606401610440565b80600301548211156111525760405162461bcd60e51b815260206004820152601a60248201527f616d6f756e742065786365656473206561726e656420666565730000000000006044820152606401610440565b81816003015f8282546111659190611c37565b909155505060405163a9059cbb60e01b81526001600160a01b038481166004830152602482018490527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af11580156111d6573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906111fa9190611c81565b6112165760405162461bcd60e51b815260040161044090611ca0565b604080516001600160a01b03851681526020810184905233917f34ef5bcab3bba544364f0356dc6f74508bf56bbf5146dd46a44c096cdec1759d910161105f565b6001600160a01b03811661127d5760405162461bcd60e51b815260040161044090611c4a565b5f6112883384610925565b5f81815260026020526040812060038101549293509190036112ec5760405162461bcd60e51b815260206004820152601860248201527f7769746864726177616c206e6f7420616e6e6f756e63656400000000000000006044820152606401610440565b80600301544310156113395760405162461bcd60e51b81526020600482015260166024820152757769746864726177616c206e6f74207965742064756560501b6044820152606401610440565b80545f808355600383015580156113f65760405163a9059cbb60e01b81526001600160a01b038581166004830152602482018390527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af11580156113b6573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906113da9190611c81565b6113f65760405162461bcd60e51b815260040161044090611ca0565b604080516001600160a01b03868116825260208201849052871691339186917f8e92230cc4aee5f0acba946173665d245fc693dff827ec8a7f798524675075669101610916565b5f6041821461144d57505f611513565b8235602084013560408501355f1a601b811480159061147057508060ff16601c14155b15611480575f9350505050611513565b7f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a08211156114b3575f9350505050611513565b604080515f81526020810180835289905260ff831691810191909152606081018490526080810183905260019060a0016020604051602081039080840390855afa158015611503573d5f5f3e3d5ffd5b5050506020604051035193505050505b9392505050565b5f8681526003602052604090206001810154831161156c5760405162461bcd60e51b815260206004820152600f60248201526e185b1c9958591e481cd95d1d1b1959608a1b6044820152606401610440565b80600201548210156115b05760405162461bcd60e51b815260206004820152600d60248201526c19995948191958dc99585cd959609a1b6044820152606401610440565b5f8160020154836115c19190611c37565b90505f8260010154856115d49190611c37565b9050808211156115f65760405162461bcd60e51b815260040161044090611be4565b5f6116018383611c37565b90505f611612828b600201546119d9565b90505f61161f8284611c37565b9050808b6001015410156116755760405162461bcd60e51b815260206004820152601860248201527f6865726d657320706f6f6c20696e73756666696369656e7400000000000000006044820152606401610440565b818b6002015f8282546116889190611c37565b92505081905550808b6001015f8282546116a29190611c37565b92505081905550808b6004015f8282546116bc9190611c24565b925050819055505f6116d2868d600201546119d9565b9050808c6002015f8282546116e79190611c37565b92505081905550808c6003015f8282546117019190611c24565b9091555061171190508187611c37565b8c6005015f8282546117239190611c24565b909155505060018701899055600287018890556001600160a01b03808c165f90815260208190526040902054168061175857508a5b60405163a9059cbb60e01b81526001600160a01b038281166004830152602482018790527f0000000000000000000000000000000000000000000000000000000000000000169063a9059cbb906044016020604051808303815f875af11580156117c4573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906117e89190611c81565b6118045760405162461bcd60e51b815260040161044090611ca0565b8a6001600160a01b03168c6001600160a01b03168f7fca2d7f7fb3e2439783e95cd42f8f2e01997524ae66abd0f80e6dadac8af09dd384898c604051610c31939291906001600160a01b039390931683526020830191909152604082015260600190565b6040516323b872dd60e01b81526001600160a01b038381166004830152306024830152604482018390527f000000000000000000000000000000000000000000000000000000000000000016906323b872dd906064016020604051808303815f875af11580156118da573d5f5f3e3d5ffd5b505050506040513d601f19601f820116820180604052508101906118fe9190611c81565b61191a5760405162461bcd60e51b815260040161044090611ca0565b5050565b5f61192d8284600401546119d9565b905080836004015f8282546119429190611c37565b9250508190555080836001015f82825461195c9190611c24565b9091555061196c90508183611c37565b91505f61197d8385600501546119d9565b905080846005015f8282546119929190611c37565b9250508190555080846003015f8282546119ac9190611c24565b909155506119bc90508184611c37565b846002015f8282546119ce9190611c24565b909155505050505050565b5f8183106119e75781611513565b5090919050565b80356001600160a01b0381168114611a04575f5ffd5b919050565b5f5f5f5f5f5f5f5f60e0898b031215611a20575f5ffd5b611a29896119ee565b9750611a3760208a016119ee565b965060408901359550606089013594506080890135935060a0890135925060c089013567ffffffffffffffff811115611a6e575f5ffd5b8901601f81018b13611a7e575f5ffd5b803567ffffffffffffffff811115611a94575f5ffd5b8b6020828401011115611aa5575f5ffd5b989b979a50959850939692959194602001935050565b5f60208284031215611acb575f5ffd5b5035919050565b5f60208284031215611ae2575f5ffd5b611513826119ee565b5f5f5f60608486031215611afd575f5ffd5b611b06846119ee565b9250611b14602085016119ee565b929592945050506040919091013590565b5f5f60408385031215611b36575f5ffd5b611b3f836119ee565b9150611b4d602084016119ee565b90509250929050565b5f5f5f5f5f60a08688031215611b6a575f5ffd5b505083359560208501359550604085013594606081013594506080013592509050565b5f5f60408385031215611b9e575f5ffd5b611ba7836119ee565b946020939093013593505050565b6020808252601590820152741a195c9b595cc81b9bdd081c9959da5cdd195c9959605a1b604082015260600190565b60208082526012908201527119995948195e18d959591cc8185b5bdd5b9d60721b604082015260600190565b634e487b7160e01b5f52601160045260245ffd5b8082018082111561096957610969611c10565b8181038181111561096957610969611c10565b60208082526018908201527f776974686472617720746f207a65726f20616464726573730000000000000000604082015260600190565b5f60208284031215611c91575f5ffd5b81518015158114611513575f5ffd5b6020808252601590820152741d1bdad95b881d1c985b9cd9995c8819985a5b1959605a1b60408201526060019056fea26469706673582212207906b1533ac76bc227e4d93935a91a87dfd8ad58d0f8a1f3df736667a181192864736f6c634300081c0033",
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
// Solidity: constructor(address token_, uint256 minStake_, uint256 withdrawDelay_, uint256 leaveDelay_) returns()
func (registry *Registry) PackConstructor(token_ common.Address, minStake_ *big.Int, withdrawDelay_ *big.Int, leaveDelay_ *big.Int) []byte {
	enc, err := registry.abi.Pack("", token_, minStake_, withdrawDelay_, leaveDelay_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackAnnounceLeave is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb5909b41.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function announceLeave() returns()
func (registry *Registry) PackAnnounceLeave() []byte {
	enc, err := registry.abi.Pack("announceLeave")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnnounceLeave is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb5909b41.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function announceLeave() returns()
func (registry *Registry) TryPackAnnounceLeave() ([]byte, error) {
	return registry.abi.Pack("announceLeave")
}

// PackAnnounceWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x425d3b69.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function announceWithdrawal(address hermes) returns()
func (registry *Registry) PackAnnounceWithdrawal(hermes common.Address) []byte {
	enc, err := registry.abi.Pack("announceWithdrawal", hermes)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAnnounceWithdrawal is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x425d3b69.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function announceWithdrawal(address hermes) returns()
func (registry *Registry) TryPackAnnounceWithdrawal(hermes common.Address) ([]byte, error) {
	return registry.abi.Pack("announceWithdrawal", hermes)
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
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
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
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
func (registry *Registry) TryPackConsumerChannels(arg0 [32]byte) ([]byte, error) {
	return registry.abi.Pack("consumerChannels", arg0)
}

// ConsumerChannelsOutput serves as a container for the return parameters of contract
// method ConsumerChannels.
type ConsumerChannelsOutput struct {
	Balance       *big.Int
	Settled       *big.Int
	FeeSettled    *big.Int
	WithdrawBlock *big.Int
}

// UnpackConsumerChannels is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x25efa4d6.
//
// Solidity: function consumerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
func (registry *Registry) UnpackConsumerChannels(data []byte) (ConsumerChannelsOutput, error) {
	out, err := registry.abi.Unpack("consumerChannels", data)
	outstruct := new(ConsumerChannelsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Balance = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.Settled = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.FeeSettled = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	outstruct.WithdrawBlock = abi.ConvertType(out[3], new(big.Int)).(*big.Int)
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
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 owed, uint256 fees, uint256 lent, uint256 feesPending, uint256 leaveBlock)
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
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 owed, uint256 fees, uint256 lent, uint256 feesPending, uint256 leaveBlock)
func (registry *Registry) TryPackHubs(arg0 common.Address) ([]byte, error) {
	return registry.abi.Pack("hubs", arg0)
}

// HubsOutput serves as a container for the return parameters of contract
// method Hubs.
type HubsOutput struct {
	Registered  bool
	Stake       *big.Int
	Owed        *big.Int
	Fees        *big.Int
	Lent        *big.Int
	FeesPending *big.Int
	LeaveBlock  *big.Int
}

// UnpackHubs is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xca3106ae.
//
// Solidity: function hubs(address ) view returns(bool registered, uint256 stake, uint256 owed, uint256 fees, uint256 lent, uint256 feesPending, uint256 leaveBlock)
func (registry *Registry) UnpackHubs(data []byte) (HubsOutput, error) {
	out, err := registry.abi.Unpack("hubs", data)
	outstruct := new(HubsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Registered = *abi.ConvertType(out[0], new(bool)).(*bool)
	outstruct.Stake = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.Owed = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	outstruct.Fees = abi.ConvertType(out[3], new(big.Int)).(*big.Int)
	outstruct.Lent = abi.ConvertType(out[4], new(big.Int)).(*big.Int)
	outstruct.FeesPending = abi.ConvertType(out[5], new(big.Int)).(*big.Int)
	outstruct.LeaveBlock = abi.ConvertType(out[6], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackLeaveDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x35bd2e48.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function leaveDelay() view returns(uint256)
func (registry *Registry) PackLeaveDelay() []byte {
	enc, err := registry.abi.Pack("leaveDelay")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackLeaveDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x35bd2e48.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function leaveDelay() view returns(uint256)
func (registry *Registry) TryPackLeaveDelay() ([]byte, error) {
	return registry.abi.Pack("leaveDelay")
}

// UnpackLeaveDelay is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x35bd2e48.
//
// Solidity: function leaveDelay() view returns(uint256)
func (registry *Registry) UnpackLeaveDelay(data []byte) (*big.Int, error) {
	out, err := registry.abi.Unpack("leaveDelay", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
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
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
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
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
func (registry *Registry) TryPackProviderChannels(arg0 [32]byte) ([]byte, error) {
	return registry.abi.Pack("providerChannels", arg0)
}

// ProviderChannelsOutput serves as a container for the return parameters of contract
// method ProviderChannels.
type ProviderChannelsOutput struct {
	Balance       *big.Int
	Settled       *big.Int
	FeeSettled    *big.Int
	WithdrawBlock *big.Int
}

// UnpackProviderChannels is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x2675dc63.
//
// Solidity: function providerChannels(bytes32 ) view returns(uint256 balance, uint256 settled, uint256 feeSettled, uint256 withdrawBlock)
func (registry *Registry) UnpackProviderChannels(data []byte) (ProviderChannelsOutput, error) {
	out, err := registry.abi.Unpack("providerChannels", data)
	outstruct := new(ProviderChannelsOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Balance = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.Settled = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.FeeSettled = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	outstruct.WithdrawBlock = abi.ConvertType(out[3], new(big.Int)).(*big.Int)
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

// PackWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf940e385.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function withdraw(address hermes, address to) returns()
func (registry *Registry) PackWithdraw(hermes common.Address, to common.Address) []byte {
	enc, err := registry.abi.Pack("withdraw", hermes, to)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWithdraw is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf940e385.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function withdraw(address hermes, address to) returns()
func (registry *Registry) TryPackWithdraw(hermes common.Address, to common.Address) ([]byte, error) {
	return registry.abi.Pack("withdraw", hermes, to)
}

// PackWithdrawDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0288a39c.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function withdrawDelay() view returns(uint256)
func (registry *Registry) PackWithdrawDelay() []byte {
	enc, err := registry.abi.Pack("withdrawDelay")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWithdrawDelay is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0288a39c.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function withdrawDelay() view returns(uint256)
func (registry *Registry) TryPackWithdrawDelay() ([]byte, error) {
	return registry.abi.Pack("withdrawDelay")
}

// UnpackWithdrawDelay is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x0288a39c.
//
// Solidity: function withdrawDelay() view returns(uint256)
func (registry *Registry) UnpackWithdrawDelay(data []byte) (*big.Int, error) {
	out, err := registry.abi.Unpack("withdrawDelay", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackWithdrawStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc23a5cea.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function withdrawStake(address to) returns()
func (registry *Registry) PackWithdrawStake(to common.Address) []byte {
	enc, err := registry.abi.Pack("withdrawStake", to)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackWithdrawStake is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc23a5cea.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function withdrawStake(address to) returns()
func (registry *Registry) TryPackWithdrawStake(to common.Address) ([]byte, error) {
	return registry.abi.Pack("withdrawStake", to)
}

// RegistryHermesLeaving represents a HermesLeaving event raised by the Registry contract.
type RegistryHermesLeaving struct {
	Hermes   common.Address
	DueBlock *big.Int
	Raw      *types.Log // Blockchain specific contextual infos
}

const RegistryHermesLeavingEventName = "HermesLeaving"

// ContractEventName returns the user-defined event name.
func (RegistryHermesLeaving) ContractEventName() string {
	return RegistryHermesLeavingEventName
}

// UnpackHermesLeavingEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event HermesLeaving(address indexed hermes, uint256 dueBlock)
func (registry *Registry) UnpackHermesLeavingEvent(log *types.Log) (*RegistryHermesLeaving, error) {
	event := "HermesLeaving"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryHermesLeaving)
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

// RegistryStakeWithdrawn represents a StakeWithdrawn event raised by the Registry contract.
type RegistryStakeWithdrawn struct {
	Hermes common.Address
	To     common.Address
	Amount *big.Int
	Raw    *types.Log // Blockchain specific contextual infos
}

const RegistryStakeWithdrawnEventName = "StakeWithdrawn"

// ContractEventName returns the user-defined event name.
func (RegistryStakeWithdrawn) ContractEventName() string {
	return RegistryStakeWithdrawnEventName
}

// UnpackStakeWithdrawnEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event StakeWithdrawn(address indexed hermes, address to, uint256 amount)
func (registry *Registry) UnpackStakeWithdrawnEvent(log *types.Log) (*RegistryStakeWithdrawn, error) {
	event := "StakeWithdrawn"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryStakeWithdrawn)
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

// RegistryWithdrawalAnnounced represents a WithdrawalAnnounced event raised by the Registry contract.
type RegistryWithdrawalAnnounced struct {
	ChannelId [32]byte
	Consumer  common.Address
	Hermes    common.Address
	DueBlock  *big.Int
	Raw       *types.Log // Blockchain specific contextual infos
}

const RegistryWithdrawalAnnouncedEventName = "WithdrawalAnnounced"

// ContractEventName returns the user-defined event name.
func (RegistryWithdrawalAnnounced) ContractEventName() string {
	return RegistryWithdrawalAnnouncedEventName
}

// UnpackWithdrawalAnnouncedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event WithdrawalAnnounced(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 dueBlock)
func (registry *Registry) UnpackWithdrawalAnnouncedEvent(log *types.Log) (*RegistryWithdrawalAnnounced, error) {
	event := "WithdrawalAnnounced"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryWithdrawalAnnounced)
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

// RegistryWithdrawn represents a Withdrawn event raised by the Registry contract.
type RegistryWithdrawn struct {
	ChannelId [32]byte
	Consumer  common.Address
	Hermes    common.Address
	To        common.Address
	Amount    *big.Int
	Raw       *types.Log // Blockchain specific contextual infos
}

const RegistryWithdrawnEventName = "Withdrawn"

// ContractEventName returns the user-defined event name.
func (RegistryWithdrawn) ContractEventName() string {
	return RegistryWithdrawnEventName
}

// UnpackWithdrawnEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event Withdrawn(bytes32 indexed channelId, address indexed consumer, address indexed hermes, address to, uint256 amount)
func (registry *Registry) UnpackWithdrawnEvent(log *types.Log) (*RegistryWithdrawn, error) {
	event := "Withdrawn"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != registry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(RegistryWithdrawn)
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
