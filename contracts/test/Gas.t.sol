// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ChannelFixture} from "./utils/ChannelFixture.sol";
import {console} from "./utils/Test.sol";

/// @notice Gas of each operation in a realistic sequence, with regression ceilings.
/// @dev Run `forge test --match-contract GasTest --isolate -vv` for per-transaction figures
///      (each call its own transaction: cold storage, refunds, 21 000 intrinsic gas, calldata).
///      Without --isolate the numbers are call-frame gas and the ceilings still hold.
contract GasTest is ChannelFixture {
    function _report(string memory name, uint256 ceiling) internal {
        uint256 used = vm.snapshotGasLastCall(name);
        console.log(name, used);
        vm.assertLe(used, ceiling, name);
    }

    function test_gas_ethLifecycle() public {
        openEth(1 ether, EXPIRY); // first channel of alice (nonce 0 -> 1: fresh slot)
        _report("open ETH (first channel of sender)", 160_000);
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        _report("open ETH", 140_000);
        vm.prank(alice);
        channel.topUp{value: 1 ether}(id, 1 ether, EXPIRY + 1 days);
        _report("topUp ETH + extend expiry", 60_000);
        bytes memory s1 = aliceClaim(id, 1 ether);
        vm.prank(bob);
        channel.withdraw(id, 1 ether, s1);
        _report("withdraw ETH", 100_000);
        bytes memory s2 = aliceClaim(id, 3 ether);
        vm.prank(bob);
        channel.close(id, 3 ether, s2);
        _report("close ETH (after a withdraw)", 100_000);
        vm.prank(alice);
        channel.claimRefund(address(0));
        _report("claimRefund ETH", 60_000);
    }

    function test_gas_tokenLifecycle() public {
        openToken(1000, EXPIRY);
        bytes32 id = openToken(1000, EXPIRY);
        _report("open ERC20", 170_000);
        vm.prank(alice);
        channel.topUp(id, 500, EXPIRY);
        _report("topUp ERC20", 80_000);
        bytes memory sig = aliceClaim(id, 700);
        vm.prank(bob);
        channel.close(id, 700, sig);
        _report("close ERC20 (no prior withdraw)", 140_000);
        vm.prank(alice);
        channel.claimRefund(address(token));
        _report("claimRefund ERC20", 60_000);
    }

    function test_gas_reclaim() public {
        bytes32 id = openEth(DEPOSIT, EXPIRY);
        vm.warp(EXPIRY);
        channel.reclaim(id);
        _report("reclaim", 70_000);
    }
}
