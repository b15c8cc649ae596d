//! The STREAM shared secret between two nodes, derived from their keys (docs/btp-nips.md §2).
//!
//! `secret = HKDF-SHA256(salt = SALT, ikm = x(ECDH(own_secret, peer_pubkey)),
//!                       info = min(pkA, pkB) || max(pkA, pkB) || connection_tag)` — 32 bytes.
//! `connection_tag` is the sender's connection tag (8 bytes, see [`super::addressing`]), so
//! every STREAM connection has its own keys.
//! Both nodes compute the same value without a round trip (no SPSP needed). The x-coordinate
//! of the ECDH point does not depend on the parity of the lifted x-only key, so BIP-340
//! (Nostr) public keys can be used directly.
use hkdf::Hkdf;
use secp256k1::{ecdh, Parity, SecretKey, XOnlyPublicKey};
use sha2::Sha256;

use super::BtpNipsError;

/// HKDF salt, fixed by BTP-NIPs version 1.
pub const SALT: &[u8] = b"btp-nips/1 stream shared secret";

/// Derive the 32-byte STREAM shared secret for the pair (own key, peer's x-only pubkey).
///
/// `own_secret` is a secp256k1 secret key; `peer_pubkey` a 32-byte BIP-340 x-only key;
/// `connection_tag` the raw tag bytes of the connection (empty allowed).
/// Errors: [`BtpNipsError::InvalidKey`] when either key is not valid.
pub fn shared_secret(
    own_secret: &[u8; 32],
    peer_pubkey: &[u8; 32],
    connection_tag: &[u8],
) -> Result<[u8; 32], BtpNipsError> {
    let sk = SecretKey::from_secret_bytes(*own_secret).map_err(|_| BtpNipsError::InvalidKey("secret key"))?;
    let peer =
        XOnlyPublicKey::from_byte_array(*peer_pubkey).map_err(|_| BtpNipsError::InvalidKey("peer public key"))?;
    let own_pk = sk.x_only_public_key().0.to_byte_array();
    let point = ecdh::shared_secret_point(&peer.public_key(Parity::Even), &sk);
    let (lo, hi) = if own_pk <= *peer_pubkey { (own_pk, *peer_pubkey) } else { (*peer_pubkey, own_pk) };
    let mut info = Vec::with_capacity(64 + connection_tag.len());
    info.extend_from_slice(&lo);
    info.extend_from_slice(&hi);
    info.extend_from_slice(connection_tag);
    let hk = Hkdf::<Sha256>::new(Some(SALT), &point[..32]);
    let mut out = [0u8; 32];
    hk.expand(&info, &mut out).expect("32 bytes is a valid HKDF-SHA256 output length");
    Ok(out)
}

/// Parse 64 lowercase hex characters into 32 bytes.
///
/// Errors: [`BtpNipsError::InvalidKey`] on any other shape.
pub fn parse_hex32(hex_str: &str) -> Result<[u8; 32], BtpNipsError> {
    if hex_str.len() != 64 || hex_str.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(BtpNipsError::InvalidKey("expected 64 lowercase hex characters"));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut out).map_err(|_| BtpNipsError::InvalidKey("hex"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk(sk: &[u8; 32]) -> [u8; 32] {
        SecretKey::from_secret_bytes(*sk).unwrap().x_only_public_key().0.to_byte_array()
    }

    #[test]
    fn both_sides_derive_the_same_secret_and_the_vector_holds() {
        let a = [0x11u8; 32];
        let b = [0x22u8; 32];
        let ab = shared_secret(&a, &pk(&b), b"").unwrap();
        let ba = shared_secret(&b, &pk(&a), b"").unwrap();
        assert_eq!(ab, ba);
        // Test vector published in docs/btp-nips.md §2.
        assert_eq!(hex::encode(pk(&a)), include_str!("../../tests/vectors/btpnips_pk_a.txt").trim());
        assert_eq!(hex::encode(ab), include_str!("../../tests/vectors/btpnips_secret_ab.txt").trim());
        let c = [0x33u8; 32];
        assert_ne!(shared_secret(&a, &pk(&c), b"").unwrap(), ab);
        let tag = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        let tagged = shared_secret(&a, &pk(&b), &tag).unwrap();
        assert_eq!(tagged, shared_secret(&b, &pk(&a), &tag).unwrap());
        assert_eq!(hex::encode(tagged), include_str!("../../tests/vectors/btpnips_secret_ab_tagged.txt").trim());
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(shared_secret(&[0u8; 32], &pk(&[1u8; 32]), b"").is_err());
        assert!(parse_hex32("AB").is_err());
        assert!(parse_hex32(&"A".repeat(64)).is_err());
        assert_eq!(parse_hex32(&"0a".repeat(32)).unwrap(), [0x0a; 32]);
    }
}
