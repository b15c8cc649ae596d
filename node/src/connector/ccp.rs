//! Route broadcasting (CCP: the route-broadcasting draft, as `ilp-connector` speaks it) with
//! configured accounts of relation `peer` or `parent`, and with every btpnips peer: a
//! path-vector protocol over the peer links.
//!
//! On link up we send a `peer.route.control` (mode Sync) so the peer sends us its routes (with
//! a btpnips peer, only the side that dialed does, and starts sending its routes too).
//! When a peer sends us a Sync control request we answer with our routes, and then re-send
//! them every [`BROADCAST_INTERVAL`] while the link is up (the peer drops routes after its
//! hold-down time), and [`DEBOUNCE`] after any of our best routes changed. Each update is our
//! full table (`from_epoch_index` 0) plus, as withdrawn, what we announced to that peer last
//! time and no longer do.
//!
//! What we announce: our own address and our children's (path `[us]`), and every best route
//! we know with a path (direct btpnips links and learned routes; path `[us] + path`), except
//! back to the account it goes through (split horizon) or when its path already passes the
//! receiving peer.
//!
//! What we learn: routes whose path does not contain our address (else a loop) and that are
//! not for our own address, as `prefix → (account, path)` candidates in the
//! [`RoutingTable`](super::RoutingTable). A full table from a btpnips peer replaces what it
//! announced before; other updates (ilp-connector's incremental ones) apply new and withdrawn
//! routes on top. All of a peer's routes go when its link goes down.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::ccp::{self, Mode, Route, RouteControlRequest, RouteUpdateRequest};
use protocol::ilp::{ErrorCode, Fulfill, Prepare, Reject};
use tokio::sync::Notify;

use super::reject;
use crate::config::Relation;
use crate::link::LinkHandle;
use crate::node::Node;

/// How often our routes are re-sent to a peer that asked for them.
pub const BROADCAST_INTERVAL: Duration = Duration::from_secs(20);
/// How long after a change of our best routes the triggered update goes out (changes that
/// come together go in one update).
pub const DEBOUNCE: Duration = Duration::from_millis(150);
/// How long a peer may keep our routes without hearing from us (ms), sent as holdDownTime.
pub const HOLD_DOWN_MS: u32 = 45_000;

/// Our routing table's identity, and the broadcasters running per peer.
pub struct RoutingTableId {
    id: [u8; 16],
    /// Per account: the link its broadcaster serves, and a poke to send at once.
    broadcasters: Mutex<HashMap<String, (u64, Arc<Notify>)>>,
}

impl Default for RoutingTableId {
    fn default() -> Self {
        Self { id: rand::random(), broadcasters: Default::default() }
    }
}

/// Whether an account exchanges routes with us: configured peers and parents, and every
/// btpnips peer.
pub fn speaks_ccp(node: &Node, account: &str) -> bool {
    node.config.account(account).is_some_and(|a| matches!(a.relation, Relation::Peer | Relation::Parent))
        || is_btpnips_peer(node, account)
}

fn is_btpnips_peer(node: &Node, account: &str) -> bool {
    node.links.get(account).is_some_and(|l| l.info.is_some())
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

/// A link to a btpnips peer came up. On a BTP/WebSocket link the side that dialed starts
/// CCP: it asks for the peer's routes and starts sending its own; the other side answers the
/// Sync request with its broadcasts (so a peer that dials in gets no CCP traffic before it
/// asks for it). On a libp2p link both sides start: both may have sent the link request at
/// once, so each may see the link as inbound (a second Sync only makes the peer send now).
pub fn on_peer_link_up(node: &Arc<Node>, link: &LinkHandle) {
    if link.direction == "outbound" || link.transport == "libp2p" {
        on_link_up(link);
        start_broadcast(node, &link.account);
    }
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
    let mut learned = BTreeMap::new();
    for route in &update.new_routes {
        if route.path.iter().any(|hop| hop == own)
            || route.prefix == own
            || node.address.has_prefix(&route.prefix) && route.prefix.len() >= own.len()
            || is_under(&route.prefix, own)
        {
            continue; // a loop, or a route to ourselves
        }
        if protocol::ilp::Address::new(&route.prefix).is_err() {
            continue;
        }
        learned.insert(route.prefix.clone(), route.path.clone());
    }
    let installed = learned.len();
    let full = update.from_epoch_index == 0 && is_btpnips_peer(node, account);
    if full {
        node.routes.replace_learned(account, learned);
    } else {
        for prefix in &update.withdrawn_routes {
            node.routes.withdraw(account, prefix);
        }
        for (prefix, path) in learned {
            node.routes.learn(account, &prefix, path);
        }
    }
    // A hold-down time of 0 is read as "no expiry" (a speaker that does not age routes).
    if update.hold_down_time > 0 {
        let now_ms = crate::clock::now().timestamp_millis().max(0) as u64;
        node.routes.hold_learned(account, now_ms + u64::from(update.hold_down_time));
    }
    tracing::debug!(peer = %account, speaker = %update.speaker, installed, full, withdrawn = update.withdrawn_routes.len(), "CCP: route update applied");
    Ok(ccp::ccp_fulfill())
}

/// Every second, drop the routes of peers whose last update's hold-down time passed without a
/// new one (they are still linked but stopped announcing; a link that goes down drops its
/// routes at once).
pub fn spawn_hold_down(node: &Arc<Node>) {
    node.spawn_every(Duration::from_secs(1), |node| {
        let now_ms = crate::clock::now().timestamp_millis().max(0) as u64;
        for account in node.routes.expire_learned(now_ms) {
            tracing::warn!(peer = %account, "CCP: routes learned from peer expired (no update within its hold-down time)");
        }
    });
}

/// Whether `prefix` is `base` or an address under it.
fn is_under(prefix: &str, base: &str) -> bool {
    prefix == base || prefix.strip_prefix(base).is_some_and(|rest| rest.starts_with('.'))
}

/// The routes we announce to `to`: our own address and our children's, then every best route
/// with a path that neither goes through `to` (split horizon) nor passes its address.
fn our_routes(node: &Node, to: &LinkHandle) -> Vec<Route> {
    let own = node.address.to_string();
    let mut routes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    routes.insert(own.clone(), vec![own.clone()]);
    for a in node.config.accounts.iter().filter(|a| a.relation == Relation::Child) {
        if let Ok(child) = node.address.with_suffix(&a.id) {
            routes.insert(child.to_string(), vec![own.clone()]);
        }
    }
    let to_address = to.info.as_ref().map(|i| i.ilp_address.as_str());
    for (prefix, best) in node.routes.best_routes() {
        if prefix.is_empty()
            || is_under(&prefix, &own)
            || routes.contains_key(&prefix)
            || best.account == to.account
            || best.path.is_empty()
            || best.path.iter().any(|hop| hop == &own || Some(hop.as_str()) == to_address)
            || to_address.is_some_and(|a| is_under(&prefix, a))
        {
            continue;
        }
        let mut path = Vec::with_capacity(best.path.len() + 1);
        path.push(own.clone());
        path.extend(best.path);
        routes.insert(prefix, path);
    }
    let key = crate::spsp::hmac(&node.key.secret, b"btpnips ccp route auth");
    routes
        .into_iter()
        .map(|(prefix, path)| Route { auth: crate::spsp::hmac(&key, prefix.as_bytes()), path, prefix, props: vec![] })
        .collect()
}

/// Send our routes to `account` now, every [`BROADCAST_INTERVAL`] and [`DEBOUNCE`] after
/// each change of our best routes, while its link lives. One broadcaster per link: a second
/// Sync request makes the running one send at once.
fn start_broadcast(node: &Arc<Node>, account: &str) {
    let Some(link) = node.links.get(account) else { return };
    let poke = {
        let mut map = node.routing_table.broadcasters.lock().expect("poisoned");
        if let Some((link_id, poke)) = map.get(account) {
            if *link_id == link.link_id {
                poke.notify_one();
                return;
            }
        }
        let poke = Arc::new(Notify::new());
        map.insert(account.to_owned(), (link.link_id, poke.clone()));
        poke
    };
    let node = node.clone();
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        let mut changes = node.routes.subscribe();
        let mut announced: BTreeSet<String> = BTreeSet::new();
        loop {
            if *stop.borrow() || node.links.get(&link.account).is_none_or(|l| l.link_id != link.link_id) {
                break;
            }
            changes.borrow_and_update();
            let routes = our_routes(&node, &link);
            let now: BTreeSet<String> = routes.iter().map(|r| r.prefix.clone()).collect();
            let epoch = (node.routes.version() as u32).wrapping_add(1);
            let update = RouteUpdateRequest {
                routing_table_id: node.routing_table.id,
                current_epoch_index: epoch,
                from_epoch_index: 0,
                to_epoch_index: epoch,
                hold_down_time: HOLD_DOWN_MS,
                speaker: node.address.clone(),
                new_routes: routes,
                withdrawn_routes: announced.difference(&now).cloned().collect(),
            };
            let prepare = ccp::update_prepare(&update, crate::clock::now() + chrono::Duration::seconds(60));
            match link.send_prepare(prepare, Duration::from_secs(60)).await {
                Ok(Ok(_)) => {
                    tracing::debug!(peer = %link.account, routes = now.len(), withdrawn = update.withdrawn_routes.len(), "CCP: sent our routes");
                    announced = now;
                }
                Ok(Err(r)) => {
                    tracing::warn!(peer = %link.account, code = %r.code, message = %r.message, "CCP route update refused")
                }
                Err(e) => tracing::info!(peer = %link.account, error = %e, "CCP route update failed"),
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(BROADCAST_INTERVAL) => {}
                _ = poke.notified() => {}
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    tokio::time::sleep(DEBOUNCE).await;
                }
            }
        }
        let mut map = node.routing_table.broadcasters.lock().expect("poisoned");
        if map.get(&link.account).is_some_and(|(id, _)| *id == link.link_id) {
            map.remove(&link.account);
        }
    });
}
