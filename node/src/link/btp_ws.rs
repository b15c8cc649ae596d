//! BTP 2.0 over WebSocket (RFC 23): the listener, the dialer and the per-link task.
//!
//! One BTP packet per binary WebSocket message. After auth, either side sends ILP Prepares
//! as `Message{ilp}` and gets the Fulfill/Reject back as `Response{ilp}` with the same
//! request id. An unparseable frame closes the link (RFC 23: never answer garbage); other
//! links are untouched.
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
/// Incoming BTP Messages (Prepares, claims) one link may have in flight, answer not yet
/// queued; past it a Prepare is rejected `T05` at once. (libp2p links have the same bound
/// from request-response's concurrent streams.)
pub const MAX_INCOMING_IN_FLIGHT: usize = 64;
static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

/// Bind the peer listener and accept links until shutdown. Returns the bound address.
pub async fn listen(node: Arc<Node>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(node.config.peer_listen).await?;
    let addr = listener.local_addr()?;
    let mut stop = node.shutdown_signal();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, remote)) => {
                        let node = node.clone();
                        tokio::spawn(async move {
                            if let Err(e) = accept(node, tcp).await {
                                tracing::warn!(%remote, error = %e, "peer link refused");
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "accept failed"),
                },
            }
        }
    });
    Ok(addr)
}

async fn accept(node: Arc<Node>, tcp: TcpStream) -> anyhow::Result<()> {
    tcp.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_packet(&mut ws))
        .await
        .map_err(|_| anyhow::anyhow!("no auth within {HANDSHAKE_TIMEOUT:?}"))??;
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
    let (mut ws, _) = tokio_tungstenite::client_async(ws_url.as_str(), tcp).await?;
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
    let (mut sink, mut source) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(1024);
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
    let admission = Arc::new(tokio::sync::Semaphore::new(MAX_INCOMING_IN_FLIGHT));
    let mut next_id: u32 = rand::random();
    let mut sweep = tokio::time::interval(Duration::from_secs(5));
    let mut stop = node.shutdown_signal();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
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
                handle_frame(&node, &account, packet, &mut pending, &out_tx, &admission);
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

fn handle_frame(
    node: &Arc<Node>,
    account: &str,
    packet: BtpPacket,
    pending: &mut Pending,
    out: &mpsc::Sender<Message>,
    admission: &Arc<tokio::sync::Semaphore>,
) {
    match packet {
        BtpPacket::Message { request_id, protocol_data } => {
            let Ok(permit) = admission.clone().try_acquire_owned() else {
                // Over the in-flight bound: refuse at once, holding nothing (RFC 27 T05). A
                // peer that does not read its answers either just loses this one.
                let frame = super::dispatch::busy(node, request_id, MAX_INCOMING_IN_FLIGHT);
                let _ = out.try_send(Message::binary(frame.encode()));
                return;
            };
            let (node, account, out) = (node.clone(), account.to_owned(), out.clone());
            tokio::spawn(async move {
                let frame = super::dispatch::on_message(&node, &account, request_id, protocol_data).await;
                let _ = out.send(Message::binary(frame.encode())).await;
                drop(permit);
            });
        }
        BtpPacket::Response { request_id, protocol_data } => {
            let Some((_, waiting)) = pending.remove(&request_id) else { return };
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
        BtpPacket::Transfer { request_id, .. } => {
            let _ = out.try_send(Message::binary(super::dispatch::transfer_refused(request_id).encode()));
        }
    }
}
