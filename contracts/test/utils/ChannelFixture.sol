// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Test} from "./Test.sol";
import {UnidirectionalChannel} from "../../src/UnidirectionalChannel.sol";
import {MockERC20} from "../mocks/Tokens.sol";

/// @notice Shared setup: a deployed channel contract, sender Alice (EOA key), recipient Bob,
///         bystander Carol, a mock ERC-20 that Alice holds and has approved.
abstract contract ChannelFixture is Test {
    UnidirectionalChannel internal channel;
    MockERC20 internal token;

    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant BOB_PK = 0xB0B;
    uint256 internal constant MALLORY_PK = 0xBAD;
    address internal alice;
    address internal bob;
    address internal carol;
    address internal mallory;

    address internal constant ETH = address(0);
    uint256 internal constant T0 = 1_700_000_000;
    uint64 internal constant EXPIRY = uint64(T0 + 7 days);
    uint256 internal constant DEPOSIT = 10 ether;

    function setUp() public virtual {
        vm.warp(T0);
        alice = vm.addr(ALICE_PK);
        bob = vm.addr(BOB_PK);
        mallory = vm.addr(MALLORY_PK);
        carol = address(0xCA201);
        vm.label(alice, "alice(sender)");
        vm.label(bob, "bob(recipient)");
        vm.label(carol, "carol");
        vm.label(mallory, "mallory");

        channel = new UnidirectionalChannel();
        token = new MockERC20();
        vm.label(address(channel), "channel");
        vm.label(address(token), "token");

        vm.deal(alice, 1_000_000 ether);
        token.mint(alice, 1_000_000 ether);
        vm.prank(alice);
        token.approve(address(channel), type(uint256).max);
    }

    // ---- helpers -------------------------------------------------------------------------------

    function openEth(uint256 amount, uint64 expiry) internal returns (bytes32 id) {
        vm.prank(alice);
        id = channel.open{value: amount}(bob, ETH, amount, expiry);
    }

    function openToken(uint256 amount, uint64 expiry) internal returns (bytes32 id) {
        vm.prank(alice);
        id = channel.open(bob, address(token), amount, expiry);
    }

    /// @dev EIP-712 claim digest computed off-contract (no external call, so it does not consume a
    ///      pending `vm.prank`, and it independently checks the contract's {claimDigest}).
    function digestFor(address verifyingContract, uint256 chainId, bytes32 id, uint256 cumulative)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("BtpNipsChannel"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash =
            keccak256(abi.encode(keccak256("Claim(bytes32 channelId,uint256 cumulativeAmount)"), id, cumulative));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function claim(uint256 pk, bytes32 id, uint256 cumulative) internal view returns (bytes memory) {
        return signDigest(pk, digestFor(address(channel), block.chainid, id, cumulative));
    }

    function aliceClaim(bytes32 id, uint256 cumulative) internal view returns (bytes memory) {
        return claim(ALICE_PK, id, cumulative);
    }

    function deposit(bytes32 id) internal view returns (uint256 d) {
        (,,, d,,,) = channel.channels(id);
    }

    function withdrawnOf(bytes32 id) internal view returns (uint256 w) {
        (,,,, w,,) = channel.channels(id);
    }

    function expiryOf(bytes32 id) internal view returns (uint64 e) {
        (,,,,, e,) = channel.channels(id);
    }

    function isClosed(bytes32 id) internal view returns (bool c) {
        (,,,,,, c) = channel.channels(id);
    }
}
