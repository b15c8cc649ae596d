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
//!
//! Owner pointers (an owner whose key lives in a separate signer names this node's key) are
//! Kind 32001 events too: a local client publishes one, and it spreads and is checked the
//! same way; [`Directory::resolve`] follows a pointer only to a node that names the owner back.
use std::sync::Arc;
use std::time::Duration;

use discovery::p2p::{Multiaddr, PeerId, Proto};
use protocol::btpnips::announcement::{Announcement, KIND};
use protocol::nostr::{ClientMessage, Event, Filter, RelayMessage};
use storage::Op;

use crate::node::Node;

mod directory;

pub use directory::{
    check, peer_id_in, verify, with_peer_id, Checked, Directory, Entry, PointerEntry, Refusal, MAX_DIRECTORY,
    MIN_REANNOUNCE_SECS,
};

/// Read stored announcements back into the directory (and their multiaddrs into Kademlia),
/// then sign ours now and every `p2p.announce_interval_secs`.
pub async fn start(node: &Arc<Node>) -> Result<(), storage::StorageError> {
    let now = crate::clock::now_secs();
    let stored = node.storage.query_events(&[Filter { kinds: Some(vec![KIND]), ..Default::default() }]).await?;
    let mut known = 0;
    for event in stored {
        if let Ok(checked) = check(&event, now) {
            if let (Checked::Node(a), Some(p2p)) = (&checked, &node.p2p) {
                // The known-node list survives a restart: Kademlia starts from every node we
                // hold a live announcement of, not only from the bootstrap list.
                if event.pubkey != node.key.pubkey_hex {
                    for addr in a.multiaddrs.iter().filter_map(|t| t.parse::<Multiaddr>().ok()) {
                        if let Some(peer) = peer_id_in(&addr) {
                            p2p.add_address(peer, addr).await;
                            known += 1;
                        }
                    }
                }
            }
            node.directory.offer(checked, event);
        }
    }
    if known > 0 {
        tracing::info!(addresses = known, "known nodes restored from stored announcements");
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
        owners: node
            .config
            .owner_pubkeys(&node.key.pubkey_hex)
            .into_iter()
            .filter(|o| *o != node.key.pubkey_hex)
            .collect(),
        expires_at: created_at + node.config.p2p.announce_ttl_secs,
        created_at,
    };
    let event = announcement.to_event(&node.key.secret, rand::random()).map_err(|e| e.to_string())?;
    accept(node, event, Origin::Own).await.map(|_| ())
}

/// A local client published a Kind 32001 event and it was stored (ingest): if it is a
/// valid announcement or owner pointer (an owner with a separate signer points at this
/// node, §8), take it into the directory and spread it like our own.
pub fn on_local(node: &Arc<Node>, event: &Event) {
    if event.kind != KIND {
        return;
    }
    let node = node.clone();
    let event = event.clone();
    tokio::spawn(async move {
        let id = event.id.clone();
        match accept(&node, event, Origin::Local).await {
            Ok(new) => tracing::debug!(%id, new, "local Kind 32001 taken into the directory"),
            Err(why) => tracing::info!(%id, reason = %why, "local Kind 32001 stored but not used"),
        }
    });
}

/// Where a Kind 32001 event came from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// We signed it.
    Own,
    /// A local client published it; ingest already stored it and showed it to local clients.
    Local,
    /// A peer gossiped it.
    Peer(PeerId),
}

/// Verify, store and forward a Kind 32001 event (announcement or owner pointer). Returns
/// whether it was new.
async fn accept(node: &Arc<Node>, event: Event, origin: Origin) -> Result<bool, Refusal> {
    let from = match origin {
        Origin::Peer(p) => Some(p),
        Origin::Own | Origin::Local => None,
    };
    let now = crate::clock::now_secs();
    let checked = check(&event, now)?;
    if from.is_some() && event.pubkey == node.key.pubkey_hex {
        return Ok(false); // our own, back from the network
    }
    if node.directory.newest(&event.pubkey).is_some_and(|t| t >= event.created_at) {
        return Ok(false);
    }
    if from.is_some() {
        node.directory.admit(&event.pubkey, event.created_at, now)?;
    }
    if !matches!(origin, Origin::Local) {
        node.storage.writer().submit(vec![Op::InsertEvent(event.clone())]).await.map_err(|e| {
            tracing::error!(error = %e, "could not store an announcement");
            "error: could not store".to_string()
        })?;
    }
    if !node.directory.offer(checked.clone(), event.clone()) {
        return Ok(false);
    }
    match &checked {
        Checked::Node(a) => tracing::info!(
            node = %event.pubkey, ilp_address = %a.info.ilp_address, multiaddrs = a.multiaddrs.len(),
            owners = a.owners.len(), from = ?from, "announcement accepted"
        ),
        Checked::Owner(p) => {
            tracing::info!(owner = %p.owner, node = %p.node, from = ?from, "owner pointer accepted");
            if p.node == node.key.pubkey_hex && !node.config.owners.contains(&p.owner) {
                tracing::warn!(
                    owner = %p.owner,
                    "an owner pointer names this node, but `owners` does not list that key: followers will not \
                     resolve it until it does (our announcement names each configured owner back)"
                );
            }
        }
    }
    let event = Arc::new(event);
    if !matches!(origin, Origin::Local) {
        let _ = node.hub.send(event.clone());
    }
    if let Some(p2p) = &node.p2p {
        if let Checked::Node(a) = &checked {
            for text in &a.multiaddrs {
                if let Ok(addr) = text.parse::<Multiaddr>() {
                    if let Some(peer) = peer_id_in(&addr) {
                        p2p.add_address(peer, addr).await;
                    }
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
    // A followed key may now resolve: the key itself, or an owner this node names.
    crate::follows::on_announcement(node, &event.pubkey);
    if let Checked::Node(a) = &checked {
        a.owners.iter().for_each(|o| crate::follows::on_announcement(node, o));
    }
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

/// A peer connected: give it every announcement and owner pointer we hold (ours included).
pub fn sync_to(node: &Arc<Node>, peer: PeerId) {
    let now = crate::clock::now_secs();
    let pointers = node.directory.pointers(now).into_iter().map(|p| p.event);
    for event in node.directory.all(now).into_iter().map(|e| e.event).chain(pointers) {
        send(node, peer, ClientMessage::Event(event).to_json().into_bytes());
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
    let (accepted, message) = match accept(node, event.clone(), Origin::Peer(peer)).await {
        Ok(true) => (true, String::new()),
        Ok(false) => (true, "duplicate: not newer than the announcement held".into()),
        Err(why) => {
            tracing::warn!(%peer, node = %event.pubkey, reason = %why, "announcement refused");
            (false, why)
        }
    };
    RelayMessage::Ok { event_id: event.id, accepted, message }.to_json().into_bytes()
}
