// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Registry: identities, hermes hubs and payment channels of mystp2p.
/// @notice
/// - An identity may register a beneficiary; provider settlements pay it.
/// - A hermes registers with a stake. Its pool (stake + consumer funds it has
///   pulled − provider payouts) backs the promises it issues.
/// - A consumer channel holds a consumer's tokens for one hermes. Channel IDs
///   are keccak256(abi.encodePacked(party, hermes)); consumer and provider
///   channels live in separate maps and need different signers.
/// - Promises: amount and fee are cumulative over the channel's life. The
///   signed hash is keccak256(abi.encodePacked(chainId, channelId, amount, fee,
///   hashlock)) over the raw hash (no prefix), V = 27/28, hashlock = keccak256(R).
/// - settlePromise: the hermes pulls amount − settled from a consumer channel
///   into its pool with the consumer's promise and R.
/// - settleProvider: pays a provider's beneficiary (amount − settled) −
///   (fee − feeSettled) from the hermes pool with the hermes's promise and R;
///   the fee stays in the pool. Replays, old promises, wrong signers and wrong
///   chains revert.
/// - Consumers cannot withdraw: a hermes may rely on every deposit it has seen.
contract Registry {
    IERC20 public immutable token;
    uint256 public immutable minStake;

    struct Hub {
        bool registered;
        uint256 stake;
        uint256 pool;
    }

    struct Channel {
        uint256 balance;
        uint256 settled;
        uint256 feeSettled;
    }

    mapping(address => address) public beneficiaryOf;
    mapping(address => Hub) public hubs;
    mapping(bytes32 => Channel) public consumerChannels;
    mapping(bytes32 => Channel) public providerChannels;

    event IdentityRegistered(address indexed identity, address beneficiary);
    event HermesRegistered(address indexed hermes, uint256 stake);
    event HermesWithdrawn(address indexed hermes, address to, uint256 amount);
    event ToppedUp(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount);
    event PromiseSettled(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount);
    event ProviderSettled(
        bytes32 indexed channelId, address indexed provider, address indexed hermes, address beneficiary, uint256 paid, uint256 fee
    );

    constructor(IERC20 token_, uint256 minStake_) {
        require(address(token_) != address(0), "token is zero address");
        token = token_;
        minStake = minStake_;
    }

    function channelId(address party, address hermes) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(party, hermes));
    }

    function promiseHash(uint256 chainId, bytes32 channel, uint256 amount, uint256 fee, bytes32 hashlock)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(chainId, channel, amount, fee, hashlock));
    }

    /// @notice Registers msg.sender as an identity paying out to beneficiary.
    function registerIdentity(address beneficiary) external {
        require(beneficiary != address(0), "beneficiary is zero address");
        beneficiaryOf[msg.sender] = beneficiary;
        emit IdentityRegistered(msg.sender, beneficiary);
    }

    /// @notice Registers msg.sender as a hermes; stake is pulled from msg.sender.
    function registerHermes(uint256 stake) external {
        Hub storage h = hubs[msg.sender];
        require(!h.registered, "hermes already registered");
        require(stake >= minStake, "stake below minimum");
        h.registered = true;
        h.stake = stake;
        h.pool = stake;
        _pull(msg.sender, stake);
        emit HermesRegistered(msg.sender, stake);
    }

    /// @notice A hermes takes earned fees out of its pool; the stake stays.
    function hermesWithdraw(address to, uint256 amount) external {
        Hub storage h = hubs[msg.sender];
        require(h.registered, "hermes not registered");
        require(to != address(0), "withdraw to zero address");
        require(h.pool >= h.stake + amount, "withdrawal would touch stake");
        h.pool -= amount;
        require(token.transfer(to, amount), "token transfer failed");
        emit HermesWithdrawn(msg.sender, to, amount);
    }

    /// @notice Adds amount (paid by msg.sender) to consumer's channel with hermes.
    function topUp(address consumer, address hermes, uint256 amount) external {
        require(hubs[hermes].registered, "hermes not registered");
        require(consumer != address(0) && consumer != hermes, "bad consumer");
        require(amount > 0, "zero amount");
        bytes32 id = channelId(consumer, hermes);
        consumerChannels[id].balance += amount;
        _pull(msg.sender, amount);
        emit ToppedUp(id, consumer, hermes, amount);
    }

    /// @notice Moves what the consumer promised since the last settlement into the hermes pool.
    function settlePromise(
        address consumer,
        address hermes,
        uint256 chainId,
        uint256 amount,
        uint256 fee,
        bytes32 r,
        bytes calldata signature
    ) external {
        require(chainId == block.chainid, "wrong chain");
        Hub storage h = hubs[hermes];
        require(h.registered, "hermes not registered");
        require(fee <= amount, "fee exceeds amount");
        bytes32 id = channelId(consumer, hermes);
        bytes32 digest = promiseHash(chainId, id, amount, fee, keccak256(abi.encodePacked(r)));
        address signer = _recover(digest, signature);
        require(signer != address(0) && signer == consumer && consumer != hermes, "bad signature");
        Channel storage c = consumerChannels[id];
        require(amount > c.settled, "already settled");
        uint256 delta = amount - c.settled;
        require(delta <= c.balance, "insufficient channel balance");
        c.balance -= delta;
        c.settled = amount;
        c.feeSettled = fee;
        h.pool += delta;
        emit PromiseSettled(id, consumer, hermes, delta);
    }

    /// @notice Pays a provider's beneficiary what the hermes promised since the last settlement, minus the hermes fee.
    function settleProvider(
        address provider,
        address hermes,
        uint256 chainId,
        uint256 amount,
        uint256 fee,
        bytes32 r,
        bytes calldata signature
    ) external {
        require(chainId == block.chainid, "wrong chain");
        Hub storage h = hubs[hermes];
        require(h.registered, "hermes not registered");
        require(fee <= amount, "fee exceeds amount");
        bytes32 id = channelId(provider, hermes);
        bytes32 digest = promiseHash(chainId, id, amount, fee, keccak256(abi.encodePacked(r)));
        address signer = _recover(digest, signature);
        require(signer != address(0) && signer == hermes && provider != hermes, "bad signature");
        _payProvider(id, h, provider, hermes, amount, fee);
    }

    function _payProvider(bytes32 id, Hub storage h, address provider, address hermes, uint256 amount, uint256 fee)
        internal
    {
        Channel storage c = providerChannels[id];
        require(amount > c.settled, "already settled");
        require(fee >= c.feeSettled, "fee decreased");
        uint256 feeDelta = fee - c.feeSettled;
        uint256 gross = amount - c.settled;
        require(feeDelta <= gross, "fee exceeds amount");
        uint256 paid = gross - feeDelta;
        require(h.pool >= paid, "hermes pool insufficient");
        h.pool -= paid;
        c.settled = amount;
        c.feeSettled = fee;
        address to = beneficiaryOf[provider];
        if (to == address(0)) {
            to = provider;
        }
        require(token.transfer(to, paid), "token transfer failed");
        emit ProviderSettled(id, provider, hermes, to, paid, feeDelta);
    }

    function _pull(address from, uint256 amount) internal {
        require(token.transferFrom(from, address(this), amount), "token transfer failed");
    }

    /// @dev Recovers the signer of a raw 32-byte hash; V must be 27 or 28 and S in the lower half order.
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        if (sig.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := calldataload(sig.offset)
            s := calldataload(add(sig.offset, 32))
            v := byte(0, calldataload(add(sig.offset, 64)))
        }
        if (v != 27 && v != 28) {
            return address(0);
        }
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) {
            return address(0);
        }
        return ecrecover(digest, v, r, s);
    }
}
