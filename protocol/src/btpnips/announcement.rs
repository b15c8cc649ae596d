//! Kind 32001 node announcements (docs/btp-nips.md §8): what a stranger needs to link with and
//! pay a node without another lookup, signed by the node's Nostr key.
//!
//! An addressable event (NIP-01: kind 30000–39999, newest per (pubkey, kind, `d`)) with
//! `d` = [`D_TAG`], a NIP-40 `expiration` tag, one `multiaddr` tag per listen address, an
//! optional `btp` tag (BTP-over-WebSocket URL), an `ilp` tag (the ILP address, for relays that
//! index tags), and the node info ([`super::info::NodeInfo`]: asset, prices, settlement chain,
//! contract and EVM address) as JSON content. The content's `pubkey` must be the event's
//! author: the signature then binds the ILP address, prices and settlement address to the key.
//! An `owner` tag names each owner key that runs the node with its key in a separate signer;
//! the owner's own Kind 32001 points back ([`super::owner`]), and only the pair binds them.
use crate::nostr::{Event, EventError};

use super::info::NodeInfo;

/// The announcement kind.
pub const KIND: u16 = 32001;
/// The fixed `d` tag: one announcement per key.
pub const D_TAG: &str = "btpnips-node";
/// How far in the future (seconds) an announcement's `created_at` may be.
pub const MAX_FUTURE_SECS: u64 = 15 * 60;

/// A node announcement, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Node info (pubkey, ILP address, asset, prices, settlement).
    pub info: NodeInfo,
    /// libp2p multiaddrs the node listens on (may be empty).
    pub multiaddrs: Vec<String>,
    /// BTP-over-WebSocket URL, if the node accepts BTP peers.
    pub btp_url: Option<String>,
    /// Owner pubkeys (64 lowercase hex) whose events this node publishes, other than its own
    /// key; each is only believed with the owner's pointer ([`super::owner::OwnerPointer`]).
    pub owners: Vec<String>,
    /// Unix seconds after which the announcement must not be used.
    pub expires_at: u64,
    /// Unix seconds the announcement was made.
    pub created_at: u64,
}

/// Why an event is not a usable announcement. Display strings carry NIP-01 prefixes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnnouncementError {
    /// Not kind 32001, or not our `d` tag.
    #[error("invalid: not a btpnips announcement (kind 32001, d={D_TAG})")]
    NotAnnouncement,
    /// Id or signature check failed.
    #[error("{0}")]
    Event(#[from] EventError),
    /// The content is not node info JSON.
    #[error("invalid: announcement content: {0}")]
    Content(String),
    /// The content names another key than the author.
    #[error("invalid: announcement names pubkey {named} but is signed by {author}")]
    KeyMismatch {
        /// Pubkey in the content.
        named: String,
        /// The event's author.
        author: String,
    },
    /// Expired, or missing its `expiration`.
    #[error("invalid: announcement expired or without expiration")]
    Stale,
    /// `created_at` too far in the future.
    #[error("invalid: announcement created_at is in the future")]
    FromTheFuture,
}

impl Announcement {
    /// Sign this announcement as a Kind 32001 event with the node's secret key (which must be
    /// the key of `info.pubkey`). `aux_rand`: BIP-340 auxiliary randomness.
    ///
    /// Errors: an invalid secret key.
    pub fn to_event(&self, secret_key: &[u8; 32], aux_rand: [u8; 32]) -> Result<Event, EventError> {
        let mut tags = vec![
            vec!["d".to_owned(), D_TAG.to_owned()],
            vec!["ilp".to_owned(), self.info.ilp_address.clone()],
            vec!["expiration".to_owned(), self.expires_at.to_string()],
        ];
        if let Some(url) = &self.btp_url {
            tags.push(vec!["btp".to_owned(), url.clone()]);
        }
        for m in &self.multiaddrs {
            tags.push(vec!["multiaddr".to_owned(), m.clone()]);
        }
        for o in &self.owners {
            tags.push(vec!["owner".to_owned(), o.clone()]);
        }
        let content = String::from_utf8(self.info.to_json_bytes()).expect("JSON is UTF-8");
        Event::sign(secret_key, self.created_at, KIND, tags, content, aux_rand)
    }

    /// Decode and check an announcement at time `now` (unix seconds): kind and `d` tag, id and
    /// signature, node info, key binding, expiration (NIP-40) and `created_at` not in the future.
    ///
    /// Errors: [`AnnouncementError`] naming the failed check.
    pub fn from_event(event: &Event, now: u64) -> Result<Announcement, AnnouncementError> {
        if event.kind != KIND || event.d_tag() != D_TAG {
            return Err(AnnouncementError::NotAnnouncement);
        }
        event.verify()?;
        let info = NodeInfo::from_json_bytes(event.content.as_bytes())
            .map_err(|e| AnnouncementError::Content(e.to_string()))?;
        if info.pubkey != event.pubkey {
            return Err(AnnouncementError::KeyMismatch { named: info.pubkey, author: event.pubkey.clone() });
        }
        if event.created_at > now + MAX_FUTURE_SECS {
            return Err(AnnouncementError::FromTheFuture);
        }
        let first = |name: &str| {
            event.tags.iter().find(|t| t.first().map(String::as_str) == Some(name)).and_then(|t| t.get(1)).cloned()
        };
        let expires_at = first("expiration").and_then(|v| v.parse::<u64>().ok()).ok_or(AnnouncementError::Stale)?;
        if expires_at <= now {
            return Err(AnnouncementError::Stale);
        }
        let all = |name: &str| -> Vec<String> {
            event
                .tags
                .iter()
                .filter(|t| t.first().map(String::as_str) == Some(name))
                .filter_map(|t| t.get(1).cloned())
                .collect()
        };
        let owners = all("owner");
        if let Some(bad) = owners.iter().find(|o| crate::btpnips::secret::parse_hex32(o).is_err()) {
            return Err(AnnouncementError::Content(format!("owner tag {bad:?} is not a 64-hex pubkey")));
        }
        Ok(Announcement {
            info,
            multiaddrs: all("multiaddr"),
            btp_url: first("btp"),
            owners,
            expires_at,
            created_at: event.created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btpnips::info::Prices;

    fn sample(secret: &[u8; 32]) -> Announcement {
        let pubkey = crate::nostr::public_key_hex(secret).unwrap();
        Announcement {
            info: NodeInfo {
                version: 1,
                ilp_address: format!("test.btpnips.{}", &pubkey[..16]),
                pubkey,
                asset_code: "ETH".into(),
                asset_scale: 9,
                prices: Prices {
                    subscription: 1000,
                    subscription_period_secs: 86_400,
                    event_delivered: 10,
                    delivery_credit: 100,
                    event_published: Some(5),
                },
                settlement: None,
            },
            multiaddrs: vec!["/ip4/127.0.0.1/udp/7791/quic-v1".into()],
            btp_url: Some("ws://127.0.0.1:7790".into()),
            owners: vec![crate::nostr::public_key_hex(&[0x33; 32]).unwrap()],
            expires_at: 1_700_086_400,
            created_at: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let sk = [0x11u8; 32];
        let a = sample(&sk);
        let e = a.to_event(&sk, [0; 32]).unwrap();
        assert_eq!(e.kind, KIND);
        assert_eq!(Announcement::from_event(&e, 1_700_000_100), Ok(a.clone()));

        assert_eq!(Announcement::from_event(&e, 1_700_086_400), Err(AnnouncementError::Stale));
        assert_eq!(Announcement::from_event(&e, 1_690_000_000), Err(AnnouncementError::FromTheFuture));

        let mut tampered = e.clone();
        tampered.content = tampered.content.replace("1000", "1");
        assert!(matches!(Announcement::from_event(&tampered, 1_700_000_100), Err(AnnouncementError::Event(_))));

        // Signed by another key than the one it names: the binding fails.
        let other = a.to_event(&[0x22; 32], [0; 32]).unwrap();
        assert!(matches!(Announcement::from_event(&other, 1_700_000_100), Err(AnnouncementError::KeyMismatch { .. })));

        let mut wrong_kind = a.clone().to_event(&sk, [0; 32]).unwrap();
        wrong_kind.kind = 1;
        assert_eq!(Announcement::from_event(&wrong_kind, 1_700_000_100), Err(AnnouncementError::NotAnnouncement));
    }
}
