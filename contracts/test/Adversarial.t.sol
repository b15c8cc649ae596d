// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChannelFixture} from "./utils/ChannelFixture.sol";
import {UnidirectionalChannel} from "../src/UnidirectionalChannel.sol";
import {FeeOnTransferToken, BlacklistToken, HookToken} from "./mocks/Tokens.sol";
import {WalletSender, Reenterer} from "./mocks/Actors.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @notice Attacks that must all fail to steal. Each test names the threat it covers (see README).
contract AdversarialTest is ChannelFixture {
    bytes4 internal constant REENTRANT = ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector;
    uint256 internal constant WALLET_OWNER_PK = 0x0E4E;

    // ---- T1: stale / older claims ---------------------------------------------------------------

    /// Recipient withdrew 5; an older claim (3) cannot be used to close or withdraw again, and
    /// the same claim cannot be replayed to withdraw twice.
    function test_attack_olderClaimAfterWithdraw_paysNothingExtra() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig3 = aliceClaim(id, 3 ether);
        bytes memory sig5 = aliceClaim(id, 5 ether);
        uint256 bob0 = bob.balance;

        vm.prank(bob);
        channel.withdraw(id, 5 ether, sig5);

        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ClaimBelowWithdrawn.selector, 3 ether, 5 ether));
        channel.close(id, 3 ether, sig3);

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.NothingToWithdraw.selector);
        channel.withdraw(id, 3 ether, sig3);

        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.NothingToWithdraw.selector);
        channel.withdraw(id, 5 ether, sig5); // replay of the same claim

        vm.prank(bob);
        channel.close(id, 5 ether, sig5); // same claim again: pays nothing, releases the rest
        vm.assertEq(bob.balance, bob0 + 5 ether, "recipient paid exactly once");
        vm.assertEq(channel.owed(alice, ETH), 5 ether, "sender keeps the rest");
    }

    /// The origin's flaw: the sender (holding every claim it signed) closes with its smallest
    /// claim. Only the recipient may close or withdraw; the sender can only wait for expiry.
    function test_attack_senderClosesWithStaleClaim_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig1 = aliceClaim(id, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotRecipient.selector, alice));
        channel.close(id, 1, sig1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotRecipient.selector, alice));
        channel.withdraw(id, 1, sig1);
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.NotRecipient.selector, carol));
        channel.close(id, 1, sig1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotExpired.selector, id, EXPIRY));
        channel.reclaim(id);
        // the recipient can still close with the highest claim
        bytes memory sig9 = aliceClaim(id, 9 ether);
        vm.prank(bob);
        channel.close(id, 9 ether, sig9);
        vm.assertEq(channel.owed(alice, ETH), 1 ether, "sender gets only the unclaimed rest");
    }

    // ---- T2: replay across chains and deployments ---------------------------------------------

    function test_attack_replayOnOtherChainId_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        uint256 home = block.chainid;
        bytes memory sig = aliceClaim(id, 2 ether);
        bytes32 sepDigest = channel.claimDigest(id, 2 ether);
        bytes32 sepDomain = channel.domainSeparator();

        vm.chainId(8453); // same state, different chain (a fork / the same deployment address elsewhere)
        vm.assertNotEq(channel.domainSeparator(), sepDomain, "domain binds chain id");
        vm.assertNotEq(channel.claimDigest(id, 2 ether), sepDigest, "digest binds chain id");
        vm.assertNotEq(
            channel.computeChannelId(alice, bob, ETH, 0), id, "channel ids differ across chains as well"
        );
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 2 ether, sig);

        // and a claim made for chain 8453 is worthless at home
        bytes memory sigOther = signDigest(ALICE_PK, digestFor(address(channel), 8453, id, 3 ether));
        vm.chainId(home);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 3 ether, sigOther);

        // control: the home claim is valid at home
        vm.prank(bob);
        channel.close(id, 2 ether, sig);
        vm.assertTrue(isClosed(id), "closed at home");
    }

    function test_attack_replayOnOtherDeployment_refused() public {
        UnidirectionalChannel other = new UnidirectionalChannel();
        bytes32 id1 = openEth(DEPOSIT, EXPIRY);
        vm.prank(alice);
        bytes32 id2 = other.open{value: DEPOSIT}(bob, ETH, DEPOSIT, EXPIRY); // same sender, recipient, nonce
        vm.assertNotEq(id1, id2, "ids bind the contract address");

        bytes memory sig1 = aliceClaim(id1, 4 ether);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        other.close(id2, 4 ether, sig1);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelNotFound.selector, id1));
        other.close(id1, 4 ether, sig1);

        // even a claim over the very same id but under the other deployment's domain is refused
        bytes memory sigOtherDomain = signDigest(ALICE_PK, digestFor(address(other), block.chainid, id1, 4 ether));
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id1, 4 ether, sigOtherDomain);
    }

    function test_attack_claimForAnotherChannelOfSameParties_refused() public {
        bytes32 a = openEth(DEPOSIT, EXPIRY);
        bytes32 b = openEth(DEPOSIT, EXPIRY);
        bytes memory sigA = aliceClaim(a, 1 ether);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(b, 1 ether, sigA);
    }

    // ---- T3: forged and malleable signatures ---------------------------------------------------

    function test_attack_forgedSignatures_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes32 digest = digestFor(address(channel), block.chainid, id, 1 ether);
        bytes memory good = signDigest(ALICE_PK, digest);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(ALICE_PK, digest);

        bytes[] memory bad = new bytes[](10);
        bad[0] = signDigest(MALLORY_PK, digest); // someone else's key
        bad[1] = signDigest(BOB_PK, digest); // the recipient signing for itself
        bad[2] = signDigest(ALICE_PK, keccak256(abi.encode(id, uint256(1 ether)))); // raw hash, no EIP-712
        bad[3] = signDigest(ALICE_PK, MessageHashUtils.toEthSignedMessageHash(digest)); // EIP-191 wrapped
        bad[4] = signDigest(ALICE_PK, digestFor(address(channel), block.chainid, id, 1 ether - 1)); // other amount
        bad[5] = abi.encodePacked(r, bytes32(uint256(s) | (uint256(v - 27) << 255))); // EIP-2098 64-byte form
        bad[6] = abi.encodePacked(good, uint8(0)); // 66 bytes
        bad[7] = abi.encodePacked(r, s, uint8(v - 27)); // v in {0,1}
        bad[8] = new bytes(65); // all zero
        bad[9] = abi.encodePacked(keccak256("r"), keccak256("s"), uint8(27)); // garbage
        for (uint256 i = 0; i < bad.length; i++) {
            vm.prank(bob);
            vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
            channel.close(id, 1 ether, bad[i]);
            vm.prank(bob);
            vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
            channel.withdraw(id, 1 ether, bad[i]);
        }
        vm.assertEq(address(channel).balance, DEPOSIT, "nothing left the contract");
        vm.prank(bob);
        channel.close(id, 1 ether, good); // control
    }

    function test_attack_malleableHighS_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes32 digest = digestFor(address(channel), block.chainid, id, 2 ether);
        bytes memory good = signDigest(ALICE_PK, digest);
        bytes memory evil = malleate(good);
        // the malleated signature is mathematically valid for raw ecrecover ...
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(evil, 0x20))
            s := mload(add(evil, 0x40))
            v := byte(0, mload(add(evil, 0x60)))
        }
        vm.assertEq(ecrecover(digest, v, r, s), alice, "raw ecrecover accepts high-s");
        // ... but the contract only accepts the canonical low-s form
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.withdraw(id, 2 ether, evil);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 2 ether, evil);
        vm.prank(bob);
        channel.withdraw(id, 2 ether, good);
        vm.assertEq(withdrawnOf(id), 2 ether, "canonical signature works");
    }

    // ---- T4: a sender that cannot receive must not block the recipient ---------------------------

    function test_attack_senderRevertsOnReceive_closeStillSucceeds() public {
        WalletSender wallet = new WalletSender(channel, vm.addr(WALLET_OWNER_PK), false);
        vm.deal(address(wallet), DEPOSIT);
        bytes32 id = wallet.open(bob, ETH, DEPOSIT, EXPIRY);
        bytes memory sig = claim(WALLET_OWNER_PK, id, 3 ether);

        uint256 bob0 = bob.balance;
        vm.prank(bob);
        channel.close(id, 3 ether, sig);
        vm.assertEq(bob.balance, bob0 + 3 ether, "recipient paid despite hostile sender");
        vm.assertEq(channel.owed(address(wallet), ETH), 7 ether, "refund credited, not pushed");

        vm.expectRevert(
            abi.encodeWithSelector(UnidirectionalChannel.EthTransferFailed.selector, address(wallet), 7 ether)
        );
        wallet.claimRefund(ETH);
        vm.assertEq(channel.owed(address(wallet), ETH), 7 ether, "refund stays claimable");

        wallet.claimRefundTo(ETH, carol);
        vm.assertEq(carol.balance, 7 ether, "claimable to another address");
        vm.assertEq(address(channel).balance, 0, "empty");
    }

    function test_attack_senderRevertsOnReceive_reclaimStillSucceeds() public {
        WalletSender wallet = new WalletSender(channel, vm.addr(WALLET_OWNER_PK), false);
        vm.deal(address(wallet), DEPOSIT);
        bytes32 id = wallet.open(bob, ETH, DEPOSIT, EXPIRY);
        vm.warp(EXPIRY);
        channel.reclaim(id);
        vm.assertEq(channel.owed(address(wallet), ETH), DEPOSIT, "credited");
        wallet.setAcceptEth(true);
        wallet.claimRefund(ETH);
        vm.assertEq(address(wallet).balance, DEPOSIT, "pulled later");
    }

    /// USDC-style blacklist on the sender must not lock the recipient's payout.
    function test_attack_blacklistedSender_closeStillSucceeds() public {
        BlacklistToken usdc = new BlacklistToken();
        usdc.mint(alice, 1000);
        vm.prank(alice);
        usdc.approve(address(channel), 1000);
        vm.prank(alice);
        bytes32 id = channel.open(bob, address(usdc), 1000, EXPIRY);
        usdc.setBlacklisted(alice, true);

        bytes memory sig = aliceClaim(id, 250);
        vm.prank(bob);
        channel.close(id, 250, sig);
        vm.assertEq(usdc.balanceOf(bob), 250, "recipient paid");

        vm.prank(alice);
        vm.expectRevert(bytes("blacklisted"));
        channel.claimRefund(address(usdc));
        vm.prank(alice);
        channel.claimRefundTo(address(usdc), carol);
        vm.assertEq(usdc.balanceOf(carol), 750, "refund redirected");
    }

    // ---- T5: channel id collision ------------------------------------------------------------

    function test_attack_twoOpensSameBlock_distinctIds() public {
        bytes32 a = openEth(1 ether, EXPIRY);
        bytes32 b = openEth(2 ether, EXPIRY); // same block, sender, recipient, token, expiry
        vm.assertNotEq(a, b, "distinct ids");
        vm.assertEq(deposit(a), 1 ether, "first deposit intact");
        vm.assertEq(deposit(b), 2 ether, "second deposit intact");
        vm.assertEq(address(channel).balance, 3 ether, "both held");

        bytes memory sigA = aliceClaim(a, 1 ether);
        bytes memory sigB = aliceClaim(b, 2 ether);
        vm.prank(bob);
        channel.close(a, 1 ether, sigA);
        vm.prank(bob);
        channel.close(b, 2 ether, sigB);
        vm.assertEq(address(channel).balance, 0, "each paid out once");
    }

    // ---- T6: expiry rules ------------------------------------------------------------------------

    function test_attack_closeAfterExpiry_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, 5 ether);
        vm.warp(EXPIRY);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelExpired.selector, id, EXPIRY));
        channel.close(id, 5 ether, sig);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelExpired.selector, id, EXPIRY));
        channel.withdraw(id, 5 ether, sig);
        channel.reclaim(id);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.close(id, 5 ether, sig);
        vm.assertEq(channel.owed(alice, ETH), DEPOSIT, "sender gets everything after expiry");
    }

    function test_attack_topUpAfterClose_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, 1);
        vm.prank(bob);
        channel.close(id, 1, sig);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.topUp{value: 1 ether}(id, 1 ether, EXPIRY + 1 days);

        bytes32 t = openToken(100, EXPIRY);
        vm.warp(EXPIRY);
        channel.reclaim(t);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, t));
        channel.topUp(t, 100, EXPIRY + 1 days);
    }

    function test_attack_expiryShortening_refused() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ExpiryShortened.selector, EXPIRY, EXPIRY - 1));
        channel.topUp{value: 1}(id, 1, EXPIRY - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ExpiryShortened.selector, EXPIRY, uint64(0)));
        channel.topUp(id, 0, 0);
        vm.assertEq(uint256(expiryOf(id)), uint256(EXPIRY), "unchanged");
    }

    // ---- T7: reentrancy ---------------------------------------------------------------------------

    function _hookTokenChannelTo(address recipient, uint256 amount) internal returns (HookToken hook, bytes32 id) {
        hook = new HookToken();
        hook.mint(alice, amount);
        vm.prank(alice);
        hook.approve(address(channel), amount);
        vm.prank(alice);
        id = channel.open(recipient, address(hook), amount, EXPIRY);
    }

    /// A malicious recipient re-enters withdraw with the same claim from the token's receive hook.
    function test_attack_reentrancy_tokenHook_doubleWithdraw() public {
        Reenterer evil = new Reenterer(channel);
        (HookToken hook, bytes32 id) = _hookTokenChannelTo(address(evil), 1000);
        bytes memory sig = aliceClaim(id, 400);
        bytes memory call = abi.encodeCall(UnidirectionalChannel.withdraw, (id, 400, sig));
        evil.arm(call);
        evil.exec(call, 0);
        vm.assertEq(evil.attempts(), 1, "re-entry attempted");
        vm.assertFalse(evil.lastSuccess(), "re-entry failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "stopped by the guard");
        vm.assertEq(hook.balanceOf(address(evil)), 400, "paid once");
        vm.assertEq(hook.balanceOf(address(channel)), 600, "rest intact");
    }

    /// A malicious recipient re-enters close (to be paid twice) from the token hook during withdraw.
    function test_attack_reentrancy_tokenHook_closeDuringWithdraw() public {
        Reenterer evil = new Reenterer(channel);
        (HookToken hook, bytes32 id) = _hookTokenChannelTo(address(evil), 1000);
        bytes memory sig = aliceClaim(id, 400);
        evil.arm(abi.encodeCall(UnidirectionalChannel.close, (id, 400, sig)));
        evil.exec(abi.encodeCall(UnidirectionalChannel.withdraw, (id, 400, sig)), 0);
        vm.assertFalse(evil.lastSuccess(), "re-entry failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "guard");
        vm.assertEq(hook.balanceOf(address(evil)), 400, "paid once");
        vm.assertFalse(isClosed(id), "not closed by the nested call");
    }

    /// A malicious depositor re-enters open from the token's send hook, between the contract's
    /// before/after balance snapshots, to get the nested deposit counted twice.
    function test_attack_reentrancy_tokenHook_depositInflation() public {
        Reenterer evil = new Reenterer(channel);
        HookToken hook = new HookToken();
        hook.mint(address(evil), 2000);
        evil.approve(hook, type(uint256).max);
        evil.arm(abi.encodeCall(UnidirectionalChannel.open, (bob, address(hook), 1000, EXPIRY)));
        bytes memory ret = evil.exec(abi.encodeCall(UnidirectionalChannel.open, (bob, address(hook), 1000, EXPIRY)), 0);
        bytes32 id = abi.decode(ret, (bytes32));
        vm.assertFalse(evil.lastSuccess(), "nested open failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "guard");
        vm.assertEq(deposit(id), 1000, "deposit counts only the outer transfer");
        vm.assertEq(hook.balanceOf(address(channel)), 1000, "held");
        vm.assertEq(channel.channelNonce(address(evil)), 1, "only one channel");
    }

    /// A malicious sender re-enters claimRefund from the token hook to be refunded twice.
    function test_attack_reentrancy_tokenHook_doubleRefund() public {
        Reenterer evil = new Reenterer(channel);
        HookToken hook = new HookToken();
        hook.mint(address(evil), 1000);
        evil.approve(hook, type(uint256).max);
        bytes32 id = abi.decode(
            evil.exec(abi.encodeCall(UnidirectionalChannel.open, (bob, address(hook), 1000, EXPIRY)), 0), (bytes32)
        );
        // a second, honest channel in the same token: the pool an attacker would drain
        hook.mint(alice, 5000);
        vm.prank(alice);
        hook.approve(address(channel), 5000);
        vm.prank(alice);
        channel.open(bob, address(hook), 5000, EXPIRY);

        vm.warp(EXPIRY);
        channel.reclaim(id);
        evil.arm(abi.encodeCall(UnidirectionalChannel.claimRefund, (address(hook))));
        evil.exec(abi.encodeCall(UnidirectionalChannel.claimRefund, (address(hook))), 0);
        vm.assertFalse(evil.lastSuccess(), "nested refund failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "guard");
        vm.assertEq(hook.balanceOf(address(evil)), 1000, "refunded once");
        vm.assertEq(hook.balanceOf(address(channel)), 5000, "honest channel intact");
    }

    /// A malicious ETH sender re-enters claimRefund from its receive() to be refunded twice.
    function test_attack_reentrancy_ethReceiver_doubleRefund() public {
        Reenterer evil = new Reenterer(channel);
        vm.deal(address(evil), 3 ether);
        bytes32 id = abi.decode(
            evil.exec(abi.encodeCall(UnidirectionalChannel.open, (bob, ETH, 3 ether, EXPIRY)), 3 ether), (bytes32)
        );
        openEth(DEPOSIT, EXPIRY); // honest pool
        vm.warp(EXPIRY);
        channel.reclaim(id);
        evil.arm(abi.encodeCall(UnidirectionalChannel.claimRefund, (ETH)));
        evil.exec(abi.encodeCall(UnidirectionalChannel.claimRefund, (ETH)), 0);
        vm.assertFalse(evil.lastSuccess(), "nested refund failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "guard");
        vm.assertEq(evil.ethReceived(), 3 ether, "refunded once");
        vm.assertEq(channel.owed(address(evil), ETH), 0, "owed cleared");
        vm.assertEq(address(channel).balance, DEPOSIT, "honest channel intact");
    }

    /// Read-only reentrancy: while the refund transfer runs, the contract's views already show
    /// the refund as paid (effects before interactions), so a third party reading `owed` from the
    /// receiver's callback cannot be fooled into double-counting it.
    function test_attack_readOnlyReentrancy_owedIsZeroDuringTransfer() public {
        Reenterer evil = new Reenterer(channel);
        vm.deal(address(evil), 3 ether);
        bytes32 id = abi.decode(
            evil.exec(abi.encodeCall(UnidirectionalChannel.open, (bob, ETH, 3 ether, EXPIRY)), 3 ether), (bytes32)
        );
        vm.warp(EXPIRY);
        channel.reclaim(id);
        evil.arm(abi.encodeCall(channel.owed, (address(evil), ETH)));
        evil.exec(abi.encodeCall(UnidirectionalChannel.claimRefund, (ETH)), 0);
        vm.assertTrue(evil.lastSuccess(), "view callable during the transfer");
        vm.assertEq(abi.decode(evil.lastReturnData(), (uint256)), 0, "owed already zero mid-transfer");
        vm.assertEq(evil.ethReceived(), 3 ether, "refunded");
    }

    /// A malicious ETH recipient re-enters withdraw from its receive() during close.
    function test_attack_reentrancy_ethRecipient_withdrawDuringClose() public {
        Reenterer evil = new Reenterer(channel);
        vm.prank(alice);
        bytes32 id = channel.open{value: DEPOSIT}(address(evil), ETH, DEPOSIT, EXPIRY);
        bytes memory sig = aliceClaim(id, 4 ether);
        evil.arm(abi.encodeCall(UnidirectionalChannel.withdraw, (id, 4 ether, sig)));
        evil.exec(abi.encodeCall(UnidirectionalChannel.close, (id, 4 ether, sig)), 0);
        vm.assertFalse(evil.lastSuccess(), "nested withdraw failed");
        vm.assertEq(bytes4(evil.lastReturnData()), REENTRANT, "guard");
        vm.assertEq(evil.ethReceived(), 4 ether, "paid once");
        vm.assertEq(channel.owed(alice, ETH), 6 ether, "sender's rest intact");
    }

    // ---- T8: fee-on-transfer tokens ------------------------------------------------------------

    function test_feeOnTransfer_depositCountsWhatArrived() public {
        FeeOnTransferToken fee = new FeeOnTransferToken(100); // 1 %
        fee.mint(alice, 10_000);
        vm.prank(alice);
        fee.approve(address(channel), type(uint256).max);

        bytes32 expectedId = channel.computeChannelId(alice, bob, address(fee), 0);
        vm.expectEmit(true, true, true, true, address(channel));
        emit UnidirectionalChannel.ChannelOpened(expectedId, alice, bob, address(fee), 990, EXPIRY);
        vm.prank(alice);
        bytes32 id = channel.open(bob, address(fee), 1000, EXPIRY);
        vm.assertEq(deposit(id), 990, "credited what arrived, not what was asked");

        vm.prank(alice);
        channel.topUp(id, 500, EXPIRY);
        vm.assertEq(deposit(id), 990 + 495, "top-up also net");
        vm.assertEq(fee.balanceOf(address(channel)), deposit(id), "books == holdings");

        // a second channel: a gross-crediting contract would now be insolvent
        vm.prank(alice);
        bytes32 id2 = channel.open(bob, address(fee), 1000, EXPIRY);

        bytes memory sig = aliceClaim(id, 5000);
        vm.prank(bob);
        channel.close(id, 5000, sig); // claim above deposit: capped at the net deposit
        vm.assertEq(channel.owed(alice, address(fee)), 0, "nothing left to refund");
        vm.assertEq(fee.balanceOf(address(channel)), deposit(id2), "other channel fully backed");

        bytes memory sig2 = aliceClaim(id2, 100);
        vm.prank(bob);
        channel.close(id2, 100, sig2);
        vm.prank(alice);
        channel.claimRefund(address(fee));
        vm.assertEq(fee.balanceOf(address(channel)), 0, "everything paid out, nothing stuck or missing");
    }

    // ---- T9: ERC-1271 contract-wallet senders --------------------------------------------------

    function test_erc1271_walletSender() public {
        WalletSender wallet = new WalletSender(channel, vm.addr(WALLET_OWNER_PK), true);
        token.mint(address(wallet), 1000);
        wallet.approve(token, 1000);
        bytes32 id = wallet.open(bob, address(token), 1000, EXPIRY);

        bytes memory sig = claim(WALLET_OWNER_PK, id, 300);
        vm.prank(bob);
        channel.withdraw(id, 300, sig);
        vm.assertEq(token.balanceOf(bob), 300, "1271 claim accepted");

        bytes memory forged = claim(MALLORY_PK, id, 600);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 600, forged);

        // the wallet decides: once it stops accepting, even the owner's key does not count
        bytes memory sig600 = claim(WALLET_OWNER_PK, id, 600);
        wallet.setAccept1271(false);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 600, sig600);
        wallet.setAccept1271(true);

        vm.prank(bob);
        channel.close(id, 600, sig600);
        vm.assertEq(token.balanceOf(bob), 600, "closed via 1271");
        wallet.claimRefund(address(token));
        vm.assertEq(token.balanceOf(address(wallet)), 400, "wallet refunded");
    }

    /// For a contract sender, an ECDSA signature by the contract's own address key cannot exist;
    /// a plain EOA signature by the wallet's owner is only honoured through the wallet's 1271.
    function test_erc1271_eoaSignatureOfOtherKeyRefused() public {
        WalletSender wallet = new WalletSender(channel, vm.addr(WALLET_OWNER_PK), true);
        vm.deal(address(wallet), 1 ether);
        bytes32 id = wallet.open(bob, ETH, 1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, 1 ether); // alice is not the wallet's owner
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 1 ether, sig);
    }

    // ---- T10: claims cannot reach into the shared pool ------------------------------------------

    function test_attack_claimAboveDepositCannotDrainPool() public {
        openEth(50 ether, EXPIRY); // someone else's money in the same pool
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, 100 ether);
        uint256 bob0 = bob.balance;
        vm.prank(bob);
        channel.withdraw(id, 100 ether, sig);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.NothingToWithdraw.selector);
        channel.withdraw(id, 100 ether, sig);
        vm.prank(bob);
        channel.close(id, 100 ether, sig);
        vm.assertEq(bob.balance, bob0 + 1 ether, "capped at this channel's deposit");
        vm.assertEq(address(channel).balance, 50 ether, "pool intact");
    }

    function test_attack_directEthTransferRejected() public {
        vm.prank(alice);
        (bool ok,) = address(channel).call{value: 1 ether}("");
        vm.assertFalse(ok, "no receive(): stray ETH cannot desync the books");
    }
}
