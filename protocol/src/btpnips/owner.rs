//! Owner pointers (docs/btp-nips.md §8, "Owners with a separate signer"): a Kind 32001 event
//! that an owner signs from their own client to say "my btpnips node is this key".
//!
//! By default a node's key is its owner's Nostr key, so a followed pubkey's node announcement
//! is found under that pubkey. An owner who keeps their key in a separate signer runs the node
//! under its own key instead; the owner then publishes a pointer at the same address as a node
//! announcement (kind 32001, `d` = [`D_TAG`]) with a `node` tag naming the node's pubkey and
//! empty content. The node's announcement names the owner back in an `owner` tag
//! ([`super::announcement::Announcement::owners`]). A follower trusts the pair only: the
//! pointer alone could name any node, the `owner` tag alone could claim any person.
use crate::nostr::{Event, EventError};

use super::announcement::{AnnouncementError, D_TAG, KIND, MAX_FUTURE_SECS};

/// An owner's pointer to the node that publishes for them, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerPointer {
    /// The owner's pubkey (the event's author), 64 lowercase hex.
    pub owner: String,
    /// The node's pubkey, 64 lowercase hex.
    pub node: String,
    /// Unix seconds the pointer was signed.
    pub created_at: u64,
    /// NIP-40 expiration (unix seconds), if the owner set one. Pointers need none: an owner
    /// signs one from a client, not on a timer; a newer pointer (or announcement) replaces it.
    pub expires_at: Option<u64>,
}

/// The tag naming the node's pubkey in an owner pointer.
pub const NODE_TAG: &str = "node";

/// Whether `event` has the shape of an owner pointer (kind 32001, our `d` tag, a `node` tag)
/// rather than a node announcement. Says nothing about validity.
pub fn is_pointer(event: &Event) -> bool {
    event.kind == KIND
        && event.d_tag() == D_TAG
        && event.tags.iter().any(|t| t.first().map(String::as_str) == Some(NODE_TAG))
}

impl OwnerPointer {
    /// Sign a pointer from the owner's `secret_key` to `node` (pubkey hex) at `created_at`
    /// (unix seconds), optionally expiring at `expires_at`. `aux_rand`: BIP-340 randomness.
    ///
    /// Errors: an invalid secret key.
    pub fn sign(
        secret_key: &[u8; 32],
        node: &str,
        created_at: u64,
        expires_at: Option<u64>,
        aux_rand: [u8; 32],
    ) -> Result<Event, EventError> {
        let mut tags = vec![vec!["d".to_owned(), D_TAG.to_owned()], vec![NODE_TAG.to_owned(), node.to_owned()]];
        if let Some(at) = expires_at {
            tags.push(vec!["expiration".to_owned(), at.to_string()]);
        }
        Event::sign(secret_key, created_at, KIND, tags, String::new(), aux_rand)
    }

    /// Decode and check a pointer at `now` (unix seconds): kind, `d` tag and `node` tag; id and
    /// signature; the node key is 64 hex and not the author's own (that is a node announcement);
    /// `created_at` at most [`MAX_FUTURE_SECS`] ahead; `expiration`, if present, in the future.
    ///
    /// Errors: [`AnnouncementError`] naming the failed check (NIP-01 `invalid:` prefix).
    pub fn from_event(event: &Event, now: u64) -> Result<OwnerPointer, AnnouncementError> {
        if !is_pointer(event) {
            return Err(AnnouncementError::NotAnnouncement);
        }
        event.verify()?;
        let tag = |name: &str| {
            event.tags.iter().find(|t| t.first().map(String::as_str) == Some(name)).and_then(|t| t.get(1)).cloned()
        };
        let node = tag(NODE_TAG).unwrap_or_default();
        if crate::btpnips::secret::parse_hex32(&node).is_err() {
            return Err(AnnouncementError::Content(format!("node tag {node:?} is not a 64-hex pubkey")));
        }
        if node == event.pubkey {
            return Err(AnnouncementError::Content("an owner pointer may not name its own author".into()));
        }
        if event.created_at > now + MAX_FUTURE_SECS {
            return Err(AnnouncementError::FromTheFuture);
        }
        let expires_at = match tag("expiration") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| AnnouncementError::Stale)?),
        };
        if expires_at.is_some_and(|at| at <= now) {
            return Err(AnnouncementError::Stale);
        }
        Ok(OwnerPointer { owner: event.pubkey.clone(), node, created_at: event.created_at, expires_at })
    }

    /// Whether the pointer may be used at `now` (unix seconds).
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let owner_sk = [0x33u8; 32];
        let node = crate::nostr::public_key_hex(&[0x11; 32]).unwrap();
        let e = OwnerPointer::sign(&owner_sk, &node, 1_700_000_000, None, [0; 32]).unwrap();
        assert!(is_pointer(&e));
        let p = OwnerPointer::from_event(&e, 1_700_000_010).unwrap();
        assert_eq!(p.node, node);
        assert_eq!(p.owner, crate::nostr::public_key_hex(&owner_sk).unwrap());
        assert!(p.is_live(u64::MAX));

        let expiring = OwnerPointer::sign(&owner_sk, &node, 1_700_000_000, Some(1_700_000_100), [0; 32]).unwrap();
        assert!(OwnerPointer::from_event(&expiring, 1_700_000_050).is_ok());
        assert_eq!(OwnerPointer::from_event(&expiring, 1_700_000_100), Err(AnnouncementError::Stale));
        assert_eq!(OwnerPointer::from_event(&e, 1_600_000_000), Err(AnnouncementError::FromTheFuture));

        let mut tampered = e.clone();
        tampered.tags[1][1] = crate::nostr::public_key_hex(&[0x22; 32]).unwrap();
        assert!(matches!(OwnerPointer::from_event(&tampered, 1_700_000_010), Err(AnnouncementError::Event(_))));

        let own = crate::nostr::public_key_hex(&owner_sk).unwrap();
        let to_self = OwnerPointer::sign(&owner_sk, &own, 1_700_000_000, None, [0; 32]).unwrap();
        assert!(matches!(OwnerPointer::from_event(&to_self, 1_700_000_010), Err(AnnouncementError::Content(_))));
        let garbage = OwnerPointer::sign(&owner_sk, "not-hex", 1_700_000_000, None, [0; 32]).unwrap();
        assert!(matches!(OwnerPointer::from_event(&garbage, 1_700_000_010), Err(AnnouncementError::Content(_))));
    }
}
