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

// FailingTokenMetaData contains all meta data concerning the FailingToken contract.
var FailingTokenMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"allowance\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"spender\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"approve\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"name\":\"balanceOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"failing\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"mint\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bool\",\"name\":\"f\",\"type\":\"bool\"}],\"name\":\"setFailing\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"transfer\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"from\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"to\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"transferFrom\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "FailingToken",
	Bin: "0x6080604052348015600e575f5ffd5b506104508061001c5f395ff3fe608060405234801561000f575f5ffd5b5060043610610085575f3560e01c806340c10f191161005857806340c10f19146100f457806370a0823114610107578063a9059cbb14610134578063dd62ed3e14610147575f5ffd5b8063049ddbf814610089578063095ea7b3146100ac5780631118b879146100d457806323b872dd146100e1575b5f5ffd5b6100aa6100973660046102fa565b6002805460ff1916911515919091179055565b005b6100bf6100ba366004610334565b610171565b60405190151581526020015b60405180910390f35b6002546100bf9060ff1681565b6100bf6100ef36600461035c565b61019e565b6100aa610102366004610334565b61022b565b610126610115366004610396565b5f6020819052908152604090205481565b6040519081526020016100cb565b6100bf610142366004610334565b61025b565b6101266101553660046103af565b600160209081525f928352604080842090915290825290205481565b335f9081526001602081815260408084206001600160a01b03871685529091529091208290555b92915050565b6002545f9060ff16806101d257506001600160a01b0384165f90815260016020908152604080832033845290915290205482115b156101de57505f610224565b6001600160a01b0384165f908152600160209081526040808320338452909152812080548492906102109084906103f4565b909155506102219050848484610263565b90505b9392505050565b6001600160a01b0382165f9081526020819052604081208054839290610252908490610407565b90915550505050565b5f6102243384845b6002545f9060ff168061028c57506001600160a01b0384165f9081526020819052604090205482115b1561029857505f610224565b6001600160a01b0384165f90815260208190526040812080548492906102bf9084906103f4565b90915550506001600160a01b0383165f90815260208190526040812080548492906102eb908490610407565b90915550600195945050505050565b5f6020828403121561030a575f5ffd5b81358015158114610224575f5ffd5b80356001600160a01b038116811461032f575f5ffd5b919050565b5f5f60408385031215610345575f5ffd5b61034e83610319565b946020939093013593505050565b5f5f5f6060848603121561036e575f5ffd5b61037784610319565b925061038560208501610319565b929592945050506040919091013590565b5f602082840312156103a6575f5ffd5b61022482610319565b5f5f604083850312156103c0575f5ffd5b6103c983610319565b91506103d760208401610319565b90509250929050565b634e487b7160e01b5f52601160045260245ffd5b81810381811115610198576101986103e0565b80820180821115610198576101986103e056fea26469706673582212203e6fdfe1797385a3f9d8e56749cbda80edb982b40c4f4c6d644dd03528d78ba864736f6c634300081c0033",
}

// FailingToken is an auto generated Go binding around an Ethereum contract.
type FailingToken struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *FailingToken) GetABI() abi.ABI {
	return c.abi
}

// NewFailingToken creates a new instance of FailingToken.
func NewFailingToken() *FailingToken {
	parsed, err := FailingTokenMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &FailingToken{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *FailingToken) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackAllowance is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdd62ed3e.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (failingToken *FailingToken) PackAllowance(arg0 common.Address, arg1 common.Address) []byte {
	enc, err := failingToken.abi.Pack("allowance", arg0, arg1)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAllowance is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdd62ed3e.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (failingToken *FailingToken) TryPackAllowance(arg0 common.Address, arg1 common.Address) ([]byte, error) {
	return failingToken.abi.Pack("allowance", arg0, arg1)
}

// UnpackAllowance is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xdd62ed3e.
//
// Solidity: function allowance(address , address ) view returns(uint256)
func (failingToken *FailingToken) UnpackAllowance(data []byte) (*big.Int, error) {
	out, err := failingToken.abi.Unpack("allowance", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackApprove is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x095ea7b3.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (failingToken *FailingToken) PackApprove(spender common.Address, amount *big.Int) []byte {
	enc, err := failingToken.abi.Pack("approve", spender, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApprove is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x095ea7b3.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (failingToken *FailingToken) TryPackApprove(spender common.Address, amount *big.Int) ([]byte, error) {
	return failingToken.abi.Pack("approve", spender, amount)
}

// UnpackApprove is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x095ea7b3.
//
// Solidity: function approve(address spender, uint256 amount) returns(bool)
func (failingToken *FailingToken) UnpackApprove(data []byte) (bool, error) {
	out, err := failingToken.abi.Unpack("approve", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (failingToken *FailingToken) PackBalanceOf(arg0 common.Address) []byte {
	enc, err := failingToken.abi.Pack("balanceOf", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBalanceOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x70a08231.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (failingToken *FailingToken) TryPackBalanceOf(arg0 common.Address) ([]byte, error) {
	return failingToken.abi.Pack("balanceOf", arg0)
}

// UnpackBalanceOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x70a08231.
//
// Solidity: function balanceOf(address ) view returns(uint256)
func (failingToken *FailingToken) UnpackBalanceOf(data []byte) (*big.Int, error) {
	out, err := failingToken.abi.Unpack("balanceOf", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackFailing is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1118b879.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function failing() view returns(bool)
func (failingToken *FailingToken) PackFailing() []byte {
	enc, err := failingToken.abi.Pack("failing")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFailing is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x1118b879.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function failing() view returns(bool)
func (failingToken *FailingToken) TryPackFailing() ([]byte, error) {
	return failingToken.abi.Pack("failing")
}

// UnpackFailing is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x1118b879.
//
// Solidity: function failing() view returns(bool)
func (failingToken *FailingToken) UnpackFailing(data []byte) (bool, error) {
	out, err := failingToken.abi.Unpack("failing", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackMint is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x40c10f19.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (failingToken *FailingToken) PackMint(to common.Address, amount *big.Int) []byte {
	enc, err := failingToken.abi.Pack("mint", to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMint is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x40c10f19.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function mint(address to, uint256 amount) returns()
func (failingToken *FailingToken) TryPackMint(to common.Address, amount *big.Int) ([]byte, error) {
	return failingToken.abi.Pack("mint", to, amount)
}

// PackSetFailing is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x049ddbf8.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setFailing(bool f) returns()
func (failingToken *FailingToken) PackSetFailing(f bool) []byte {
	enc, err := failingToken.abi.Pack("setFailing", f)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetFailing is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x049ddbf8.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setFailing(bool f) returns()
func (failingToken *FailingToken) TryPackSetFailing(f bool) ([]byte, error) {
	return failingToken.abi.Pack("setFailing", f)
}

// PackTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa9059cbb.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) PackTransfer(to common.Address, amount *big.Int) []byte {
	enc, err := failingToken.abi.Pack("transfer", to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransfer is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa9059cbb.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) TryPackTransfer(to common.Address, amount *big.Int) ([]byte, error) {
	return failingToken.abi.Pack("transfer", to, amount)
}

// UnpackTransfer is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa9059cbb.
//
// Solidity: function transfer(address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) UnpackTransfer(data []byte) (bool, error) {
	out, err := failingToken.abi.Unpack("transfer", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackTransferFrom is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23b872dd.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) PackTransferFrom(from common.Address, to common.Address, amount *big.Int) []byte {
	enc, err := failingToken.abi.Pack("transferFrom", from, to, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferFrom is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23b872dd.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) TryPackTransferFrom(from common.Address, to common.Address, amount *big.Int) ([]byte, error) {
	return failingToken.abi.Pack("transferFrom", from, to, amount)
}

// UnpackTransferFrom is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x23b872dd.
//
// Solidity: function transferFrom(address from, address to, uint256 amount) returns(bool)
func (failingToken *FailingToken) UnpackTransferFrom(data []byte) (bool, error) {
	out, err := failingToken.abi.Unpack("transferFrom", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}
