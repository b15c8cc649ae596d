//! ILP addresses and stream ids of a BTP-NIPs connection (docs/btp-nips.md §2).
//!
//! Each node sends to a peer on its own STREAM connection: the sender picks a random
//! 8-byte connection tag when it opens the connection and sends every packet to
//! `<receiver address>.<hex(sender pubkey)>.<hex(tag)>` (two extra RFC 15 segments). The
//! receiver reads the sender's key and the tag from the address and derives the shared
//! secret ([`super::secret::shared_secret`]); no SPSP round trip is needed. A restarted
//! sender picks a new tag, so the receiver never confuses old and new stream offsets.
//!
//! The sender is the STREAM client of its connection, so it opens odd stream ids
//! (1, 3, 5, … — RFC 29 §3.3).
use crate::ilp::{Address, AddressError};

/// Length of a connection tag in bytes.
pub const TAG_LEN: usize = 8;

/// The address to send to: `<peer_address>.<hex(own_pubkey)>.<hex(tag)>`.
///
/// Errors: the joined address would break RFC 15 (e.g. over 1023 bytes).
pub fn connection_address(
    peer_address: &Address,
    own_pubkey: &[u8; 32],
    tag: &[u8; TAG_LEN],
) -> Result<Address, AddressError> {
    peer_address.with_suffix(&format!("{}.{}", hex::encode(own_pubkey), hex::encode(tag)))
}

/// If `destination` is `<own_address>.<64 hex>.<16 hex>`, return the sender's pubkey and the
/// connection tag. Otherwise `None` (not a BTP-NIPs connection of this node).
pub fn sender_of(own_address: &Address, destination: &Address) -> Option<([u8; 32], [u8; TAG_LEN])> {
    let rest = destination.as_str().strip_prefix(own_address.as_str())?.strip_prefix('.')?;
    let (pk, tag) = rest.split_once('.')?;
    let pk = super::secret::parse_hex32(pk).ok()?;
    if tag.len() != TAG_LEN * 2 || tag.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut t = [0u8; TAG_LEN];
    hex::decode_to_slice(tag, &mut t).ok()?;
    Some((pk, t))
}

/// Stream ids a connection's sender opens: 1, 3, 5, … (the `n`-th, counting from 0).
pub fn client_stream_id(n: u64) -> u64 {
    2 * n + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_round_trip() {
        let own: Address = "test.btpnips.alice".parse().unwrap();
        let pk = [0xabu8; 32];
        let tag = [1, 2, 3, 4, 5, 6, 7, 8];
        let dest = connection_address(&own, &pk, &tag).unwrap();
        assert_eq!(dest.as_str(), format!("test.btpnips.alice.{}.0102030405060708", "ab".repeat(32)));
        assert_eq!(sender_of(&own, &dest), Some((pk, tag)));
        let other: Address = "test.btpnips.alicex".parse().unwrap();
        assert_eq!(sender_of(&other, &dest), None);
        assert_eq!(sender_of(&own, &own), None);
        let no_tag = own.with_suffix(&"ab".repeat(32)).unwrap();
        assert_eq!(sender_of(&own, &no_tag), None);
        assert_eq!((client_stream_id(0), client_stream_id(1)), (1, 3));
    }
}
