//! One local client connection (NIP-01).
//!
//! The session task owns all of its state, so nothing is locked. A REQ is answered in
//! order: stored matches, then EOSE, then live events. When the filters name a linked peer
//! node's pubkey, the node first opens (or resumes) its paid subscription to that peer and
//! waits (bounded) for the peer's EOSE, so the peer's stored events are among the stored
//! matches. Live events that arrive while a REQ is still being answered wait and are sent
//! after its EOSE, without duplicates.
//!
//! EVENTs are a pipeline: each is verified and stored by its own task while the session goes
//! on reading (at most [`MAX_EVENTS_IN_FLIGHT`] per connection), so one client's window shares
//! the writer's group commits; the `OK`s go out in the order the EVENTs came, each after its
//! commit.
//!
//! Bounds: stored matches come in pages (`replay.rs`) and every outgoing message goes through
//! the byte-bounded `outbox.rs` (a slow client pauses the session, then is closed); a client
//! silent for `ws_ping_interval_secs` is pinged and closed without an answer within
//! `ws_pong_timeout_secs`; EVENTs pass the rate limits (`rate.rs`) first; WebSocket faults
//! close with their RFC 6455 code (`close_code.rs`).
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use protocol::nostr::{machine_message, prefix, ClientMessage, Event, Filter, RelayMessage};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::close_code::Fault;
use super::outbox::{Farewell, Outbox, OutboxError};
use super::rate::EventRate;
use super::replay::{Page, Ready};
use crate::listen::ConnGuard;
use crate::node::Node;

/// Largest client message accepted, bytes; a larger one closes the connection with 1009.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Most concurrent subscriptions per connection.
pub const MAX_SUBSCRIPTIONS: usize = 32;
/// Most filters per REQ.
pub const MAX_FILTERS: usize = 16;
/// Most EVENTs of one connection being verified and stored at once. The session keeps
/// reading while they wait for the writer (so a client's window fills one group commit), and
/// stops reading at this many until the oldest is answered.
pub const MAX_EVENTS_IN_FLIGHT: usize = 32;

/// The answers to a connection's messages, in the order the messages came: an EVENT's `OK`
/// resolves once its event is committed (or refused); NOTICE and CLOSED answers at once.
type Acks = FuturesOrdered<BoxFuture<'static, Message>>;

/// The connection a session serves: who is at the other end, and the shared limits.
pub struct Conn {
    /// The client's socket address.
    pub remote: SocketAddr,
    /// The relay's EVENT rate limiters.
    pub rate: Arc<EventRate>,
    /// Keeps the connection counted against the listener's caps while the session lives.
    pub _guard: Arc<ConnGuard>,
}

/// Most live events that wait for a REQ's stored matches to be sent; past it the REQ is
/// closed (`CLOSED "error: …"`; the client asks again).
pub const MAX_PENDING_LIVE: usize = 10_000;

struct Sub {
    filters: Vec<Filter>,
    /// REQ still being answered: live matches wait here.
    pending: Option<Vec<Arc<Event>>>,
    /// Ids sent as stored matches (to drop live duplicates).
    sent: HashSet<String>,
    generation: u64,
    /// The task fetching the stored matches; aborted when the REQ is closed or replaced.
    replay: Option<tokio::task::AbortHandle>,
}

impl Drop for Sub {
    fn drop(&mut self) {
        if let Some(r) = &self.replay {
            r.abort();
        }
    }
}

/// One message for the client, serialised only when it is its turn to be queued (a REQ's
/// stored matches are not all turned into JSON at once).
enum Out {
    Text(String),
    Stored(String, Event),
    Live(String, Arc<Event>),
    Ping,
    /// An answer from the connection's [`Acks`], ready to send.
    Message(Message),
}

impl Out {
    fn into_message(self) -> Message {
        let text = match self {
            Out::Text(t) => t,
            Out::Stored(subscription_id, event) => RelayMessage::Event { subscription_id, event }.to_json(),
            Out::Live(subscription_id, event) => {
                RelayMessage::Event { subscription_id, event: (*event).clone() }.to_json()
            }
            Out::Ping => return Message::Ping(Default::default()),
            Out::Message(m) => return m,
        };
        Message::Text(text.into())
    }
}

/// Why a session ended.
enum End {
    /// The node shuts down: close 1001.
    Shutdown,
    /// The client closed, or the socket failed.
    Gone,
    /// The client broke the WebSocket protocol.
    Fault(Fault),
    /// Nothing heard from the client within a ping interval and the pong timeout.
    Silent(Duration),
    /// The client left `relay_outbound_bytes` unread for `relay_slow_reader_secs`.
    SlowReader(OutboxError),
}

/// Serve one client until it disconnects or the node shuts down.
pub async fn run(node: Arc<Node>, socket: WebSocket, conn: Conn) {
    let limits = &node.config.limits;
    let grace = Duration::from_secs(limits.relay_slow_reader_secs);
    let ping_every = Duration::from_secs(limits.ws_ping_interval_secs.max(1));
    let pong_within = Duration::from_secs(limits.ws_pong_timeout_secs.max(1));
    let (sink, mut source) = socket.split();
    let (mut outbox, writer) = Outbox::spawn(sink, limits.relay_outbound_bytes);
    // The hub's live events, received only while the client has a subscription: a client
    // that only publishes holds no receiver and is told nothing about events it never asked for.
    let mut live: Option<broadcast::Receiver<Arc<Event>>> = None;
    let mut acks: Acks = FuturesOrdered::new();
    let mut upstream = node.subs.upstream_closed();
    // Pages of stored matches: a replay task waits while the session takes none.
    let (ready_tx, mut ready_rx) = mpsc::channel::<Ready>(2);
    let mut subs: HashMap<String, Sub> = HashMap::new();
    let mut generation = 0u64;
    let mut stop = node.shutdown_signal();
    let mut last_heard = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    let end = 'session: loop {
        let had_subs = !subs.is_empty();
        let deadline = match ping_sent {
            None => last_heard + ping_every,
            Some(at) => at + pong_within,
        };
        let out: Vec<Out> = tokio::select! {
            _ = stop.changed() => break End::Shutdown,
            _ = tokio::time::sleep_until(deadline) => match ping_sent {
                Some(_) => break End::Silent(ping_every + pong_within),
                None => {
                    ping_sent = Some(Instant::now());
                    vec![Out::Ping]
                }
            },
            Some(answer) = acks.next(), if !acks.is_empty() => vec![Out::Message(answer)],
            msg = source.next(), if acks.len() < MAX_EVENTS_IN_FLIGHT => {
                last_heard = Instant::now();
                ping_sent = None;
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let mut session = Session { subs: &mut subs, live: &mut live, acks: &mut acks, generation: &mut generation };
                        // Direct answers (NOTICE, CLOSED) queue behind the OKs of earlier
                        // EVENTs: a client gets its answers in the order of its messages.
                        for o in handle_text(&node, &conn, t.as_str(), &mut session, &ready_tx) {
                            let msg = o.into_message();
                            acks.push_back(async move { msg }.boxed());
                        }
                        Vec::new()
                    }
                    Some(Ok(Message::Binary(_))) => {
                        // An answer too: it queues behind the answers to earlier messages.
                        let msg = Message::Text(notice("binary frames are not part of NIP-01").into());
                        acks.push_back(async move { msg }.boxed());
                        Vec::new()
                    }
                    Some(Ok(Message::Close(_))) | None => break End::Gone,
                    Some(Err(e)) => match Fault::of(e) {
                        Some(f) => break End::Fault(f),
                        None => break End::Gone,
                    },
                    Some(Ok(_)) => continue, // Ping (answered by the socket) or Pong
                }
            },
            ready = ready_rx.recv() => match ready {
                Some(r) => on_page(&mut subs, r),
                None => continue,
            },
            closed = upstream.recv() => match closed {
                Ok(c) => on_upstream_closed(&mut subs, c),
                Err(_) => continue,
            },
            ev = async { live.as_mut().expect("checked").recv().await }, if live.is_some() => match ev {
                Ok(e) => on_live(&mut subs, e),
                Err(broadcast::error::RecvError::Lagged(n)) => vec![Out::Text(notice(&format!("{n} live events were dropped because this client read too slowly")))],
                Err(broadcast::error::RecvError::Closed) => break End::Shutdown,
            },
        };
        if had_subs && subs.is_empty() {
            live = None;
        }
        for o in out {
            match outbox.send(o.into_message(), grace).await {
                Ok(()) => {}
                Err(e @ OutboxError::SlowReader { .. }) => break 'session End::SlowReader(e),
                Err(OutboxError::Closed) => break 'session End::Gone,
            }
        }
    };
    let farewell = match end {
        End::Gone => None,
        End::Shutdown => Some(Farewell { notice: None, code: 1001, reason: "relay shutting down".into() }),
        End::Fault(f) => Some(Farewell { notice: None, code: f.code(), reason: f.reason().into() }),
        End::Silent(after) => {
            tracing::debug!(remote = %conn.remote, ?after, "relay client silent; closing");
            Some(Farewell { notice: None, code: 1008, reason: format!("nothing received for {after:?}") })
        }
        End::SlowReader(e) => {
            tracing::info!(remote = %conn.remote, queued = outbox.queued_bytes(), why = %e, "relay client reads too slowly; closing");
            let text = format!("closing: this client reads too slowly ({e})");
            let notice = RelayMessage::Notice { message: machine_message(prefix::RATE_LIMITED, &text) }.to_json();
            Some(Farewell { notice: Some(notice), code: 1008, reason: "reads too slowly".into() })
        }
    };
    if let Some(f) = farewell {
        outbox.close(f);
    }
    drop(outbox);
    let _ = writer.await;
}

/// Our paid subscription to `c.author`'s node ended for good: every REQ of this client that
/// names the author is closed with the reason (NIP-01 CLOSED); a client with no such REQ gets
/// a NOTICE, since its broader REQs no longer receive that author's new events.
fn on_upstream_closed(subs: &mut HashMap<String, Sub>, c: crate::btpnips::UpstreamClosed) -> Vec<Out> {
    let names = |s: &Sub| s.filters.iter().any(|f| f.authors.as_ref().is_some_and(|a| a.contains(&c.author)));
    let ids: Vec<String> = subs.iter().filter(|(_, s)| names(s)).map(|(id, _)| id.clone()).collect();
    let text = format!("subscription to {}'s node closed: {}", c.author, c.message);
    if ids.is_empty() {
        return vec![Out::Text(notice(&text))];
    }
    ids.into_iter()
        .map(|id| {
            subs.remove(&id);
            // Keep the publisher's machine-readable prefix, say whose node it was.
            let message = match c.message.split_once(": ") {
                Some((p, rest)) => format!("{p}: the paid subscription to {}'s node closed: {rest}", c.author),
                None => machine_message(prefix::ERROR, &text),
            };
            Out::Text(RelayMessage::Closed { subscription_id: id, message }.to_json())
        })
        .collect()
}

fn notice(text: &str) -> String {
    RelayMessage::Notice { message: machine_message(prefix::ERROR, text) }.to_json()
}

/// The parts of a session's state a client message changes.
struct Session<'a> {
    subs: &'a mut HashMap<String, Sub>,
    /// The hub's live events, held while the client has a subscription.
    live: &'a mut Option<broadcast::Receiver<Arc<Event>>>,
    acks: &'a mut Acks,
    generation: &'a mut u64,
}

/// One client text message: EVENTs join the connection's acks in flight (verified and stored
/// by their own task); the direct answers to REQ, CLOSE and bad input are returned, for the
/// caller to queue behind the answers to earlier messages.
fn handle_text(
    node: &Arc<Node>,
    conn: &Conn,
    text: &str,
    session: &mut Session,
    ready: &mpsc::Sender<Ready>,
) -> Vec<Out> {
    let Session { subs, live, acks, generation } = session;
    let msg = match ClientMessage::parse(text) {
        Ok(m) => m,
        Err(e) => {
            let reply = if let Some(id) = e.event_id() {
                RelayMessage::Ok { event_id: id.to_owned(), accepted: false, message: e.to_string() }
            } else if let Some(sub) = e.subscription_id() {
                RelayMessage::Closed { subscription_id: sub.to_owned(), message: e.to_string() }
            } else {
                RelayMessage::Notice { message: e.to_string() }
            };
            return vec![Out::Text(reply.to_json())];
        }
    };
    match msg {
        ClientMessage::Event(event) => {
            let id = event.id.clone();
            let refuse = |message: String| {
                vec![Out::Text(RelayMessage::Ok { event_id: id.clone(), accepted: false, message }.to_json())]
            };
            let ip = conn.remote.ip();
            let mut checked = false;
            if conn.rate.applies_to(ip) {
                if let Err(why) = conn.rate.check_ip(ip) {
                    return refuse(machine_message(prefix::RATE_LIMITED, &why.to_string()));
                }
                if conn.rate.limits_pubkeys() {
                    // Verified first: a forged event spends no author's budget.
                    if let Err(why) = crate::ingest::check(&event) {
                        return refuse(why);
                    }
                    checked = true;
                    if let Err(why) = conn.rate.check_pubkey(&event.pubkey) {
                        return refuse(machine_message(prefix::RATE_LIMITED, &why.to_string()));
                    }
                }
            }
            // Its own task: signatures of a connection's EVENTs are checked in parallel, and
            // the writer commits what is queued in one transaction.
            let node = node.clone();
            let task = tokio::spawn(async move {
                if checked {
                    crate::ingest::store_checked(&node, event).await
                } else {
                    crate::ingest::publish(&node, event).await
                }
            });
            acks.push_back(
                async move {
                    let (accepted, message) = task.await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, "event task failed");
                        (false, machine_message(prefix::ERROR, "could not store the event"))
                    });
                    Message::Text(RelayMessage::Ok { event_id: id, accepted, message }.to_json().into())
                }
                .boxed(),
            );
            Vec::new()
        }
        ClientMessage::Req { subscription_id, filters } => {
            if filters.len() > MAX_FILTERS {
                let message = machine_message(prefix::INVALID, &format!("at most {MAX_FILTERS} filters per REQ"));
                return vec![Out::Text(RelayMessage::Closed { subscription_id, message }.to_json())];
            }
            if !subs.contains_key(&subscription_id) && subs.len() >= MAX_SUBSCRIPTIONS {
                let message = machine_message(
                    prefix::RATE_LIMITED,
                    &format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"),
                );
                return vec![Out::Text(RelayMessage::Closed { subscription_id, message }.to_json())];
            }
            **generation += 1;
            let gen = **generation;
            // Live events from now on reach the REQ (held until its EOSE): subscribed before
            // the stored matches are read, so an event stored in between is in one or the other.
            if live.is_none() {
                **live = Some(node.hub.subscribe());
            }
            let task = tokio::spawn(super::replay::run(
                node.clone(),
                filters.clone(),
                subscription_id.clone(),
                gen,
                ready.clone(),
            ));
            let sub = Sub {
                filters,
                pending: Some(Vec::new()),
                sent: HashSet::new(),
                generation: gen,
                replay: Some(task.abort_handle()),
            };
            subs.insert(subscription_id, sub); // a replaced REQ's replay is aborted
            Vec::new()
        }
        ClientMessage::Close { subscription_id } => {
            subs.remove(&subscription_id);
            Vec::new()
        }
    }
}

/// A page of a REQ's stored matches: send them; after the last, EOSE, then the live events
/// that waited.
fn on_page(subs: &mut HashMap<String, Sub>, r: Ready) -> Vec<Out> {
    let Some(sub) = subs.get_mut(&r.sub_id).filter(|s| s.generation == r.generation) else {
        return Vec::new(); // closed or replaced meanwhile
    };
    match r.page {
        Page::Events(events) => events
            .into_iter()
            .filter(|e| sub.sent.insert(e.id.clone()))
            .map(|e| Out::Stored(r.sub_id.clone(), e))
            .collect(),
        Page::Failed(e) => {
            tracing::error!(error = %e, "query failed");
            subs.remove(&r.sub_id);
            let message = machine_message(prefix::ERROR, "could not query stored events");
            vec![Out::Text(RelayMessage::Closed { subscription_id: r.sub_id, message }.to_json())]
        }
        Page::Done => {
            sub.replay = None;
            let mut out = vec![Out::Text(RelayMessage::Eose { subscription_id: r.sub_id.clone() }.to_json())];
            for e in sub.pending.take().unwrap_or_default() {
                if sub.sent.insert(e.id.clone()) {
                    out.push(Out::Live(r.sub_id.clone(), e));
                }
            }
            out
        }
    }
}

fn on_live(subs: &mut HashMap<String, Sub>, event: Arc<Event>) -> Vec<Out> {
    let mut out = Vec::new();
    let mut overflowed = Vec::new();
    for (id, sub) in subs.iter_mut() {
        if !sub.filters.iter().any(|f| f.matches(&event)) {
            continue;
        }
        match &mut sub.pending {
            Some(waiting) if waiting.len() >= MAX_PENDING_LIVE => overflowed.push(id.clone()),
            Some(waiting) => waiting.push(event.clone()),
            None => {
                if !sub.sent.contains(&event.id) {
                    out.push(Out::Live(id.clone(), event.clone()));
                }
            }
        }
    }
    for id in overflowed {
        subs.remove(&id);
        let text =
            format!("more than {MAX_PENDING_LIVE} live events arrived while the stored ones were sent; REQ again");
        let message = machine_message(prefix::ERROR, &text);
        out.push(Out::Text(RelayMessage::Closed { subscription_id: id, message }.to_json()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(authors: Option<Vec<&str>>) -> Sub {
        Sub {
            filters: vec![Filter {
                authors: authors.map(|a| a.into_iter().map(String::from).collect()),
                ..Default::default()
            }],
            pending: None,
            sent: HashSet::new(),
            generation: 0,
            replay: None,
        }
    }

    #[test]
    fn upstream_closed_closes_the_reqs_naming_the_author_and_keeps_the_others() {
        let mut subs: HashMap<String, Sub> = HashMap::new();
        subs.insert("a".into(), sub(Some(vec!["aa", "bb"])));
        subs.insert("b".into(), sub(Some(vec!["bb"])));
        subs.insert("all".into(), sub(None));
        let c = crate::btpnips::UpstreamClosed { author: "aa".into(), message: "payment-required: not paid".into() };
        let text = |o: &Out| match o {
            Out::Text(t) => t.clone(),
            _ => panic!("not text"),
        };
        let out = on_upstream_closed(&mut subs, c.clone());
        assert_eq!(out.len(), 1);
        let (sub_id, message) = match RelayMessage::parse(&text(&out[0])).unwrap() {
            RelayMessage::Closed { subscription_id, message } => (subscription_id, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(sub_id, "a");
        assert!(
            message.starts_with("payment-required: the paid subscription to aa's node closed: not paid"),
            "{message}"
        );
        assert!(!subs.contains_key("a") && subs.contains_key("b") && subs.contains_key("all"));
        // Nobody names the author any more: a NOTICE instead.
        let out = on_upstream_closed(&mut subs, c);
        assert!(matches!(RelayMessage::parse(&text(&out[0])).unwrap(), RelayMessage::Notice { .. }));
    }
}
