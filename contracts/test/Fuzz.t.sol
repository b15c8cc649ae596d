// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChannelFixture} from "./utils/ChannelFixture.sol";
import {UnidirectionalChannel} from "../src/UnidirectionalChannel.sol";
import {FeeOnTransferToken} from "./mocks/Tokens.sol";

/// @notice Property tests over fuzzed amounts, times and keys.
contract FuzzTest is ChannelFixture {
    /// Withdraw twice then close: the recipient gets exactly min(final claim, deposit), the
    /// sender is owed the rest, and the contract ends up holding exactly what is owed.
    function testFuzz_withdrawWithdrawClose_conservesEth(uint96 dep, uint96 c1, uint96 c2, uint96 cf) public {
        uint256 d = bound(dep, 1, 1_000_000 ether);
        uint256 a1 = bound(c1, 1, d);
        uint256 a2 = bound(c2, a1, uint256(d) * 2); // may exceed the deposit
        uint256 af = bound(cf, a2, uint256(d) * 3);
        bytes32 id = openEth(d, EXPIRY);
        uint256 bob0 = bob.balance;

        bytes memory s1 = aliceClaim(id, a1);
        vm.prank(bob);
        channel.withdraw(id, a1, s1);
        uint256 cap2 = a2 < d ? a2 : d;
        if (cap2 > a1) {
            bytes memory s2 = aliceClaim(id, a2);
            vm.prank(bob);
            channel.withdraw(id, a2, s2);
        }
        bytes memory sf = aliceClaim(id, af);
        vm.prank(bob);
        channel.close(id, af, sf);

        uint256 paid = af < d ? af : d;
        vm.assertEq(bob.balance - bob0, paid, "recipient total == min(final claim, deposit)");
        vm.assertEq(channel.owed(alice, ETH), d - paid, "sender owed the rest");
        vm.assertEq(address(channel).balance, d - paid, "contract holds exactly what it owes");
    }

    function testFuzz_closeErc20_conserves(uint128 dep, uint128 top, uint128 c) public {
        uint256 d = bound(dep, 1, 100_000 ether);
        uint256 t = bound(top, 0, 100_000 ether);
        bytes32 id = openToken(d, EXPIRY);
        if (t > 0) {
            vm.prank(alice);
            channel.topUp(id, t, EXPIRY + 1);
        }
        uint256 total = d + t;
        uint256 amount = bound(c, 0, total * 2);
        bytes memory sig = aliceClaim(id, amount);
        vm.prank(bob);
        channel.close(id, amount, sig);
        uint256 paid = amount < total ? amount : total;
        vm.assertEq(token.balanceOf(bob), paid, "paid");
        vm.assertEq(channel.owed(alice, address(token)), total - paid, "owed");
        vm.prank(alice);
        if (total - paid > 0) channel.claimRefund(address(token));
        vm.assertEq(token.balanceOf(address(channel)), 0, "nothing left");
    }

    /// Reclaim after expiry always credits deposit - withdrawn to the sender, whoever calls.
    function testFuzz_reclaim_creditsRest(uint96 dep, uint96 w, uint32 late, address caller) public {
        uint256 d = bound(dep, 1, 1_000_000 ether);
        uint256 wd = bound(w, 0, d);
        bytes32 id = openEth(d, EXPIRY);
        if (wd > 0) {
            bytes memory sig = aliceClaim(id, wd);
            vm.prank(bob);
            channel.withdraw(id, wd, sig);
        }
        vm.warp(uint256(EXPIRY) + late);
        vm.prank(caller);
        channel.reclaim(id);
        vm.assertEq(channel.owed(alice, ETH), d - wd, "rest to sender");
        vm.assertTrue(isClosed(id), "closed");
    }

    /// The live/expired windows never overlap: at any time exactly one of close and reclaim works.
    function testFuzz_expiryBoundary(uint64 expiryOffset, uint64 when) public {
        uint64 expiry = uint64(T0 + bound(expiryOffset, 1, 365 days));
        bytes32 id = openEth(1 ether, expiry);
        uint256 t = bound(when, T0, uint256(expiry) + 365 days);
        vm.warp(t);
        bytes memory sig = aliceClaim(id, 1);
        if (t < expiry) {
            vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotExpired.selector, id, expiry));
            channel.reclaim(id);
            vm.prank(bob);
            channel.close(id, 1, sig);
        } else {
            vm.prank(bob);
            vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelExpired.selector, id, expiry));
            channel.close(id, 1, sig);
            channel.reclaim(id);
        }
        vm.assertTrue(isClosed(id), "closed either way");
    }

    /// Expiry can only move forward.
    function testFuzz_topUp_expiryMonotonic(uint64 newExpiry, uint96 amount) public {
        bytes32 id = openEth(1 ether, EXPIRY);
        uint256 a = bound(amount, 0, 1000 ether);
        vm.prank(alice);
        if (newExpiry < EXPIRY) {
            vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ExpiryShortened.selector, EXPIRY, newExpiry));
            channel.topUp{value: a}(id, a, newExpiry);
        } else if (a == 0 && newExpiry == EXPIRY) {
            vm.expectRevert(UnidirectionalChannel.ZeroAmount.selector);
            channel.topUp(id, 0, newExpiry);
        } else {
            channel.topUp{value: a}(id, a, newExpiry);
            vm.assertEq(uint256(expiryOf(id)), uint256(newExpiry), "extended");
            vm.assertEq(deposit(id), 1 ether + a, "deposit");
        }
    }

    /// No key other than the sender's produces an accepted claim.
    function testFuzz_wrongKeyRefused(uint256 pk, uint96 amount) public {
        pk = bound(pk, 1, SECP256K1_N - 1);
        vm.assume(pk != ALICE_PK);
        uint256 a = bound(amount, 1, DEPOSIT);
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = claim(pk, id, a);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.withdraw(id, a, sig);
    }

    /// High-s twins of valid signatures are always refused; the canonical form always works.
    function testFuzz_highSRefused(uint96 amount) public {
        uint256 a = bound(amount, 1, DEPOSIT);
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, a);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.withdraw(id, a, malleate(sig));
        vm.prank(bob);
        channel.withdraw(id, a, sig);
    }

    /// A claim signed for one amount never validates another.
    function testFuzz_claimBindsAmount(uint96 signedAmount, uint96 usedAmount) public {
        uint256 s = bound(signedAmount, 1, DEPOSIT);
        uint256 u = bound(usedAmount, 1, DEPOSIT);
        vm.assume(s != u);
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, s);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, u, sig);
    }

    /// Many opens in one block: all ids distinct and all equal to computeChannelId(nonce).
    function testFuzz_manyOpensDistinctIds(uint8 n) public {
        uint256 count = bound(n, 2, 24);
        bytes32[] memory ids = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            ids[i] = openEth(1, EXPIRY);
            vm.assertEq(ids[i], channel.computeChannelId(alice, bob, ETH, i), "id = f(nonce)");
            for (uint256 j = 0; j < i; j++) {
                vm.assertNotEq(ids[i], ids[j], "distinct");
            }
        }
        vm.assertEq(address(channel).balance, count, "every deposit held");
    }

    /// Fee-on-transfer: deposit == what arrived, for any fee and amount; books == holdings.
    function testFuzz_feeOnTransfer(uint16 feeBps, uint96 amount, uint96 claimed) public {
        uint256 f = bound(feeBps, 0, 5000);
        uint256 a = bound(amount, 1, 1_000_000 ether);
        FeeOnTransferToken fee = new FeeOnTransferToken(f);
        fee.mint(alice, a);
        vm.prank(alice);
        fee.approve(address(channel), a);
        uint256 net = a - a * f / 10_000;
        vm.prank(alice);
        if (net == 0) {
            vm.expectRevert(UnidirectionalChannel.ZeroAmount.selector);
            channel.open(bob, address(fee), a, EXPIRY);
            return;
        }
        bytes32 id = channel.open(bob, address(fee), a, EXPIRY);
        vm.assertEq(deposit(id), net, "net deposit");
        vm.assertEq(fee.balanceOf(address(channel)), net, "holdings");

        uint256 c = bound(claimed, 0, a);
        bytes memory sig = aliceClaim(id, c);
        vm.prank(bob);
        channel.close(id, c, sig);
        uint256 paid = c < net ? c : net;
        vm.assertEq(channel.owed(alice, address(fee)), net - paid, "refund");
        vm.assertEq(fee.balanceOf(address(channel)), net - paid, "holdings == owed");
    }
}
