//! The node's status as JSON: identity, peer links, subscriptions and balances. Served by
//! the operator API and printed by `btpnips status`.
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::node::Node;

/// Build the status document. Balances are integers in asset units at `asset_scale`
/// (positive: the peer owes us / has paid us more than we paid it).
///
/// Errors: a storage read failed.
pub async fn status(node: &Arc<Node>) -> Result<Value, storage::StorageError> {
    let accounts = node.storage.accounts().await?;
    let stored_peers = node.storage.peers().await?;
    let events = node.storage.event_count().await?;
    let channels = node.storage.channels().await?;
    let links = node.links.all();
    let peers: Vec<Value> = stored_peers
        .iter()
        .map(|p| {
            let link = links.iter().find(|l| l.account == p.account_id);
            let balance = accounts.iter().find(|a| a.id == p.account_id).map(|a| a.balance).unwrap_or(0);
            json!({
                "account": p.account_id,
                "pubkey": p.pubkey,
                "ilp_address": p.ilp_address,
                "connected": link.is_some(),
                "direction": link.map(|l| l.direction),
                "asset_code": p.asset_code,
                "asset_scale": p.asset_scale,
                "prices": p.prices,
                "balance": balance,
                "last_seen": p.last_seen,
            })
        })
        .collect();
    let (outgoing, incoming) = node.stream.counts();
    let bound = *node.bound.lock().expect("poisoned");
    Ok(json!({
        "node": {
            "pubkey": node.key.pubkey_hex,
            // One key, three views: Nostr pubkey, libp2p PeerId, EVM address.
            "peer_id": node.p2p.as_ref().map(|p| p.local_peer_id().to_string()),
            "evm_address": contracts::claim::evm_address(&node.key.secret).ok().map(|a| a.to_checksum(None)),
            "key_at_rest": match crate::keys::KeyFile::read(&node.config.data_dir) {
                Ok(Some(crate::keys::KeyFile::Encrypted(_))) => "encrypted",
                Ok(Some(crate::keys::KeyFile::Plain(_))) => "unencrypted",
                _ => "unknown",
            },
            "ilp_address": node.address.to_string(),
            "asset_code": node.config.asset_code,
            "asset_scale": node.config.asset_scale,
            "prices": node.info().prices,
            "listen": bound,
        },
        "peers": peers,
        "subscriptions": node.subs.records(),
        "accounts": accounts,
        "routes": node.routes.snapshot(),
        "stream_connections": { "outgoing": outgoing, "incoming": incoming },
        "links": links.iter().map(|l| json!({
            "account": l.account, "relation": l.relation, "direction": l.direction, "transport": l.transport,
            "btpnips": l.info.is_some(),
        })).collect::<Vec<_>>(),
        "spsp_receipts": node.spsp.snapshot(),
        "settlement": node.settlement.as_ref().map(|e| e.info()),
        "channels": channels,
        "events_stored": events,
        // The single writer's group commit: transactions, submissions, faults, busy time (µs).
        "writer": node.storage.writer().stats(),
        "p2p": p2p_status(node).await,
        "directory": node.directory.all(crate::clock::now_secs()).iter().map(|e| json!({
            "pubkey": e.event.pubkey,
            "ilp_address": e.announcement.info.ilp_address,
            "multiaddrs": e.announcement.multiaddrs,
            "created_at": e.announcement.created_at,
            "expires_at": e.announcement.expires_at,
            "owners": e.announcement.owners,
        })).collect::<Vec<_>>(),
        "owner_pointers": node.directory.pointers(crate::clock::now_secs()).iter().map(|p| json!({
            "owner": p.pointer.owner,
            "node": p.pointer.node,
            "created_at": p.pointer.created_at,
            "resolves": node.directory.resolve(&p.pointer.owner, crate::clock::now_secs()).is_some(),
        })).collect::<Vec<_>>(),
        "follows": node.follows.followed(),
        "paid_publishing": {
            "price": node.config.prices.event_published,
            "stored_for_peers": node.paid_publish.stored_for_peers.load(Ordering::Relaxed),
            "earned": node.paid_publish.earned.load(Ordering::Relaxed),
            "store_on": node.config.store_on,
            "stored_on_peers": node.paid_publish.stored_on_peers.load(Ordering::Relaxed),
            "paid": node.paid_publish.paid.load(Ordering::Relaxed),
            "failed": node.paid_publish.failed.load(Ordering::Relaxed),
        },
    }))
}

/// The peer network as the operator sees it: our PeerId and addresses, connected and linked
/// peers, and the Kademlia known-node list.
async fn p2p_status(node: &Arc<Node>) -> Value {
    let Some(p2p) = &node.p2p else { return Value::Null };
    let known = p2p.known_nodes().await;
    json!({
        "peer_id": p2p.local_peer_id().to_string(),
        "listen": p2p.listen_addrs().await.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "connected": p2p.connected().await.iter().map(|(_, pk)| hex::encode(pk)).collect::<Vec<_>>(),
        "linked": node.p2p_state.linked(),
        "known_nodes": known.iter().map(|k| json!({
            "peer_id": k.peer.to_string(),
            "pubkey": hex::encode(k.pubkey),
            "addrs": k.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
