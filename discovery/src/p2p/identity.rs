//! The node's secp256k1 key as a libp2p identity, and back from a [`PeerId`] to the Nostr key.
//!
//! One secret key serves as the node's Nostr key (BIP-340 x-only public key), its EVM key and
//! its libp2p identity. The libp2p public key is the 33-byte compressed SEC1 point; its
//! protobuf encoding (libp2p peer-ids spec, "Keys": `KeyType = Secp256k1`, `Data` = compressed
//! point) is 37 bytes, so the peer id is the *identity* multihash of that encoding (peer-ids
//! spec, "Peer Ids": keys of at most 42 bytes are inlined). The key can therefore be read back
//! from every peer id of a secp256k1 node without any exchange.
use libp2p::identity::{secp256k1, Keypair, PublicKey};
use libp2p::PeerId;

use super::P2pError;

/// Multihash code of the identity hash (multicodec table: `identity` = 0x00).
const MULTIHASH_IDENTITY: u64 = 0;

/// The libp2p keypair of the secp256k1 secret key `secret` (32 bytes, big-endian scalar, the
/// same bytes as the node's Nostr secret key).
///
/// Errors: [`P2pError::InvalidKey`] if `secret` is zero or not below the curve order.
pub fn keypair_from_secret(secret: &[u8; 32]) -> Result<Keypair, P2pError> {
    let mut bytes = *secret;
    // `try_from_bytes` zeroes its argument after reading it; `bytes` is our copy.
    let sk = secp256k1::SecretKey::try_from_bytes(&mut bytes).map_err(|_| P2pError::InvalidKey)?;
    Ok(secp256k1::Keypair::from(sk).into())
}

/// The BIP-340 x-only public key (the Nostr pubkey) of the node behind `peer`.
///
/// Reads the identity multihash of `peer`, decodes the protobuf `PublicKey` inside, and returns
/// the x coordinate of the secp256k1 point (bytes `1..33` of the compressed encoding; the
/// parity byte is dropped, as BIP-340 does). `None` for peer ids of other key types (Ed25519,
/// ECDSA, RSA) and for SHA-256 (hashed) peer ids, whose key cannot be recovered.
pub fn nostr_pubkey_of(peer: &PeerId) -> Option<[u8; 32]> {
    let mh = peer.as_ref();
    if mh.code() != MULTIHASH_IDENTITY {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(mh.digest()).ok()?.try_into_secp256k1().ok()?;
    let compressed = key.to_bytes();
    let mut x = [0u8; 32];
    x.copy_from_slice(&compressed[1..33]);
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x_only(sk: &[u8; 32]) -> [u8; 32] {
        ::secp256k1::Keypair::from_secret_bytes(*sk).unwrap().x_only_public_key().0.to_byte_array()
    }

    #[test]
    fn peer_id_carries_the_nostr_pubkey_for_both_parities() {
        let mut parities = [false; 2];
        for i in 1u8..=16 {
            let mut sk = [0x11u8; 32];
            sk[31] = i;
            sk[0] = i.wrapping_mul(7);
            let kp = keypair_from_secret(&sk).unwrap();
            let peer = kp.public().to_peer_id();
            assert_eq!(peer.as_ref().code(), MULTIHASH_IDENTITY, "secp256k1 keys are inlined");
            assert_eq!(nostr_pubkey_of(&peer), Some(x_only(&sk)));
            let compressed = kp.public().try_into_secp256k1().unwrap().to_bytes();
            parities[usize::from(compressed[0] == 0x03)] = true;
        }
        assert_eq!(parities, [true, true], "the keys cover even and odd y");
    }

    #[test]
    fn rejects_bad_secrets_and_other_key_types() {
        assert!(matches!(keypair_from_secret(&[0; 32]), Err(P2pError::InvalidKey)));
        assert!(matches!(keypair_from_secret(&[0xff; 32]), Err(P2pError::InvalidKey)));
        assert_eq!(nostr_pubkey_of(&PeerId::random()), None);
        // An identity multihash that is not a protobuf key.
        let peer = PeerId::from_multihash(libp2p::multihash::Multihash::wrap(0, &[1, 2, 3]).unwrap()).unwrap();
        assert_eq!(nostr_pubkey_of(&peer), None);
    }
}
