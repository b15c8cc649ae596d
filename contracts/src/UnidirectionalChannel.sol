// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title UnidirectionalChannel
/// @author btpnips
/// @notice Unidirectional payment channels for ETH (`token == address(0)`) and any ERC-20 token.
///         A *sender* locks a deposit for a *recipient* until an expiry time. Off chain, the sender
///         signs ever-increasing EIP-712 `Claim(bytes32 channelId,uint256 cumulativeAmount)` messages.
///         Before expiry the recipient may `withdraw` (partial, channel stays open) or `close` with
///         the highest claim it holds; at or after expiry anyone may `reclaim` the unpaid rest for
///         the sender. The sender's money is never pushed: it is credited to a pull balance
///         (`owed`) and collected with `claimRefund`.
/// @dev Time model: a channel is *live* while `block.timestamp < expiry` and *expired* from
///      `block.timestamp >= expiry` on; the two windows never overlap, so close/withdraw and
///      reclaim can never both be valid in the same block.
///      Accounting invariant, per token: `balance(this) >= sum over open channels of
///      (deposit - withdrawn) + sum of owed`. Rebasing tokens (negative rebases) are unsupported.
///      Requires the Cancun EVM (transient-storage reentrancy guard, MCOPY), as on Base.
contract UnidirectionalChannel is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice State of one channel (storage layout packs sender, expiry and closed in one slot).
    /// @param sender Party that funds the channel and signs claims.
    /// @param expiry Unix time (seconds) from which the channel is expired.
    /// @param closed True once the channel was closed or reclaimed; a closed channel never reopens.
    /// @param recipient Party that receives claimed funds; the only one allowed to withdraw/close.
    /// @param token ERC-20 token address, or `address(0)` for ETH.
    /// @param deposit Total amount that actually arrived in the channel (opening deposit + top-ups).
    /// @param withdrawn Cumulative amount already paid to the recipient.
    struct Channel {
        address sender;
        uint64 expiry;
        bool closed;
        address recipient;
        address token;
        uint256 deposit;
        uint256 withdrawn;
    }

    /// @notice EIP-712 type hash of the signed claim.
    bytes32 public constant CLAIM_TYPEHASH = keccak256("Claim(bytes32 channelId,uint256 cumulativeAmount)");

    /// @dev Channel id => channel. Read through {channels}.
    mapping(bytes32 channelId => Channel) private _channels;

    /// @notice Number of channels each sender has opened so far; the next channel id of `sender`
    ///         uses this value as its nonce. Strictly increasing, so ids are never reused.
    mapping(address sender => uint256) public channelNonce;

    /// @notice Pull balances: amount of `token` (`address(0)` = ETH) that `owner` may collect with
    ///         {claimRefund} / {claimRefundTo}.
    mapping(address owner => mapping(address token => uint256)) public owed;

    /// @notice Emitted when a channel is opened.
    /// @param channelId Id derived on chain (see {computeChannelId}).
    /// @param sender Funding party.
    /// @param recipient Receiving party.
    /// @param token Token address (`address(0)` = ETH).
    /// @param amount Deposit that actually arrived (balance delta for ERC-20).
    /// @param expiry Unix time from which the channel is expired.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed sender,
        address indexed recipient,
        address token,
        uint256 amount,
        uint64 expiry
    );

    /// @notice Emitted when the sender adds funds and/or extends the expiry.
    /// @param channelId Channel topped up.
    /// @param amount Amount that actually arrived (may be 0 for an expiry-only extension).
    /// @param newDeposit Total deposit after the top-up.
    /// @param expiry Expiry after the top-up (never earlier than before).
    event ChannelToppedUp(bytes32 indexed channelId, uint256 amount, uint256 newDeposit, uint64 expiry);

    /// @notice Emitted when the recipient withdraws part of the channel without closing it.
    /// @param channelId Channel withdrawn from.
    /// @param cumulativeAmount Cumulative amount of the signed claim that was presented.
    /// @param paid Amount transferred to the recipient now (increase since the last withdrawal,
    ///        capped at the deposit).
    event Withdrawn(bytes32 indexed channelId, uint256 cumulativeAmount, uint256 paid);

    /// @notice Emitted when the recipient closes a channel.
    /// @param channelId Channel closed.
    /// @param cumulativeAmount Cumulative amount of the claim that was presented.
    /// @param paidToRecipient Amount transferred to the recipient by this call.
    /// @param refundedToSender Amount credited to the sender's pull balance ({owed}).
    event ChannelClosed(
        bytes32 indexed channelId, uint256 cumulativeAmount, uint256 paidToRecipient, uint256 refundedToSender
    );

    /// @notice Emitted when an expired channel is reclaimed for the sender.
    /// @param channelId Channel reclaimed.
    /// @param refunded Amount credited to the sender's pull balance ({owed}).
    event ChannelReclaimed(bytes32 indexed channelId, uint256 refunded);

    /// @notice Emitted when an owner collects its pull balance.
    /// @param owner Address whose balance was collected.
    /// @param token Token address (`address(0)` = ETH).
    /// @param amount Amount sent.
    /// @param to Address the amount was sent to.
    event RefundClaimed(address indexed owner, address indexed token, uint256 amount, address to);

    /// @notice The recipient is the zero address or the sender itself.
    error InvalidRecipient(address recipient);
    /// @notice A deposit of zero (nothing arrived), or a top-up that changes nothing.
    error ZeroAmount();
    /// @notice For ETH channels `msg.value` must equal `amount`.
    error EthAmountMismatch(uint256 amount, uint256 value);
    /// @notice ETH was sent along with an ERC-20 operation.
    error UnexpectedEth(uint256 value);
    /// @notice The requested expiry is not in the future.
    error ExpiryNotInFuture(uint64 expiry, uint256 nowTimestamp);
    /// @notice A top-up tried to move the expiry earlier.
    error ExpiryShortened(uint64 currentExpiry, uint64 requestedExpiry);
    /// @notice Defensive: the derived id is already in use (cannot happen with a strictly increasing nonce).
    error ChannelIdCollision(bytes32 channelId);
    /// @notice No channel with this id exists.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The channel was already closed or reclaimed.
    error ChannelAlreadyClosed(bytes32 channelId);
    /// @notice The channel is expired (`block.timestamp >= expiry`); only {reclaim} is possible.
    error ChannelExpired(bytes32 channelId, uint64 expiry);
    /// @notice The channel is still live (`block.timestamp < expiry`); it cannot be reclaimed yet.
    error ChannelNotExpired(bytes32 channelId, uint64 expiry);
    /// @notice Only the channel's sender may call this.
    error NotSender(address caller);
    /// @notice Only the channel's recipient may call this.
    error NotRecipient(address caller);
    /// @notice The signature is neither the sender key's ECDSA signature (65 bytes, low s) nor,
    ///         for a sender with code, accepted by its ERC-1271 `isValidSignature`.
    error InvalidSignature();
    /// @notice The claim is lower than what the recipient already withdrew.
    error ClaimBelowWithdrawn(uint256 cumulativeAmount, uint256 withdrawn);
    /// @notice A withdrawal would pay nothing (claim not above what was already withdrawn, or
    ///         nothing left in the deposit).
    error NothingToWithdraw();
    /// @notice The caller has no pull balance in this token.
    error NothingOwed(address owner, address token);
    /// @notice Refund destination is the zero address.
    error ZeroAddress();
    /// @notice An ETH transfer failed.
    error EthTransferFailed(address to, uint256 amount);

    /// @notice Deploys the contract; the EIP-712 domain is {name "BtpNipsChannel", version "1",
    ///         chainId, verifyingContract = this}.
    constructor() EIP712("BtpNipsChannel", "1") {}

    // ------------------------------------------------------------------------------------------
    // Channel lifecycle
    // ------------------------------------------------------------------------------------------

    /// @notice Opens a channel from `msg.sender` to `recipient` funded with `amount` of `token`.
    /// @dev For ETH (`token == address(0)`), `msg.value` must equal `amount`. For ERC-20, the
    ///      caller must have approved `amount`; the deposit credited is the contract's balance
    ///      delta (fee-on-transfer safe), which must be non-zero. The id is derived on chain from
    ///      (chainid, this, sender, recipient, token, channelNonce[sender]) and the nonce is
    ///      incremented, so an id is never reused even within one block.
    /// @param recipient Party allowed to withdraw/close with the sender's claims.
    /// @param token ERC-20 token address, or `address(0)` for ETH.
    /// @param amount Amount to deposit.
    /// @param expiry Unix time from which the channel is expired; must be in the future.
    /// @return channelId The new channel's id.
    function open(address recipient, address token, uint256 amount, uint64 expiry)
        external
        payable
        nonReentrant
        returns (bytes32 channelId)
    {
        if (recipient == address(0) || recipient == msg.sender) revert InvalidRecipient(recipient);
        if (expiry <= block.timestamp) revert ExpiryNotInFuture(expiry, block.timestamp);

        uint256 nonce = channelNonce[msg.sender]++;
        channelId = computeChannelId(msg.sender, recipient, token, nonce);
        Channel storage ch = _channels[channelId];
        if (ch.sender != address(0)) revert ChannelIdCollision(channelId);

        // Effects first (the channel exists before the token is called), then the deposit is
        // pulled and credited with what actually arrived.
        ch.sender = msg.sender;
        ch.expiry = expiry;
        ch.recipient = recipient;
        ch.token = token;
        uint256 received = _pullDeposit(token, amount);
        ch.deposit = received;

        emit ChannelOpened(channelId, msg.sender, recipient, token, received, expiry);
    }

    /// @notice Adds `amount` to a live channel and/or extends its expiry. Sender only.
    /// @dev Refused on closed or expired channels. `newExpiry` may equal the current expiry (no
    ///      change) but never be earlier. `amount` may be 0 for an expiry-only extension; ETH
    ///      channels require `msg.value == amount`; ERC-20 deposits are balance-delta measured.
    /// @param channelId Channel to top up.
    /// @param amount Amount to add.
    /// @param newExpiry New expiry (>= current expiry).
    function topUp(bytes32 channelId, uint256 amount, uint64 newExpiry) external payable nonReentrant {
        Channel storage ch = _existing(channelId);
        if (msg.sender != ch.sender) revert NotSender(msg.sender);
        if (ch.closed) revert ChannelAlreadyClosed(channelId);
        uint64 expiry = ch.expiry;
        if (block.timestamp >= expiry) revert ChannelExpired(channelId, expiry);
        if (newExpiry < expiry) revert ExpiryShortened(expiry, newExpiry);
        if (amount == 0 && newExpiry == expiry) revert ZeroAmount();

        if (newExpiry != expiry) ch.expiry = newExpiry;
        uint256 received = amount == 0 ? _pullNothing(ch.token) : _pullDeposit(ch.token, amount);
        uint256 newDeposit = ch.deposit + received;
        ch.deposit = newDeposit;

        emit ChannelToppedUp(channelId, received, newDeposit, newExpiry);
    }

    /// @notice Recipient withdraws the increase of a signed cumulative claim; the channel stays open.
    /// @dev Pays `min(cumulativeAmount, deposit) - withdrawn`, which must be > 0. Live channels only.
    /// @param channelId Channel to withdraw from.
    /// @param cumulativeAmount Cumulative amount signed by the sender.
    /// @param signature Sender's EIP-712 signature over `Claim(channelId, cumulativeAmount)`
    ///        (the sender key's 65-byte ECDSA signature with low s, whatever code the sender carries;
    ///        otherwise, for a sender with code, anything its ERC-1271 `isValidSignature` accepts).
    function withdraw(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature) external nonReentrant {
        Channel storage ch = _liveForRecipient(channelId);
        uint256 withdrawn = ch.withdrawn;
        uint256 capped = _min(cumulativeAmount, ch.deposit);
        if (capped <= withdrawn) revert NothingToWithdraw();
        _verifyClaim(ch.sender, channelId, cumulativeAmount, signature);

        uint256 paid = capped - withdrawn;
        ch.withdrawn = capped;
        emit Withdrawn(channelId, cumulativeAmount, paid);

        _send(ch.token, msg.sender, paid);
    }

    /// @notice Recipient closes a live channel with the highest claim it holds.
    /// @dev Pays the recipient `min(cumulativeAmount, deposit) - withdrawn`, credits the rest of
    ///      the deposit to the sender's pull balance (never pushed, so a sender that rejects
    ///      transfers cannot block the close), and marks the channel closed.
    ///      A claim below what was already withdrawn reverts. A claim exactly equal to what was
    ///      already withdrawn (e.g. 0 on a fresh channel) needs no signature: it pays nothing, so
    ///      the recipient can only give money back this way (cooperative early release).
    /// @param channelId Channel to close.
    /// @param cumulativeAmount Cumulative amount signed by the sender.
    /// @param signature Sender's EIP-712 signature over `Claim(channelId, cumulativeAmount)`.
    function close(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature) external nonReentrant {
        Channel storage ch = _liveForRecipient(channelId);
        uint256 withdrawn = ch.withdrawn;
        if (cumulativeAmount < withdrawn) revert ClaimBelowWithdrawn(cumulativeAmount, withdrawn);
        uint256 deposit = ch.deposit;
        uint256 capped = _min(cumulativeAmount, deposit);
        uint256 paid = capped - withdrawn;
        // Unsigned only when the claim is exactly what was already withdrawn (pays nothing), so
        // the amount in the ChannelClosed event is always one the sender signed.
        if (cumulativeAmount != withdrawn) _verifyClaim(ch.sender, channelId, cumulativeAmount, signature);

        uint256 refund = deposit - capped;
        address token = ch.token;
        ch.withdrawn = capped;
        ch.closed = true;
        if (refund != 0) owed[ch.sender][token] += refund;
        emit ChannelClosed(channelId, cumulativeAmount, paid, refund);

        if (paid != 0) _send(token, msg.sender, paid);
    }

    /// @notice After expiry, credits the unpaid rest of the deposit to the sender's pull balance
    ///         and marks the channel closed. Callable by anyone.
    /// @param channelId Channel to reclaim.
    function reclaim(bytes32 channelId) external nonReentrant {
        Channel storage ch = _existing(channelId);
        if (ch.closed) revert ChannelAlreadyClosed(channelId);
        uint64 expiry = ch.expiry;
        if (block.timestamp < expiry) revert ChannelNotExpired(channelId, expiry);

        uint256 refund = ch.deposit - ch.withdrawn;
        ch.closed = true;
        if (refund != 0) owed[ch.sender][ch.token] += refund;
        emit ChannelReclaimed(channelId, refund);
    }

    /// @notice Sends the caller everything it is owed in `token` (`address(0)` = ETH).
    /// @param token Token to collect.
    /// @return amount Amount sent.
    function claimRefund(address token) external nonReentrant returns (uint256 amount) {
        return _claimRefund(token, msg.sender);
    }

    /// @notice Like {claimRefund} but sends to `to`, for owners that cannot receive themselves
    ///         (a contract without a payable receive, a token-blacklisted address).
    /// @param token Token to collect.
    /// @param to Destination of the funds.
    /// @return amount Amount sent.
    function claimRefundTo(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        return _claimRefund(token, to);
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice Returns a channel's state (all zero if it does not exist).
    /// @param channelId Channel id.
    /// @return sender Funding party (zero iff the channel does not exist).
    /// @return recipient Receiving party.
    /// @return token Token address (`address(0)` = ETH).
    /// @return deposit Total deposit that arrived.
    /// @return withdrawn Cumulative amount paid to the recipient.
    /// @return expiry Unix time from which the channel is expired.
    /// @return closed Whether the channel is closed or reclaimed.
    function channels(bytes32 channelId)
        external
        view
        returns (
            address sender,
            address recipient,
            address token,
            uint256 deposit,
            uint256 withdrawn,
            uint64 expiry,
            bool closed
        )
    {
        Channel storage ch = _channels[channelId];
        return (ch.sender, ch.recipient, ch.token, ch.deposit, ch.withdrawn, ch.expiry, ch.closed);
    }

    /// @notice The id the channel opened by `sender` with nonce `nonce` gets on this chain and contract:
    ///         `keccak256(abi.encode(block.chainid, address(this), sender, recipient, token, nonce))`.
    /// @param sender Funding party.
    /// @param recipient Receiving party.
    /// @param token Token address (`address(0)` = ETH).
    /// @param nonce `channelNonce[sender]` at the time of opening.
    /// @return The channel id.
    function computeChannelId(address sender, address recipient, address token, uint256 nonce)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), sender, recipient, token, nonce));
    }

    /// @notice EIP-712 digest the sender signs for a claim.
    /// @param channelId Channel id.
    /// @param cumulativeAmount Cumulative amount.
    /// @return The digest `keccak256("\x19\x01" || domainSeparator || hashStruct(Claim))`.
    function claimDigest(bytes32 channelId, uint256 cumulativeAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, channelId, cumulativeAmount)));
    }

    /// @notice The EIP-712 domain separator (bound to the current chain id and this address).
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Loads an existing channel or reverts.
    function _existing(bytes32 channelId) private view returns (Channel storage ch) {
        ch = _channels[channelId];
        if (ch.sender == address(0)) revert ChannelNotFound(channelId);
    }

    /// @dev Loads a channel that exists, is not closed, is live, and whose recipient is the caller.
    function _liveForRecipient(bytes32 channelId) private view returns (Channel storage ch) {
        ch = _existing(channelId);
        if (msg.sender != ch.recipient) revert NotRecipient(msg.sender);
        if (ch.closed) revert ChannelAlreadyClosed(channelId);
        uint64 expiry = ch.expiry;
        if (block.timestamp >= expiry) revert ChannelExpired(channelId, expiry);
    }

    /// @dev Reverts unless `signature` is the sender's signature over the claim digest: first an
    ///      ECDSA signature by the sender's key (65 bytes, low s), which holds whatever code the
    ///      sender's address carries, so an EIP-7702 delegation installed after signing cannot
    ///      revoke it; only when that fails, and only for a sender with code, ERC-1271
    ///      `isValidSignature` (contract wallets and delegated EOAs signing another way; such
    ///      signatures are as revocable as the wallet's code makes them).
    function _verifyClaim(address sender, bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature)
        private
        view
    {
        bytes32 digest = claimDigest(channelId, cumulativeAmount);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == sender) return;
        if (sender.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(sender, digest, signature))
        {
            return;
        }
        revert InvalidSignature();
    }

    /// @dev Takes a deposit from the caller and returns what actually arrived (> 0).
    function _pullDeposit(address token, uint256 amount) private returns (uint256 received) {
        if (token == address(0)) {
            if (msg.value != amount) revert EthAmountMismatch(amount, msg.value);
            received = amount;
        } else {
            if (msg.value != 0) revert UnexpectedEth(msg.value);
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(msg.sender, address(this), amount);
            received = erc20.balanceOf(address(this)) - before;
        }
        if (received == 0) revert ZeroAmount();
    }

    /// @dev Expiry-only top-up: no funds may be attached.
    function _pullNothing(address token) private view returns (uint256) {
        if (msg.value != 0) {
            if (token == address(0)) revert EthAmountMismatch(0, msg.value);
            revert UnexpectedEth(msg.value);
        }
        return 0;
    }

    /// @dev Zeroes the owner's pull balance, then transfers it (checks-effects-interactions).
    function _claimRefund(address token, address to) private returns (uint256 amount) {
        amount = owed[msg.sender][token];
        if (amount == 0) revert NothingOwed(msg.sender, token);
        owed[msg.sender][token] = 0;
        emit RefundClaimed(msg.sender, token, amount, to);
        _send(token, to, amount);
    }

    /// @dev Sends ETH with a full-gas `call` or ERC-20 with SafeERC20.
    function _send(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok,) = payable(to).call{value: amount}("");
            if (!ok) revert EthTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @dev Smaller of two values.
    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
