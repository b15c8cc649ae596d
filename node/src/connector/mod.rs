//! The ILP connector: every Prepare, whether it came from a peer link or from this node's
//! own STREAM sender, passes one chain of small steps (after interledger-rs):
//!
//! `validate` (expiry) → `route` (local endpoint, or longest-prefix match to a link) →
//! `forward` (lower the expiry, send on the link, check the fulfillment) → `balance`
//! (persist the balance changes before the Fulfill goes back).
//!
//! Balances move only on a valid Fulfill. A Prepare fulfilled by the local STREAM endpoint is
//! credited by that endpoint in the same transaction as its own effects (see `stream`).
mod router;

use std::sync::Arc;
use std::time::Duration;

use protocol::ilp::{condition_of, ErrorCode, Fulfill, Prepare, Reject};
use storage::{LedgerEntry, Op, PeerRecord};

pub use router::RoutingTable;

use crate::link::LinkHandle;
use crate::node::Node;

/// Where a Prepare came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This node's own STREAM sender.
    Local,
    /// A peer link, by account id.
    Peer(String),
}

/// Expiry taken off at each hop so the upstream hop has time to pass the Fulfill back
/// (RFC 34, "telescoping").
pub const EXPIRY_MARGIN: Duration = Duration::from_millis(1000);
/// Longest we hold a forwarded Prepare, whatever its expiry says.
pub const MAX_HOLD: Duration = Duration::from_secs(30);

/// A Reject triggered by this node.
pub fn reject(node: &Node, code: ErrorCode, message: &str) -> Reject {
    Reject { code, triggered_by: Some(node.address.clone()), message: message.to_owned(), data: vec![] }
}

/// Handle one Prepare: deliver it locally or forward it, and return the Fulfill or Reject.
pub async fn handle_prepare(node: &Arc<Node>, from: Source, prepare: Prepare) -> Result<Fulfill, Reject> {
    let now = crate::clock::now();
    if prepare.expires_at <= now {
        return Err(reject(node, ErrorCode::R00_TRANSFER_TIMED_OUT, "packet expired before it arrived"));
    }
    if prepare.destination.has_prefix(node.address.as_str()) {
        return crate::stream::receive(node, from, prepare).await;
    }
    if prepare.destination.scheme() == "peer" {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, "peer.* addresses are not forwarded"));
    }
    let Some(account) = node.routes.resolve(&prepare.destination) else {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, &format!("no route to {}", prepare.destination)));
    };
    if from == Source::Peer(account.clone()) {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, "route points back to the sender"));
    }
    forward(node, from, &account, prepare).await
}

async fn forward(node: &Arc<Node>, from: Source, account: &str, mut prepare: Prepare) -> Result<Fulfill, Reject> {
    let Some(link) = node.links.get(account) else {
        return Err(reject(node, ErrorCode::T01_PEER_UNREACHABLE, "peer link is down"));
    };
    let now = crate::clock::now();
    let hold = chrono::Duration::from_std(MAX_HOLD).expect("small");
    let margin = chrono::Duration::from_std(EXPIRY_MARGIN).expect("small");
    let outgoing_expiry = if from == Source::Local { prepare.expires_at } else { prepare.expires_at - margin };
    let outgoing_expiry = outgoing_expiry.min(now + hold);
    if outgoing_expiry <= now {
        return Err(reject(node, ErrorCode::R02_INSUFFICIENT_TIMEOUT, "not enough time left to forward"));
    }
    prepare.expires_at = outgoing_expiry;
    let wait = (outgoing_expiry - now).to_std().unwrap_or_default();
    let condition = prepare.execution_condition;
    let amount = prepare.amount;
    let result = link.send_prepare(prepare, wait).await;
    let fulfill = match result {
        Ok(Ok(f)) => f,
        Ok(Err(r)) => return Err(r),
        Err(crate::link::LinkError::Timeout) => {
            return Err(reject(node, ErrorCode::R00_TRANSFER_TIMED_OUT, "no reply before expiry"))
        }
        Err(e) => return Err(reject(node, ErrorCode::T01_PEER_UNREACHABLE, &e.to_string())),
    };
    if condition_of(&fulfill.fulfillment) != condition {
        tracing::warn!(peer = %account, "fulfillment does not match the condition; rejecting");
        return Err(reject(node, ErrorCode::F05_WRONG_CONDITION, "fulfillment did not match the execution condition"));
    }
    if amount > 0 {
        let cond = hex::encode(condition);
        let mut ops = vec![Op::Ledger(ledger_entry(node, &link.account, -(amount as i64), format!("out:{cond}"), "fulfilled outgoing Prepare"))];
        if let Source::Peer(src) = &from {
            ops.push(Op::Ledger(ledger_entry(node, src, amount as i64, format!("in:{cond}"), "fulfilled forwarded Prepare")));
        }
        match node.storage.writer().submit(ops).await {
            Ok(outcomes) => {
                if let Some(storage::OpOutcome::Ledger(storage::LedgerOutcome::Applied { balance })) = outcomes.first() {
                    tracing::info!(
                        peer = %link.account, amount, condition = %cond, fulfillment = %hex::encode(fulfill.fulfillment),
                        balance, "Prepare fulfilled (SHA-256(fulfillment) == condition); balance with peer debited"
                    );
                }
            }
            Err(e) => {
                // The peer has fulfilled; we failed to record it. Refuse upstream so our own
                // books and the upstream peer's stay consistent with each other.
                tracing::error!(error = %e, "could not persist balance change");
                return Err(reject(node, ErrorCode::T00_INTERNAL_ERROR, "could not record balance"));
            }
        }
    }
    Ok(fulfill)
}

/// A ledger entry in the node's asset. `delta` is in asset units (positive: the peer owes
/// us more / paid us; negative: we paid the peer).
pub fn ledger_entry(node: &Node, account: &str, delta: i64, reference: String, memo: &str) -> LedgerEntry {
    LedgerEntry {
        account: account.to_owned(),
        asset_code: node.config.asset_code.clone(),
        asset_scale: node.config.asset_scale,
        delta,
        reference,
        memo: memo.to_owned(),
        created_at: crate::clock::now_secs(),
    }
}

/// A link came up: install it and its route, remember the peer, and let BTP-NIPs resume.
pub async fn link_up(node: &Arc<Node>, link: LinkHandle) {
    let info = link.info.clone();
    node.routes.set(&info.ilp_address, &link.account);
    node.links.insert(link.clone());
    node.peers.lock().expect("poisoned").insert(info.pubkey.clone(), info.clone());
    let record = PeerRecord {
        account_id: link.account.clone(),
        pubkey: info.pubkey.clone(),
        ilp_address: info.ilp_address.clone(),
        url: None,
        asset_code: info.asset_code.clone(),
        asset_scale: info.asset_scale,
        prices: serde_json::to_value(&info.prices).unwrap_or_default(),
        last_seen: crate::clock::now_secs(),
    };
    if let Err(e) = node.storage.writer().submit(vec![Op::UpsertPeer(record)]).await {
        tracing::error!(error = %e, "could not record peer");
    }
    crate::btpnips::on_link_up(node, &info.pubkey);
}

/// A link went down: drop it and its routes if it is still the current link.
pub fn link_down(node: &Arc<Node>, account: &str, link_id: u64) {
    if node.links.remove(account, link_id) {
        node.routes.remove_account(account);
    }
}
