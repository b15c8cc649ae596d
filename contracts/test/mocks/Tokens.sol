// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Plain mintable ERC-20.
contract MockERC20 is ERC20 {
    constructor() ERC20("Mock", "MOCK") {}

    /// @notice Mints `amount` to `to`.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice Fee-on-transfer token: every transfer burns `feeBps` basis points of the amount.
contract FeeOnTransferToken is ERC20 {
    uint256 public feeBps;

    constructor(uint256 feeBps_) ERC20("Fee", "FEE") {
        feeBps = feeBps_;
    }

    /// @notice Mints `amount` to `to` (no fee).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value * feeBps / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @notice USDT-style token: `transfer`/`transferFrom`/`approve` return nothing.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
    }

    function transfer(address to, uint256 amount) external {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }

    function transferFrom(address from, address to, uint256 amount) external {
        require(allowance[from][msg.sender] >= amount, "allowance");
        require(balanceOf[from] >= amount, "balance");
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}

/// @notice Token whose transfers return `false` instead of reverting (when `broken` is set).
contract FalseReturnToken is ERC20 {
    bool public broken;

    constructor() ERC20("False", "FALSE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBroken(bool b) external {
        broken = b;
    }

    function transfer(address to, uint256 amount) public override returns (bool) {
        if (broken) return false;
        return super.transfer(to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) public override returns (bool) {
        if (broken) return false;
        return super.transferFrom(from, to, amount);
    }
}

/// @notice USDC-style token with a blacklist: transfers to or from a blacklisted address revert.
contract BlacklistToken is ERC20 {
    mapping(address => bool) public blacklisted;

    constructor() ERC20("Black", "BLK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setBlacklisted(address who, bool b) external {
        blacklisted[who] = b;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!blacklisted[from] && !blacklisted[to], "blacklisted");
        super._update(from, to, value);
    }
}

/// @notice Receiver hook interface of {HookToken} (ERC-777 style callbacks).
interface ITokenHooks {
    function tokensToSend(address from, address to, uint256 amount) external;
    function tokensReceived(address from, address to, uint256 amount) external;
}

/// @notice Malicious/ERC-777-like token: calls `tokensToSend` on a contract `from` before moving
///         funds and `tokensReceived` on a contract `to` after, handing control to attackers in
///         the middle of the channel's deposit and payout.
contract HookToken is ERC20 {
    constructor() ERC20("Hook", "HOOK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        // Hooks are best effort (like ERC-777 without a registry): contracts without them are skipped.
        if (from != address(0) && from.code.length != 0) {
            (bool ok,) = from.call(abi.encodeCall(ITokenHooks.tokensToSend, (from, to, value)));
            ok;
        }
        super._update(from, to, value);
        if (to != address(0) && to.code.length != 0) {
            (bool ok,) = to.call(abi.encodeCall(ITokenHooks.tokensReceived, (from, to, value)));
            ok;
        }
    }
}
