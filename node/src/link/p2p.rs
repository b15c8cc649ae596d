//! ILP links over libp2p (QUIC), docs/btp-nips.md §9.
//!
//! libp2p authenticates both ends (the QUIC TLS handshake proves each side's PeerId, whose
//! secp256k1 key is the node's Nostr key), so no BTP auth runs: a peer is known by key from
//! the first byte. Each request on `/btpnips/btp/1.0.0` is one BTP 2.0 packet (RFC 23) and its
//! response is the BTP Response or Error, so BTP semantics stay those of the WebSocket
//! transport and [`super::dispatch`] serves both.
//!
//! Being connected is not being linked: Kademlia and gossip connect many nodes, but an ILP
//! link (an account with a balance, routes, CCP) exists only after a link request, a BTP
//! Message whose primary entry is `btpnips_info` (our node info), answered with the peer's.
//! We send link requests to bootstrap peers and to nodes we want a direct link with (a
//! followed publisher we have no route to); we accept them up to `p2p.max_links`.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery::p2p::{P2pEvent, P2pHandle, PeerId, Proto};
use protocol::btp::{self, BtpPacket, ContentType, ProtocolData};
use protocol::btpnips::info::{self, NodeInfo};
use tokio::sync::{mpsc, watch};

use super::dispatch::btp_error;
use super::{LinkError, LinkHandle, LinkRequest};
use crate::config::Relation;
use crate::node::Node;

/// A live libp2p link: the peer's PeerId, the link id, and the link task's stop switch.
type Linked = (PeerId, u64, watch::Sender<bool>);

/// Peer-network state of the node.
#[derive(Default)]
pub struct State {
    /// Linked peers by pubkey hex.
    linked: Mutex<HashMap<String, Linked>>,
    /// Connected peers by pubkey hex.
    connected: Mutex<HashMap<String, PeerId>>,
    /// Pubkeys we want a direct link with (besides bootstrap peers).
    wanted: Mutex<HashSet<String>>,
    /// Invalid messages per peer (pubkey hex); past [`MAX_STRIKES`] the peer is disconnected.
    strikes: Mutex<HashMap<String, u32>>,
    /// Incoming BTP requests being handled per connected peer (pubkey hex), at most
    /// `limits.peer_in_flight` each.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl State {
    /// Pubkeys (hex) of the linked peers.
    pub fn linked(&self) -> Vec<String> {
        self.linked.lock().expect("poisoned").keys().cloned().collect()
    }

    /// Number of connected libp2p peers.
    pub fn connected_count(&self) -> usize {
        self.connected.lock().expect("poisoned").len()
    }
}

/// Invalid messages a peer may send before we disconnect it.
pub const MAX_STRIKES: u32 = 20;
/// Timeout of one BTP request over libp2p.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1 << 40);

/// Drive the node's side of the peer network: react to connections and serve requests.
pub fn spawn(node: Arc<Node>, mut events: mpsc::Receiver<P2pEvent>) {
    tokio::spawn(async move {
        let mut stop = node.shutdown_signal();
        let mut redial = tokio::time::interval(Duration::from_secs(10));
        loop {
            let event = tokio::select! {
                _ = stop.changed() => break,
                _ = redial.tick() => { dial_wanted(&node).await; continue }
                e = events.recv() => match e { Some(e) => e, None => break },
            };
            on_event(&node, event);
        }
        if let Some(p2p) = &node.p2p {
            p2p.shutdown().await;
        }
    });
}

fn on_event(node: &Arc<Node>, event: P2pEvent) {
    match event {
        P2pEvent::Listening { addr } => tracing::info!(%addr, "libp2p listening"),
        P2pEvent::PeerConnected { peer, pubkey, addr, outbound, bootstrap } => {
            let pk = hex::encode(pubkey);
            tracing::info!(%peer, pubkey = %pk, %addr, outbound, bootstrap, "libp2p peer connected");
            node.p2p_state.connected.lock().expect("poisoned").insert(pk.clone(), peer);
            crate::announce::sync_to(node, peer);
            if bootstrap || node.p2p_state.wanted.lock().expect("poisoned").contains(&pk) {
                let node = node.clone();
                tokio::spawn(async move { request_link(&node, peer, pk).await });
            }
        }
        P2pEvent::PeerDisconnected { peer, pubkey } => {
            let pk = hex::encode(pubkey);
            tracing::info!(%peer, pubkey = %pk, "libp2p peer disconnected");
            node.p2p_state.connected.lock().expect("poisoned").remove(&pk);
            node.p2p_state.in_flight.lock().expect("poisoned").remove(&pk);
            unlink(node, &pk);
        }
        P2pEvent::Request { peer, pubkey, protocol, data, reply } => {
            // At most `peer_in_flight` BTP requests per peer are handled at once (one task
            // each); past it a Message is answered T05 at once, as on BTP/WS.
            let permit = match protocol {
                Proto::Btp => {
                    let max = node.config.limits.peer_in_flight.max(1);
                    let sem = node
                        .p2p_state
                        .in_flight
                        .lock()
                        .expect("poisoned")
                        .entry(hex::encode(pubkey))
                        .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(max)))
                        .clone();
                    match sem.try_acquire_owned() {
                        Ok(p) => Some(p),
                        Err(_) => {
                            if let Ok(BtpPacket::Message { request_id, .. }) = BtpPacket::decode(&data) {
                                let _ = reply.send(super::dispatch::busy(node, request_id, max).encode());
                                return;
                            }
                            None // not a Message: the handler strikes it, cheaply
                        }
                    }
                }
                Proto::Nostr => None,
            };
            let node = node.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let answer = match protocol {
                    Proto::Btp => on_btp(&node, peer, hex::encode(pubkey), &data).await,
                    Proto::Nostr => crate::announce::on_gossip(&node, peer, &data).await,
                };
                let _ = reply.send(answer);
            });
        }
        P2pEvent::Refused { peer, addr, reason } => {
            tracing::warn!(peer = ?peer, addr = ?addr, %reason, "libp2p peer refused");
        }
    }
}

/// We want a direct link with `pubkey` (e.g. a followed publisher we have no route to):
/// link now if connected, else dial its announced multiaddrs; keep trying every 10 s.
pub fn want_link(node: &Arc<Node>, pubkey: &str) {
    if node.p2p.is_none() || node.p2p_state.linked.lock().expect("poisoned").contains_key(pubkey) {
        return;
    }
    if !node.p2p_state.wanted.lock().expect("poisoned").insert(pubkey.to_owned()) {
        return;
    }
    tracing::info!(%pubkey, "asking for a direct link");
    let node = node.clone();
    tokio::spawn(async move { dial_wanted(&node).await });
}

async fn dial_wanted(node: &Arc<Node>) {
    let Some(p2p) = &node.p2p else { return };
    let wanted: Vec<String> = node.p2p_state.wanted.lock().expect("poisoned").iter().cloned().collect();
    for pk in wanted {
        if node.p2p_state.linked.lock().expect("poisoned").contains_key(&pk) {
            continue;
        }
        let connected = node.p2p_state.connected.lock().expect("poisoned").get(&pk).copied();
        if let Some(peer) = connected {
            let node = node.clone();
            tokio::spawn(async move { request_link(&node, peer, pk).await });
            continue;
        }
        let Some(entry) = node.directory.get(&pk, crate::clock::now_secs()) else { continue };
        for text in &entry.announcement.multiaddrs {
            if let Ok(addr) = text.parse() {
                if let Err(e) = p2p.dial(addr).await {
                    tracing::info!(pubkey = %pk, addr = %text, error = %e, "dial failed");
                }
            }
        }
    }
}

fn info_entry(node: &Node) -> ProtocolData {
    ProtocolData {
        protocol_name: info::PROTOCOL_NAME.into(),
        content_type: ContentType::ApplicationJson,
        data: node.info().to_json_bytes(),
    }
}

/// Ask `peer` for a link: send our node info, install the link when it answers with its own.
async fn request_link(node: &Arc<Node>, peer: PeerId, pk: String) {
    let Some(p2p) = &node.p2p else { return };
    {
        let linked = node.p2p_state.linked.lock().expect("poisoned");
        if linked.contains_key(&pk) {
            return;
        }
        if linked.len() >= node.config.p2p.max_links {
            return tracing::warn!(%peer, pubkey = %pk, linked = linked.len(), "not linking: max_links reached");
        }
    }
    let request = BtpPacket::Message { request_id: rand::random(), protocol_data: vec![info_entry(node)] };
    let reply = match p2p.request(peer, Proto::Btp, request.encode()).await {
        Ok(r) => r,
        Err(e) => return tracing::warn!(%peer, pubkey = %pk, error = %e, "link request failed"),
    };
    match BtpPacket::decode(&reply) {
        Ok(BtpPacket::Response { protocol_data, .. }) => {
            let theirs = btp::find_entry(&protocol_data, info::PROTOCOL_NAME)
                .ok_or_else(|| "no btpnips_info in the answer".to_string())
                .and_then(|e| NodeInfo::from_json_bytes(&e.data).map_err(|e| e.to_string()))
                .and_then(|i| if i.pubkey == pk { Ok(i) } else { Err(format!("node info names {}", i.pubkey)) });
            match theirs {
                Ok(info) => install(node, peer, info, "outbound").await,
                Err(why) => tracing::warn!(%peer, pubkey = %pk, %why, "link answer refused"),
            }
        }
        Ok(BtpPacket::Error { code, data, .. }) => {
            tracing::warn!(%peer, pubkey = %pk, %code, why = %String::from_utf8_lossy(&data), "peer refused our link request")
        }
        Ok(_) => tracing::warn!(%peer, pubkey = %pk, "unexpected answer to a link request"),
        Err(e) => tracing::warn!(%peer, pubkey = %pk, error = %e, "malformed answer to a link request"),
    }
}

/// One BTP request from a connected peer: a link request, or (once linked) any BTP Message.
async fn on_btp(node: &Arc<Node>, peer: PeerId, pk: String, data: &[u8]) -> Vec<u8> {
    let packet = match BtpPacket::decode(data) {
        Ok(p) => p,
        Err(e) => {
            strike(node, peer, &pk, &format!("unparseable BTP packet: {e}")).await;
            return btp_error(0, "F01", "InvalidFieldsError", &format!("unparseable BTP packet: {e}")).encode();
        }
    };
    let BtpPacket::Message { request_id, protocol_data } = packet else {
        strike(node, peer, &pk, "BTP request that is not a Message").await;
        return btp_error(packet.request_id(), "F01", "InvalidFieldsError", "requests must be BTP Messages").encode();
    };
    let primary = protocol_data.first().map(|p| p.protocol_name.as_str()).unwrap_or_default();
    if primary == info::PROTOCOL_NAME {
        let theirs = match NodeInfo::from_json_bytes(&protocol_data[0].data) {
            Ok(i) if i.pubkey == pk => i,
            Ok(i) => {
                strike(node, peer, &pk, "node info names another key than the PeerId's").await;
                let why = format!("node info names {} but the PeerId's key is {pk}", i.pubkey);
                return btp_error(request_id, "F00", "NotAcceptedError", &why).encode();
            }
            Err(e) => return btp_error(request_id, "F01", "InvalidFieldsError", &e.to_string()).encode(),
        };
        let (linked, already) = {
            let map = node.p2p_state.linked.lock().expect("poisoned");
            (map.len(), map.contains_key(&pk))
        };
        if !already && linked >= node.config.p2p.max_links {
            tracing::warn!(%peer, pubkey = %pk, linked, "link request refused: peer limit reached");
            return btp_error(request_id, "F00", "NotAcceptedError", "peer limit reached").encode();
        }
        install(node, peer, theirs, "inbound").await;
        return BtpPacket::Response { request_id, protocol_data: vec![info_entry(node)] }.encode();
    }
    if !node.p2p_state.linked.lock().expect("poisoned").contains_key(&pk) {
        return btp_error(request_id, "F00", "NotAcceptedError", "not linked: send btpnips_info first").encode();
    }
    super::dispatch::on_message(node, &pk, request_id, protocol_data).await.encode()
}

/// Count an invalid message from a peer; disconnect it past [`MAX_STRIKES`].
async fn strike(node: &Arc<Node>, peer: PeerId, pk: &str, why: &str) {
    let n = {
        let mut strikes = node.p2p_state.strikes.lock().expect("poisoned");
        let n = strikes.entry(pk.to_owned()).or_default();
        *n += 1;
        *n
    };
    tracing::warn!(%peer, pubkey = %pk, strikes = n, %why, "invalid message from peer");
    if n > MAX_STRIKES {
        if let Some(p2p) = &node.p2p {
            tracing::warn!(%peer, pubkey = %pk, "too many invalid messages; disconnecting");
            p2p.disconnect(peer).await;
        }
    }
}

/// Install a link to `peer` (idempotent) and start its task.
async fn install(node: &Arc<Node>, peer: PeerId, info: NodeInfo, direction: &'static str) {
    let pk = info.pubkey.clone();
    let link_id = NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed);
    let (stop_tx, stop_rx) = watch::channel(false);
    {
        let mut linked = node.p2p_state.linked.lock().expect("poisoned");
        if linked.contains_key(&pk) {
            return;
        }
        linked.insert(pk.clone(), (peer, link_id, stop_tx));
    }
    node.p2p_state.wanted.lock().expect("poisoned").remove(&pk);
    let (tx, commands) = mpsc::channel::<LinkRequest>(1024);
    let handle = LinkHandle {
        account: pk.clone(),
        link_id,
        info: Some(info),
        relation: Relation::Peer,
        direction,
        transport: "libp2p",
        tx,
    };
    tokio::spawn(run(node.clone(), peer, commands, stop_rx));
    crate::connector::link_up(node, handle).await;
    tracing::info!(%peer, pubkey = %pk, direction, transport = "libp2p", "peer link up");
}

/// Remove the link to `pk`, if any.
fn unlink(node: &Arc<Node>, pk: &str) {
    let Some((_, link_id, stop)) = node.p2p_state.linked.lock().expect("poisoned").remove(pk) else { return };
    let _ = stop.send(true);
    crate::connector::link_down(node, pk, link_id);
    tracing::info!(pubkey = %pk, transport = "libp2p", "peer link down");
}

/// A link's task: carry each request to the peer as one libp2p request, concurrently.
async fn run(
    node: Arc<Node>,
    peer: PeerId,
    mut commands: mpsc::Receiver<LinkRequest>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(p2p) = node.p2p.clone() else { return };
    loop {
        let cmd = tokio::select! {
            _ = stop.changed() => break,
            c = commands.recv() => match c { Some(c) => c, None => break },
        };
        let p2p = p2p.clone();
        tokio::spawn(async move {
            match cmd {
                LinkRequest::Prepare { prepare, reply } => {
                    let frame = BtpPacket::Message {
                        request_id: rand::random(),
                        protocol_data: vec![btp::ilp_entry(prepare.encode())],
                    };
                    let result = exchange(&p2p, peer, frame).await.and_then(|data| super::ilp_reply(&data));
                    let _ = reply.send(result);
                }
                LinkRequest::Message { protocol_data, reply } => {
                    let frame = BtpPacket::Message { request_id: rand::random(), protocol_data };
                    let _ = reply.send(exchange(&p2p, peer, frame).await);
                }
            }
        });
    }
}

/// Send one BTP Message and return the entries of the peer's Response.
async fn exchange(p2p: &P2pHandle, peer: PeerId, frame: BtpPacket) -> Result<Vec<ProtocolData>, LinkError> {
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, p2p.request(peer, Proto::Btp, frame.encode()))
        .await
        .map_err(|_| LinkError::Timeout)?
        .map_err(|e| match e {
            discovery::p2p::P2pError::Timeout => LinkError::Timeout,
            e => {
                tracing::debug!(%peer, error = %e, "libp2p request failed");
                LinkError::Closed
            }
        })?;
    match BtpPacket::decode(&reply) {
        Ok(BtpPacket::Response { protocol_data, .. }) => Ok(protocol_data),
        Ok(BtpPacket::Error { code, name, data, .. }) => {
            Err(LinkError::Btp(format!("{code} {name}: {}", String::from_utf8_lossy(&data))))
        }
        Ok(_) => Err(LinkError::Malformed("answer is neither Response nor Error".into())),
        Err(e) => Err(LinkError::Malformed(e.to_string())),
    }
}
