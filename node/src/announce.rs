//! Kind 32001 node announcements (docs/btp-nips.md §8): this node signs and spreads its own,
//! and keeps the verified announcements of other nodes in a [`Directory`].
//!
//! Announcements travel between nodes as NIP-01 `EVENT` messages on the libp2p protocol
//! `/btpnips/nostr/1.0.0`: a new connection gets every announcement we hold, and a newly
//! accepted one is forwarded to every connected peer except the one it came from (flooding
//! with de-duplication: an announcement not newer than the one held is not forwarded).
//! Before use, each is checked: signature and id, the content's key is the author's, NIP-40
//! expiration not passed, `created_at` not in the future, and every multiaddr's `/p2p/` peer
//! id is the author's key. Refusals are logged with the reason and answered `OK false`.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery::p2p::{Multiaddr, PeerId, Proto};
use protocol::btpnips::announcement::{Announcement, KIND};
use protocol::nostr::{ClientMessage, Event, Filter, RelayMessage};
use storage::Op;

use crate::node::Node;

/// One verified announcement and the event that carried it (kept to forward it as is).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The decoded announcement.
    pub announcement: Announcement,
    /// The signed event.
    pub event: Event,
}

/// Verified announcements by author pubkey (hex), the newest of each.
#[derive(Default)]
pub struct Directory {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Directory {
    /// The announcement of `pubkey` if we hold one that has not expired at `now` (unix s).
    pub fn get(&self, pubkey: &str, now: u64) -> Option<Entry> {
        self.entries.lock().expect("poisoned").get(pubkey).filter(|e| e.announcement.expires_at > now).cloned()
    }

    /// Every unexpired announcement we hold.
    pub fn all(&self, now: u64) -> Vec<Entry> {
        self.entries.lock().expect("poisoned").values().filter(|e| e.announcement.expires_at > now).cloned().collect()
    }

    /// Keep `entry` unless we hold one at least as new. Returns whether it was kept.
    fn offer(&self, entry: Entry) -> bool {
        let mut map = self.entries.lock().expect("poisoned");
        let key = entry.event.pubkey.clone();
        if map.get(&key).is_some_and(|old| old.announcement.created_at >= entry.announcement.created_at) {
            return false;
        }
        map.insert(key, entry);
        true
    }

    /// Whether a new announcement of `pubkey` made at `created_at` may be taken: refused
    /// (with the reason) when it comes less than [`MIN_REANNOUNCE_SECS`] after the one held
    /// (a key re-signing in a loop would otherwise flood the network), or when it is a new key
    /// and the directory already holds [`MAX_DIRECTORY`] unexpired entries. Expired entries
    /// are dropped here.
    fn admit(&self, pubkey: &str, created_at: u64, now: u64) -> Result<(), Refusal> {
        let mut map = self.entries.lock().expect("poisoned");
        match map.get(pubkey) {
            Some(old) if created_at < old.announcement.created_at + MIN_REANNOUNCE_SECS => {
                Err(format!("rate-limited: re-announced within {MIN_REANNOUNCE_SECS} s"))
            }
            Some(_) => Ok(()),
            None => {
                if map.len() >= MAX_DIRECTORY {
                    map.retain(|_, e| e.announcement.expires_at > now);
                }
                if map.len() >= MAX_DIRECTORY {
                    return Err(format!("rate-limited: directory full ({MAX_DIRECTORY} nodes)"));
                }
                Ok(())
            }
        }
    }
}

/// Most nodes the directory holds.
pub const MAX_DIRECTORY: usize = 10_000;
/// Least time (seconds) between two announcements of one key that we take.
pub const MIN_REANNOUNCE_SECS: u64 = 5;

impl Directory {
    /// Number of announcements held (expired ones until dropped).
    pub fn len(&self) -> usize {
        self.entries.lock().expect("poisoned").len()
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

/// Read stored announcements back into the directory, then sign ours now and every
/// `p2p.announce_interval_secs`.
pub async fn start(node: &Arc<Node>) -> Result<(), storage::StorageError> {
    let now = crate::clock::now_secs();
    let stored = node.storage.query_events(&[Filter { kinds: Some(vec![KIND]), ..Default::default() }]).await?;
    for event in stored {
        if let Ok(announcement) = verify(&event, now) {
            node.directory.offer(Entry { announcement, event });
        }
    }
    let node = node.clone();
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        let every = Duration::from_secs(node.config.p2p.announce_interval_secs.max(1));
        loop {
            if let Err(e) = publish_own(&node).await {
                tracing::warn!(error = %e, "could not publish our announcement");
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
    Ok(())
}

/// The multiaddrs others can dial us at: bound listen addresses (not unspecified ones, and
/// loopback ones only when there is nothing else) and configured external ones, each with our
/// `/p2p/<peer id>`.
async fn own_multiaddrs(node: &Node) -> Vec<String> {
    let Some(p2p) = &node.p2p else { return Vec::new() };
    let me = p2p.local_peer_id();
    let mut addrs: Vec<Multiaddr> = p2p.listen_addrs().await;
    addrs.extend(node.config.p2p.external_addrs.iter().filter_map(|a| a.parse().ok()));
    addrs.retain(|a| !a.to_string().contains("/0.0.0.0/") && !a.to_string().contains("/::/"));
    // Loopback addresses help nobody else, unless they are all we have (one-machine setups).
    let is_loopback = |a: &Multiaddr| a.to_string().starts_with("/ip4/127.") || a.to_string().starts_with("/ip6/::1/");
    if addrs.iter().any(|a| !is_loopback(a)) {
        addrs.retain(|a| !is_loopback(a));
    }
    let mut out: Vec<String> = addrs.into_iter().map(|a| with_peer_id(a, me).to_string()).collect();
    out.sort();
    out.dedup();
    out
}

/// Sign our announcement (valid for `announce_ttl_secs`), store it and spread it.
pub async fn publish_own(node: &Arc<Node>) -> Result<(), String> {
    let now = crate::clock::now_secs();
    // created_at must grow: a re-announcement in the same second would not replace ours.
    let previous = node.directory.get(&node.key.pubkey_hex, 0).map(|e| e.announcement.created_at).unwrap_or(0);
    let created_at = now.max(previous + 1);
    let bound = *node.bound.lock().expect("poisoned");
    let btp_url = bound.peer.filter(|a| !a.ip().is_unspecified()).map(|a| format!("ws://{a}"));
    let announcement = Announcement {
        info: node.info(),
        multiaddrs: own_multiaddrs(node).await,
        btp_url,
        expires_at: created_at + node.config.p2p.announce_ttl_secs,
        created_at,
    };
    let event = announcement.to_event(&node.key.secret, rand::random()).map_err(|e| e.to_string())?;
    accept(node, event, None).await.map(|_| ())
}

/// Verify, store and forward an announcement that came from `from` (None: our own).
/// Returns whether it was new.
async fn accept(node: &Arc<Node>, event: Event, from: Option<PeerId>) -> Result<bool, Refusal> {
    let announcement = verify(&event, crate::clock::now_secs())?;
    if from.is_some() && event.pubkey == node.key.pubkey_hex {
        return Ok(false); // our own, back from the network
    }
    let entry = Entry { announcement: announcement.clone(), event: event.clone() };
    if node.directory.get(&event.pubkey, 0).is_some_and(|old| old.announcement.created_at >= announcement.created_at) {
        return Ok(false);
    }
    if from.is_some() {
        node.directory.admit(&event.pubkey, announcement.created_at, crate::clock::now_secs())?;
    }
    node.storage.writer().submit(vec![Op::InsertEvent(event.clone())]).await.map_err(|e| {
        tracing::error!(error = %e, "could not store an announcement");
        "error: could not store".to_string()
    })?;
    if !node.directory.offer(entry) {
        return Ok(false);
    }
    tracing::info!(
        node = %event.pubkey, ilp_address = %announcement.info.ilp_address,
        multiaddrs = announcement.multiaddrs.len(), from = ?from, "announcement accepted"
    );
    let event = Arc::new(event);
    let _ = node.hub.send(event.clone());
    if let Some(p2p) = &node.p2p {
        for text in &announcement.multiaddrs {
            if let Ok(addr) = text.parse::<Multiaddr>() {
                if let Some(peer) = peer_id_in(&addr) {
                    p2p.add_address(peer, addr).await;
                }
            }
        }
        let message = ClientMessage::Event((*event).clone()).to_json().into_bytes();
        for (peer, _) in p2p.connected().await {
            if Some(peer) != from {
                send(node, peer, message.clone());
            }
        }
    }
    crate::follows::on_announcement(node, &event.pubkey);
    Ok(true)
}

/// Send one gossip message to `peer` in the background; log its refusal.
fn send(node: &Arc<Node>, peer: PeerId, message: Vec<u8>) {
    let Some(p2p) = node.p2p.clone() else { return };
    tokio::spawn(async move {
        match p2p.request(peer, Proto::Nostr, message).await {
            Ok(reply) => {
                if let Ok(RelayMessage::Ok { accepted: false, message, .. }) =
                    RelayMessage::parse(&String::from_utf8_lossy(&reply))
                {
                    tracing::debug!(%peer, %message, "peer refused an announcement we forwarded");
                }
            }
            Err(e) => tracing::debug!(%peer, error = %e, "could not forward an announcement"),
        }
    });
}

/// A peer connected: give it every announcement we hold (ours included).
pub fn sync_to(node: &Arc<Node>, peer: PeerId) {
    for entry in node.directory.all(crate::clock::now_secs()) {
        send(node, peer, ClientMessage::Event(entry.event).to_json().into_bytes());
    }
}

/// A gossip message from `peer` (NIP-01 JSON). Answers `OK` (true for new or duplicate,
/// false with the reason) or a NOTICE for anything but an EVENT.
pub async fn on_gossip(node: &Arc<Node>, peer: PeerId, data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let event = match ClientMessage::parse(&text) {
        Ok(ClientMessage::Event(e)) => e,
        Ok(_) => {
            return RelayMessage::Notice { message: "invalid: only EVENT is accepted on this protocol".into() }
                .to_json()
                .into_bytes()
        }
        Err(e) => {
            tracing::warn!(%peer, error = %e, "garbage on the gossip protocol");
            return RelayMessage::Notice { message: format!("invalid: {e}") }.to_json().into_bytes();
        }
    };
    let (accepted, message) = match accept(node, event.clone(), Some(peer)).await {
        Ok(true) => (true, String::new()),
        Ok(false) => (true, "duplicate: not newer than the announcement held".into()),
        Err(why) => {
            tracing::warn!(%peer, node = %event.pubkey, reason = %why, "announcement refused");
            (false, why)
        }
    };
    RelayMessage::Ok { event_id: event.id, accepted, message }.to_json().into_bytes()
}
