//! Paid publishing (docs/btp-nips.md §4 "Paid publishing"): a peer pays this node to store an
//! event, and this node pays the nodes in `store_on` to store its owners' events.
//!
//! An EVENT and its payment travel in one Prepare (a `StreamMoney` and the framed EVENT on
//! one stream): the receiver stores the event and credits the payment in one commit before it
//! fulfills, so the Fulfill is the `OK true` and a Reject is the `OK false` (its message
//! carries the NIP-01 reason). Neither the money nor the event is accepted without the other.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::btpnips::addressing::TAG_LEN;
use protocol::ilp::ErrorCode;
use protocol::nostr::{ClientMessage, Event, KindClass};
use storage::Op;

use super::{frame, After as Any, Refusal, RelayMessageOrClient};
use crate::node::Node;
use crate::stream::{PacketContext, SendError};

/// What paid publishing did since start, for the operator (status `paid_publishing`).
#[derive(Default)]
pub struct Stats {
    /// Events peers paid us to store (committed).
    pub stored_for_peers: AtomicU64,
    /// What they paid for them, asset units.
    pub earned: AtomicU64,
    /// Our owners' events stored on `store_on` nodes (fulfilled).
    pub stored_on_peers: AtomicU64,
    /// What we paid for that, asset units (prices; fees on the path come on top).
    pub paid: AtomicU64,
    /// Copies we gave up on (refused, unaffordable, or unreachable after retries).
    pub failed: AtomicU64,
    /// Our publishing stream per `store_on` node (by pubkey).
    streams: Mutex<HashMap<[u8; 32], PublishStream>>,
}

/// The stream we publish on to one node: (outgoing connection tag, stream id). A new
/// connection (the tag changed) gets a new stream.
type PublishStream = ([u8; TAG_LEN], u64);

/// Attempts per copy before giving up, [`RETRY_EVERY`] apart.
pub const ATTEMPTS: u32 = 5;
/// Pause between attempts to store a copy.
pub const RETRY_EVERY: Duration = Duration::from_secs(3);

/// An EVENT from a peer with `money` (asset units) on its stream: check it, and queue its
/// storage into the packet's commit.
///
/// Errors (the whole Prepare is rejected, nothing stored or credited): `F99 restricted:` if
/// this node sets no `event_published` price; `F99 invalid:` for an event that fails the
/// relay's checks or is a Kind 32001 (those spread by gossip, §8); `F04 payment-required:`
/// when `money` is below the price.
pub(super) fn on_event(
    node: &Arc<Node>,
    ctx: &PacketContext,
    money: u64,
    event: Event,
    ops: &mut Vec<Op>,
    after: &mut Vec<Any>,
) -> Result<(), Refusal> {
    let app = |m: String| (ErrorCode::F99_APPLICATION_ERROR, m);
    let Some(price) = node.config.prices.event_published else {
        return Err(app("restricted: this node does not store events for peers".into()));
    };
    crate::ingest::check(&event).map_err(app)?;
    if event.kind == protocol::btpnips::announcement::KIND {
        return Err(app("invalid: Kind 32001 spreads by gossip, not by paid publishing".into()));
    }
    if money < price {
        return Err((
            ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT,
            format!(
                "payment-required: storing an event costs {price} {} (asset scale {}); this EVENT carried {money}",
                node.config.asset_code, node.config.asset_scale
            ),
        ));
    }
    tracing::info!(peer = %ctx.peer, id = %event.id, kind = event.kind, money, "paid EVENT accepted for storage");
    let event = Arc::new(event);
    ops.push(Op::InsertEvent((*event).clone()));
    after.push(Any::Broadcast(event, ops.len() - 1));
    after.push(Any::Published(money));
    Ok(())
}

/// After the commit of a paid EVENT: count it.
pub(super) fn after_commit(node: &Node, money: u64) {
    node.paid_publish.stored_for_peers.fetch_add(1, Ordering::Relaxed);
    node.paid_publish.earned.fetch_add(money, Ordering::Relaxed);
}

/// A local client's event was stored: if an owner wrote it, pay each `store_on` node to
/// store a copy (in the background; each copy retried up to [`ATTEMPTS`] times).
pub fn on_local(node: &Arc<Node>, event: &Arc<Event>) {
    if node.config.store_on.is_empty()
        || event.kind == protocol::btpnips::announcement::KIND
        || event.kind_class() == KindClass::Ephemeral
        || !node.config.owner_pubkeys(&node.key.pubkey_hex).contains(&event.pubkey)
    {
        return;
    }
    for target in &node.config.store_on {
        if *target == node.key.pubkey_hex {
            continue;
        }
        let (node, event, target) = (node.clone(), event.clone(), target.clone());
        tokio::spawn(async move { store_copy(&node, &target, &event).await });
    }
}

async fn store_copy(node: &Arc<Node>, target: &str, event: &Event) {
    let stats = &node.paid_publish;
    for attempt in 1..=ATTEMPTS {
        match try_store(node, target, event).await {
            Ok(price) => {
                stats.stored_on_peers.fetch_add(1, Ordering::Relaxed);
                stats.paid.fetch_add(price, Ordering::Relaxed);
                return tracing::info!(node = %target, id = %event.id, price, "event stored on a peer (paid)");
            }
            Err(Attempt::GiveUp(why)) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return tracing::warn!(node = %target, id = %event.id, reason = %why, "not storing a copy");
            }
            Err(Attempt::Retry(why)) => {
                tracing::info!(node = %target, id = %event.id, attempt, reason = %why, "could not store a copy yet");
                tokio::time::sleep(RETRY_EVERY).await;
            }
        }
    }
    stats.failed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(node = %target, id = %event.id, attempts = ATTEMPTS, "gave up storing a copy");
}

enum Attempt {
    /// Final: the node refused, asks too much, or sells no storage.
    GiveUp(String),
    /// Transient: no route, no announcement yet, or the link is down.
    Retry(String),
}

/// One attempt: the EVENT and its price in one Prepare on our publishing stream to `target`.
/// Returns the price paid.
async fn try_store(node: &Arc<Node>, target: &str, event: &Event) -> Result<u64, Attempt> {
    let Some(info) = node.peer_info(target) else {
        return Err(Attempt::Retry("no announcement of the node yet".into()));
    };
    let Some(price) = info.prices.event_published else {
        return Err(Attempt::GiveUp("the node does not store events for peers".into()));
    };
    if price > node.config.max_publish_price {
        return Err(Attempt::GiveUp(format!(
            "the node asks {price} per event; max_publish_price is {}",
            node.config.max_publish_price
        )));
    }
    if !super::subscriber::wait_for_route(node, target).await {
        return Err(Attempt::Retry("no route to the node".into()));
    }
    let pk = protocol::btpnips::secret::parse_hex32(target).map_err(|e| Attempt::GiveUp(e.to_string()))?;
    let conn = node.stream.outgoing(node, pk).map_err(|e| Attempt::Retry(e.to_string()))?;
    let stream_id = {
        let mut streams = node.paid_publish.streams.lock().expect("poisoned");
        match streams.get(&pk) {
            Some((tag, id)) if *tag == conn.tag => *id,
            _ => {
                let id = conn.open_stream();
                streams.insert(pk, (conn.tag, id));
                id
            }
        }
    };
    let data = frame(&RelayMessageOrClient::Client(ClientMessage::Event(event.clone())));
    match conn.send(stream_id, data, price).await {
        Ok(()) => Ok(price),
        Err(SendError::Rejected(r)) => {
            // What was sent on the stream was refused: the next copy starts a fresh stream.
            node.paid_publish.streams.lock().expect("poisoned").remove(&pk);
            Err(Attempt::GiveUp(format!("{} {}", r.code, r.message)))
        }
        Err(e) => Err(Attempt::Retry(e.to_string())),
    }
}
