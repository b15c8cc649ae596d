#!/usr/bin/env python3
"""Mutation check of the forge suite: applies one deliberate bug at a time to a *copy* of
src/UnidirectionalChannel.sol (in a temp dir; the real source is never touched), runs
`forge test` there and reports which tests caught it. A mutant that no test kills is a hole in
the suite (or, for M10, a deliberately redundant defence). ~20 s per mutant on 2 cores.

    python3 scripts/mutants.py            # all mutants
    python3 scripts/mutants.py M3 M7      # some
"""
import os, re, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = open(os.path.join(ROOT, "src", "UnidirectionalChannel.sol")).read()

FORGE = next(
    os.path.join(ROOT, "node_modules", "@foundry-rs", d, "bin", "forge")
    for d in sorted(os.listdir(os.path.join(ROOT, "node_modules", "@foundry-rs")))
    if d.startswith("forge-") and os.path.exists(os.path.join(ROOT, "node_modules", "@foundry-rs", d, "bin", "forge")))
WITHDRAW = "function withdraw(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature) external"
MUTANTS = {
    "M1 recipient check removed": ("if (msg.sender != ch.recipient) revert NotRecipient(msg.sender);", ""),
    "M2 withdraw without reentrancy guard": (WITHDRAW + " nonReentrant", WITHDRAW),
    "M3 refund off by one": ("uint256 refund = deposit - capped;", "uint256 refund = deposit - capped + 1;"),
    "M4 deposit credits the requested amount": (
        "received = erc20.balanceOf(address(this)) - before;",
        "received = erc20.balanceOf(address(this)) - before; received = amount;"),
    "M5 close allowed at expiry": (
        "if (block.timestamp >= expiry) revert ChannelExpired(channelId, expiry);\n    }",
        "if (block.timestamp > expiry) revert ChannelExpired(channelId, expiry);\n    }"),
    "M6 expiry may shorten": ("if (newExpiry < expiry) revert ExpiryShortened(expiry, newExpiry);", ""),
    "M7 claim not capped at deposit": ("uint256 capped = _min(cumulativeAmount, deposit);", "uint256 capped = cumulativeAmount;"),
    "M8 nonce not incremented": ("channelNonce[msg.sender]++", "channelNonce[msg.sender]"),
    "M9 chain id frozen in digest": (
        "return _hashTypedDataV4(keccak256(abi.encode(CLAIM_TYPEHASH, channelId, cumulativeAmount)));",
        'return keccak256(abi.encodePacked("\\x19\\x01", keccak256(abi.encode(keccak256("EIP712Domain(string name,'
        'string version,uint256 chainId,address verifyingContract)"), keccak256("BtpNipsChannel"), keccak256("1"),'
        ' uint256(31337), address(this))), keccak256(abi.encode(CLAIM_TYPEHASH, channelId, cumulativeAmount))));'),
    "M10 claimRefund zeroes after the transfer (guard still on)": (
        "        owed[msg.sender][token] = 0;\n        emit RefundClaimed(msg.sender, token, amount, to);\n        _send(token, to, amount);",
        "        emit RefundClaimed(msg.sender, token, amount, to);\n        _send(token, to, amount);\n        owed[msg.sender][token] = 0;"),
    "M11 close pushes the refund to the sender": (
        "if (refund != 0) owed[ch.sender][token] += refund;\n        emit ChannelClosed(channelId, cumulativeAmount, paid, refund);",
        "emit ChannelClosed(channelId, cumulativeAmount, paid, refund);\n        if (refund != 0) _send(token, ch.sender, refund);"),
    "M12 topUp on closed/expired channels": (
        "if (ch.closed) revert ChannelAlreadyClosed(channelId);\n        uint64 expiry = ch.expiry;\n        if (block.timestamp >= expiry) revert ChannelExpired(channelId, expiry);\n        if (newExpiry",
        "uint64 expiry = ch.expiry;\n        if (newExpiry"),
    "M13 claimRefund without reentrancy guard": (
        "function claimRefund(address token) external nonReentrant", "function claimRefund(address token) external"),
    "M14 reclaim before expiry": ("if (block.timestamp < expiry) revert ChannelNotExpired(channelId, expiry);", ""),
    "M15 withdraw skips the signature": (
        "if (capped <= withdrawn) revert NothingToWithdraw();\n        _verifyClaim(ch.sender, channelId, cumulativeAmount, signature);",
        "if (capped <= withdrawn) revert NothingToWithdraw();"),
    "M16 raw ecrecover (accepts high-s, no ERC-1271)": (
        "(address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);\n        if (err == ECDSA.RecoverError.NoError && recovered == sender) return;\n        if (sender.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(sender, digest, signature))\n        {\n            return;\n        }",
        "if (signature.length == 65 && ecrecover(digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])) == sender) return;"),
    "M17 close unsigned whenever it pays nothing": (
        "if (cumulativeAmount != withdrawn) _verifyClaim(", "if (paid != 0) _verifyClaim("),
    "M18 ERC-1271 alone for senders with code (the EIP-7702 hole)": (
        "if (err == ECDSA.RecoverError.NoError && recovered == sender) return;",
        "if (sender.code.length == 0 && err == ECDSA.RecoverError.NoError && recovered == sender) return;"),
    "M19 no ERC-1271 fallback": ("if (sender.code.length != 0 && SignatureChecker", "if (false && SignatureChecker"),
}


def main():
    wanted = sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="mutants-")
    try:
        for name in ("test", "solc-wrapper", "foundry.toml"):
            src = os.path.join(ROOT, name)
            (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(tmp, name))
        os.symlink(os.path.join(ROOT, "node_modules"), os.path.join(tmp, "node_modules"))
        os.mkdir(os.path.join(tmp, "src"))
        survivors = 0
        for name, (old, new) in MUTANTS.items():
            if wanted and name.split()[0] not in wanted:
                continue
            assert SRC.count(old) == 1, f"{name}: pattern found {SRC.count(old)} times"
            with open(os.path.join(tmp, "src", "UnidirectionalChannel.sol"), "w") as f:
                f.write(SRC.replace(old, new))
            # the platform binary: the npm wrapper's exit code is always 0 (output is parsed anyway)
            r = subprocess.run([FORGE, "test"], cwd=tmp, capture_output=True, text=True)
            out = r.stdout + r.stderr
            killers = sorted(set(re.findall(r"^\[FAIL.*\] (\w+)\(", out, re.M)))
            if "Compiler run failed" in out or "Error" in out and not killers:
                print(f"{name}: DID NOT COMPILE\n{out[-1500:]}")
                continue
            if not killers:
                survivors += 1
            shown = ", ".join(killers[:4]) + (f", … ({len(killers)} total)" if len(killers) > 4 else "")
            print(f"{'killed ' if killers else 'SURVIVED'} {name}: {shown}", flush=True)
        print(f"{survivors} surviving mutant(s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
