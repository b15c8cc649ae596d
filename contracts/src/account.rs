//! What code a channel's sender carries, and so whether it can revoke claims it signed.
//!
//! The contract (`_verifyClaim`) accepts a claim that is the sender key's ECDSA signature
//! whatever code the sender's address carries, and asks ERC-1271 `isValidSignature` only for
//! other signatures of a sender with code. A btpnips payee takes only ECDSA claims, so a claim it
//! accepted from a key-holding sender stays collectable; what a sender's code changes is whether
//! a key signs for it at all, which is what [`AccountCode`] tells.

use alloy::primitives::Address;

/// EIP-7702 delegation designator prefix: a delegated EOA's code is `0xef0100 || address`
/// (23 bytes; EIP-7702 "Delegation designation").
pub const DELEGATION_PREFIX: [u8; 3] = [0xef, 0x01, 0x00];

/// The code at an account, as the payee's policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountCode {
    /// No code: an ordinary externally owned account.
    None,
    /// An EOA that delegated to `delegate` with an EIP-7702 authorization. Its key still signs
    /// (and the contract honours those ECDSA claims), but the delegate's code runs for it.
    Delegated(Address),
    /// Contract code: no key signs for it; its claims are ERC-1271 and revocable by its code.
    Contract,
}

impl AccountCode {
    /// Classifies `eth_getCode` output.
    pub fn classify(code: &[u8]) -> AccountCode {
        if code.is_empty() {
            AccountCode::None
        } else if code.len() == 23 && code[..3] == DELEGATION_PREFIX {
            AccountCode::Delegated(Address::from_slice(&code[3..]))
        } else {
            AccountCode::Contract
        }
    }

    /// True when the account carries any code.
    pub fn has_code(&self) -> bool {
        !matches!(self, AccountCode::None)
    }
}

impl std::fmt::Display for AccountCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountCode::None => f.write_str("no code"),
            AccountCode::Delegated(d) => write!(f, "EIP-7702 delegation to {d}"),
            AccountCode::Contract => f.write_str("contract code"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_empty_designator_and_contract_code() {
        assert_eq!(AccountCode::classify(&[]), AccountCode::None);
        let d = Address::repeat_byte(0x42);
        let mut designator = DELEGATION_PREFIX.to_vec();
        designator.extend_from_slice(d.as_slice());
        assert_eq!(AccountCode::classify(&designator), AccountCode::Delegated(d));
        assert_eq!(AccountCode::classify(&designator[..22]), AccountCode::Contract);
        assert_eq!(AccountCode::classify(&[0x60, 0x20, 0x60, 0x00, 0xf3]), AccountCode::Contract);
        assert!(!AccountCode::None.has_code());
    }
}
