//! Execution conditions and fulfillments (RFC 27 §"ILP Prepare": condition = SHA-256 of the
//! 32-byte fulfillment) and the fixed pair peer protocols use.

use sha2::{Digest, Sha256};

/// Fulfillment every peer protocol (`peer.config`, `peer.route.*`, `peer.settle`) answers
/// with: 32 zero bytes (RFC 31, RFC 38; see spec ilp.md §2).
pub const PEER_PROTOCOL_FULFILLMENT: [u8; 32] = [0; 32];

/// Condition of [`PEER_PROTOCOL_FULFILLMENT`]: SHA-256 of 32 zero bytes,
/// `66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925`. (RFC 38 lists the
/// hash of the *empty* string instead; that is a known RFC bug.)
pub const PEER_PROTOCOL_CONDITION: [u8; 32] = [
    0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77, 0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20, 0x08, 0x97, 0x14,
    0x85, 0x6e, 0xe2, 0x33, 0xb3, 0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25,
];

/// The execution condition for `fulfillment`: its SHA-256 digest (RFC 27).
pub fn condition_of(fulfillment: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(fulfillment).into()
}

/// True when SHA-256(`fulfillment`) equals `condition` (RFC 27). The comparison is constant
/// time in the condition bytes.
pub fn fulfillment_matches(fulfillment: &[u8; 32], condition: &[u8; 32]) -> bool {
    let actual = condition_of(fulfillment);
    actual.iter().zip(condition).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_protocol_condition_is_sha256_of_zeros() {
        assert_eq!(condition_of(&PEER_PROTOCOL_FULFILLMENT), PEER_PROTOCOL_CONDITION);
        assert_eq!(
            hex::encode(PEER_PROTOCOL_CONDITION),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert!(fulfillment_matches(&[0; 32], &PEER_PROTOCOL_CONDITION));
        assert!(!fulfillment_matches(&[1; 32], &PEER_PROTOCOL_CONDITION));
    }
}
