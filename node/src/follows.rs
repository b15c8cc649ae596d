//! Follow lists drive subscriptions (NIP-02, docs/btp-nips.md §10): when an owner's client
//! publishes a Kind 3 contact list to this node, every followed pubkey gets a paid
//! subscription to its node (resolved through its Kind 32001 announcement), and every
//! pubkey dropped from the list has its subscription closed.
//!
//! The newest stored Kind 3 of each owner is the truth; on start-up it is read back from
//! storage, so follows survive a restart without the client publishing again.
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use protocol::nostr::{Event, Filter};
use tokio::sync::broadcast::error::RecvError;

use crate::node::Node;

/// NIP-02 contact list kind.
pub const KIND_FOLLOWS: u16 = 3;

/// What each owner follows, from their newest Kind 3.
#[derive(Default)]
pub struct Follows {
    /// Owner pubkey → (created_at of the list applied, followed pubkeys).
    lists: Mutex<HashMap<String, (u64, BTreeSet<String>)>>,
}

impl Follows {
    /// Every pubkey some owner follows.
    pub fn followed(&self) -> BTreeSet<String> {
        self.lists.lock().expect("poisoned").values().flat_map(|(_, set)| set.iter().cloned()).collect()
    }

    /// Whether some owner follows `pubkey`.
    pub fn is_followed(&self, pubkey: &str) -> bool {
        self.lists.lock().expect("poisoned").values().any(|(_, set)| set.contains(pubkey))
    }
}

/// The followed pubkeys of a contact list: its `p` tags holding 64 lowercase hex (others
/// are skipped, as NIP-02 clients do).
pub fn followed_in(event: &Event) -> BTreeSet<String> {
    event
        .tags
        .iter()
        .filter(|t| t.first().map(String::as_str) == Some("p"))
        .filter_map(|t| t.get(1))
        .filter(|pk| protocol::btpnips::secret::parse_hex32(pk).is_ok())
        .cloned()
        .collect()
}

/// Read the owners' newest contact lists from storage, apply them, and watch the node's
/// newly stored events for new ones.
pub async fn start(node: &Arc<Node>) -> Result<(), storage::StorageError> {
    let owners = node.config.owner_pubkeys(&node.key.pubkey_hex);
    let filter = Filter { authors: Some(owners), kinds: Some(vec![KIND_FOLLOWS]), ..Default::default() };
    for event in node.storage.query_events(&[filter]).await? {
        apply(node, &event);
    }
    let node = node.clone();
    let mut rx = node.hub.subscribe();
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        loop {
            let event = tokio::select! {
                _ = stop.changed() => break,
                r = rx.recv() => r,
            };
            match event {
                Ok(e) if e.kind == KIND_FOLLOWS => apply(&node, &e),
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "follow watcher lagged; re-reading contact lists");
                    let owners = node.config.owner_pubkeys(&node.key.pubkey_hex);
                    let filter =
                        Filter { authors: Some(owners), kinds: Some(vec![KIND_FOLLOWS]), ..Default::default() };
                    if let Ok(events) = node.storage.query_events(&[filter]).await {
                        events.iter().for_each(|e| apply(&node, e));
                    }
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}

/// Apply one owner's contact list if it is newer than the one applied: follow the added
/// pubkeys, unfollow the dropped ones (unless another owner still follows them).
pub fn apply(node: &Arc<Node>, event: &Event) {
    if event.kind != KIND_FOLLOWS || !node.config.owner_pubkeys(&node.key.pubkey_hex).contains(&event.pubkey) {
        return;
    }
    let new = followed_in(event);
    let (added, removed) = {
        let mut lists = node.follows.lists.lock().expect("poisoned");
        let entry = lists.entry(event.pubkey.clone()).or_default();
        if entry.0 > event.created_at {
            return;
        }
        let added: Vec<String> = new.difference(&entry.1).cloned().collect();
        let removed: Vec<String> = entry.1.difference(&new).cloned().collect();
        *entry = (event.created_at, new);
        let still: BTreeSet<String> = lists.values().flat_map(|(_, s)| s.iter().cloned()).collect();
        (added, removed.into_iter().filter(|pk| !still.contains(pk)).collect::<Vec<_>>())
    };
    tracing::info!(owner = %event.pubkey, follows = added.len(), unfollows = removed.len(), "contact list applied");
    for pk in &added {
        crate::btpnips::follow(node, pk);
    }
    for pk in &removed {
        crate::btpnips::unfollow(node, pk);
    }
}

/// A new announcement arrived for `pubkey`: if it is followed, make sure its subscription
/// is open (it may have been waiting for the announcement).
pub fn on_announcement(node: &Arc<Node>, pubkey: &str) {
    if node.follows.is_followed(pubkey) {
        crate::btpnips::follow(node, pubkey);
    }
}
