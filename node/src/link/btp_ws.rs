//! BTP 2.0 over WebSocket (RFC 23): the listener, the dialer and the per-link task.
//!
//! One BTP packet per binary WebSocket message. After auth, either side sends ILP Prepares
//! as `Message{ilp}` and gets the Fulfill/Reject back as `Response{ilp}` with the same
//! request id. An unparseable frame closes the link (RFC 23: never answer garbage); other
//! links are untouched.
//!
//! Bounds (`limits`): connection caps on the listener; `handshake_timeout_secs` for the
//! WebSocket upgrade plus BTP auth; a Ping after `ws_ping_interval_secs` of silence and the
//! link closed if nothing arrives within `ws_pong_timeout_secs`; `peer_in_flight` incoming
//! Messages handled at once (past it `T05` at once); `peer_outbound_messages` answers queued,
//! and a peer that lets that queue fill (it does not read) is closed.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::btp::{self, BtpPacket, ProtocolData};
use protocol::btpnips::info::NodeInfo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{handshake, LinkError, LinkHandle, LinkRequest};
use crate::config::{AccountConfig, Relation};
use crate::node::Node;
use discovery::BootstrapPeer;

type Ws = WebSocketStream<TcpStream>;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `limits.peer_in_flight`: incoming BTP Messages (Prepares, claims, any kind) one
/// link may have in flight, answer not yet queued; past it a Message is answered `T05` at
/// once. libp2p links have the same bound (`link/p2p.rs`).
pub const MAX_INCOMING_IN_FLIGHT: usize = 64;
/// Largest BTP packet accepted on a link, bytes (an ILP packet is at most ~32 KiB; CCP route
/// updates of a large table are the biggest messages).
pub const MAX_PACKET_BYTES: usize = 1024 * 1024;
/// A link's WebSocket read buffer, bytes (tungstenite's default is 128 KiB per link).
pub const WS_READ_BUFFER_BYTES: usize = 16 * 1024;
static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(Some(MAX_PACKET_BYTES))
        .max_frame_size(Some(MAX_PACKET_BYTES))
}

/// Bind the peer listener and accept links until shutdown, with the connection caps of
/// `limits.peer` (TCP_NODELAY on every socket). Returns the bound address.
pub async fn listen(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(node.config.peer_listen).await?;
    let addr = listener.local_addr()?;
    let limiter = crate::listen::ConnLimiter::new(node.config.limits.peer);
    let stop = node.shutdown_signal();
    let refused_log = Arc::new(crate::listen::LogThrottle::new(Duration::from_secs(1)));
    tokio::spawn(crate::listen::accept_tcp("peer", listener, limiter, stop, move |tcp, remote, guard| {
        let (node, refused_log) = (node.clone(), refused_log.clone());
        tokio::spawn(async move {
            if let Err(e) = accept(node, tcp).await {
                if let Some(held) = refused_log.allow() {
                    tracing::warn!(%remote, error = %e, held_back = held, "peer link refused");
                }
            }
            drop(guard);
        });
    }));
    Ok(addr)
}

/// Upgrade and authenticate within `handshake_timeout_secs`, then run the link.
async fn accept(node: Arc<Node>, tcp: TcpStream) -> anyhow::Result<()> {
    let timeout = node.config.limits.handshake_timeout();
    let handshake = async {
        let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config())).await?;
        let first = next_packet(&mut ws).await?;
        anyhow::Ok((ws, first))
    };
    let (mut ws, first) = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| anyhow::anyhow!("no WebSocket upgrade and auth within {timeout:?}"))??;
    match handshake::server_accept(&node, &first) {
        Ok(accepted) => {
            ws.send(Message::binary(accepted.response.encode())).await?;
            let who = Who { account: accepted.account, info: accepted.info, relation: accepted.relation };
            run(node, ws, who, "inbound").await;
            Ok(())
        }
        Err(refused) => {
            let (why, error) = *refused;
            let _ = ws.send(Message::binary(error.encode())).await;
            let _ = ws.close(None).await;
            anyhow::bail!(why)
        }
    }
}

/// The peer at the other end of an authenticated link.
struct Who {
    account: String,
    info: Option<NodeInfo>,
    relation: Relation,
}

/// What a dialer keeps a link to.
#[derive(Clone)]
pub enum DialTarget {
    /// A btpnips node from the bootstrap list (signed-key auth).
    Bootstrap(BootstrapPeer),
    /// A configured account with a `url` (plain token auth).
    Account(AccountConfig),
}

impl DialTarget {
    fn url(&self) -> &str {
        match self {
            DialTarget::Bootstrap(b) => &b.url,
            DialTarget::Account(a) => a.url.as_deref().unwrap_or_default(),
        }
    }
}

/// Split `btp+ws://user:token@host:port/path` into (`ws://host:port/path`, user, token).
/// A plain `ws://host:port` has an empty user and token.
pub fn parse_btp_url(url: &str) -> anyhow::Result<(String, String, String)> {
    let rest = url.strip_prefix("btp+").unwrap_or(url);
    let rest = rest.strip_prefix("ws://").ok_or_else(|| anyhow::anyhow!("{url}: expected btp+ws:// or ws://"))?;
    let (userinfo, hostpart) = match rest.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", rest),
    };
    let (user, token) = userinfo.split_once(':').unwrap_or(("", userinfo));
    anyhow::ensure!(!hostpart.is_empty(), "{url}: no host");
    Ok((format!("ws://{hostpart}"), user.to_owned(), token.to_owned()))
}

/// Keep a link up: dial, run, and redial with exponential backoff (1 s doubling to 30 s)
/// until shutdown.
pub fn dial_forever(node: Arc<Node>, target: DialTarget) {
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        let mut backoff = Duration::from_secs(1);
        loop {
            match dial(&node, &target).await {
                Ok((ws, who)) => {
                    backoff = Duration::from_secs(1);
                    run(node.clone(), ws, who, "outbound").await;
                }
                Err(e) => tracing::warn!(url = %target.url(), error = %e, "dial failed"),
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

async fn dial(node: &Node, target: &DialTarget) -> anyhow::Result<(Ws, Who)> {
    let (ws_url, user, token) = parse_btp_url(target.url())?;
    let uri: tokio_tungstenite::tungstenite::http::Uri = ws_url.parse()?;
    let host = uri.host().ok_or_else(|| anyhow::anyhow!("url has no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    tcp.set_nodelay(true)?;
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(ws_url.as_str(), tcp, Some(ws_config())).await?;
    let auth = match target {
        DialTarget::Bootstrap(peer) => {
            let server_pk = protocol::btpnips::secret::parse_hex32(&peer.pubkey)?;
            handshake::client_auth(node, rand::random(), &server_pk)?
        }
        DialTarget::Account(_) => handshake::plain_auth(rand::random(), &user, &token),
    };
    ws.send(Message::binary(auth.encode())).await?;
    let reply = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_packet(&mut ws))
        .await
        .map_err(|_| anyhow::anyhow!("no auth reply within {HANDSHAKE_TIMEOUT:?}"))??;
    let who = match target {
        DialTarget::Bootstrap(peer) => {
            let info = handshake::client_check(&reply, &peer.pubkey)?;
            Who { account: info.pubkey.clone(), info: Some(info), relation: Relation::Peer }
        }
        DialTarget::Account(a) => {
            handshake::plain_check(&reply)?;
            Who { account: a.id.clone(), info: None, relation: a.relation }
        }
    };
    Ok((ws, who))
}

/// Read the next BTP packet, skipping ping/pong.
async fn next_packet(ws: &mut Ws) -> anyhow::Result<BtpPacket> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => return Ok(BtpPacket::decode(&b)?),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => anyhow::bail!("unexpected WebSocket message {other:?}"),
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("connection closed"),
        }
    }
}

/// What a request id is waiting for.
enum Waiting {
    Ilp(oneshot::Sender<Result<Result<protocol::ilp::Fulfill, protocol::ilp::Reject>, LinkError>>),
    Message(oneshot::Sender<Result<Vec<ProtocolData>, LinkError>>),
}

impl Waiting {
    fn fail(self, e: LinkError) {
        match self {
            Waiting::Ilp(r) => drop(r.send(Err(e))),
            Waiting::Message(r) => drop(r.send(Err(e))),
        }
    }
}

type Pending = HashMap<u32, (tokio::time::Instant, Waiting)>;

/// Drive one authenticated link until it closes.
async fn run(node: Arc<Node>, ws: Ws, who: Who, direction: &'static str) {
    let account = who.account.clone();
    let link_id = NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, mut commands) = mpsc::channel::<LinkRequest>(1024);
    let handle = LinkHandle {
        account: account.clone(),
        link_id,
        info: who.info,
        relation: who.relation,
        direction,
        transport: "btp-ws",
        tx,
    };
    let limits = &node.config.limits;
    let in_flight = limits.peer_in_flight.max(1);
    let ping_every = Duration::from_secs(limits.ws_ping_interval_secs.max(1));
    let pong_within = Duration::from_secs(limits.ws_pong_timeout_secs.max(1));
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(limits.peer_outbound_messages.max(1));
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    crate::connector::link_up(&node, handle).await;
    tracing::info!(peer = %account, direction, relation = ?who.relation, "peer link up");

    let mut pending: Pending = HashMap::new();
    let admission = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut next_id: u32 = rand::random();
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    let mut stop = node.shutdown_signal();
    let mut last_heard = tokio::time::Instant::now();
    let mut ping_sent: Option<tokio::time::Instant> = None;
    loop {
        let deadline = match ping_sent {
            None => last_heard + ping_every,
            Some(at) => at + pong_within,
        };
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(deadline) => {
                if ping_sent.is_some() {
                    tracing::info!(peer = %account, silent = ?(ping_every + pong_within), "peer link silent; closing");
                    break;
                }
                ping_sent = Some(tokio::time::Instant::now());
                if out_tx.try_send(Message::Ping(Default::default())).is_err() {
                    tracing::info!(peer = %account, "peer does not read its link; closing");
                    break;
                }
            }
            _ = sweep.tick() => {
                let now = tokio::time::Instant::now();
                pending.retain(|_, (deadline, _)| *deadline > now);
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break };
                next_id = next_id.wrapping_add(1);
                let (protocol_data, waiting) = match cmd {
                    LinkRequest::Prepare { prepare, reply } => (vec![btp::ilp_entry(prepare.encode())], Waiting::Ilp(reply)),
                    LinkRequest::Message { protocol_data, reply } => (protocol_data, Waiting::Message(reply)),
                };
                let frame = BtpPacket::Message { request_id: next_id, protocol_data };
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                pending.insert(next_id, (deadline, waiting));
                if out_tx.send(Message::binary(frame.encode())).await.is_err() { break; }
            }
            msg = source.next() => {
                last_heard = tokio::time::Instant::now();
                ping_sent = None;
                let bytes = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Text(_))) => { tracing::warn!(peer = %account, "text frame on a BTP link; closing"); break; }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => { tracing::info!(peer = %account, error = %e, "link read error"); break; }
                };
                let packet = match BtpPacket::decode(&bytes) {
                    Ok(p) => p,
                    Err(e) => { tracing::warn!(peer = %account, error = %e, "unparseable BTP frame; closing link"); break; }
                };
                if let Err(Unread) = handle_frame(&node, &account, packet, &mut pending, &out_tx, &admission, in_flight) {
                    tracing::info!(peer = %account, queued = out_tx.max_capacity(), "peer does not read its answers; closing link");
                    break;
                }
            }
        }
    }
    for (_, (_, waiting)) in pending.drain() {
        waiting.fail(LinkError::Closed);
    }
    drop(out_tx);
    let _ = writer.await;
    crate::connector::link_down(&node, &account, link_id);
    tracing::info!(peer = %account, "peer link down");
}

/// The peer's answer queue is full: it does not read.
struct Unread;

/// Answer `frame` without waiting; a full answer queue means the peer does not read.
fn answer(out: &mpsc::Sender<Message>, frame: BtpPacket) -> Result<(), Unread> {
    match out.try_send(Message::binary(frame.encode())) {
        Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
        Err(mpsc::error::TrySendError::Full(_)) => Err(Unread),
    }
}

fn handle_frame(
    node: &Arc<Node>,
    account: &str,
    packet: BtpPacket,
    pending: &mut Pending,
    out: &mpsc::Sender<Message>,
    admission: &Arc<tokio::sync::Semaphore>,
    in_flight: usize,
) -> Result<(), Unread> {
    match packet {
        BtpPacket::Message { request_id, protocol_data } => {
            let Ok(permit) = admission.clone().try_acquire_owned() else {
                // Over the in-flight bound: refuse at once, holding nothing (RFC 27 T05).
                return answer(out, super::dispatch::busy(node, request_id, in_flight));
            };
            let (node, account, out) = (node.clone(), account.to_owned(), out.clone());
            tokio::spawn(async move {
                let frame = super::dispatch::on_message(&node, &account, request_id, protocol_data).await;
                let _ = out.send(Message::binary(frame.encode())).await;
                drop(permit);
            });
        }
        BtpPacket::Response { request_id, protocol_data } => {
            let Some((_, waiting)) = pending.remove(&request_id) else { return Ok(()) };
            match waiting {
                Waiting::Message(reply) => drop(reply.send(Ok(protocol_data))),
                Waiting::Ilp(reply) => {
                    let _ = reply.send(super::ilp_reply(&protocol_data));
                }
            }
        }
        BtpPacket::Error { request_id, code, name, data, .. } => {
            if let Some((_, waiting)) = pending.remove(&request_id) {
                waiting.fail(LinkError::Btp(format!("{code} {name}: {}", String::from_utf8_lossy(&data))));
            }
        }
        BtpPacket::Transfer { request_id, .. } => return answer(out, super::dispatch::transfer_refused(request_id)),
    }
    Ok(())
}
