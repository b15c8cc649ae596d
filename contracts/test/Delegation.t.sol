// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChannelFixture} from "./utils/ChannelFixture.sol";
import {UnidirectionalChannel} from "../src/UnidirectionalChannel.sol";
import {RefusingDelegate, AcceptingDelegate} from "./mocks/Delegates.sol";

/// @notice A claim signed by the sender's key stays valid whatever code the sender's address
///         carries later: an EIP-7702 delegation (real type-4 authorization under Prague rules)
///         or any code etched there. ERC-1271 is only the fallback for signatures that are not
///         the sender's ECDSA signature.
contract DelegationTest is ChannelFixture {
    RefusingDelegate internal refuser;

    function setUp() public override {
        super.setUp();
        vm.setEvmVersion("prague");
        refuser = new RefusingDelegate();
    }

    /// @dev Alice signs an EIP-7702 authorization to `delegate`; anyone sends the type-4
    ///      transaction (here: a call to Alice's address, which now runs the delegate's code).
    function delegateAlice(address delegate) internal {
        vm.signAndAttachDelegation(delegate, ALICE_PK);
        vm.prank(carol);
        RefusingDelegate(alice).ping();
        vm.assertEq(alice.code, abi.encodePacked(hex"ef0100", delegate), "alice carries the 7702 designator");
    }

    /// The sequence of the report: open 1 ETH, sign Claim(0.8 ETH), delegate to a refusing
    /// ERC-1271 delegate right before the payee's close. The close must still pay 0.8 ETH.
    function test_7702_delegationAfterSigning_cannotRevokeClaim() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, 0.8 ether);
        delegateAlice(address(refuser));

        uint256 bobBefore = bob.balance;
        vm.prank(bob);
        channel.close(id, 0.8 ether, sig);
        vm.assertEq(bob.balance - bobBefore, 0.8 ether, "payee collected the signed claim");
        vm.assertEq(channel.owed(alice, ETH), 0.2 ether, "payer gets only the rest");

        vm.warp(EXPIRY);
        vm.expectRevert(abi.encodeWithSelector(UnidirectionalChannel.ChannelAlreadyClosed.selector, id));
        channel.reclaim(id);
    }

    function test_7702_withdrawThenClose_underDelegation() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig300 = aliceClaim(id, 0.3 ether);
        bytes memory sig900 = aliceClaim(id, 0.9 ether);
        delegateAlice(address(refuser));

        vm.prank(bob);
        channel.withdraw(id, 0.3 ether, sig300);
        vm.prank(bob);
        channel.close(id, 0.9 ether, sig900);
        vm.assertEq(channel.owed(alice, ETH), 0.1 ether, "rest to the payer");
    }

    /// A forged claim (Mallory's key) is still refused: recovery does not match, and the
    /// delegate's ERC-1271 fallback refuses.
    function test_7702_forgedClaimStillRefused() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        delegateAlice(address(refuser));
        bytes memory forged = claim(MALLORY_PK, id, 1 ether);
        vm.prank(bob);
        vm.expectRevert(UnidirectionalChannel.InvalidSignature.selector);
        channel.close(id, 1 ether, forged);
    }

    /// The ERC-1271 fallback still serves delegated EOAs: a delegate that accepts a signature
    /// makes it count (the payer's own code can only give its own money away).
    function test_7702_erc1271FallbackForDelegatedSender() public {
        AcceptingDelegate accepter = new AcceptingDelegate();
        bytes32 id = openEth(1 ether, EXPIRY);
        delegateAlice(address(accepter));
        bytes memory notEcdsa = hex"1234";
        vm.prank(bob);
        channel.close(id, 0.5 ether, notEcdsa);
        vm.assertEq(channel.owed(alice, ETH), 0.5 ether, "closed through 1271");
    }

    /// Whatever bytes the sender's address carries (the 7702 designator of a refusing delegate,
    /// code that reverts, code that returns garbage), its ECDSA claim pays.
    function testFuzz_ecdsaClaimHoldsWhateverSenderCode(bytes memory code, uint256 amount) public {
        amount = bound(amount, 1, 1 ether);
        // EIP-3541: no deployed code starts with 0xEF, except a 23-byte EIP-7702 designator.
        vm.assume(code.length == 0 || code[0] != 0xef);
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, amount);
        vm.etch(alice, code);
        uint256 bobBefore = bob.balance;
        vm.prank(bob);
        channel.close(id, amount, sig);
        vm.assertEq(bob.balance - bobBefore, amount, "paid in full");
    }

    function testFuzz_ecdsaClaimHoldsWhateverDelegate(address delegate, uint256 amount) public {
        amount = bound(amount, 1, 1 ether);
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, amount);
        vm.etch(alice, abi.encodePacked(hex"ef0100", delegate));
        vm.prank(bob);
        channel.close(id, amount, sig);
        vm.assertEq(channel.owed(alice, ETH), 1 ether - amount, "closed");
    }

    function test_etchedDesignatorOfRefusingDelegate_claimHolds() public {
        bytes32 id = openEth(1 ether, EXPIRY);
        bytes memory sig = aliceClaim(id, 0.8 ether);
        vm.etch(alice, abi.encodePacked(hex"ef0100", address(refuser)));
        vm.prank(bob);
        channel.close(id, 0.8 ether, sig);
        vm.assertEq(channel.owed(alice, ETH), 0.2 ether, "closed");
    }
}
