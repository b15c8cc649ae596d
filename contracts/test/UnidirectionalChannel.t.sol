// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChannelFixture} from "./utils/ChannelFixture.sol";
import {UnidirectionalChannel} from "../src/UnidirectionalChannel.sol";
import {MockERC20, NoReturnToken, FalseReturnToken} from "./mocks/Tokens.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

/// @notice Every function and every revert path of UnidirectionalChannel, ETH and ERC-20.
contract UnidirectionalChannelTest is ChannelFixture {
    receive() external payable {}

    // ---- EIP-712 domain and digests ----------------------------------------------------------

    function test_domain_matchesEip712() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("BtpNipsChannel"),
                keccak256("1"),
                block.chainid,
                address(channel)
            )
        );
        vm.assertEq(channel.domainSeparator(), expected, "domain separator");

        (bytes1 fields, string memory name, string memory version, uint256 chainId, address vc, bytes32 salt,
            uint256[] memory ext) = channel.eip712Domain();
        vm.assertEq(uint256(uint8(fields)), 0x0f, "fields: name, version, chainId, verifyingContract");
        vm.assertEq(keccak256(bytes(name)), keccak256("BtpNipsChannel"), "name");
        vm.assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        vm.assertEq(chainId, block.chainid, "chainId");
        vm.assertEq(vc, address(channel), "verifyingContract");
        vm.assertEq(salt, bytes32(0), "salt");
        vm.assertEq(ext.length, 0, "extensions");
    }

    function test_claimDigest_matchesEip712() public view {
        bytes32 id = keccak256("some channel");
        uint256 amount = 123_456;
        vm.assertEq(
            channel.CLAIM_TYPEHASH(), keccak256("Claim(bytes32 channelId,uint256 cumulativeAmount)"), "typehash"
        );
        bytes32 structHash = keccak256(abi.encode(channel.CLAIM_TYPEHASH(), id, amount));
        bytes32 expected = keccak256(abi.encodePacked("\x19\x01", channel.domainSeparator(), structHash));
        vm.assertEq(channel.claimDigest(id, amount), expected, "digest");
        vm.assertNotEq(channel.claimDigest(id, amount + 1), expected, "amount is bound");
    }

    // ---- open ----------------------------------------------------------------------------------

    function test_open_eth() public {
        bytes32 expectedId = channel.computeChannelId(alice, bob, ETH, 0);
        vm.assertEq(
            expectedId,
            keccak256(abi.encode(block.chainid, address(channel), alice, bob, ETH, uint256(0))),
            "id formula"
        );
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelOpened(expectedId, alice, bob, ETH, DEPOSIT, EXPIRY);
        bytes32 id = openEth(DEPOSIT, EXPIRY);

        vm.assertEq(id, expectedId, "returned id");
        (address s, address r, address t, uint256 d, uint256 w, uint64 e, bool c) = channel.channels(id);
        vm.assertEq(s, alice, "sender");
        vm.assertEq(r, bob, "recipient");
        vm.assertEq(t, ETH, "token");
        vm.assertEq(d, DEPOSIT, "deposit");
        vm.assertEq(w, 0, "withdrawn");
        vm.assertEq(uint256(e), uint256(EXPIRY), "expiry");
        vm.assertFalse(c, "closed");
        vm.assertEq(channel.channelNonce(alice), 1, "nonce advanced");
        vm.assertEq(address(channel).balance, DEPOSIT, "eth held");
    }

    function test_open_erc20() public {
        uint256 before = token.balanceOf(alice);
        bytes32 expectedId = channel.computeChannelId(alice, bob, address(token), 0);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelOpened(expectedId, alice, bob, address(token), DEPOSIT, EXPIRY);
        bytes32 id = openToken(DEPOSIT, EXPIRY);
        vm.assertEq(id, expectedId, "id");
        vm.assertEq(deposit(id), DEPOSIT, "deposit");
        vm.assertEq(token.balanceOf(address(channel)), DEPOSIT, "tokens held");
        vm.assertEq(token.balanceOf(alice), before - DEPOSIT, "tokens taken");
    }

    function test_open_noReturnToken_viaSafeERC20() public {
        NoReturnToken usdt = new NoReturnToken();
        usdt.mint(alice, 1000);
        vm.startPrank(alice);
        usdt.approve(address(channel), 1000);
        bytes32 id = channel.open(bob, address(usdt), 1000, EXPIRY);
        vm.stopPrank();
        vm.assertEq(deposit(id), 1000, "deposit");

        vm.prank(bob);
        channel.close(id, 400, aliceClaim(id, 400));
        vm.assertEq(usdt.balanceOf(bob), 400, "paid");
        vm.prank(alice);
        channel.claimRefund(address(usdt));
        vm.assertEq(usdt.balanceOf(alice), 600, "refunded");
        vm.assertEq(usdt.balanceOf(address(channel)), 0, "empty");
    }

    function test_open_revert_invalidRecipient() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.InvalidRecipient.selector, address(0)));
        channel.open{value: 1}(address(0), ETH, 1, EXPIRY);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.InvalidRecipient.selector, alice));
        channel.open{value: 1}(alice, ETH, 1, EXPIRY);
    }

    function test_open_revert_expiryNotInFuture() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ExpiryNotInFuture.selector, uint64(T0), T0));
        channel.open{value: 1}(bob, ETH, 1, uint64(T0));

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ExpiryNotInFuture.selector, uint64(T0 - 1), T0));
        channel.open{value: 1}(bob, ETH, 1, uint64(T0 - 1));
    }

    function test_open_revert_ethAmountMismatch() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.EthAmountMismatch.selector, 2, 1));
        channel.open{value: 1}(bob, ETH, 2, EXPIRY);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.EthAmountMismatch.selector, 1, 2));
        channel.open{value: 2}(bob, ETH, 1, EXPIRY);
    }

    function test_open_revert_zeroAmount() public {
        vm.prank(alice);
        vm.expectRevert(UnidirectionalChannel.ZeroAmount.selector);
        channel.open(bob, ETH, 0, EXPIRY);

        vm.prank(alice);
        vm.expectRevert(UnidirectionalChannel.ZeroAmount.selector);
        channel.open(bob, address(token), 0, EXPIRY);
    }

    function test_open_revert_ethWithToken() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.UnexpectedEth.selector, 5));
        channel.open{value: 5}(bob, address(token), 5, EXPIRY);
    }

    function test_open_revert_noAllowance() public {
        vm.prank(alice);
        token.approve(address(channel), 5);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(channel), 5, 6)
        );
        channel.open(bob, address(token), 6, EXPIRY);
    }

    function test_open_revert_tokenWithoutCode() public {
        vm.prank(alice);
        vm.expectRevert(); // balanceOf on an address without code: empty return data cannot be decoded
        channel.open(bob, address(0xDEAD), 1, EXPIRY);
    }

    function test_open_revert_falseReturningToken() public {
        FalseReturnToken f = new FalseReturnToken();
        f.mint(alice, 100);
        f.setBroken(true);
        vm.prank(alice);
        f.approve(address(channel), 100);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(f)));
        channel.open(bob, address(f), 100, EXPIRY);
    }

    function test_open_idsDifferPerRecipientTokenAndSender() public {
        bytes32 a = openEth(1, EXPIRY);
        bytes32 b = openToken(1, EXPIRY);
        vm.deal(carol, 1);
        vm.prank(carol);
        bytes32 c = channel.open{value: 1}(bob, ETH, 1, EXPIRY);
        vm.prank(alice);
        bytes32 d = channel.open{value: 1}(carol, ETH, 1, EXPIRY);
        vm.assertTrue(a != b && a != c && a != d && b != c && b != d && c != d, "all ids distinct");
        vm.assertEq(channel.channelNonce(alice), 3, "alice nonce");
        vm.assertEq(channel.channelNonce(carol), 1, "carol nonce");
        vm.assertEq(c, channel.computeChannelId(carol, bob, ETH, 0), "carol's first id");
    }

    function test_channels_unknownIdIsZero() public view {
        (address s, address r, address t, uint256 d, uint256 w, uint64 e, bool c) = channel.channels(bytes32(0));
        vm.assertEq(s, address(0), "sender");
        vm.assertEq(r, address(0), "recipient");
        vm.assertEq(t, address(0), "token");
        vm.assertEq(d + w + uint256(e), 0, "numbers");
        vm.assertFalse(c, "closed");
    }

    // ---- topUp ---------------------------------------------------------------------------------

    function test_topUp_eth_addsAndExtends() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        uint64 later = EXPIRY + 1 days;
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelToppedUp(id, 3 ether, DEPOSIT + 3 ether, later);
        vm.prank(alice);
        channel.topUp{value: 3 ether}(id, 3 ether, later);
        vm.assertEq(deposit(id), DEPOSIT + 3 ether, "deposit");
        vm.assertEq(uint256(expiryOf(id)), uint256(later), "expiry");
        vm.assertEq(address(channel).balance, DEPOSIT + 3 ether, "held");
    }

    function test_topUp_erc20_sameExpiry() public {
        bytes32 id = openToken(DEPOSIT, EXPIRY);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelToppedUp(id, 5, DEPOSIT + 5, EXPIRY);
        vm.prank(alice);
        channel.topUp(id, 5, EXPIRY);
        vm.assertEq(deposit(id), DEPOSIT + 5, "deposit");
        vm.assertEq(uint256(expiryOf(id)), uint256(EXPIRY), "expiry unchanged");
        vm.assertEq(token.balanceOf(address(channel)), DEPOSIT + 5, "held");
    }

    function test_topUp_expiryOnly() public {
        bytes32 id = openToken(DEPOSIT, EXPIRY);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelToppedUp(id, 0, DEPOSIT, EXPIRY + 10);
        vm.prank(alice);
        channel.topUp(id, 0, EXPIRY + 10);
        vm.assertEq(uint256(expiryOf(id)), uint256(EXPIRY + 10), "extended");
        vm.assertEq(deposit(id), DEPOSIT, "deposit unchanged");
    }

    function test_topUp_revert_nothingToDo() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(alice);
        vm.expectRevert(UnidirectionalChannel.ZeroAmount.selector);
        channel.topUp(id, 0, EXPIRY);
    }

    function test_topUp_revert_valueMismatch() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.EthAmountMismatch.selector, 2, 1));
        channel.topUp{value: 1}(id, 2, EXPIRY);
        // expiry-only extension must not carry ETH either
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.EthAmountMismatch.selector, 0, 1));
        channel.topUp{value: 1}(id, 0, EXPIRY + 1);

        bytes32 tid = openToken(DEPOSIT, EXPIRY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.UnexpectedEth.selector, 1));
        channel.topUp{value: 1}(tid, 1, EXPIRY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.UnexpectedEth.selector, 1));
        channel.topUp{value: 1}(tid, 0, EXPIRY + 1);
    }

    function test_topUp_revert_notSender() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.deal(bob, 1 ether);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotSender.selector, bob));
        channel.topUp{value: 1}(id, 1, EXPIRY);
    }

    function test_topUp_revert_unknownChannel() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotFound.selector, bytes32(uint256(7))));
        channel.topUp{value: 1}(bytes32(uint256(7)), 1, EXPIRY);
    }

    function test_topUp_revert_expired() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.warp(EXPIRY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelExpired.selector, id, EXPIRY));
        channel.topUp{value: 1}(id, 1, EXPIRY + 1 days);
    }

    // ---- withdraw ------------------------------------------------------------------------------

    function test_withdraw_eth_cumulative() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        uint256 bob0 = bob.balance;

        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.Withdrawn(id, 1 ether, 1 ether);
        vm.prank(bob);
        channel.withdraw(id, 1 ether, aliceClaim(id, 1 ether));
        vm.assertEq(bob.balance, bob0 + 1 ether, "first");

        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.Withdrawn(id, 2.5 ether, 1.5 ether);
        vm.prank(bob);
        channel.withdraw(id, 2.5 ether, aliceClaim(id, 2.5 ether));
        vm.assertEq(bob.balance, bob0 + 2.5 ether, "only the increase is paid");
        vm.assertEq(withdrawnOf(id), 2.5 ether, "withdrawn");
        vm.assertFalse(isClosed(id), "still open");
        vm.assertEq(address(channel).balance, DEPOSIT - 2.5 ether, "held");
    }

    function test_withdraw_erc20_cappedAtDeposit_thenTopUpUnlocksRest() public {
        bytes32 id = openToken(100, EXPIRY);
        bytes memory sig150 = aliceClaim(id, 150);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.Withdrawn(id, 150, 100);
        vm.prank(bob);
        channel.withdraw(id, 150, sig150);
        vm.assertEq(token.balanceOf(bob), 100, "capped at deposit");

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.NothingToWithdraw.selector);
        channel.withdraw(id, 150, sig150);

        vm.prank(alice);
        channel.topUp(id, 100, EXPIRY);
        vm.prank(bob);
        channel.withdraw(id, 150, sig150);
        vm.assertEq(token.balanceOf(bob), 150, "claim is the ceiling, not the deposit");
        vm.assertEq(withdrawnOf(id), 150, "withdrawn");
    }

    function test_withdraw_revert_paths() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, 1 ether);

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotRecipient.selector, alice));
        channel.withdraw(id, 1 ether, sig);

        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotFound.selector, bytes32(0)));
        channel.withdraw(bytes32(0), 1 ether, sig);

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.NothingToWithdraw.selector);
        channel.withdraw(id, 0, "");

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.withdraw(id, 2 ether, sig);

        vm.warp(EXPIRY);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelExpired.selector, id, EXPIRY));
        channel.withdraw(id, 1 ether, sig);
    }

    function test_withdraw_revert_afterClose() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(bob);
        channel.close(id, 1 ether, aliceClaim(id, 1 ether));
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.withdraw(id, 2 ether, aliceClaim(id, 2 ether));
    }

    // ---- close ---------------------------------------------------------------------------------

    function test_close_eth_paysAndCreditsRefund() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        uint256 bob0 = bob.balance;
        uint256 alice0 = alice.balance;

        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelClosed(id, 4 ether, 4 ether, 6 ether);
        vm.prank(bob);
        channel.close(id, 4 ether, aliceClaim(id, 4 ether));

        vm.assertEq(bob.balance, bob0 + 4 ether, "recipient paid");
        vm.assertEq(alice.balance, alice0, "sender not pushed");
        vm.assertEq(channel.owed(alice, ETH), 6 ether, "refund credited");
        vm.assertTrue(isClosed(id), "closed");
        vm.assertEq(withdrawnOf(id), 4 ether, "withdrawn total");
        vm.assertEq(address(channel).balance, 6 ether, "held for refund");

        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.RefundClaimed(alice, ETH, 6 ether, alice);
        vm.prank(alice);
        uint256 got = channel.claimRefund(ETH);
        vm.assertEq(got, 6 ether, "returned");
        vm.assertEq(alice.balance, alice0 + 6 ether, "refund pulled");
        vm.assertEq(channel.owed(alice, ETH), 0, "owed cleared");
        vm.assertEq(address(channel).balance, 0, "empty");
    }

    function test_close_erc20_afterWithdraw() public {
        bytes32 id = openToken(1000, EXPIRY);
        vm.prank(bob);
        channel.withdraw(id, 300, aliceClaim(id, 300));
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelClosed(id, 700, 400, 300);
        vm.prank(bob);
        channel.close(id, 700, aliceClaim(id, 700));
        vm.assertEq(token.balanceOf(bob), 700, "total paid = final claim");
        vm.assertEq(channel.owed(alice, address(token)), 300, "refund");
        vm.prank(alice);
        channel.claimRefund(address(token));
        vm.assertEq(token.balanceOf(address(channel)), 0, "empty");
    }

    function test_close_claimAboveDeposit_isCapped() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        uint256 bob0 = bob.balance;
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelClosed(id, 5 ether, 1 ether, 0);
        vm.prank(bob);
        channel.close(id, 5 ether, aliceClaim(id, 5 ether));
        vm.assertEq(bob.balance, bob0 + 1 ether, "capped");
        vm.assertEq(channel.owed(alice, ETH), 0, "nothing to refund");
    }

    function test_close_release_withoutSignature() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelClosed(id, 0, 0, DEPOSIT);
        vm.prank(bob);
        channel.close(id, 0, "");
        vm.assertEq(channel.owed(alice, ETH), DEPOSIT, "all released to sender");
        vm.assertTrue(isClosed(id), "closed");
    }

    function test_close_atWithdrawnLevel_withoutSignature() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(bob);
        channel.withdraw(id, 2 ether, aliceClaim(id, 2 ether));
        vm.prank(bob);
        channel.close(id, 2 ether, hex"00");
        vm.assertEq(channel.owed(alice, ETH), DEPOSIT - 2 ether, "rest released");
    }

    function test_close_unsignedAboveWithdrawn_refusedEvenIfItPaysNothing() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, 1 ether);
        vm.prank(bob);
        channel.withdraw(id, 1 ether, sig); // fully withdrawn: any higher claim would pay 0
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 1_000_000 ether, ""); // would put an unsigned amount in ChannelClosed
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelClosed(id, 1 ether, 0, 0);
        vm.prank(bob);
        channel.close(id, 1 ether, "");
    }

    function test_close_lastSecondBeforeExpiry() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.warp(EXPIRY - 1);
        vm.prank(bob);
        channel.close(id, 1 ether, aliceClaim(id, 1 ether));
        vm.assertTrue(isClosed(id), "closed at expiry - 1");
    }

    function test_close_revert_paths() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, 1 ether);

        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotRecipient.selector, carol));
        channel.close(id, 1 ether, sig);

        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotFound.selector, bytes32(uint256(1))));
        channel.close(bytes32(uint256(1)), 1 ether, sig);

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 1 ether + 1, sig);

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 1 ether, "");

        vm.prank(bob);
        channel.close(id, 1 ether, sig);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.close(id, 1 ether, sig);
    }

    // ---- reclaim -------------------------------------------------------------------------------

    function test_reclaim_afterExpiry_byAnyone() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(bob);
        channel.withdraw(id, 3 ether, aliceClaim(id, 3 ether));

        vm.warp(EXPIRY - 1);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotExpired.selector, id, EXPIRY));
        channel.reclaim(id);

        vm.warp(EXPIRY);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelReclaimed(id, 7 ether);
        vm.prank(carol);
        channel.reclaim(id);
        vm.assertEq(channel.owed(alice, ETH), 7 ether, "rest credited to sender");
        vm.assertEq(channel.owed(carol, ETH), 0, "caller gets nothing");
        vm.assertTrue(isClosed(id), "closed");

        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.reclaim(id);
    }

    function test_reclaim_fullyWithdrawn_creditsZero() public {
        bytes32 id = openToken(50, EXPIRY);
        vm.prank(bob);
        channel.withdraw(id, 50, aliceClaim(id, 50));
        vm.warp(EXPIRY + 100);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelReclaimed(id, 0);
        channel.reclaim(id);
        vm.assertEq(channel.owed(alice, address(token)), 0, "nothing owed");
    }

    function test_reclaim_revert_afterClose_and_unknown() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(bob);
        channel.close(id, 1, aliceClaim(id, 1));
        vm.warp(EXPIRY);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.reclaim(id);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotFound.selector, bytes32(uint256(9))));
        channel.reclaim(bytes32(uint256(9)));
    }

    // ---- claimRefund ---------------------------------------------------------------------------

    function test_claimRefund_accumulatesAcrossChannels() public {
        bytes32 a = openEth(1 ether, EXPIRY);
        bytes32 b = openEth(2 ether, EXPIRY + 1);
        bytes32 t = openToken(300, EXPIRY);
        vm.warp(EXPIRY + 1);
        channel.reclaim(a);
        channel.reclaim(b);
        channel.reclaim(t);
        vm.assertEq(channel.owed(alice, ETH), 3 ether, "eth owed");
        vm.assertEq(channel.owed(alice, address(token)), 300, "token owed");

        uint256 alice0 = alice.balance;
        vm.prank(alice);
        channel.claimRefund(ETH);
        vm.assertEq(alice.balance, alice0 + 3 ether, "eth");
        uint256 tok0 = token.balanceOf(alice);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.RefundClaimed(alice, address(token), 300, alice);
        vm.prank(alice);
        channel.claimRefund(address(token));
        vm.assertEq(token.balanceOf(alice), tok0 + 300, "token");

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NothingOwed.selector, alice, ETH));
        channel.claimRefund(ETH);
    }

    function test_claimRefundTo() public {
        bytes32 id = openToken(300, EXPIRY);
        vm.warp(EXPIRY);
        channel.reclaim(id);

        vm.prank(alice);
        vm.expectRevert(UnidirectionalChannel.ZeroAddress.selector);
        channel.claimRefundTo(address(token), address(0));

        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.RefundClaimed(alice, address(token), 300, carol);
        vm.prank(alice);
        channel.claimRefundTo(address(token), carol);
        vm.assertEq(token.balanceOf(carol), 300, "sent to carol");
        vm.assertEq(channel.owed(alice, address(token)), 0, "cleared");

        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NothingOwed.selector, carol, address(token)));
        channel.claimRefund(address(token));
    }

    // ---- a full lifecycle across many channels keeps the books exact ---------------------------

    function test_lifecycle_booksBalance() public {
        bytes32 a = openEth(5 ether, EXPIRY);
        bytes32 b = openEth(7 ether, EXPIRY + 1 days);
        bytes32 t = openToken(900, EXPIRY);
        vm.prank(alice);
        channel.topUp{value: 1 ether}(a, 1 ether, EXPIRY + 2 days);
        vm.prank(bob);
        channel.withdraw(a, 2 ether, aliceClaim(a, 2 ether));
        vm.prank(bob);
        channel.close(b, 3 ether, aliceClaim(b, 3 ether));
        vm.prank(bob);
        channel.close(t, 100, aliceClaim(t, 100));
        // a: 6 deposited, 2 out, 4 outstanding; b: 4 owed; t: 800 owed
        vm.assertEq(address(channel).balance, 8 ether, "eth held = outstanding + owed");
        vm.assertEq(channel.owed(alice, ETH), 4 ether, "eth owed");
        vm.warp(EXPIRY + 2 days);
        channel.reclaim(a);
        vm.assertEq(channel.owed(alice, ETH), 8 ether, "eth owed after reclaim");
        vm.startPrank(alice);
        channel.claimRefund(ETH);
        channel.claimRefund(address(token));
        vm.stopPrank();
        vm.assertEq(address(channel).balance, 0, "eth empty");
        vm.assertEq(token.balanceOf(address(channel)), 0, "token empty");
    }
}
