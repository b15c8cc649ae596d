//! BTP-NIPs application logic: what the NIP-01 messages arriving over STREAM mean, and who
//! pays whom (docs/btp-nips.md §3–§5).
//!
//! - [`publisher`]: peers subscribed to us (inbound subscriptions): paid REQ, replay,
//!   EOSE, live pushes, per-event payments, the delivery credit, CLOSE.
//! - [`subscriber`]: our subscriptions to peers (outbound): opening them when a local
//!   client asks for a linked peer's events, storing what arrives, paying per event.
//! - [`paid_publish`]: EVENTs peers pay us to store, and copies of our owners' events we pay
//!   `store_on` nodes to store.
//!
//! Every packet's effects (events, subscription records, the ledger credit) are committed
//! in one storage submission before the receiver fulfills: a Fulfill means committed.
pub mod paid_publish;
mod publisher;
mod subscriber;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::ilp::ErrorCode;
use protocol::nostr::{ClientMessage, Event, RelayMessage};
use storage::{Direction, InsertOutcome, OpOutcome, SubscriptionRecord};

pub use subscriber::{follow, spawn_resumer, unfollow, upstream_for};

use crate::node::Node;
use crate::stream::{PacketContext, StreamDelivery};

/// A refusal of a whole packet: the ILP error code and the message (which starts with a
/// NIP-01 machine-readable prefix, e.g. `payment-required:`).
pub type Refusal = (ErrorCode, String);

/// Subscription state in memory; the records are mirrored in storage.
pub struct Subscriptions {
    inbound: Mutex<HashMap<(String, String), publisher::Inbound>>,
    outbound: Mutex<HashMap<String, subscriber::Outbound>>,
    /// Our subscription to an author's node ended for good (the publisher's CLOSED, or it
    /// refused our REQ): local client sessions pass it on as CLOSED to their REQs for that
    /// author, so a client never silently stops receiving.
    upstream_closed: tokio::sync::broadcast::Sender<UpstreamClosed>,
}

/// An outbound subscription that ended for good: the author whose events it carried and the
/// reason (a NIP-01 machine-readable message, e.g. `payment-required: …`).
#[derive(Debug, Clone)]
pub struct UpstreamClosed {
    /// The author's pubkey, 64 hex.
    pub author: String,
    /// Why, with a NIP-01 prefix.
    pub message: String,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            inbound: Mutex::default(),
            outbound: Mutex::default(),
            upstream_closed: tokio::sync::broadcast::channel(64).0,
        }
    }
}

impl Subscriptions {
    /// Receiver of [`UpstreamClosed`] notices, for a local client session.
    pub fn upstream_closed(&self) -> tokio::sync::broadcast::Receiver<UpstreamClosed> {
        self.upstream_closed.subscribe()
    }

    /// Snapshot of all subscription records, for status output.
    pub fn records(&self) -> Vec<SubscriptionRecord> {
        let mut v: Vec<SubscriptionRecord> =
            self.inbound.lock().expect("poisoned").values().map(|s| s.record.clone()).collect();
        v.extend(self.outbound.lock().expect("poisoned").values().map(|s| s.record.clone()));
        v
    }
}

/// Load persisted subscriptions at start-up. Inbound ones wait for the subscriber to
/// resume; outbound ones reopen when their peer's link comes up.
pub async fn restore(node: &Arc<Node>) -> Result<(), storage::StorageError> {
    for record in node.storage.subscriptions().await? {
        match record.direction {
            Direction::Inbound => publisher::restore(node, record),
            Direction::Outbound => subscriber::restore(node, record),
        }
    }
    Ok(())
}

/// A peer's link came up: start a fresh outgoing connection to it (it may have restarted)
/// and resume our subscriptions to it.
pub fn on_link_up(node: &Arc<Node>, peer: &str) {
    if let Ok(pk) = protocol::btpnips::secret::parse_hex32(peer) {
        node.stream.reset_outgoing(&pk);
    }
    publisher::on_link_up(node, peer);
    subscriber::on_link_up(node, peer);
}

/// A new event was stored (from any source): push it to peers whose subscriptions match.
pub fn on_new_event(node: &Arc<Node>, event: &Arc<Event>) {
    publisher::on_new_event(node, event);
}

/// One parsed BTP-NIPs message and the stream it came on.
pub(crate) enum Incoming {
    Client(ClientMessage),
    Relay(RelayMessage),
    /// The publisher's account of a resumed subscription (docs/btp-nips.md §4).
    Account(protocol::btpnips::account::Account),
}

fn parse(text: &str) -> Result<Incoming, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid: not JSON: {e}"))?;
    let arr = value.as_array().ok_or("invalid: message is not a JSON array")?;
    let kind = arr.first().and_then(|v| v.as_str()).ok_or("invalid: message type missing")?;
    if kind == protocol::btpnips::account::ACCOUNT {
        return protocol::btpnips::account::Account::parse(text).map(Incoming::Account);
    }
    let relay_side = match kind {
        "EVENT" => arr.len() == 3,
        "EOSE" | "CLOSED" | "NOTICE" | "OK" => true,
        _ => false,
    };
    if relay_side {
        RelayMessage::parse(text).map(Incoming::Relay).map_err(|e| e.to_string())
    } else {
        ClientMessage::parse(text).map(Incoming::Client).map_err(|e| e.to_string())
    }
}

/// A packet's storage operations and the work to do once they are committed.
#[derive(Default)]
pub(crate) struct Effects {
    pub ops: Vec<storage::Op>,
    pub after: Vec<After>,
}

/// Work to do once a packet's effects are committed.
pub(crate) enum After {
    /// Show a newly stored event to local clients and subscribed peers; the index is the
    /// event's `Op::InsertEvent` in the submission (nothing happens for a duplicate).
    Broadcast(Arc<Event>, usize),
    Subscriber(subscriber::After),
    /// A paid EVENT (its price, asset units) was stored for a peer.
    Published(u64),
}

/// Apply one STREAM packet's messages and money. Commits before returning `Ok`, so the
/// receiver may fulfill. `Err` refuses the whole packet and commits nothing; the handlers
/// stage their subscription changes on copies ([`publisher::Staged`], [`subscriber::Staged`])
/// that reach the shared maps only after the commit succeeded.
///
/// Money on a stream pays for the REQ on that stream if there is one, else for each EVENT
/// (its `event_published` price, in order); money left over is a payment for delivered events.
pub async fn on_stream_packet(
    node: &Arc<Node>,
    ctx: PacketContext,
    deliveries: Vec<StreamDelivery>,
) -> Result<(), Refusal> {
    on_stream_packets(node, vec![(ctx, deliveries)]).await
}

/// [`on_stream_packet`] for several packets of one connection, in order, as one: their
/// messages staged together and committed in one submission, so a burst of deliveries costs
/// one transaction. `Err` refuses every packet of the group and commits nothing (the receiver
/// then applies them one at a time, so a refusal stays with the packet it belongs to).
pub async fn on_stream_packets(
    node: &Arc<Node>,
    packets: Vec<(PacketContext, Vec<StreamDelivery>)>,
) -> Result<(), Refusal> {
    let mut fx = Effects::default();
    let mut staged = publisher::Staged::default();
    let mut staged_out = subscriber::Staged::default();
    let mut credits = Vec::new();
    for (ctx, deliveries) in &packets {
        stage_packet(node, ctx, deliveries, &mut staged, &mut staged_out, &mut fx)?;
        credits.extend(ctx.credit(node, "fulfilled incoming Prepare")?);
    }
    // Each subscription the packets changed is written once, in its last state.
    staged.upserts(&mut fx.ops);
    staged_out.upserts(&mut fx.ops);
    let Effects { mut ops, after } = fx;
    let paid = !credits.is_empty();
    ops.extend(credits);
    let outcomes = if ops.is_empty() {
        Vec::new()
    } else {
        node.storage.writer().submit(ops).await.map_err(|e| {
            tracing::error!(error = %e, "could not commit packet effects");
            (ErrorCode::T00_INTERNAL_ERROR, "error: could not store".to_string())
        })?
    };
    publisher::apply_committed(node, staged);
    subscriber::apply_committed(node, staged_out);
    if paid {
        if let Some(OpOutcome::Ledger(storage::LedgerOutcome::Applied { balance })) = outcomes.last() {
            let amount: u64 = packets.iter().map(|(c, _)| c.amount).sum();
            let peer = packets.first().map(|(c, _)| c.peer.as_str()).unwrap_or_default();
            tracing::info!(%peer, packets = packets.len(), amount, balance, "paid Prepares committed; fulfilling; balance with peer credited");
        }
    }
    for a in after {
        match a {
            After::Broadcast(e, i) => {
                if matches!(outcomes.get(i), Some(OpOutcome::Event(InsertOutcome::Stored | InsertOutcome::Ephemeral))) {
                    let _ = node.hub.send(e.clone());
                    on_new_event(node, &e);
                }
            }
            After::Subscriber(a) => subscriber::after_commit(node, a),
            After::Published(money) => paid_publish::after_commit(node, money),
        }
    }
    Ok(())
}

/// Stage one packet's messages and money (see [`on_stream_packet`]) into the group's state.
fn stage_packet(
    node: &Arc<Node>,
    ctx: &PacketContext,
    deliveries: &[StreamDelivery],
    staged: &mut publisher::Staged,
    staged_out: &mut subscriber::Staged,
    fx: &mut Effects,
) -> Result<(), Refusal> {
    for d in deliveries {
        let mut money_left = d.money;
        for text in &d.messages {
            match parse(text).map_err(|e| (ErrorCode::F99_APPLICATION_ERROR, e))? {
                Incoming::Client(m) => {
                    let money = match m {
                        ClientMessage::Req { .. } => std::mem::take(&mut money_left),
                        ClientMessage::Event(_) => {
                            let price = node.config.prices.event_published.unwrap_or(0);
                            let take = money_left.min(price);
                            money_left -= take;
                            take
                        }
                        ClientMessage::Close { .. } => 0,
                    };
                    publisher::on_client_message(node, ctx, d.stream_id, money, m, staged, fx)?
                }
                Incoming::Relay(m) => {
                    subscriber::on_relay_message(node, ctx, m, staged_out, &mut fx.ops, &mut fx.after)?
                }
                Incoming::Account(a) => subscriber::on_account(node, ctx, a, staged_out, &mut fx.after),
            }
        }
        if money_left > 0 {
            publisher::on_payment(node, ctx, d.stream_id, money_left, staged);
        }
        if d.closed {
            publisher::on_stream_closed(node, ctx, d.stream_id, staged);
        }
    }
    Ok(())
}

/// Frame one NIP-01 message for a stream. Errors only for messages over the framing limit.
pub(crate) fn frame(msg: &RelayMessageOrClient) -> Vec<u8> {
    let json = match msg {
        RelayMessageOrClient::Relay(m) => m.to_json(),
        RelayMessageOrClient::Client(m) => m.to_json(),
    };
    protocol::btpnips::framing::encode_message(&json).unwrap_or_default()
}

/// Either side's message, for [`frame`].
pub(crate) enum RelayMessageOrClient {
    Relay(RelayMessage),
    Client(ClientMessage),
}
