//! Route broadcasting (CCP: the route-broadcasting draft, as `ilp-connector` speaks it) with
//! configured accounts of relation `peer` or `parent`.
//!
//! On link up we send a `peer.route.control` (mode Sync) so the peer sends us its routes.
//! When a peer sends us a Sync control request we answer with our routes, and then re-send
//! them every [`BROADCAST_INTERVAL`] while the link is up (the peer drops routes after its
//! hold-down time). Routes a peer announces are installed as `prefix → account`, unless
//! their path already contains our address (a loop); withdrawn ones are removed; all of a
//! peer's routes go when its link goes down.
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use protocol::ccp::{self, Mode, Route, RouteControlRequest, RouteUpdateRequest};
use protocol::ilp::{ErrorCode, Fulfill, Prepare, Reject};

use super::reject;
use crate::config::Relation;
use crate::link::LinkHandle;
use crate::node::Node;

/// How often our routes are re-sent to a peer that asked for them.
pub const BROADCAST_INTERVAL: Duration = Duration::from_secs(20);
/// How long a peer may keep our routes without hearing from us (ms), sent as holdDownTime.
pub const HOLD_DOWN_MS: u32 = 45_000;

/// Our routing table's identity and epoch.
pub struct RoutingTableId {
    id: [u8; 16],
    epoch: AtomicU32,
}

impl Default for RoutingTableId {
    fn default() -> Self {
        Self { id: rand::random(), epoch: AtomicU32::new(1) }
    }
}

/// Whether an account exchanges routes with us.
pub fn speaks_ccp(node: &Node, account: &str) -> bool {
    node.config.account(account).is_some_and(|a| matches!(a.relation, Relation::Peer | Relation::Parent))
}

/// A link to a CCP-speaking account came up: ask it for its routes.
pub fn on_link_up(link: &LinkHandle) {
    let link = link.clone();
    let expires = crate::clock::now() + chrono::Duration::seconds(60);
    let req = RouteControlRequest {
        mode: Mode::Sync,
        last_known_routing_table_id: [0; 16],
        last_known_epoch: 0,
        features: vec![],
    };
    let prepare = ccp::control_prepare(&req, expires);
    tokio::spawn(async move {
        match link.send_prepare(prepare, Duration::from_secs(60)).await {
            Ok(Ok(_)) => tracing::info!(peer = %link.account, "CCP: asked peer for its routes"),
            Ok(Err(r)) => {
                tracing::warn!(peer = %link.account, code = %r.code, message = %r.message, "CCP route control refused")
            }
            Err(e) => tracing::warn!(peer = %link.account, error = %e, "CCP route control failed"),
        }
    });
}

/// Handle `peer.route.control` / `peer.route.update` from `account`.
pub fn handle(node: &Arc<Node>, account: &str, prepare: &Prepare) -> Result<Fulfill, Reject> {
    if !speaks_ccp(node, account) {
        return Err(reject(
            node,
            ErrorCode::F00_BAD_REQUEST,
            "routes are exchanged with peer and parent accounts only",
        ));
    }
    if ccp::is_control(prepare) {
        let req = RouteControlRequest::decode(&prepare.data)
            .map_err(|e| reject(node, e.reject_code(), &format!("route control: {e}")))?;
        if req.mode == Mode::Sync {
            start_broadcast(node, account);
        }
        return Ok(ccp::ccp_fulfill());
    }
    let update = RouteUpdateRequest::decode(&prepare.data)
        .map_err(|e| reject(node, e.reject_code(), &format!("route update: {e}")))?;
    let own = node.address.as_str();
    let mut installed = 0;
    for route in &update.new_routes {
        if route.path.iter().any(|hop| hop == own)
            || route.prefix == own
            || node.address.has_prefix(&route.prefix) && route.prefix.len() >= own.len()
        {
            continue; // a loop, or a route to ourselves
        }
        if protocol::ilp::Address::new(&route.prefix).is_err() {
            continue;
        }
        node.routes.set(&route.prefix, account);
        installed += 1;
    }
    for prefix in &update.withdrawn_routes {
        node.routes.remove(prefix, account);
    }
    tracing::info!(peer = %account, speaker = %update.speaker, installed, withdrawn = update.withdrawn_routes.len(), "CCP: route update applied");
    Ok(ccp::ccp_fulfill())
}

/// The routes we announce: our own address and our children's.
fn our_routes(node: &Node) -> Vec<Route> {
    let own = node.address.to_string();
    let mut prefixes = vec![own.clone()];
    for a in node.config.accounts.iter().filter(|a| a.relation == Relation::Child) {
        if let Ok(child) = node.address.with_suffix(&a.id) {
            prefixes.push(child.to_string());
        }
    }
    let key = crate::spsp::hmac(&node.key.secret, b"btpnips ccp route auth");
    prefixes
        .into_iter()
        .map(|prefix| Route {
            auth: crate::spsp::hmac(&key, prefix.as_bytes()),
            path: vec![own.clone()],
            prefix,
            props: vec![],
        })
        .collect()
}

/// Send our routes to `account` now and every [`BROADCAST_INTERVAL`] while its link lives.
fn start_broadcast(node: &Arc<Node>, account: &str) {
    let Some(link) = node.links.get(account) else { return };
    let node = node.clone();
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        loop {
            if node.links.get(&link.account).is_none_or(|l| l.link_id != link.link_id) {
                break;
            }
            let epoch = node.routing_table.epoch.load(Ordering::Relaxed);
            let update = RouteUpdateRequest {
                routing_table_id: node.routing_table.id,
                current_epoch_index: epoch,
                from_epoch_index: 0,
                to_epoch_index: epoch,
                hold_down_time: HOLD_DOWN_MS,
                speaker: node.address.clone(),
                new_routes: our_routes(&node),
                withdrawn_routes: vec![],
            };
            let prepare = ccp::update_prepare(&update, crate::clock::now() + chrono::Duration::seconds(60));
            match link.send_prepare(prepare, Duration::from_secs(60)).await {
                Ok(Ok(_)) => tracing::debug!(peer = %link.account, "CCP: sent our routes"),
                Ok(Err(r)) => {
                    tracing::warn!(peer = %link.account, code = %r.code, message = %r.message, "CCP route update refused")
                }
                Err(e) => {
                    tracing::info!(peer = %link.account, error = %e, "CCP route update failed");
                    break;
                }
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(BROADCAST_INTERVAL) => {}
            }
        }
    });
}
