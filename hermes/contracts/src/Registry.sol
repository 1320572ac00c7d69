// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title Registry: identities, hermes hubs and payment channels of mystp2p.
/// @notice
/// - An identity may register a beneficiary; provider settlements pay it.
/// - A consumer channel holds a consumer's tokens for one hermes. Channel IDs
///   are keccak256(abi.encodePacked(party, hermes)); consumer and provider
///   channels live in separate maps and need different signers.
/// - Promises: amount and fee are cumulative over the channel's life. The
///   signed hash is keccak256(abi.encodePacked(chainId, channelId, amount, fee,
///   hashlock)) over the raw hash (no prefix), V = 27/28, hashlock = keccak256(R).
/// - settlePromise: the hermes pulls amount − settled from a consumer channel
///   with the consumer's promise and R.
/// - settleProvider: pays a provider's beneficiary (amount − settled) −
///   (fee − feeSettled) with the hermes's promise and R. Replays, old
///   promises, wrong signers and wrong chains revert.
///
/// A hermes's tokens are kept in three balances, whose sum is what the
/// Registry holds for it:
/// - owed: consumer funds pulled in and not yet paid to providers or earned
///   as fees. Only settleProvider takes from it; the hermes never can.
/// - fees: fees earned, recorded as providers settle and backed by pulled
///   consumer funds. hermesWithdraw takes only from it.
/// - stake: the hermes's own deposit. It pays providers who settle before the
///   consumer funds behind their promises are pulled (recorded as lent, and
///   repaid first by the next pulls; fees of such settlements wait in
///   feesPending until pulled funds back them). The hermes gets it back only
///   by leaving: announceLeave, wait leaveDelay blocks, withdrawStake.
/// Every step keeps owed − lent − feesPending = consumer funds pulled −
/// provider promises settled (amount, fee included), and owed is zero while
/// lent or feesPending is not. So once every consumer promise behind the
/// providers' promises is pulled, owed is exactly what providers still hold
/// unsettled, whatever the hermes withdrew.
///
/// Leaving: from announceLeave on the hermes takes no top-ups, so it cannot
/// sell new channel capacity; promises it already holds keep working:
/// settlePromise (it pulls what consumers promised, which backs what it owes
/// providers) and settleProvider (providers are paid, from owed and, until
/// the stake is withdrawn, from the stake). withdrawStake takes the stake
/// only; owed stays for the providers, fees stay withdrawable. An identity
/// registers as a hermes once: after leaving, a new hub needs a new identity.
///
/// Consumer withdrawal: announceWithdrawal, wait withdrawDelay blocks,
/// withdraw takes what the channel still holds. During the delay the hermes
/// pulls the promises it holds (settlePromise works as ever and lowers what
/// the consumer takes); it refuses new ones. Top-ups during the delay are
/// taken out with the rest.
contract Registry {
    IERC20 public immutable token;
    uint256 public immutable minStake;
    /// @notice Blocks between a consumer's announceWithdrawal and its withdraw.
    uint256 public immutable withdrawDelay;
    /// @notice Blocks between a hermes's announceLeave and its withdrawStake.
    uint256 public immutable leaveDelay;

    struct Hub {
        bool registered;
        uint256 stake;
        uint256 owed;
        uint256 fees;
        uint256 lent; // paid to providers out of the stake ahead of pulled consumer funds
        uint256 feesPending; // fees recorded by provider settlements, not yet backed by pulled funds
        uint256 leaveBlock; // 0 while active; else the first block withdrawStake may run in
    }

    struct Channel {
        uint256 balance;
        uint256 settled;
        uint256 feeSettled;
        uint256 withdrawBlock; // consumer channels: 0, or the first block withdraw may run in
    }

    mapping(address => address) public beneficiaryOf;
    mapping(address => Hub) public hubs;
    mapping(bytes32 => Channel) public consumerChannels;
    mapping(bytes32 => Channel) public providerChannels;

    event IdentityRegistered(address indexed identity, address beneficiary);
    event HermesRegistered(address indexed hermes, uint256 stake);
    event HermesWithdrawn(address indexed hermes, address to, uint256 amount);
    event HermesLeaving(address indexed hermes, uint256 dueBlock);
    event StakeWithdrawn(address indexed hermes, address to, uint256 amount);
    event ToppedUp(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount);
    event WithdrawalAnnounced(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 dueBlock);
    event Withdrawn(bytes32 indexed channelId, address indexed consumer, address indexed hermes, address to, uint256 amount);
    event PromiseSettled(bytes32 indexed channelId, address indexed consumer, address indexed hermes, uint256 amount);
    event ProviderSettled(
        bytes32 indexed channelId, address indexed provider, address indexed hermes, address beneficiary, uint256 paid, uint256 fee
    );

    constructor(IERC20 token_, uint256 minStake_, uint256 withdrawDelay_, uint256 leaveDelay_) {
        require(address(token_) != address(0), "token is zero address");
        require(withdrawDelay_ > 0, "withdraw delay is zero");
        require(leaveDelay_ > 0, "leave delay is zero");
        token = token_;
        minStake = minStake_;
        withdrawDelay = withdrawDelay_;
        leaveDelay = leaveDelay_;
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
        _pull(msg.sender, stake);
        emit HermesRegistered(msg.sender, stake);
    }

    /// @notice A hermes takes fees it has earned; owed consumer funds and the stake stay.
    function hermesWithdraw(address to, uint256 amount) external {
        Hub storage h = hubs[msg.sender];
        require(h.registered, "hermes not registered");
        require(to != address(0), "withdraw to zero address");
        require(amount > 0, "zero amount");
        require(amount <= h.fees, "amount exceeds earned fees");
        h.fees -= amount;
        require(token.transfer(to, amount), "token transfer failed");
        emit HermesWithdrawn(msg.sender, to, amount);
    }

    /// @notice Starts msg.sender's leave: no more top-ups; the stake is due after leaveDelay blocks.
    function announceLeave() external {
        Hub storage h = hubs[msg.sender];
        require(h.registered, "hermes not registered");
        require(h.leaveBlock == 0, "leave already announced");
        h.leaveBlock = block.number + leaveDelay;
        emit HermesLeaving(msg.sender, h.leaveBlock);
    }

    /// @notice Pays a leaving hermes its stake once the leave delay has passed.
    function withdrawStake(address to) external {
        Hub storage h = hubs[msg.sender];
        require(h.registered, "hermes not registered");
        require(to != address(0), "withdraw to zero address");
        require(h.leaveBlock != 0, "leave not announced");
        require(block.number >= h.leaveBlock, "leave not yet due");
        uint256 amount = h.stake;
        require(amount > 0, "no stake left");
        h.stake = 0;
        require(token.transfer(to, amount), "token transfer failed");
        emit StakeWithdrawn(msg.sender, to, amount);
    }

    /// @notice Adds amount (paid by msg.sender) to consumer's channel with hermes.
    function topUp(address consumer, address hermes, uint256 amount) external {
        Hub storage h = hubs[hermes];
        require(h.registered, "hermes not registered");
        require(h.leaveBlock == 0, "hermes is leaving");
        require(consumer != address(0) && consumer != hermes, "bad consumer");
        require(amount > 0, "zero amount");
        bytes32 id = channelId(consumer, hermes);
        consumerChannels[id].balance += amount;
        _pull(msg.sender, amount);
        emit ToppedUp(id, consumer, hermes, amount);
    }

    /// @notice Starts the withdrawal of msg.sender's channel with hermes; it is due after withdrawDelay blocks.
    function announceWithdrawal(address hermes) external {
        bytes32 id = channelId(msg.sender, hermes);
        Channel storage c = consumerChannels[id];
        require(c.balance > 0, "nothing to withdraw");
        require(c.withdrawBlock == 0, "withdrawal already announced");
        c.withdrawBlock = block.number + withdrawDelay;
        emit WithdrawalAnnounced(id, msg.sender, hermes, c.withdrawBlock);
    }

    /// @notice Pays what msg.sender's channel with hermes still holds to `to`, once its withdrawal is due.
    function withdraw(address hermes, address to) external {
        require(to != address(0), "withdraw to zero address");
        bytes32 id = channelId(msg.sender, hermes);
        Channel storage c = consumerChannels[id];
        require(c.withdrawBlock != 0, "withdrawal not announced");
        require(block.number >= c.withdrawBlock, "withdrawal not yet due");
        uint256 amount = c.balance;
        c.balance = 0;
        c.withdrawBlock = 0;
        if (amount > 0) {
            require(token.transfer(to, amount), "token transfer failed");
        }
        emit Withdrawn(id, msg.sender, hermes, to, amount);
    }

    /// @notice Moves what the consumer promised since the last settlement to the hermes:
    /// first repaying what its stake lent, then backing pending fees, the rest owed to providers.
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
        _credit(h, delta);
        emit PromiseSettled(id, consumer, hermes, delta);
    }

    /// @dev Books pulled consumer funds: repays the stake's loans, backs pending fees, owes the rest to providers.
    function _credit(Hub storage h, uint256 amount) internal {
        uint256 repay = _min(amount, h.lent);
        h.lent -= repay;
        h.stake += repay;
        amount -= repay;
        uint256 backed = _min(amount, h.feesPending);
        h.feesPending -= backed;
        h.fees += backed;
        h.owed += amount - backed;
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
        // Owed consumer funds pay first, then the stake lends.
        uint256 fromOwed = _min(paid, h.owed);
        uint256 fromStake = paid - fromOwed;
        require(h.stake >= fromStake, "hermes pool insufficient");
        h.owed -= fromOwed;
        h.stake -= fromStake;
        h.lent += fromStake;
        // The fee is earned now: backed by owed funds as far as they reach, pending the rest.
        uint256 backed = _min(feeDelta, h.owed);
        h.owed -= backed;
        h.fees += backed;
        h.feesPending += feeDelta - backed;
        c.settled = amount;
        c.feeSettled = fee;
        address to = beneficiaryOf[provider];
        if (to == address(0)) {
            to = provider;
        }
        require(token.transfer(to, paid), "token transfer failed");
        emit ProviderSettled(id, provider, hermes, to, paid, feeDelta);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
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
