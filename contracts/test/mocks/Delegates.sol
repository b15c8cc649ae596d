// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @notice An EIP-7702 delegate (or any contract wallet) whose ERC-1271 check refuses every
///         signature: the code a payer would delegate to in order to revoke claims it signed.
contract RefusingDelegate is IERC1271 {
    function isValidSignature(bytes32, bytes memory) external pure returns (bytes4) {
        return 0xffffffff;
    }

    /// @dev Something to call in the type-4 transaction that installs the delegation.
    function ping() external pure returns (uint256) {
        return 1;
    }
}

/// @notice An EIP-7702 delegate whose ERC-1271 check accepts every signature: what a payer's
///         own code can do only to itself (anything it accepts, it pays).
contract AcceptingDelegate is IERC1271 {
    function isValidSignature(bytes32, bytes memory) external pure returns (bytes4) {
        return IERC1271.isValidSignature.selector;
    }

    function ping() external pure returns (uint256) {
        return 1;
    }
}
