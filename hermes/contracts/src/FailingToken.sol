// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title FailingToken: an ERC20 for tests whose transfers can be switched to
/// return false instead of reverting, as some real tokens do.
contract FailingToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    bool public failing;

    function setFailing(bool f) external {
        failing = f;
    }

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        return _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (failing || allowance[from][msg.sender] < amount) {
            return false;
        }
        allowance[from][msg.sender] -= amount;
        return _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) internal returns (bool) {
        if (failing || balanceOf[from] < amount) {
            return false;
        }
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        return true;
    }
}
