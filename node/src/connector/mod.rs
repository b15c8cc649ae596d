//! The ILP connector: every Prepare, whether it came from a peer link or from this node's
//! own STREAM sender, passes one chain of small steps (after interledger-rs):
//!
//! `validate` (expiry, max packet amount, credit limit) → `peer protocols` (IL-DCP
//! `peer.config`) → `route` (local endpoint, or longest-prefix match to a link) → `forward`
//! (take the fee, lower the expiry, send on the link, check the fulfillment) → `balance`
//! (persist the balance changes before the Fulfill goes back).
//!
//! Balances move only on a valid Fulfill. A Prepare fulfilled by the local STREAM endpoint is
//! credited by that endpoint in the same transaction as its own effects (see `stream`).
pub mod ccp;
pub mod credit;
mod router;

use std::sync::Arc;
use std::time::Duration;

use protocol::ildcp;
use protocol::ilp::{condition_of, AmountTooLargeData, ErrorCode, Fulfill, Prepare, Reject};
use storage::{LedgerEntry, Op, PeerRecord};

pub use router::RoutingTable;

use crate::config::Relation;
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
    let mut _reservation = None;
    if let Source::Peer(account) = &from {
        if let Some(max) = node.config.account(account).and_then(|a| a.max_packet_amount) {
            if prepare.amount > max {
                let mut r = reject(
                    node,
                    ErrorCode::F08_AMOUNT_TOO_LARGE,
                    &format!("packet amount {} exceeds the maximum {max}", prepare.amount),
                );
                r.data = AmountTooLargeData { received_amount: prepare.amount, maximum_amount: max }.encode();
                return Err(r);
            }
        }
        if prepare.destination.scheme() == "peer" {
            return peer_protocol(node, account, &prepare);
        }
    }
    let route = node.routes.resolve_with_prefix(&prepare.destination);
    let local = node.local_prefix(&prepare.destination);
    if let Some(local) = local.filter(|l| route.as_ref().is_none_or(|(prefix, _)| prefix.len() <= l.as_str().len())) {
        // The receiver checks credit itself, after it knows the packet is fulfillable.
        return crate::stream::receive(node, from, prepare, &local).await;
    }
    if let Source::Peer(account) = &from {
        _reservation = credit::reserve(node, account, prepare.amount).await?;
    }
    if prepare.destination.scheme() == "peer" {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, "peer.* addresses are not forwarded"));
    }
    let Some((_, account)) = route else {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, &format!("no route to {}", prepare.destination)));
    };
    if from == Source::Peer(account.clone()) {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, "route points back to the sender"));
    }
    forward(node, from, &account, prepare).await
}

/// Prepares to `peer.*` from a peer: IL-DCP (`peer.config`, for children) and CCP
/// (`peer.route.*`, for peers and parents). Anything else at `peer.*` is not for us: F02.
fn peer_protocol(node: &Arc<Node>, account: &str, prepare: &Prepare) -> Result<Fulfill, Reject> {
    if ildcp::is_ildcp_request(prepare) {
        let child = node.config.account(account).filter(|a| a.relation == Relation::Child);
        let Some(child) = child else {
            return Err(reject(node, ErrorCode::F00_BAD_REQUEST, "IL-DCP is only served to child accounts"));
        };
        let client_address = node.address.with_suffix(&child.id).map_err(|e| {
            reject(node, ErrorCode::F00_BAD_REQUEST, &format!("account id is not an address segment: {e}"))
        })?;
        let response = ildcp::IldcpResponse {
            client_address,
            asset_scale: node.config.asset_scale,
            asset_code: node.config.asset_code.clone(),
        };
        return Ok(ildcp::fulfill(&response));
    }
    if protocol::ccp::is_control(prepare) || protocol::ccp::is_update(prepare) {
        return ccp::handle(node, account, prepare);
    }
    Err(reject(node, ErrorCode::F02_UNREACHABLE, &format!("no handler for {}", prepare.destination)))
}

/// The fee on a forwarded amount (asset units): `fixed + amount × bps / 10 000`, for
/// non-zero amounts only.
pub fn fee(config: &crate::config::FeeConfig, amount: u64) -> u64 {
    if amount == 0 {
        return 0;
    }
    config.fixed.saturating_add(((amount as u128 * config.basis_points as u128) / 10_000) as u64)
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
    let incoming_amount = prepare.amount;
    if from != Source::Local {
        let fee = fee(&node.config.fee, incoming_amount);
        if fee > 0 && fee >= incoming_amount {
            return Err(reject(
                node,
                ErrorCode::R01_INSUFFICIENT_SOURCE_AMOUNT,
                &format!("amount {incoming_amount} does not cover the fee {fee}"),
            ));
        }
        prepare.amount = incoming_amount - fee;
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
    if incoming_amount > 0 {
        let cond = hex::encode(condition);
        let mut ops = Vec::new();
        if amount > 0 {
            ops.push(Op::Ledger(ledger_entry(
                node,
                &link.account,
                -(amount as i64),
                format!("out:{cond}"),
                "fulfilled outgoing Prepare",
            )));
        }
        if let Source::Peer(src) = &from {
            ops.push(Op::Ledger(ledger_entry(
                node,
                src,
                incoming_amount as i64,
                format!("in:{cond}"),
                "fulfilled forwarded Prepare",
            )));
        }
        match node.storage.writer().submit(ops).await {
            Ok(outcomes) => {
                if let Some(storage::OpOutcome::Ledger(storage::LedgerOutcome::Applied { balance })) = outcomes.first()
                {
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

/// A link came up: install it and its routes; for a btpnips peer, remember its info and let
/// BTP-NIPs resume.
pub async fn link_up(node: &Arc<Node>, link: LinkHandle) {
    node.links.insert(link.clone());
    let Some(info) = link.info.clone() else {
        if let Some(account) = node.config.account(&link.account) {
            match account.relation {
                Relation::Child => {
                    if let Ok(a) = node.address.with_suffix(&account.id) {
                        node.routes.set(a.as_str(), &account.id);
                    }
                }
                Relation::Parent => {
                    node.routes.set("", &account.id);
                    request_address(node, link.clone());
                }
                Relation::Peer => {}
            }
            for prefix in &account.routes {
                node.routes.set(prefix, &account.id);
            }
            if ccp::speaks_ccp(node, &account.id) {
                ccp::on_link_up(&link);
            }
        }
        return;
    };
    node.routes.set_with_path(&info.ilp_address, &link.account, vec![info.ilp_address.clone()]);
    ccp::on_peer_link_up(node, &link);
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

/// Ask a parent for our address by IL-DCP (RFC 31) and adopt it as a local address.
fn request_address(node: &Arc<Node>, link: LinkHandle) {
    let node = node.clone();
    tokio::spawn(async move {
        let request = ildcp::request(crate::clock::now() + chrono::Duration::seconds(30));
        match link.send_prepare(request, std::time::Duration::from_secs(30)).await {
            Ok(Ok(f)) => match ildcp::IldcpResponse::decode(&f.data) {
                Ok(r) => {
                    tracing::info!(parent = %link.account, address = %r.client_address, asset = %r.asset_code, scale = r.asset_scale, "IL-DCP: parent assigned our address");
                    *node.parent_address.write().expect("poisoned") = Some(r.client_address);
                }
                Err(e) => tracing::warn!(parent = %link.account, error = %e, "IL-DCP answer malformed"),
            },
            Ok(Err(r)) => {
                tracing::warn!(parent = %link.account, code = %r.code, message = %r.message, "IL-DCP refused")
            }
            Err(e) => tracing::warn!(parent = %link.account, error = %e, "IL-DCP failed"),
        }
    });
}

/// A link went down: drop it and its routes if it is still the current link.
pub fn link_down(node: &Arc<Node>, account: &str, link_id: u64) {
    if node.links.remove(account, link_id) {
        node.routes.remove_account(account);
    }
}
