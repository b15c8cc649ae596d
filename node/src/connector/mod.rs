//! The ILP connector (RFC 27 ILPv4): every Prepare, whether it came from a peer link or from
//! this node's own STREAM sender, passes one chain of small steps (after interledger-rs).
//! Each step implements [`IncomingService`] or [`OutgoingService`] (`service.rs`), owns only
//! its `next` service and the ports it uses, and is tested alone; [`handle_prepare`] builds
//! the chain on the node's ports (`ports.rs`). In order, with the Rejects each step makes:
//!
//! 1. `validate.rs` — expired on arrival: R00; above the peer's `max_packet_amount`: F08
//!    (with received/maximum amounts as data).
//! 2. `peer_protocol.rs` — `peer.*` from a peer: IL-DCP `peer.config` for children (F00
//!    otherwise), CCP `peer.route.*` (F00 for non-CCP accounts), anything else F02.
//! 3. `route.rs` — our own address (no longer route): the local STREAM endpoint; else the
//!    longest-prefix route; F02 for `peer.*`, no route, or a route back to the sender.
//! 4. `credit.rs` — a peer's amount reserved against its credit limit until the outcome
//!    (RFC 32): T04 over the limit, T00 balance unreadable.
//! 5. `forward.rs` [`Forward`](forward::Forward) — T01 link down; expiry lowered by
//!    [`EXPIRY_MARGIN`] (RFC 34), capped by [`MAX_HOLD`]: R02 no time left; fee taken: R01
//!    when it eats the amount.
//! 6. `balance.rs` — after a valid Fulfill, the ledger (`out:`/`in:<condition hex>`)
//!    committed before the Fulfill goes back: T00 when the commit fails.
//! 7. `forward.rs` [`SendOnLink`](forward::SendOnLink) — sent on the link: the peer's Reject
//!    as is, R00 no reply before the expiry, T01 link failed, F05 SHA-256(fulfillment) ≠
//!    condition.
//!
//! Balances move only on a valid Fulfill. A Prepare fulfilled by the local STREAM endpoint is
//! credited by that endpoint in the same transaction as its own effects (see `stream`); the
//! endpoint reserves credit itself with [`credit::reserve`].
pub mod balance;
pub mod ccp;
pub mod credit;
pub mod forward;
pub mod peer_protocol;
pub mod ports;
pub mod route;
mod router;
pub mod service;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use protocol::ildcp;
use protocol::ilp::{ErrorCode, Fulfill, Prepare, Reject};
use storage::{LedgerEntry, Op, PeerRecord};

use self::balance::Balance;
use self::credit::Credit;
pub use self::forward::fee;
use self::forward::{Forward, SendOnLink};
pub use self::peer_protocol::Asset;
use self::peer_protocol::PeerProtocol;
use self::ports::NodePorts;
use self::route::Route;
pub use self::service::{IlpResult, IncomingRequest, IncomingService, OutgoingRequest, OutgoingService};
use self::validate::Validate;
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
    service::reject_at(&node.address, code, message)
}

/// Handle one Prepare (RFC 27 §3.1) from `from`: pass it down the chain of steps built on
/// the node's ports (see the module doc) and return the Fulfill or the Reject.
pub async fn handle_prepare(node: &Arc<Node>, from: Source, prepare: Prepare) -> Result<Fulfill, Reject> {
    chain(node).handle_request(IncomingRequest { from, prepare }).await
}

/// The connector chain of `node`, in the order of the module doc.
fn chain(node: &Arc<Node>) -> impl IncomingService {
    let ports = NodePorts::new(node);
    let address = &node.address;
    let asset = Asset { code: node.config.asset_code.clone(), scale: node.config.asset_scale };
    let send = SendOnLink::new(address.clone(), ports.clone());
    let balance = Balance::new(address.clone(), asset.clone(), ports.clone(), send);
    let forward = Forward::new(address.clone(), node.config.fee, ports.clone(), balance);
    let credit = Credit::new(address.clone(), ports.clone(), node.pending.clone(), forward);
    let route = Route::new(address.clone(), ports.clone(), ports.clone(), credit);
    let peer_protocol = PeerProtocol::new(address.clone(), asset, ports.clone(), route);
    Validate::new(address.clone(), ports, peer_protocol)
}

/// A ledger entry in the node's asset, dated now. `delta` is in asset units (positive: the
/// peer owes us more / paid us; negative: we paid the peer).
pub fn ledger_entry(node: &Node, account: &str, delta: i64, reference: String, memo: &str) -> LedgerEntry {
    balance::entry(&node.config.asset_code, node.config.asset_scale, account, delta, reference, memo)
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
