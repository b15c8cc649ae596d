//! The directory of verified Kind 32001 events (docs/btp-nips.md §8): node announcements
//! and owner pointers, the newest per key, and the checks an event passes to get in.
use std::collections::HashMap;
use std::sync::Mutex;

use discovery::p2p::{Multiaddr, PeerId};
use protocol::btpnips::announcement::Announcement;
use protocol::btpnips::owner::{self, OwnerPointer};
use protocol::nostr::Event;

/// One verified announcement and the event that carried it (kept to forward it as is).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The decoded announcement.
    pub announcement: Announcement,
    /// The signed event.
    pub event: Event,
}

/// One verified owner pointer (§8 "Owners with a separate signer") and its event.
#[derive(Debug, Clone)]
pub struct PointerEntry {
    /// The decoded pointer.
    pub pointer: OwnerPointer,
    /// The signed event.
    pub event: Event,
}

/// Verified Kind 32001 events by author pubkey (hex), the newest of each: node announcements
/// and owner pointers (one address, so a key holds one or the other).
#[derive(Default)]
pub struct Directory {
    entries: Mutex<HashMap<String, Entry>>,
    pointers: Mutex<HashMap<String, PointerEntry>>,
}

impl Directory {
    /// The announcement of `pubkey` if we hold one that has not expired at `now` (unix s).
    pub fn get(&self, pubkey: &str, now: u64) -> Option<Entry> {
        self.entries.lock().expect("poisoned").get(pubkey).filter(|e| e.announcement.expires_at > now).cloned()
    }

    /// The node that publishes for `pubkey` at `now`: its own announcement, or else the
    /// announcement of the node its owner pointer names, if that node names it back as an
    /// owner (both signatures, §8). `None` if either half is missing, stale or disagrees.
    pub fn resolve(&self, pubkey: &str, now: u64) -> Option<Entry> {
        if let Some(own) = self.get(pubkey, now) {
            return Some(own);
        }
        let node = self.pointer(pubkey, now)?.pointer.node;
        self.get(&node, now).filter(|e| e.announcement.owners.iter().any(|o| o == pubkey))
    }

    /// The owner pointer of `owner` if we hold a live one.
    pub fn pointer(&self, owner: &str, now: u64) -> Option<PointerEntry> {
        self.pointers.lock().expect("poisoned").get(owner).filter(|p| p.pointer.is_live(now)).cloned()
    }

    /// Every live owner pointer we hold.
    pub fn pointers(&self, now: u64) -> Vec<PointerEntry> {
        self.pointers.lock().expect("poisoned").values().filter(|p| p.pointer.is_live(now)).cloned().collect()
    }

    /// `created_at` of the newest Kind 32001 held for `pubkey` (announcement or pointer).
    pub(super) fn newest(&self, pubkey: &str) -> Option<u64> {
        let entries = self.entries.lock().expect("poisoned");
        newest_in(&entries, &self.pointers.lock().expect("poisoned"), pubkey)
    }

    /// Keep `event` (checked) unless we hold a Kind 32001 of its author at least as new; it
    /// replaces whatever the author had (one address: announcement or pointer). Returns
    /// whether it was kept.
    pub(super) fn offer(&self, checked: Checked, event: Event) -> bool {
        // Lock order: entries, then pointers (everywhere both are held).
        let mut entries = self.entries.lock().expect("poisoned");
        let mut pointers = self.pointers.lock().expect("poisoned");
        let key = event.pubkey.clone();
        if newest_in(&entries, &pointers, &key).is_some_and(|t| t >= event.created_at) {
            return false;
        }
        entries.remove(&key);
        pointers.remove(&key);
        match checked {
            Checked::Node(announcement) => entries.insert(key, Entry { announcement: *announcement, event }).is_none(),
            Checked::Owner(pointer) => pointers.insert(key, PointerEntry { pointer, event }).is_none(),
        };
        true
    }

    /// Every unexpired announcement we hold.
    pub fn all(&self, now: u64) -> Vec<Entry> {
        self.entries.lock().expect("poisoned").values().filter(|e| e.announcement.expires_at > now).cloned().collect()
    }

    /// Whether a new announcement of `pubkey` made at `created_at` may be taken: refused
    /// (with the reason) when it comes less than [`MIN_REANNOUNCE_SECS`] after the one held
    /// (a key re-signing in a loop would otherwise flood the network), or when it is a new key
    /// and the directory already holds [`MAX_DIRECTORY`] unexpired entries. Expired entries
    /// are dropped here.
    pub(super) fn admit(&self, pubkey: &str, created_at: u64, now: u64) -> Result<(), Refusal> {
        match self.newest(pubkey) {
            Some(old) if created_at < old + MIN_REANNOUNCE_SECS => {
                Err(format!("rate-limited: re-announced within {MIN_REANNOUNCE_SECS} s"))
            }
            Some(_) => Ok(()),
            None => {
                let mut entries = self.entries.lock().expect("poisoned");
                let mut pointers = self.pointers.lock().expect("poisoned");
                if entries.len() + pointers.len() >= MAX_DIRECTORY {
                    entries.retain(|_, e| e.announcement.expires_at > now);
                    pointers.retain(|_, p| p.pointer.is_live(now));
                }
                if entries.len() + pointers.len() >= MAX_DIRECTORY {
                    return Err(format!("rate-limited: directory full ({MAX_DIRECTORY} keys)"));
                }
                Ok(())
            }
        }
    }
}

fn newest_in(entries: &HashMap<String, Entry>, pointers: &HashMap<String, PointerEntry>, pubkey: &str) -> Option<u64> {
    let a = entries.get(pubkey).map(|e| e.announcement.created_at);
    let p = pointers.get(pubkey).map(|e| e.pointer.created_at);
    a.max(p)
}

/// A Kind 32001 event that passed its checks.
#[derive(Debug, Clone)]
pub enum Checked {
    /// A node announcement.
    Node(Box<Announcement>),
    /// An owner pointer.
    Owner(OwnerPointer),
}

/// Check any Kind 32001 event at `now`: an owner pointer ([`OwnerPointer::from_event`]) or a
/// node announcement ([`verify`]).
///
/// Errors: the refusal reason, prefixed `invalid:`.
pub fn check(event: &Event, now: u64) -> Result<Checked, Refusal> {
    if owner::is_pointer(event) {
        OwnerPointer::from_event(event, now).map(Checked::Owner).map_err(|e| e.to_string())
    } else {
        verify(event, now).map(|a| Checked::Node(Box::new(a)))
    }
}

/// Most nodes the directory holds.
pub const MAX_DIRECTORY: usize = 10_000;
/// Least time (seconds) between two announcements of one key that we take.
pub const MIN_REANNOUNCE_SECS: u64 = 5;

impl Directory {
    /// Number of announcements and owner pointers held (expired ones until dropped).
    pub fn len(&self) -> usize {
        self.entries.lock().expect("poisoned").len() + self.pointers.lock().expect("poisoned").len()
    }

    /// Whether the directory is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The PeerId of a multiaddr's final `/p2p/<peer id>` component, if it has one.
pub fn peer_id_in(addr: &Multiaddr) -> Option<PeerId> {
    let text = addr.to_string();
    let (_, id) = text.rsplit_once("/p2p/")?;
    id.parse().ok()
}

/// `addr` ending in `/p2p/<peer>` (appended unless it already names a peer id).
pub fn with_peer_id(addr: Multiaddr, peer: PeerId) -> Multiaddr {
    if peer_id_in(&addr).is_some() {
        return addr;
    }
    format!("{addr}/p2p/{peer}").parse().unwrap_or(addr)
}

/// Why an announcement was refused, as the NIP-01 `OK false` message (machine-readable
/// prefix first).
pub type Refusal = String;

/// Check an announcement event at `now`: everything [`Announcement::from_event`] checks,
/// plus the key binding of its multiaddrs (each must end in `/p2p/<peer id>` whose
/// secp256k1 key is the author's).
///
/// Errors: the refusal reason, prefixed `invalid:`.
pub fn verify(event: &Event, now: u64) -> Result<Announcement, Refusal> {
    let announcement = Announcement::from_event(event, now).map_err(|e| e.to_string())?;
    let author = protocol::btpnips::secret::parse_hex32(&event.pubkey).map_err(|e| format!("invalid: {e}"))?;
    for text in &announcement.multiaddrs {
        let addr: Multiaddr = text.parse().map_err(|e| format!("invalid: multiaddr {text:?}: {e}"))?;
        let peer =
            peer_id_in(&addr).ok_or_else(|| format!("invalid: multiaddr {text:?} does not end in /p2p/<peer id>"))?;
        if discovery::p2p::nostr_pubkey_of(&peer) != Some(author) {
            return Err(format!(
                "invalid: multiaddr {text:?} names peer id {peer}, which is not the key of the author"
            ));
        }
    }
    Ok(announcement)
}
