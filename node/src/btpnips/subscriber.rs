//! Outbound subscriptions: this node subscribed to a peer node on behalf of its owner's
//! clients. A local REQ for a known publisher's pubkey (or the owner's follow list) opens (or
//! resumes) one node-level subscription per publisher, to the node that publishes for it (the
//! publisher's own node, or the node its owner pointer names, §8), paid with the REQ; each
//! EVENT that arrives is verified, stored, fulfilled, shown to local clients, and then paid
//! for (docs/btp-nips.md §4). Subscriptions are keyed by publisher pubkey.
use std::collections::HashMap;
use std::sync::Arc;

use protocol::ilp::ErrorCode;
use protocol::nostr::{ClientMessage, Filter, RelayMessage};
use storage::{CloseReason, Direction, Op, SubscriptionRecord, SubscriptionStatus};
use tokio::sync::watch;

use super::publisher::bump;
use super::{frame, After as Any, Refusal, RelayMessageOrClient};
use crate::node::Node;
use crate::stream::{PacketContext, SendError};

/// Live state of one outbound subscription (one per peer node).
pub(crate) struct Outbound {
    pub record: SubscriptionRecord,
    /// Pubkey of the node the subscription was last opened with (usually the publisher's).
    node: Option<String>,
    /// Turns true at the peer's EOSE (or when opening failed): local REQs wait for it.
    synced: watch::Sender<bool>,
    /// Delivered events not yet paid for (asset units); one payment covers all of it.
    unpaid: u64,
    /// Payments in flight (at most [`PAYMENTS_IN_FLIGHT`]); what is delivered meanwhile goes
    /// into the next one.
    paying: u32,
    /// Payments that failed in a row (reset by one that succeeds).
    pay_failures: u32,
    /// The publisher's announced `delivery_credit` (asset units) when last opened.
    credit: u64,
    /// A (re)opening REQ was sent and neither the publisher's `ACCOUNT` nor its EOSE has
    /// arrived: no payment starts meanwhile, so the `ACCOUNT` (which counts every payment it
    /// received and every delivery before it on the stream) is the exact truth of what we owe.
    awaiting_account: bool,
    /// The `ACCOUNT` of the current opening was applied (it counted the REQ's money too).
    account_applied: bool,
}

impl Outbound {
    /// Count one more payment in flight if something is unpaid and the window has room; the
    /// caller then spawns [`pay_delivered`]. A payment starts when none is in flight; another
    /// joins it only once a quarter of the publisher's credit is unpaid, so a trickle of
    /// deliveries is still paid in aggregate (one payment while one is in flight) and only a
    /// burst near the credit keeps several in flight.
    fn start_payment(&mut self) -> bool {
        let room = self.paying == 0 || (self.paying < PAYMENTS_IN_FLIGHT && self.unpaid >= self.credit / 4);
        let start = self.unpaid > 0 && room;
        if start {
            self.paying += 1;
        }
        start
    }

    /// State for `record`, not yet opened with any node; local REQs wait until `synced`.
    fn new(record: SubscriptionRecord) -> (Self, watch::Receiver<bool>) {
        let (synced, rx) = watch::channel(false);
        (
            Self {
                record,
                node: None,
                synced,
                unpaid: 0,
                paying: 0,
                pay_failures: 0,
                credit: 0,
                awaiting_account: false,
                account_applied: false,
            },
            rx,
        )
    }
}

/// Work after commit.
pub(crate) enum After {
    /// `amount` (asset units) is owed to the node serving `author` for an event delivered on our
    /// REQ stream; [`pay_delivered`] pays it in aggregate.
    Pay { author: String, amount: u64 },
    /// The publisher's `ACCOUNT`: we owe exactly `amount` (asset units) for what came before
    /// it; payments may start again.
    Owed { author: String, amount: u64 },
    /// The publisher's EOSE came without an `ACCOUNT`: payments may start again.
    Release { author: String },
}

fn sub_id_for(peer: &str) -> String {
    format!("btpnips-{}", &peer[..16])
}

pub(super) fn restore(node: &Arc<Node>, mut record: SubscriptionRecord) {
    if record.status.is_open_or_opening() {
        record.status = SubscriptionStatus::Resuming(None);
    }
    node.subs.outbound.lock().expect("poisoned").insert(record.peer.clone(), Outbound::new(record).0);
}

pub(super) fn on_link_up(node: &Arc<Node>, peer: &str) {
    let resume: Vec<String> = {
        let map = node.subs.outbound.lock().expect("poisoned");
        // Not "opening": that opening is under way and will use the new link.
        map.iter()
            .filter(|(author, s)| *author == peer || s.node.as_deref() == Some(peer))
            .filter(|(_, s)| s.record.status.is_active() || s.record.status.is_resuming())
            .map(|(author, _)| author.clone())
            .collect()
    };
    for author in resume {
        spawn_open(node, author);
    }
}

/// The subscription (publisher pubkey, state) that `peer_node` serves as `subscription_id`.
fn served_by<'a>(
    map: &'a mut std::collections::HashMap<String, Outbound>,
    peer_node: &str,
    subscription_id: &str,
) -> Option<(&'a String, &'a mut Outbound)> {
    map.iter_mut().find(|(author, s)| {
        s.record.subscription_id == subscription_id && s.node.as_deref().unwrap_or(author.as_str()) == peer_node
    })
}

/// Make sure every linked peer named in the filters' `authors` has an outbound
/// subscription, and return one receiver per such subscription that turns `true` once the
/// peer has sent its stored events (EOSE).
pub fn upstream_for(node: &Arc<Node>, filters: &[Filter]) -> Vec<watch::Receiver<bool>> {
    let mut out = Vec::new();
    let authors: std::collections::BTreeSet<String> =
        filters.iter().filter_map(|f| f.authors.as_ref()).flatten().cloned().collect();
    for author in authors {
        if author == node.key.pubkey_hex || node.publisher_node(&author).is_none() {
            continue;
        }
        let mut open = false;
        {
            let mut map = node.subs.outbound.lock().expect("poisoned");
            match map.get(&author) {
                Some(s) if s.record.status.is_closed() || s.record.status.is_refused() => continue,
                Some(s) => out.push(s.synced.subscribe()),
                None => {
                    let (state, rx) = Outbound::new(new_record(&author));
                    out.push(rx);
                    map.insert(author.clone(), state);
                    open = true;
                }
            }
        }
        if open {
            spawn_open(node, author);
        }
    }
    out
}

fn new_record(author: &str) -> SubscriptionRecord {
    let now = crate::clock::now_secs();
    SubscriptionRecord {
        direction: Direction::Outbound,
        peer: author.to_owned(),
        subscription_id: sub_id_for(author),
        filters: vec![Filter { authors: Some(vec![author.to_owned()]), ..Default::default() }],
        stream_id: 0,
        amount_paid: 0,
        events_delivered: 0,
        paid_until: 0,
        periods_paid: 0,
        status: SubscriptionStatus::Opening,
        revision: 0,
        created_at: now,
        updated_at: now,
        delivered_newest: None,
    }
}

/// The owner follows `author`: make sure a subscription to its node is open or opening
/// (reopening one that was closed). Returns whether an opening was started.
pub fn follow(node: &Arc<Node>, author: &str) -> bool {
    if author == node.key.pubkey_hex {
        return false;
    }
    {
        let mut map = node.subs.outbound.lock().expect("poisoned");
        match map.get_mut(author) {
            Some(s) if s.record.status.is_open_or_opening() => return false,
            Some(s) => {
                s.record.status = SubscriptionStatus::Opening;
                bump(&mut s.record);
            }
            None => {
                map.insert(author.to_owned(), Outbound::new(new_record(author)).0);
            }
        }
    }
    spawn_open(node, author.to_owned());
    true
}

/// The owner no longer follows `author`: send CLOSE on our REQ stream, stop paying, and
/// keep the record as `closed: unfollowed`.
pub fn unfollow(node: &Arc<Node>, author: &str) {
    let closing = {
        let mut map = node.subs.outbound.lock().expect("poisoned");
        let Some(s) = map.get_mut(author) else { return };
        let was_open = s.record.status.is_active();
        s.record.status = SubscriptionStatus::Closed(CloseReason::Unfollowed);
        bump(&mut s.record);
        persist(node, s.record.clone());
        let _ = s.synced.send_replace(true);
        let via = s.node.clone().unwrap_or_else(|| author.to_owned());
        was_open.then(|| (s.record.subscription_id.clone(), s.record.stream_id, via))
    };
    tracing::info!(publisher = %author, "unfollowed: subscription closed");
    let Some((subscription_id, stream_id, via)) = closing else { return };
    let Ok(pk) = protocol::btpnips::secret::parse_hex32(&via) else { return };
    let Ok(conn) = node.stream.outgoing(node, pk) else { return };
    let close = frame(&RelayMessageOrClient::Client(ClientMessage::Close { subscription_id }));
    if let Err(e) = conn.enqueue(stream_id, close, 0) {
        tracing::warn!(publisher = %author, error = %e, "could not send CLOSE");
    }
}

/// Every [`RESUME_EVERY`], reopen subscriptions waiting to resume (route or link was down,
/// publisher not yet announced, node restarted).
pub fn spawn_resumer(node: &Arc<Node>) {
    node.spawn_every(RESUME_EVERY, |node| {
        let waiting: Vec<String> = {
            let mut map = node.subs.outbound.lock().expect("poisoned");
            map.iter_mut()
                .filter(|(_, s)| s.record.status.is_resuming())
                .map(|(peer, s)| {
                    s.record.status = SubscriptionStatus::Opening;
                    peer.clone()
                })
                .collect()
        };
        for peer in waiting {
            spawn_open(node, peer);
        }
    });
}

/// How often waiting subscriptions are retried.
pub const RESUME_EVERY: std::time::Duration = std::time::Duration::from_secs(3);
/// How long an opening waits for a route to the publisher (after asking for a direct link).
pub const ROUTE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn spawn_open(node: &Arc<Node>, peer: String) {
    let node = node.clone();
    tokio::spawn(async move {
        if wait_for_route(&node, &peer).await {
            open(&node, &peer).await
        } else {
            finish(&node, &peer, |r| r.status = SubscriptionStatus::Resuming(Some("no route to the publisher".into())));
        }
    });
}

/// Wait until the connector can route to the publisher's ILP address; if it cannot, ask the
/// peer network for a direct link (docs/btp-nips.md §9) and wait up to [`ROUTE_WAIT`].
pub(super) async fn wait_for_route(node: &Arc<Node>, peer: &str) -> bool {
    let Some(info) = node.publisher_node(peer) else { return true }; // `open` records why it waits
    let Ok(address) = info.ilp_address.parse::<protocol::ilp::Address>() else { return false };
    if node.routes.resolve(&address).is_some() {
        return true;
    }
    crate::link::p2p::want_link(node, &info.pubkey);
    let deadline = tokio::time::Instant::now() + ROUTE_WAIT;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if node.routes.resolve(&address).is_some() {
            return true;
        }
    }
    false
}

/// Send (or resend) the REQ, paying for a new period if the paid one is over.
async fn open(node: &Arc<Node>, peer: &str) {
    let Some(info) = node.publisher_node(peer) else {
        // Not "resuming": the resumer would poll it; its announcement reopens it (follows.rs).
        return finish(node, peer, |r| r.status = SubscriptionStatus::WaitingForAnnouncement);
    };
    if info.pubkey == node.key.pubkey_hex {
        // Another owner of this very node: its events are published here already.
        return finish(node, peer, |r| r.status = SubscriptionStatus::Local);
    }
    let Ok(pk) = protocol::btpnips::secret::parse_hex32(&info.pubkey) else { return };
    let cfg = &node.config;
    if info.prices.subscription > cfg.max_subscription_price || info.prices.event_delivered > cfg.max_event_price {
        let why = SubscriptionStatus::RefusedPrice {
            period_price: info.prices.subscription,
            event_price: info.prices.event_delivered,
            max_period_price: cfg.max_subscription_price,
            max_event_price: cfg.max_event_price,
        };
        finish(node, peer, |r| r.status = why);
        return;
    }
    // Resume from the second of the newest event of the publisher we hold (inclusive: others
    // of that second may not have arrived; the publisher skips those it delivered), not
    // counting its Kind 32001 announcement (it arrives by gossip; one is kept per key).
    let since = match node
        .storage
        .query_events(&[Filter { authors: Some(vec![peer.to_owned()]), limit: Some(2), ..Default::default() }])
        .await
    {
        Ok(v) => v.iter().find(|e| e.kind != protocol::btpnips::announcement::KIND).map(|e| e.created_at),
        Err(_) => None,
    };
    let conn = match node.stream.outgoing(node, pk) {
        Ok(c) => c,
        Err(e) => return finish(node, peer, |r| r.status = SubscriptionStatus::Resuming(Some(e.to_string()))),
    };
    // A payment still in flight would be missing from the publisher's ACCOUNT of this REQ.
    for _ in 0..250 {
        let paying = node.subs.outbound.lock().expect("poisoned").get(peer).is_some_and(|s| s.paying > 0);
        if !paying {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stream_id = conn.open_stream();
    let now = crate::clock::now_secs();
    let Some((sub_id, mut filters, amount)) = ({
        let mut map = node.subs.outbound.lock().expect("poisoned");
        map.get_mut(peer).filter(|s| !s.record.status.is_closed()).map(|s| {
            // Local REQs from now on wait for this (re)opening's EOSE.
            s.synced.send_replace(false);
            s.awaiting_account = true;
            s.account_applied = false;
            s.record.stream_id = stream_id;
            s.node = Some(info.pubkey.clone());
            s.credit = info.prices.delivery_credit;
            let amount = if s.record.paid_until > now { 0 } else { info.prices.subscription };
            (s.record.subscription_id.clone(), s.record.filters.clone(), amount)
        })
    }) else {
        return;
    };
    for f in &mut filters {
        f.since = since;
    }
    let req = ClientMessage::Req { subscription_id: sub_id, filters };
    let result = conn.send(stream_id, frame(&RelayMessageOrClient::Client(req)), amount).await;
    match result {
        Ok(()) => {
            tracing::info!(peer, node = %info.pubkey, stream_id, amount, "subscription open");
            let start = {
                let mut map = node.subs.outbound.lock().expect("poisoned");
                match map.get_mut(peer) {
                    Some(s) => {
                        let counted = s.account_applied;
                        let r = &mut s.record;
                        r.status = SubscriptionStatus::Active;
                        if amount > 0 {
                            if !counted {
                                r.amount_paid += amount;
                            }
                            r.periods_paid += 1;
                            r.paid_until = now + info.prices.subscription_period_secs;
                        }
                        bump(r);
                        persist(node, r.clone());
                        // What was owed while the REQ was on its way can be paid now.
                        !s.awaiting_account && s.start_payment()
                    }
                    None => false,
                }
            };
            if start {
                let (node, author) = (node.clone(), peer.to_owned());
                tokio::spawn(async move { pay_delivered(&node, &author).await });
            }
        }
        Err(SendError::Rejected(r)) => {
            tracing::warn!(peer, code = %r.code, message = %r.message, "peer refused our subscription");
            finish(node, peer, |rec| {
                rec.status = SubscriptionStatus::Closed(CloseReason::Peer(format!("{} {}", r.code, r.message)))
            });
            let message = if r.message.contains(": ") { r.message.clone() } else { format!("error: {}", r.message) };
            let _ = node.subs.upstream_closed.send(super::UpstreamClosed { author: peer.to_owned(), message });
        }
        Err(e) => {
            tracing::warn!(peer, error = %e, "could not open subscription; will retry when the link is back");
            finish(node, peer, |rec| rec.status = SubscriptionStatus::Resuming(None));
        }
    }
}

/// Update the record, persist it, and release local REQs waiting for EOSE.
fn finish(node: &Arc<Node>, peer: &str, f: impl FnOnce(&mut SubscriptionRecord)) {
    let mut map = node.subs.outbound.lock().expect("poisoned");
    if let Some(s) = map.get_mut(peer) {
        f(&mut s.record);
        bump(&mut s.record);
        persist(node, s.record.clone());
        let _ = s.synced.send_replace(true);
    }
}

/// An EVENT, EOSE, CLOSED, NOTICE or OK from a peer we subscribed to.
/// What one packet does to our outbound subscriptions, staged on copies and applied by
/// [`apply_committed`] only after the packet's commit succeeded (a refused packet changes
/// nothing, not even the EOSE signal to waiting local REQs).
#[derive(Default)]
pub(crate) struct Staged {
    entries: HashMap<String, StagedOut>,
}

struct StagedOut {
    /// Revision of the shared record this copy started from.
    base: u64,
    record: SubscriptionRecord,
    /// Events stored from this packet (re-applied if the shared record moved meanwhile).
    delivered: u64,
    /// The publisher's CLOSED message, if it sent one.
    closed: Option<String>,
    /// The publisher sent EOSE (or CLOSED): local REQs waiting on it may go on.
    synced: bool,
    /// When loaded, we owed the publisher nothing for delivered events and no payment was
    /// failing: a `payment-required:` close is then stale, and the subscription re-opens.
    could_pay: bool,
    /// When loaded, we were waiting for the publisher's `ACCOUNT` (see `Outbound`).
    awaiting_account: bool,
    /// An `ACCOUNT` was taken from this packet.
    accounted: bool,
    /// The record changed: it is written once with the packet ([`Staged::upserts`]).
    dirty: bool,
}

impl Staged {
    /// One upsert per subscription the packet changed (its last state), for the packet's commit.
    pub(super) fn upserts(&self, ops: &mut Vec<Op>) {
        let changed = self.entries.values().filter(|s| s.dirty);
        ops.extend(changed.map(|s| Op::UpsertSubscription(s.record.clone())));
    }

    /// The staged copy of the subscription `peer_node` serves as `subscription_id`, and its
    /// author; loaded from the shared map on first use.
    fn load(&mut self, node: &Node, peer_node: &str, subscription_id: &str) -> Option<(String, &mut StagedOut)> {
        let author = match self.entries.iter().find(|(_, s)| s.record.subscription_id == subscription_id) {
            Some((a, _)) => a.clone(),
            None => {
                let mut map = node.subs.outbound.lock().expect("poisoned");
                let (author, s) = served_by(&mut map, peer_node, subscription_id)?;
                let record = s.record.clone();
                let could_pay = s.unpaid == 0 && s.paying == 0 && s.pay_failures == 0;
                let entry = StagedOut {
                    base: record.revision,
                    record,
                    delivered: 0,
                    closed: None,
                    synced: false,
                    could_pay,
                    awaiting_account: s.awaiting_account,
                    accounted: false,
                    dirty: false,
                };
                self.entries.insert(author.clone(), entry);
                author.clone()
            }
        };
        let entry = self.entries.get_mut(&author)?;
        Some((author, entry))
    }
}

/// The packet's commit succeeded: move the staged outbound changes into the shared map.
pub(super) fn apply_committed(node: &Arc<Node>, staged: Staged) {
    let mut repersist = Vec::new();
    {
        let mut map = node.subs.outbound.lock().expect("poisoned");
        for (author, st) in staged.entries {
            let Some(cur) = map.get_mut(&author) else { continue };
            if cur.record.revision == st.base {
                cur.record = st.record;
            } else if st.delivered > 0 || st.closed.is_some() || st.accounted {
                // Another change committed meanwhile: apply ours on top of it.
                cur.record.events_delivered += st.delivered;
                if st.accounted {
                    cur.record.amount_paid = st.record.amount_paid;
                }
                if st.closed.is_some() {
                    cur.record.status = st.record.status.clone();
                }
                bump(&mut cur.record);
                repersist.push(cur.record.clone());
            }
            if st.synced {
                let _ = cur.synced.send_replace(true);
            }
            if let Some(message) = st.closed.filter(|_| cur.record.status.is_closed()) {
                let _ = node.subs.upstream_closed.send(super::UpstreamClosed { author: author.clone(), message });
            }
        }
    }
    for record in repersist {
        persist(node, record);
    }
}

/// The publisher's account of our resumed subscription (docs/btp-nips.md §4 "Resume"). It
/// counts every delivery we fulfilled before it (the publisher sends it with nothing in flight,
/// and nothing after it until we answer it) and every payment it received; we sent none
/// since the REQ (`awaiting_account`), so what we paid is what it received (our own record may
/// lag it after a crash), and what it says we owe, up to its announced `delivery_credit` (all
/// we ever trust it with), replaces what we thought we owed. Deliveries after it on the
/// stream are added as usual. An `ACCOUNT` we did not wait for is only logged.
pub(super) fn on_account(
    node: &Arc<Node>,
    ctx: &PacketContext,
    account: protocol::btpnips::account::Account,
    staged: &mut Staged,
    after: &mut Vec<Any>,
) {
    let f = account.figures;
    let Some((author, s)) = staged.load(node, &ctx.peer, &account.subscription_id) else {
        tracing::info!(peer = %ctx.peer, subscription = %account.subscription_id, "ACCOUNT for no subscription of ours");
        return;
    };
    tracing::info!(peer = %ctx.peer, %author, owed = f.owed, paid = f.amount_paid, delivered = f.events_delivered, ours = s.record.amount_paid, awaited = s.awaiting_account, "publisher's account of our subscription");
    if !s.awaiting_account || s.accounted {
        return;
    }
    s.accounted = true;
    s.record.amount_paid = f.amount_paid;
    bump(&mut s.record);
    s.dirty = true;
    let trust = node.peer_info(&ctx.peer).map(|i| i.prices.delivery_credit).unwrap_or(0);
    after.push(Any::Subscriber(After::Owed { author, amount: f.owed.min(trust) }));
}

pub(super) fn on_relay_message(
    node: &Arc<Node>,
    ctx: &PacketContext,
    msg: RelayMessage,
    staged: &mut Staged,
    ops: &mut Vec<Op>,
    after: &mut Vec<Any>,
) -> Result<(), Refusal> {
    let refuse = |m: String| (ErrorCode::F99_APPLICATION_ERROR, m);
    match msg {
        RelayMessage::Event { subscription_id, event } => {
            event.verify().map_err(|e| refuse(e.to_ok_message()))?;
            let (author, s) = staged
                .load(node, &ctx.peer, &subscription_id)
                .ok_or_else(|| refuse(format!("invalid: no subscription {subscription_id:?}")))?;
            if !s.record.filters.iter().any(|f| f.matches(&event)) {
                return Err(refuse("invalid: event does not match the subscription".into()));
            }
            s.record.events_delivered += 1;
            s.delivered += 1;
            bump(&mut s.record);
            let price = node.peer_info(&ctx.peer).map(|i| i.prices.event_delivered).unwrap_or(0);
            let event = Arc::new(event);
            s.dirty = true;
            ops.push(Op::InsertEvent((*event).clone()));
            after.push(Any::Broadcast(event, ops.len() - 1));
            if price > 0 {
                after.push(Any::Subscriber(After::Pay { author, amount: price }));
            }
            Ok(())
        }
        RelayMessage::Eose { subscription_id } => {
            tracing::debug!(peer = %ctx.peer, %subscription_id, "EOSE from peer");
            if let Some((author, s)) = staged.load(node, &ctx.peer, &subscription_id) {
                s.synced = true;
                if s.awaiting_account && !s.accounted {
                    // No ACCOUNT came (a subscription new to the publisher): pay as we count.
                    after.push(Any::Subscriber(After::Release { author }));
                }
            }
            Ok(())
        }
        RelayMessage::Closed { subscription_id, message } => {
            if let Some((_, s)) = staged.load(node, &ctx.peer, &subscription_id) {
                tracing::warn!(peer = %ctx.peer, %message, "peer closed our subscription");
                // Closed while we could pay (payment-required: with nothing owed and no payment
                // failing) or on the publisher's own trouble (error:): re-open by itself, from
                // where we are. Closed for payments we did not make, or any other reason:
                // final, and our clients are told (CLOSED).
                let reopen = (message.starts_with("payment-required:") && s.could_pay) || message.starts_with("error:");
                s.record.status = if reopen {
                    SubscriptionStatus::Resuming(Some(format!("the publisher closed it: {message}")))
                } else {
                    SubscriptionStatus::Closed(CloseReason::Peer(message.clone()))
                };
                bump(&mut s.record);
                s.dirty = true;
                s.closed = Some(message);
                s.synced = true;
            }
            Ok(())
        }
        RelayMessage::Notice { message } => {
            tracing::info!(peer = %ctx.peer, %message, "NOTICE from peer");
            Ok(())
        }
        RelayMessage::Ok { event_id, accepted, message } => {
            tracing::info!(peer = %ctx.peer, %event_id, accepted, %message, "OK from peer");
            Ok(())
        }
    }
}

pub(super) fn after_commit(node: &Arc<Node>, a: After) {
    let release = |author: String, owed: Option<u64>| {
        let start = {
            let mut map = node.subs.outbound.lock().expect("poisoned");
            let Some(s) = map.get_mut(&author) else { return };
            if let Some(owed) = owed {
                s.unpaid = owed;
                s.account_applied = true;
            }
            s.awaiting_account = false;
            s.start_payment()
        };
        if start {
            let node = node.clone();
            tokio::spawn(async move { pay_delivered(&node, &author).await });
        }
    };
    match a {
        After::Owed { author, amount } => release(author, Some(amount)),
        After::Release { author } => release(author, None),
        After::Pay { author, amount } => {
            let start = {
                let mut map = node.subs.outbound.lock().expect("poisoned");
                let Some(s) = map.get_mut(&author) else { return };
                s.unpaid += amount;
                s.start_payment()
            };
            if start {
                let node = node.clone();
                tokio::spawn(async move { pay_delivered(&node, &author).await });
            }
        }
    }
}

/// Most payments for delivered events in flight at once per subscription: a payment's round
/// trip (two commits) would otherwise bound delivery at the publisher's credit per round trip
/// (see `Outbound::start_payment` for when more than one starts).
pub const PAYMENTS_IN_FLIGHT: u32 = 4;

/// Pay the publisher's node for delivered events, in aggregate: each payment covers all that
/// was delivered and not yet paid when it starts, and up to [`PAYMENTS_IN_FLIGHT`] run at once,
/// so what is delivered while one is in flight goes into the next (one Prepare per batch, not
/// one per event). A failed payment puts its amount back and is retried after
/// [`PAY_RETRY`]; the publisher pauses delivery at its credit meanwhile.
async fn pay_delivered(node: &Arc<Node>, author: &str) {
    loop {
        let job = {
            let mut map = node.subs.outbound.lock().expect("poisoned");
            let Some(s) = map.get_mut(author) else { return };
            // Not active (closed, or re-opening): what is unpaid waits for the next delivery.
            if s.unpaid == 0 || s.awaiting_account || !s.record.status.is_active() {
                s.paying -= 1;
                return;
            }
            let peer = s.node.clone().unwrap_or_else(|| author.to_owned());
            (peer, s.record.stream_id, std::mem::take(&mut s.unpaid))
        };
        let (peer, stream_id, amount) = job;
        let sent =
            match protocol::btpnips::secret::parse_hex32(&peer).ok().and_then(|pk| node.stream.outgoing(node, pk).ok())
            {
                Some(conn) => match conn.enqueue(stream_id, Vec::new(), amount) {
                    Ok(rx) => matches!(rx.await, Ok(Ok(()))),
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "could not queue payment");
                        false
                    }
                },
                None => false,
            };
        {
            let mut map = node.subs.outbound.lock().expect("poisoned");
            let Some(s) = map.get_mut(author) else { return };
            if sent {
                s.pay_failures = 0;
                s.record.amount_paid += amount;
                bump(&mut s.record);
                persist(node, s.record.clone());
                continue;
            }
            tracing::warn!(%peer, amount, "payment for delivered events failed; will retry");
            s.pay_failures += 1;
            s.unpaid += amount;
        }
        tokio::time::sleep(PAY_RETRY).await;
    }
}

/// Wait before retrying a failed payment for delivered events.
pub const PAY_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

fn persist(node: &Arc<Node>, record: SubscriptionRecord) {
    let node = node.clone();
    tokio::spawn(async move {
        if let Err(e) = node.storage.writer().submit(vec![Op::UpsertSubscription(record)]).await {
            tracing::error!(error = %e, "could not persist subscription");
        }
    });
}
