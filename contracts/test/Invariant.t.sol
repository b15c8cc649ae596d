// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "./utils/Test.sol";
import {UnidirectionalChannel} from "../src/UnidirectionalChannel.sol";
import {MockERC20} from "./mocks/Tokens.sol";

/// @notice Drives random sequences of valid operations (open, topUp, withdraw, close, reclaim,
///         claimRefund, time passing) over 3 senders, 3 recipients, ETH and one ERC-20.
contract ChannelHandler is Test {
    UnidirectionalChannel public immutable channel;
    MockERC20 public immutable token;

    uint256[3] internal senderPks = [uint256(0x5E1), 0x5E2, 0x5E3];
    address[3] public senders;
    address[3] public recipients;

    bytes32[] public ids;
    /// @notice Highest cumulative amount ever signed per channel (ghost).
    mapping(bytes32 => uint256) public highestSigned;
    /// @notice Total paid out to the recipient per channel, measured by balance deltas (ghost).
    mapping(bytes32 => uint256) public paidOut;
    /// @notice Channels seen closed (ghost, to check closed is final).
    mapping(bytes32 => bool) public seenClosed;
    uint256 public calls;

    constructor(UnidirectionalChannel channel_, MockERC20 token_) {
        channel = channel_;
        token = token_;
        for (uint256 i = 0; i < 3; i++) {
            senders[i] = vm.addr(senderPks[i]);
            recipients[i] = address(uint160(0xBEEF00 + i));
            vm.deal(senders[i], 1e30);
            token.mint(senders[i], 1e30);
            vm.prank(senders[i]);
            token.approve(address(channel), type(uint256).max);
        }
    }

    function idCount() external view returns (uint256) {
        return ids.length;
    }

    function allActors() external view returns (address[] memory a) {
        a = new address[](6);
        for (uint256 i = 0; i < 3; i++) {
            a[i] = senders[i];
            a[i + 3] = recipients[i];
        }
    }

    function _pick(uint256 seed) internal view returns (bytes32 id, bool ok) {
        if (ids.length == 0) return (bytes32(0), false);
        return (ids[seed % ids.length], true);
    }

    function _senderIndex(address s) internal view returns (uint256) {
        for (uint256 i = 0; i < 3; i++) if (senders[i] == s) return i;
        revert("unknown sender");
    }

    function _bal(address tok, address who) internal view returns (uint256) {
        return tok == address(0) ? who.balance : token.balanceOf(who);
    }

    function _sign(bytes32 id, address sender, uint256 amount) internal returns (bytes memory) {
        if (amount > highestSigned[id]) highestSigned[id] = amount;
        return signDigest(senderPks[_senderIndex(sender)], channel.claimDigest(id, amount));
    }

    function open(uint256 s, uint256 r, bool useToken, uint96 amount, uint32 duration) external {
        calls++;
        address sender = senders[s % 3];
        address recipient = recipients[r % 3];
        uint256 a = bound(amount, 1, 1e24);
        uint64 expiry = uint64(block.timestamp + bound(duration, 1, 10 days));
        address tok = useToken ? address(token) : address(0);
        vm.prank(sender);
        bytes32 id = channel.open{value: useToken ? 0 : a}(recipient, tok, a, expiry);
        ids.push(id);
    }

    function topUp(uint256 seed, uint96 amount, uint32 extend) external {
        calls++;
        (bytes32 id, bool ok) = _pick(seed);
        if (!ok) return;
        (address sender,, address tok,,, uint64 expiry, bool closed) = channel.channels(id);
        if (closed || block.timestamp >= expiry) return;
        uint256 a = bound(amount, 0, 1e24);
        uint64 newExpiry = expiry + uint64(bound(extend, 0, 3 days));
        if (a == 0 && newExpiry == expiry) return;
        vm.prank(sender);
        channel.topUp{value: tok == address(0) ? a : 0}(id, a, newExpiry);
    }

    function withdraw(uint256 seed, uint96 amount) external {
        calls++;
        (bytes32 id, bool ok) = _pick(seed);
        if (!ok) return;
        (address sender, address recipient, address tok, uint256 dep, uint256 wd, uint64 expiry, bool closed) =
            channel.channels(id);
        if (closed || block.timestamp >= expiry) return;
        uint256 c = bound(amount, 0, dep * 2);
        if ((c < dep ? c : dep) <= wd) return;
        bytes memory sig = _sign(id, sender, c);
        uint256 before = _bal(tok, recipient);
        vm.prank(recipient);
        channel.withdraw(id, c, sig);
        paidOut[id] += _bal(tok, recipient) - before;
    }

    function close(uint256 seed, uint96 amount) external {
        calls++;
        (bytes32 id, bool ok) = _pick(seed);
        if (!ok) return;
        (address sender, address recipient, address tok, uint256 dep, uint256 wd, uint64 expiry, bool closed) =
            channel.channels(id);
        if (closed || block.timestamp >= expiry) return;
        uint256 c = bound(amount, wd, dep * 2);
        bytes memory sig = _sign(id, sender, c);
        uint256 before = _bal(tok, recipient);
        vm.prank(recipient);
        channel.close(id, c, sig);
        paidOut[id] += _bal(tok, recipient) - before;
        seenClosed[id] = true;
    }

    function reclaim(uint256 seed, address caller) external {
        calls++;
        (bytes32 id, bool ok) = _pick(seed);
        if (!ok) return;
        (,,,,, uint64 expiry, bool closed) = channel.channels(id);
        if (closed || block.timestamp < expiry) return;
        vm.prank(caller);
        channel.reclaim(id);
        seenClosed[id] = true;
    }

    function claimRefund(uint256 s, bool useToken) external {
        calls++;
        address owner = senders[s % 3];
        address tok = useToken ? address(token) : address(0);
        if (channel.owed(owner, tok) == 0) return;
        vm.prank(owner);
        channel.claimRefund(tok);
    }

    function warp(uint32 dt) external {
        calls++;
        vm.warp(block.timestamp + bound(dt, 1, 2 days));
    }
}

/// @notice Invariants of the channel contract under random operation sequences.
contract InvariantTest is Test {
    UnidirectionalChannel internal channel;
    MockERC20 internal token;
    ChannelHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        channel = new UnidirectionalChannel();
        token = new MockERC20();
        handler = new ChannelHandler(channel, token);
    }

    /// @dev Read by forge (same name as forge-std's StdInvariant): only the handler is fuzzed.
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function _liabilities(address tok) internal view returns (uint256 sum) {
        uint256 n = handler.idCount();
        for (uint256 i = 0; i < n; i++) {
            (,, address t, uint256 dep, uint256 wd,, bool closed) = channel.channels(handler.ids(i));
            if (t == tok && !closed) sum += dep - wd;
        }
        address[] memory actors = handler.allActors();
        for (uint256 i = 0; i < actors.length; i++) {
            sum += channel.owed(actors[i], tok);
        }
    }

    /// The contract holds exactly what it owes: open deposits not yet paid plus pull balances.
    function invariant_solvent_eth() public view {
        vm.assertEq(address(channel).balance, _liabilities(address(0)), "eth held == liabilities");
    }

    function invariant_solvent_token() public view {
        vm.assertEq(token.balanceOf(address(channel)), _liabilities(address(token)), "tokens held == liabilities");
    }

    /// Per channel: withdrawn <= deposit; the recipient never got more than the highest claim
    /// the sender signed nor more than the deposit; closed is final.
    function invariant_perChannel() public view {
        uint256 n = handler.idCount();
        for (uint256 i = 0; i < n; i++) {
            bytes32 id = handler.ids(i);
            (,,, uint256 dep, uint256 wd,, bool closed) = channel.channels(id);
            vm.assertLe(wd, dep, "withdrawn <= deposit");
            vm.assertEq(handler.paidOut(id), wd, "paid == withdrawn");
            vm.assertLe(wd, handler.highestSigned(id), "paid <= highest signed claim");
            if (handler.seenClosed(id)) vm.assertTrue(closed, "closed is final");
        }
    }
}
