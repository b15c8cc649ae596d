//! The node's status as JSON: identity, peer links, subscriptions and balances. Served by
//! the operator API and printed by `btpnips status`.
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
            "account": l.account, "relation": l.relation, "direction": l.direction, "btpnips": l.info.is_some(),
        })).collect::<Vec<_>>(),
        "spsp_receipts": node.spsp.snapshot(),
        "settlement": node.settlement.as_ref().map(|e| e.info()),
        "channels": channels,
        "events_stored": events,
    }))
}
