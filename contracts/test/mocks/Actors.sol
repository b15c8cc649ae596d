// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {UnidirectionalChannel} from "../../src/UnidirectionalChannel.sol";

/// @notice Contract-wallet sender (ERC-1271): claims are valid if signed by `owner`'s key.
///         `acceptEth` = false makes it reject every ETH transfer (a sender that reverts on receive).
contract WalletSender is IERC1271 {
    UnidirectionalChannel public immutable channel;
    address public immutable owner;
    bool public acceptEth;
    bool public accept1271 = true;

    constructor(UnidirectionalChannel channel_, address owner_, bool acceptEth_) payable {
        channel = channel_;
        owner = owner_;
        acceptEth = acceptEth_;
    }

    function setAcceptEth(bool b) external {
        acceptEth = b;
    }

    function setAccept1271(bool b) external {
        accept1271 = b;
    }

    receive() external payable {
        require(acceptEth, "WalletSender: no ETH please");
    }

    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4) {
        (address rec, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (accept1271 && err == ECDSA.RecoverError.NoError && rec == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    function approve(IERC20 token, uint256 amount) external {
        token.approve(address(channel), amount);
    }

    function open(address recipient, address token, uint256 amount, uint64 expiry) external returns (bytes32) {
        uint256 value = token == address(0) ? amount : 0;
        return channel.open{value: value}(recipient, token, amount, expiry);
    }

    function topUp(bytes32 id, address token, uint256 amount, uint64 expiry) external {
        uint256 value = token == address(0) ? amount : 0;
        channel.topUp{value: value}(id, amount, expiry);
    }

    function claimRefund(address token) external returns (uint256) {
        return channel.claimRefund(token);
    }

    function claimRefundTo(address token, address to) external returns (uint256) {
        return channel.claimRefundTo(token, to);
    }
}

/// @notice Attacker that re-enters the channel with a stored call whenever it gets control: on
///         ETH receipt and in both token hooks. The re-entrant call's outcome is recorded (not
///         bubbled), so tests can show it failed while the outer call completed consistently.
contract Reenterer {
    UnidirectionalChannel public immutable channel;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    bool public lastSuccess;
    bytes public lastReturnData;
    uint256 public ethReceived;

    constructor(UnidirectionalChannel channel_) payable {
        channel = channel_;
    }

    /// @notice Sets the call to make when control arrives (one shot).
    function arm(bytes calldata payload_) external {
        payload = payload_;
        armed = true;
    }

    /// @notice Makes an arbitrary call to the channel as this contract.
    function exec(bytes calldata data, uint256 value) external returns (bytes memory) {
        (bool ok, bytes memory ret) = address(channel).call{value: value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }

    function approve(IERC20 token, uint256 amount) external {
        token.approve(address(channel), amount);
    }

    /// @dev 1271 for when this contract is a channel sender: accept nothing (not needed by tests).
    function isValidSignature(bytes32, bytes memory) external pure returns (bytes4) {
        return 0xffffffff;
    }

    function _strike() private {
        if (!armed) return;
        armed = false;
        attempts++;
        (bool ok, bytes memory ret) = address(channel).call(payload);
        lastSuccess = ok;
        lastReturnData = ret;
    }

    receive() external payable {
        ethReceived += msg.value;
        _strike();
    }

    function tokensToSend(address, address, uint256) external {
        _strike();
    }

    function tokensReceived(address, address, uint256) external {
        _strike();
    }
}
