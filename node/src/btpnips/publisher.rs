//! Inbound subscriptions: a peer subscribed to us. It pays with the REQ (per period) and
//! after each delivered EVENT; we replay stored matches, send EOSE, then push live events,
//! and close the subscription with `CLOSED payment-required:` when unpaid delivery passes
//! the configured credit (docs/btp-nips.md §4).
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use protocol::btpnips::account;
use protocol::btpnips::addressing::TAG_LEN;
use protocol::ilp::ErrorCode;
use protocol::nostr::{ClientMessage, Event, Filter, RelayMessage};
use storage::{CloseReason, Direction, Op, SubscriptionRecord, SubscriptionStatus};

use super::{frame, Refusal, RelayMessageOrClient};
use crate::node::Node;
use crate::stream::PacketContext;

/// Most filters in one REQ from a peer.
pub const MAX_FILTERS: usize = 10;
/// Most open (not closed) inbound subscriptions one peer may hold; a REQ for another is
/// refused `F99 rate-limited:` and stores nothing.
pub const MAX_SUBSCRIPTIONS_PER_PEER: usize = 64;

/// Live state of one inbound subscription.
pub(crate) struct Inbound {
    pub record: SubscriptionRecord,
    /// Our stream (on our outgoing connection `tag`) that carries the EVENTs.
    out: Option<([u8; TAG_LEN], u64)>,
    /// Stored-event replay still running: live events wait in `backlog`.
    replaying: bool,
    /// Live matches that arrived during the replay, at most [`MAX_QUEUE`].
    backlog: Vec<Arc<Event>>,
    /// The backlog overflowed during the replay: run the replay's query again.
    replay_again: bool,
    /// Messages waiting for delivery, sent in batches by [`pump`].
    queue: VecDeque<Item>,
    /// A pump task is running for this subscription.
    pumping: bool,
    /// Wakes a running pump that waits on its deliveries in flight (new items, a payment).
    wake: Arc<tokio::sync::Notify>,
    /// When deliveries started failing (unix s); `None` while they succeed.
    failing_since: Option<u64>,
    /// Delivery is paused at the credit limit since this time (unix s), waiting for payment.
    unpaid_since: Option<u64>,
    /// Paused at the credit limit: new items only queue; a payment or the grace timer resumes.
    paused: bool,
    /// Bumped by every accepted REQ: batches of an older epoch that fail are not queued
    /// again (the new REQ's replay covers them).
    epoch: u64,
}

impl Inbound {
    /// Whether `event` was delivered at the newest second delivered (the record's
    /// `delivered_newest`, persisted with it, so this holds across our restarts too).
    fn delivered_at_newest(&self, event: &Event) -> bool {
        self.record
            .delivered_newest
            .as_ref()
            .is_some_and(|d| d.created_at == event.created_at && d.ids.contains(&event.id))
    }

    /// Record fulfilled EVENTs in the record's `delivered_newest`.
    fn note_delivered(&mut self, items: &[Item]) {
        for item in items {
            let Item::Event(e) = item else { continue };
            match &mut self.record.delivered_newest {
                Some(d) if d.created_at == e.created_at => {
                    if d.ids.len() < storage::DELIVERED_NEWEST_MAX {
                        d.ids.push(e.id.clone());
                    }
                }
                Some(d) if d.created_at > e.created_at => {}
                slot => *slot = Some(storage::DeliveredNewest { created_at: e.created_at, ids: vec![e.id.clone()] }),
            }
        }
    }
}

impl Inbound {
    /// State for `record` with nothing queued or running.
    fn new(record: SubscriptionRecord) -> Self {
        Self {
            record,
            out: None,
            replaying: false,
            backlog: vec![],
            replay_again: false,
            queue: VecDeque::new(),
            pumping: false,
            wake: Arc::new(tokio::sync::Notify::new()),
            failing_since: None,
            unpaid_since: None,
            paused: false,
            epoch: 0,
        }
    }
}

/// What one packet does to inbound subscriptions, staged on copies: the handlers compute the
/// new records on values, and [`apply_committed`] moves them into the shared map only after
/// the packet's commit succeeded. A refused packet (any message refused, credit refused with
/// T04, a failed commit) drops its `Staged` and leaves every subscription as it was.
#[derive(Default)]
pub(crate) struct Staged {
    entries: HashMap<Key, StagedSub>,
}

struct StagedSub {
    /// Revision of the shared record this copy started from; `None` for a new subscription.
    base: Option<u64>,
    record: SubscriptionRecord,
    /// The changes in order, re-applied on the shared record if another packet committed a
    /// change to it meanwhile (the revisions then differ).
    changes: Vec<Change>,
    /// A REQ was accepted: after commit, reset delivery and replay these filters.
    replay: Option<Vec<Filter>>,
}

/// One change a message makes to an inbound subscription record.
#[derive(Debug, Clone)]
enum Change {
    /// A REQ paid `periods` periods with `money` (asset units) at `now` (unix s).
    Req { money: u64, periods: u64, period_secs: u64, now: u64, filters: Vec<Filter>, stream_id: u64 },
    /// Money alone on the REQ's stream: payment for delivered events (asset units).
    Payment(u64),
    /// CLOSE, or the subscriber closed the REQ's stream.
    Close,
}

impl Change {
    fn apply(&self, r: &mut SubscriptionRecord) {
        match self {
            Change::Req { money, periods, period_secs, now, filters, stream_id } => {
                r.paid_until = r.paid_until.max(*now) + periods * period_secs;
                r.periods_paid += periods;
                r.amount_paid += money;
                r.filters = filters.clone();
                r.stream_id = *stream_id;
                r.status = SubscriptionStatus::Active;
            }
            Change::Payment(money) => r.amount_paid += money,
            Change::Close => r.status = SubscriptionStatus::Closed(CloseReason::Subscriber),
        }
        bump(r);
    }
}

impl Staged {
    /// The staged copy of `key`'s record, loaded from the shared map on first use; `None` if
    /// there is no such subscription.
    fn load(&mut self, node: &Node, key: &Key) -> Option<&mut StagedSub> {
        if !self.entries.contains_key(key) {
            let record = node.subs.inbound.lock().expect("poisoned").get(key)?.record.clone();
            self.entries
                .insert(key.clone(), StagedSub { base: Some(record.revision), record, changes: vec![], replay: None });
        }
        self.entries.get_mut(key)
    }

    /// One upsert per subscription the packet changed (its last state), for the packet's commit.
    pub(super) fn upserts(&self, ops: &mut Vec<Op>) {
        let changed = self.entries.values().filter(|s| !s.changes.is_empty());
        ops.extend(changed.map(|s| Op::UpsertSubscription(s.record.clone())));
    }

    /// Keys of `peer`'s subscriptions whose REQ came on `stream_id`, as staged so far.
    fn on_stream(&mut self, node: &Node, peer: &str, stream_id: u64) -> Vec<Key> {
        let mut keys: Vec<Key> =
            node.subs.inbound.lock().expect("poisoned").keys().filter(|(p, _)| p == peer).cloned().collect();
        keys.extend(self.entries.keys().filter(|(p, _)| p == peer).cloned());
        keys.sort();
        keys.dedup();
        keys.retain(|k| self.load(node, k).is_some_and(|s| s.record.stream_id == stream_id));
        keys
    }
}

impl StagedSub {
    /// Apply `change` to the copy (its upsert is staged once per packet, [`Staged::upserts`]).
    fn change(&mut self, change: Change) {
        change.apply(&mut self.record);
        self.changes.push(change);
    }
}

/// The packet's commit succeeded: move its staged subscription changes into the shared map,
/// then start the replays of accepted REQs.
pub(super) fn apply_committed(node: &Arc<Node>, staged: Staged) {
    let mut replays = Vec::new();
    let mut repersist = Vec::new();
    let mut wake = Vec::new();
    {
        let mut map = node.subs.inbound.lock().expect("poisoned");
        for (key, s) in staged.entries {
            if s.changes.is_empty() {
                continue;
            }
            if s.changes.iter().any(|c| matches!(c, Change::Payment(_))) {
                wake.push(key.clone());
            }
            let entry = match map.get_mut(&key) {
                Some(cur) if Some(cur.record.revision) == s.base => {
                    cur.record = s.record;
                    cur
                }
                Some(cur) => {
                    // Another packet committed a change meanwhile: apply ours on top of it.
                    for c in &s.changes {
                        c.apply(&mut cur.record);
                    }
                    repersist.push(cur.record.clone());
                    cur
                }
                None => map.entry(key.clone()).or_insert_with(|| Inbound::new(s.record)),
            };
            if let Some(filters) = s.replay {
                entry.replaying = true;
                entry.backlog.clear();
                entry.replay_again = false;
                entry.epoch += 1;
                // The replay (from the REQ's `since`) covers whatever was still queued.
                entry.queue.clear();
                // First tell the subscriber what we count (it holds its payments until then).
                entry.queue.push_back(Item::Account);
                entry.failing_since = None;
                entry.paused = false;
                entry.unpaid_since = None;
                replays.push((key, filters));
            }
        }
    }
    for record in repersist {
        persist(node, record);
    }
    // A payment resumes a delivery paused at the credit limit.
    for key in wake {
        resume(node, &key);
    }
    for (key, filters) in replays {
        let node = node.clone();
        tokio::spawn(async move { replay(&node, key, filters).await });
    }
}

type Key = (String, String);

pub(super) fn restore(node: &Arc<Node>, record: SubscriptionRecord) {
    let key = (record.peer.clone(), record.subscription_id.clone());
    // Live delivery resumes when the subscriber sends its REQ again.
    let mut record = record;
    if record.status.is_active() {
        record.status = SubscriptionStatus::WaitingForResume;
    }
    node.subs.inbound.lock().expect("poisoned").insert(key, Inbound::new(record));
}

pub(super) fn on_link_up(node: &Arc<Node>, peer: &str) {
    for (_, s) in node.subs.inbound.lock().expect("poisoned").iter_mut().filter(|((p, _), _)| p == peer) {
        s.out = None;
    }
}

/// A REQ, CLOSE or EVENT from a peer acting as a client of ours.
pub(super) fn on_client_message(
    node: &Arc<Node>,
    ctx: &PacketContext,
    stream_id: u64,
    money: u64,
    msg: ClientMessage,
    staged: &mut Staged,
    fx: &mut super::Effects,
) -> Result<(), Refusal> {
    let super::Effects { ops, after } = fx;
    match msg {
        ClientMessage::Req { subscription_id, filters } => {
            on_req(node, ctx, stream_id, money, subscription_id, filters, staged)
        }
        ClientMessage::Close { subscription_id } => {
            if let Some(s) = staged.load(node, &(ctx.peer.clone(), subscription_id)) {
                s.change(Change::Close);
            }
            Ok(())
        }
        ClientMessage::Event(event) => super::paid_publish::on_event(node, ctx, money, event, ops, after),
    }
}

#[allow(clippy::too_many_arguments)]
fn on_req(
    node: &Arc<Node>,
    ctx: &PacketContext,
    stream_id: u64,
    money: u64,
    sub_id: String,
    filters: Vec<Filter>,
    staged: &mut Staged,
) -> Result<(), Refusal> {
    if filters.len() > MAX_FILTERS {
        return Err((ErrorCode::F99_APPLICATION_ERROR, format!("invalid: at most {MAX_FILTERS} filters per REQ")));
    }
    let prices = &node.config.prices;
    let now = crate::clock::now_secs();
    let key: Key = (ctx.peer.clone(), sub_id.clone());
    let known = staged.load(node, &key).is_some();
    if !known {
        let open = |r: &SubscriptionRecord| r.peer == ctx.peer && !r.status.is_closed();
        let held = node.subs.inbound.lock().expect("poisoned").values().filter(|s| open(&s.record)).count()
            + staged.entries.values().filter(|s| s.base.is_none() && open(&s.record)).count();
        if held >= MAX_SUBSCRIPTIONS_PER_PEER {
            return Err((
                ErrorCode::F99_APPLICATION_ERROR,
                format!(
                    "rate-limited: at most {MAX_SUBSCRIPTIONS_PER_PEER} open subscriptions per peer; CLOSE one first"
                ),
            ));
        }
    }
    let paid_active = staged.load(node, &key).is_some_and(|s| s.record.paid_until > now);
    if !paid_active && money < prices.subscription {
        return Err((
            ErrorCode::F04_INSUFFICIENT_DESTINATION_AMOUNT,
            format!(
                "payment-required: a subscription costs {} {} (asset scale {}) per {} s; this REQ carried {}",
                prices.subscription,
                node.config.asset_code,
                node.config.asset_scale,
                prices.subscription_period_secs,
                money
            ),
        ));
    }
    let periods = match prices.subscription {
        0 if paid_active => 0,
        0 => 1,
        p => money / p,
    };
    let entry = staged.entries.entry(key).or_insert_with(|| StagedSub {
        base: None,
        record: SubscriptionRecord {
            direction: Direction::Inbound,
            peer: ctx.peer.clone(),
            subscription_id: sub_id,
            filters: vec![],
            stream_id,
            amount_paid: 0,
            events_delivered: 0,
            paid_until: 0,
            periods_paid: 0,
            // Replaced by `active` when the REQ's change applies, before it is staged.
            status: SubscriptionStatus::Opening,
            revision: 0,
            created_at: now,
            updated_at: now,
            delivered_newest: None,
        },
        changes: vec![],
        replay: None,
    });
    let change = Change::Req {
        money,
        periods,
        period_secs: prices.subscription_period_secs,
        now,
        filters: filters.clone(),
        stream_id,
    };
    entry.change(change);
    entry.replay = Some(filters);
    Ok(())
}

/// Money alone on a subscriber's REQ stream: payment for delivered events.
pub(super) fn on_payment(node: &Arc<Node>, ctx: &PacketContext, stream_id: u64, money: u64, staged: &mut Staged) {
    match staged.on_stream(node, &ctx.peer, stream_id).first() {
        Some(key) => {
            if let Some(s) = staged.load(node, key) {
                s.change(Change::Payment(money));
            }
        }
        None => {
            tracing::info!(peer = %ctx.peer, stream_id, money, "payment on a stream with no subscription; credited to the account")
        }
    }
}

/// The subscriber closed its REQ stream: same as CLOSE.
pub(super) fn on_stream_closed(node: &Arc<Node>, ctx: &PacketContext, stream_id: u64, staged: &mut Staged) {
    for key in staged.on_stream(node, &ctx.peer, stream_id) {
        if let Some(s) = staged.load(node, &key).filter(|s| s.record.status.is_active()) {
            s.change(Change::Close);
        }
    }
}

/// Send stored matches, then EOSE, then whatever arrived live meanwhile.
///
/// Stored matches go in pages of at most [`storage::MAX_QUERY_EVENTS`], newest first (each
/// page ends where the previous one did, `until` = its oldest `created_at`, its events at that
/// second skipped), and a page is queued only when the delivery queue has room (at most half
/// of [`MAX_QUEUE`]), so a follower catching up on a large store gets all of it with bounded
/// memory. Filters with a `limit` get one query (the newest `limit`, NIP-01). Limits: more than
/// `MAX_QUERY_EVENTS` matches within one second are cut at that many; if more than
/// [`MAX_QUEUE`] live events arrive during the replay, it starts over (what it already sent
/// may then be sent again).
async fn replay(node: &Arc<Node>, key: Key, filters: Vec<Filter>) {
    let paged = filters.iter().all(|f| f.limit.is_none());
    'again: loop {
        let mut page_filters = filters.clone();
        // Ids of the first page (live events stored meanwhile may be in it) and of the last
        // page's oldest second (the next page starts there).
        let mut first_ids: Option<HashSet<String>> = None;
        let mut boundary: HashSet<String> = HashSet::new();
        loop {
            loop {
                let queued = node.subs.inbound.lock().expect("poisoned").get(&key).map(|s| s.queue.len());
                match queued {
                    None => return,
                    Some(n) if n <= MAX_QUEUE / 2 => break,
                    Some(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
            }
            let events = match node.storage.query_events(&page_filters).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "replay query failed");
                    Vec::new()
                }
            };
            let full = events.len() >= storage::MAX_QUERY_EVENTS;
            let oldest = events.iter().map(|e| e.created_at).min();
            let fresh: Vec<Event> =
                events.into_iter().filter(|e| !boundary.contains(&e.id) && !is_announcement(e)).collect();
            let done = !paged || !full || fresh.is_empty();
            if let Some(oldest) = oldest {
                if page_filters.first().and_then(|f| f.until) != Some(oldest) {
                    boundary.clear(); // a new oldest second: the old boundary is behind us
                }
                boundary.extend(fresh.iter().filter(|e| e.created_at == oldest).map(|e| e.id.clone()));
            }
            let first = first_ids.get_or_insert_with(|| fresh.iter().map(|e| e.id.clone()).collect());
            {
                let mut map = node.subs.inbound.lock().expect("poisoned");
                let Some(s) = map.get_mut(&key) else { return };
                if std::mem::take(&mut s.replay_again) {
                    // The backlog overflowed: what it dropped is stored, so start over.
                    s.queue.clear();
                    continue 'again;
                }
                let undelivered: Vec<Event> = fresh.into_iter().filter(|e| !s.delivered_at_newest(e)).collect();
                s.queue.extend(undelivered.into_iter().map(|e| Item::Event(Arc::new(e))));
                if done {
                    s.queue.push_back(Item::Eose);
                    s.replaying = false;
                    let backlog = std::mem::take(&mut s.backlog);
                    s.queue.extend(backlog.into_iter().filter(|e| !first.contains(&e.id)).map(Item::Event));
                }
            }
            enqueue(node, &key, Vec::new()); // starts the pump if it is idle
            if done {
                return;
            }
            for f in &mut page_filters {
                f.until = oldest;
            }
        }
    }
}

/// Kind 32001 announcements spread by gossip, free (docs/btp-nips.md §8); they are never
/// delivered (or charged) on a paid subscription.
fn is_announcement(event: &Event) -> bool {
    event.kind == protocol::btpnips::announcement::KIND
}

pub(super) fn on_new_event(node: &Arc<Node>, event: &Arc<Event>) {
    if is_announcement(event) {
        return;
    }
    let keys: Vec<Key> = {
        let mut map = node.subs.inbound.lock().expect("poisoned");
        let mut ready = Vec::new();
        for (k, s) in map.iter_mut() {
            if !s.record.status.is_active() || !s.record.filters.iter().any(|f| f.matches(event)) {
                continue;
            }
            if s.replaying {
                if s.backlog.len() >= MAX_QUEUE {
                    // Bounded: drop the backlog and let the replay query again (the events are stored).
                    s.backlog.clear();
                    s.replay_again = true;
                } else if !s.replay_again {
                    s.backlog.push(event.clone());
                }
            } else {
                ready.push(k.clone());
            }
        }
        ready
    };
    for k in keys {
        enqueue(node, &k, vec![Item::Event(event.clone())]);
    }
}

/// Most messages queued for one subscriber while its path is down; beyond it the queue is
/// dropped and the subscriber catches up with `since` when it resumes.
pub const MAX_QUEUE: usize = 10_000;
/// Wait before retrying a delivery that failed (route down, subscriber unreachable).
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(3);
/// Seconds of failing deliveries after which a subscription is suspended (queue dropped, no
/// more retries) until the subscriber sends its REQ again.
pub const SUSPEND_AFTER_SECS: u64 = 600;

/// One message waiting for delivery on a subscription.
#[derive(Clone)]
enum Item {
    Event(Arc<Event>),
    Eose,
    /// `["ACCOUNT", …]` with the record's figures when it is sent (docs/btp-nips.md §4).
    Account,
}

/// Append to the subscription's delivery queue and make sure its pump runs (unless it is
/// paused at the credit limit). The queue is bounded by [`MAX_QUEUE`]: past it, what is queued
/// is dropped and the subscriber is told to re-subscribe from where it is (`CLOSED "error:
/// …"`; its node resumes with `since`, and nothing is lost, since every event is stored).
fn enqueue(node: &Arc<Node>, key: &Key, items: Vec<Item>) {
    let (start, overflow) = {
        let mut map = node.subs.inbound.lock().expect("poisoned");
        let Some(s) = map.get_mut(key) else { return };
        s.queue.extend(items);
        if s.queue.len() > MAX_QUEUE && s.record.status.is_active() {
            s.queue.clear();
            s.record.status = SubscriptionStatus::Closed(CloseReason::QueueOverflow);
            bump(&mut s.record);
            (false, Some(s.record.clone()))
        } else {
            if s.pumping {
                // A running pump picks the items up as soon as its window allows.
                s.wake.notify_one();
            }
            (!s.paused && !std::mem::replace(&mut s.pumping, true), None)
        }
    };
    if let Some(record) = overflow {
        tracing::warn!(peer = %key.0, subscription = %key.1, "delivery queue over {MAX_QUEUE}; asking the subscriber to re-subscribe");
        let message = format!("error: more than {MAX_QUEUE} events waiting for delivery; re-subscribe with since");
        send(node, key, RelayMessage::Closed { subscription_id: key.1.clone(), message });
        persist(node, record);
        return;
    }
    if start {
        let (node, key) = (node.clone(), key.clone());
        tokio::spawn(async move { pump(&node, &key).await });
    }
}

/// Lift a pause at the credit limit (a payment arrived, or the grace time is over: the pump
/// then decides whether to go on or close).
fn resume(node: &Arc<Node>, key: &Key) {
    let paused = match node.subs.inbound.lock().expect("poisoned").get_mut(key) {
        Some(s) => std::mem::replace(&mut s.paused, false),
        None => false,
    };
    if paused {
        enqueue(node, key, Vec::new());
    }
}

enum Step {
    /// Framed NIP-01 messages for one Prepare, the items they came from, and how many EVENTs.
    Send(Vec<u8>, Vec<Item>, u64),
    Close(SubscriptionRecord),
    /// At the credit limit: wait for payment, at most this long before closing.
    Pause(std::time::Duration),
    Stop,
}

/// Most bytes of framed messages the pump puts in one delivery (one STREAM job, so one
/// Prepare within the receiver's initial 16 KiB window).
pub const BATCH_BYTES: usize = 14_000;

/// Take the next batch off the queue: as many messages as fit in [`BATCH_BYTES`] and, for
/// EVENTs, in the delivery credit (counting the events of batches in flight and the batch's
/// own events as due).
/// `in_flight` counts the EVENTs of all batches in flight (for the credit), `batches` those
/// batches.
///
/// An `ACCOUNT` is a barrier: it is taken only when no batch is in flight (so it counts
/// exactly the deliveries the subscriber fulfilled, on whatever connection or stream they
/// went), it ends its batch, and the pump sends nothing more until that batch is answered
/// (so nothing delivered after it can reach the subscriber before it).
fn next_batch(s: &mut Inbound, key: &Key, prices: &crate::config::PriceConfig, in_flight: u64, batches: usize) -> Step {
    if !s.record.status.is_active() {
        return Step::Stop;
    }
    let (mut bytes, mut items, mut events) = (Vec::new(), Vec::new(), 0u64);
    while let Some(item) = s.queue.pop_front() {
        let msg = match &item {
            Item::Account if batches > 0 || !items.is_empty() => {
                // Wait for the batches in flight (or send what this batch holds first).
                s.queue.push_front(item);
                break;
            }
            Item::Account => {
                let r = &s.record;
                let delivered = r.events_delivered;
                let due = r.periods_paid * prices.subscription + delivered * prices.event_delivered;
                let figures = account::Figures {
                    periods_paid: r.periods_paid,
                    events_delivered: delivered,
                    amount_paid: r.amount_paid,
                    owed: due.saturating_sub(r.amount_paid),
                };
                let text = account::Account { subscription_id: key.1.clone(), figures }.to_json();
                let framed = protocol::btpnips::framing::encode_message(&text).unwrap_or_default();
                bytes.extend_from_slice(&framed);
                items.push(item);
                break;
            }
            Item::Eose => RelayMessage::Eose { subscription_id: key.1.clone() },
            Item::Event(event) => {
                let due = s.record.periods_paid * prices.subscription
                    + (s.record.events_delivered + in_flight + events + 1) * prices.event_delivered;
                if due.saturating_sub(s.record.amount_paid) > prices.delivery_credit {
                    s.queue.push_front(item);
                    break;
                }
                RelayMessage::Event { subscription_id: key.1.clone(), event: (**event).clone() }
            }
        };
        let framed = frame(&RelayMessageOrClient::Relay(msg));
        if !bytes.is_empty() && bytes.len() + framed.len() > BATCH_BYTES {
            s.queue.push_front(item);
            break;
        }
        bytes.extend_from_slice(&framed);
        events += matches!(item, Item::Event(_)) as u64;
        items.push(item);
    }
    if !items.is_empty() {
        s.unpaid_since = None;
        return Step::Send(bytes, items, events);
    }
    if s.queue.is_empty() || matches!(s.queue.front(), Some(Item::Account)) {
        // Nothing queued, or an `ACCOUNT` waiting for the batches in flight.
        return Step::Stop;
    }
    // The next EVENT is over the credit: pause, and close once the grace time is over. Times
    // are whole seconds, so "over" is strictly more: the pause lasts at least the grace time
    // (at most a second more), never less.
    let now = crate::clock::now_secs();
    let waited = now.saturating_sub(*s.unpaid_since.get_or_insert(now));
    if waited > prices.delivery_grace_secs && in_flight == 0 {
        s.record.status = SubscriptionStatus::Closed(CloseReason::UnpaidOverCredit);
        bump(&mut s.record);
        return Step::Close(s.record.clone());
    }
    Step::Pause(std::time::Duration::from_secs((prices.delivery_grace_secs + 1).saturating_sub(waited).max(1)))
}

/// Batches of one subscription in flight at once (each one Prepare; the STREAM sender keeps
/// several Prepares in flight per connection, RFC 29).
pub const PUMP_WINDOW: usize = 4;

/// A batch sent and not yet answered.
struct InFlight {
    /// Its outcome, from the STREAM sender.
    rx: tokio::sync::oneshot::Receiver<Result<(), crate::stream::SendError>>,
    items: Vec<Item>,
    /// EVENTs among `items`.
    events: u64,
    /// The subscription's epoch when it was sent.
    epoch: u64,
    /// It carries an `ACCOUNT`: nothing more is sent until it is answered.
    account: bool,
}

/// Deliver a subscription's queue in batches ([`next_batch`]), up to [`PUMP_WINDOW`] in flight,
/// their outcomes taken in order. Only fulfilled deliveries (= stored by the subscriber)
/// count as due; batches in flight count against the credit. At the credit limit, with
/// nothing in flight, delivery pauses (flow control): a payment resumes it
/// ([`apply_committed`]); a subscriber that does not pay within `delivery_grace_secs` is
/// closed with `CLOSED payment-required:`.
async fn pump(node: &Arc<Node>, key: &Key) {
    let prices = &node.config.prices;
    let wake = match node.subs.inbound.lock().expect("poisoned").get(key) {
        Some(s) => s.wake.clone(),
        None => return,
    };
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut in_flight_events = 0u64;
    // Items of failed batches, in order; once nothing is in flight they go back to the queue.
    let mut failed: Vec<Item> = Vec::new();
    loop {
        // Fill the window. Decide and record the pump's state under one lock, so an item
        // queued meanwhile either is in this batch or finds the pump stopped and starts a new
        // one (no lost wake-up, nothing cleared behind its back).
        while failed.is_empty() && in_flight.len() < PUMP_WINDOW && !in_flight.iter().any(|b| b.account) {
            let (step, first_pause, epoch) = {
                let mut map = node.subs.inbound.lock().expect("poisoned");
                let Some(s) = map.get_mut(key) else { return };
                let step = next_batch(s, key, prices, in_flight_events, in_flight.len());
                let epoch = s.epoch;
                let mut first_pause = false;
                let idle = in_flight.is_empty();
                match step {
                    Step::Stop | Step::Close(_) if idle => {
                        if !s.record.status.is_active() {
                            s.queue.clear();
                        }
                        s.pumping = false;
                    }
                    // Paused in the same lock: a payment committed from here on finds it paused
                    // and resumes it ([`resume`]); one committed before was counted above.
                    Step::Pause(_) if idle => {
                        s.pumping = false;
                        first_pause = !std::mem::replace(&mut s.paused, true);
                    }
                    _ => {}
                }
                (step, first_pause, epoch)
            };
            match step {
                Step::Send(bytes, items, events) => match send_framed(node, key, bytes) {
                    Some(rx) => {
                        in_flight_events += events;
                        let account = items.iter().any(|i| matches!(i, Item::Account));
                        in_flight.push_back(InFlight { rx, items, events, epoch, account });
                    }
                    None => failed.extend(items),
                },
                // With deliveries in flight, their outcomes (or a wake-up) decide again.
                _ if !in_flight.is_empty() => break,
                Step::Close(record) => {
                    let message = format!(
                        "payment-required: delivery paused at the credit of {} units and not paid for {} s",
                        prices.delivery_credit, prices.delivery_grace_secs
                    );
                    tracing::warn!(peer = %key.0, subscription = %key.1, "subscriber did not pay within the grace time; closing");
                    send(node, key, RelayMessage::Closed { subscription_id: key.1.clone(), message });
                    persist(node, record);
                    return;
                }
                Step::Pause(wait) => {
                    tracing::debug!(peer = %key.0, subscription = %key.1, "delivery paused at the credit limit");
                    if first_pause {
                        // Re-check when the grace time is over (a payment resumes it earlier).
                        let (node, key) = (node.clone(), key.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(wait + std::time::Duration::from_millis(100)).await;
                            resume(&node, &key);
                        });
                    }
                    return;
                }
                Step::Stop => return,
            }
        }
        let Some(InFlight { rx, items, events, epoch, account }) = in_flight.pop_front() else {
            // Nothing in flight and the window was not filled: only failures are left.
            return retry_later(node, key, std::mem::take(&mut failed));
        };
        // The oldest batch's outcome, or a wake-up (new items, a payment) to fill the window.
        let rx = if failed.is_empty() {
            let mut rx = rx;
            tokio::select! {
                biased;
                out = &mut rx => Ok(out),
                _ = wake.notified() => Err(rx),
            }
        } else {
            Ok(rx.await)
        };
        let out = match rx {
            Ok(out) => out,
            Err(rx) => {
                in_flight.push_front(InFlight { rx, items, events, epoch, account });
                continue;
            }
        };
        in_flight_events -= events;
        if !matches!(out, Ok(Ok(()))) {
            // The path may come back (routes converge): keep the items, retry on a new stream
            // once every batch in flight has answered. A batch of an older epoch is dropped:
            // the newer REQ's replay covers it.
            let current = match node.subs.inbound.lock().expect("poisoned").get_mut(key) {
                Some(s) => {
                    s.out = None;
                    s.epoch == epoch
                }
                None => return,
            };
            if current {
                failed.extend(items);
            }
            if in_flight.is_empty() && !failed.is_empty() {
                return retry_later(node, key, std::mem::take(&mut failed));
            }
            continue;
        }
        let record = {
            let mut map = node.subs.inbound.lock().expect("poisoned");
            let Some(s) = map.get_mut(key) else { return };
            s.failing_since = None;
            if events == 0 {
                continue;
            }
            s.note_delivered(&items);
            s.record.events_delivered += events;
            bump(&mut s.record);
            s.record.clone()
        };
        persist(node, record);
    }
}

/// A delivery failed: put its batch back at the head of the queue and restart the pump after
/// [`RETRY_AFTER`]. A queue past [`MAX_QUEUE`] is dropped (the subscriber resumes with
/// `since`).
fn retry_later(node: &Arc<Node>, key: &Key, failed: Vec<Item>) {
    {
        let mut map = node.subs.inbound.lock().expect("poisoned");
        let Some(s) = map.get_mut(key) else { return };
        s.pumping = false;
        for item in failed.into_iter().rev() {
            s.queue.push_front(item);
        }
        let now = crate::clock::now_secs();
        let since = *s.failing_since.get_or_insert(now);
        if now.saturating_sub(since) > SUSPEND_AFTER_SECS {
            tracing::warn!(peer = %key.0, "subscriber unreachable for {SUSPEND_AFTER_SECS} s; subscription suspended until it resumes");
            s.queue.clear();
            s.record.status = SubscriptionStatus::Suspended;
            bump(&mut s.record);
            persist(node, s.record.clone());
            return;
        }
        if s.queue.len() > MAX_QUEUE {
            tracing::warn!(peer = %key.0, queued = s.queue.len(), "subscriber unreachable; dropping its delivery queue");
            s.queue.clear();
            return;
        }
    }
    let (node, key) = (node.clone(), key.clone());
    tokio::spawn(async move {
        tokio::time::sleep(RETRY_AFTER).await;
        enqueue(&node, &key, Vec::new());
    });
}

/// Queue one message on the subscription's stream; see [`send_framed`].
fn send(
    node: &Arc<Node>,
    key: &Key,
    msg: RelayMessage,
) -> Option<tokio::sync::oneshot::Receiver<Result<(), crate::stream::SendError>>> {
    send_framed(node, key, frame(&RelayMessageOrClient::Relay(msg)))
}

/// Queue framed messages on the subscription's stream (opening one on our current outgoing
/// connection if needed). Returns the outcome receiver, or `None` if it could not be queued.
fn send_framed(
    node: &Arc<Node>,
    key: &Key,
    bytes: Vec<u8>,
) -> Option<tokio::sync::oneshot::Receiver<Result<(), crate::stream::SendError>>> {
    let peer = protocol::btpnips::secret::parse_hex32(&key.0).ok()?;
    let conn = node.stream.outgoing(node, peer).ok()?;
    let stream_id = {
        let mut map = node.subs.inbound.lock().expect("poisoned");
        let s = map.get_mut(key)?;
        match s.out {
            Some((tag, id)) if tag == conn.tag => id,
            _ => {
                let id = conn.open_stream();
                s.out = Some((conn.tag, id));
                id
            }
        }
    };
    tracing::debug!(peer = %key.0, stream_id, tag = %hex::encode(conn.tag), bytes = bytes.len(), "queue to subscriber");
    match conn.enqueue(stream_id, bytes, 0) {
        Ok(rx) => Some(rx),
        Err(e) => {
            tracing::warn!(peer = %key.0, error = %e, "could not queue delivery");
            None
        }
    }
}

fn persist(node: &Arc<Node>, record: SubscriptionRecord) {
    let node = node.clone();
    tokio::spawn(async move {
        if let Err(e) = node.storage.writer().submit(vec![Op::UpsertSubscription(record)]).await {
            tracing::error!(error = %e, "could not persist subscription");
        }
    });
}

/// Advance a record's revision and update time (storage keeps the highest revision).
pub(super) fn bump(r: &mut SubscriptionRecord) {
    r.revision += 1;
    r.updated_at = crate::clock::now_secs();
}
