//! The task that owns the swarm: runs commands from [`P2pHandle`](super::P2pHandle)s, turns
//! swarm events into [`P2pEvent`]s, keeps bootstrap peers connected and the routing table fresh.
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, ListenError, SwarmEvent};
use libp2p::{identify, kad, Multiaddr, PeerId, Swarm, SwarmBuilder};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::behaviour::{Behaviour, BehaviourEvent, GateDenied};
use super::codec::{Frame, FrameCodec, MAX_FRAME};
use super::identity::nostr_pubkey_of;
use super::{KnownNode, P2pBootstrap, P2pConfig, P2pError, P2pEvent, Proto};

/// What a [`P2pHandle`](super::P2pHandle) asks the task.
#[derive(Debug)]
pub(crate) enum Command {
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    Request { peer: PeerId, protocol: Proto, data: Vec<u8>, reply: ResponseSender },
    Dial { addr: Multiaddr, reply: oneshot::Sender<Result<(), P2pError>> },
    AddAddress { peer: PeerId, addr: Multiaddr, done: oneshot::Sender<()> },
    KnownNodes(oneshot::Sender<Vec<KnownNode>>),
    Connected(oneshot::Sender<Vec<(PeerId, [u8; 32])>>),
    Disconnect { peer: PeerId, done: oneshot::Sender<()> },
    Shutdown(oneshot::Sender<()>),
}

/// First redial delay of a bootstrap peer.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest redial delay of a bootstrap peer.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Period of the housekeeping tick (bootstrap redials, Kademlia refresh).
const TICK: Duration = Duration::from_millis(250);
/// Events queued inside the task beyond the channel; at this depth the task stops polling
/// the swarm until the node catches up.
const OUTBOX_LIMIT: usize = 256;
/// Malformed inbound frames after which a peer is disconnected.
const MALFORMED_LIMIT: u32 = 10;
/// How long shutdown waits for connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Redial state of one bootstrap entry.
struct BootState {
    /// The connected peer proving this entry's key.
    peer: Option<PeerId>,
    /// The dial in flight.
    dialing: Option<ConnectionId>,
    /// Delay before the next redial after a failure or a disconnect.
    backoff: Duration,
    /// Earliest time of the next dial.
    next: Instant,
    /// The entry is this node itself (a shared bootstrap list): never dialed.
    own: bool,
}

/// Inbound request rate of one peer (token bucket).
struct Bucket {
    tokens: f64,
    last: Instant,
    dropped: u64,
    last_report: Option<Instant>,
}

/// A node's answer to an inbound request, or `None` (dropped or too late).
struct PendingReply {
    protocol: Proto,
    peer: PeerId,
    channel: ResponseChannel<Vec<u8>>,
    answer: Option<Vec<u8>>,
}

type ReplyFuture = Pin<Box<dyn Future<Output = PendingReply> + Send>>;

/// Where the answer to an outbound request goes.
type ResponseSender = oneshot::Sender<Result<Vec<u8>, P2pError>>;

pub(crate) struct Driver {
    swarm: Swarm<Behaviour>,
    cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<P2pEvent>,
    /// Events the channel had no room for, oldest first.
    outbox: VecDeque<P2pEvent>,
    /// `false` once the node dropped the receiver.
    events_open: bool,
    bootstrap: Vec<P2pBootstrap>,
    boot: Vec<BootState>,
    /// Connected peers and their pubkeys.
    connected: HashMap<PeerId, [u8; 32]>,
    pending_out: HashMap<(Proto, OutboundRequestId), ResponseSender>,
    replies: FuturesUnordered<ReplyFuture>,
    buckets: HashMap<PeerId, Bucket>,
    malformed: HashMap<PeerId, u32>,
    /// Listeners that have not reported an address yet.
    unbound: HashSet<ListenerId>,
    listeners: Vec<ListenerId>,
    addr_waiters: Vec<oneshot::Sender<Vec<Multiaddr>>>,
    request_timeout: Duration,
    kad_interval: Duration,
    rate: u32,
    next_kad: Option<Instant>,
}

impl Driver {
    pub(crate) fn new(
        keypair: libp2p::identity::Keypair,
        config: P2pConfig,
        cmds: mpsc::Receiver<Command>,
        events: mpsc::Sender<P2pEvent>,
    ) -> Result<Self, P2pError> {
        let idle = config.idle_connection_timeout;
        let own_pubkey = nostr_pubkey_of(&keypair.public().to_peer_id());
        let mut swarm = SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_quic_config(|mut quic| {
                // A peer that stops answering (crashed, cut off) is dropped after this long;
                // keep-alives every quarter of it keep healthy idle connections open.
                let ms = config.liveness_timeout.as_millis().clamp(1_000, u32::MAX as u128) as u32;
                quic.max_idle_timeout = ms;
                quic.keep_alive_interval = Duration::from_millis(u64::from(ms / 4));
                quic
            })
            .with_behaviour(|key| Behaviour::new(key, &config))
            .map_err(|e| P2pError::Transport(e.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build();
        let mut listeners = Vec::new();
        for addr in &config.listen {
            let id =
                swarm.listen_on(addr.clone()).map_err(|e| P2pError::Transport(format!("listen on {addr}: {e}")))?;
            listeners.push(id);
        }
        let now = Instant::now();
        for entry in &config.bootstrap {
            if let Some(peer) = entry.peer_id() {
                swarm.behaviour_mut().kad.add_address(&peer, without_p2p(&entry.addr));
            }
        }
        Ok(Driver {
            swarm,
            cmds,
            events,
            outbox: VecDeque::new(),
            events_open: true,
            boot: config
                .bootstrap
                .iter()
                .map(|e| BootState {
                    peer: None,
                    dialing: None,
                    backoff: BACKOFF_MIN,
                    next: now,
                    own: Some(e.pubkey) == own_pubkey,
                })
                .collect(),
            bootstrap: config.bootstrap,
            connected: HashMap::new(),
            pending_out: HashMap::new(),
            replies: FuturesUnordered::new(),
            buckets: HashMap::new(),
            malformed: HashMap::new(),
            unbound: listeners.iter().copied().collect(),
            listeners,
            addr_waiters: Vec::new(),
            request_timeout: config.request_timeout,
            kad_interval: config.kad_query_interval,
            rate: config.max_requests_per_sec,
            next_kad: None,
        })
    }

    /// Drive the swarm until shutdown or until every handle is dropped.
    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A second sender, so that a reserved permit does not borrow `self`.
        let events = self.events.clone();
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                permit = events.reserve(), if self.events_open && !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(ev) = self.outbox.pop_front() {
                            permit.send(ev);
                        }
                    }
                    Err(_) => {
                        self.events_open = false;
                        self.outbox.clear();
                    }
                },
                Some(reply) = self.replies.next(), if !self.replies.is_empty() => self.on_reply(reply),
                ev = self.swarm.select_next_some(), if self.outbox.len() < OUTBOX_LIMIT => self.on_swarm_event(ev),
                _ = tick.tick() => self.on_tick(),
            }
        }
    }

    /// Hand an event to the node, in order; queued while the channel is full.
    fn emit(&mut self, ev: P2pEvent) {
        if !self.events_open {
            return;
        }
        if !self.outbox.is_empty() {
            self.outbox.push_back(ev);
            return;
        }
        match self.events.try_send(ev) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => self.outbox.push_back(ev),
            Err(mpsc::error::TrySendError::Closed(_)) => self.events_open = false,
        }
    }

    fn refuse(&mut self, peer: Option<PeerId>, addr: Option<Multiaddr>, reason: String) {
        tracing::warn!(peer = ?peer, addr = ?addr, "p2p refused: {reason}");
        self.emit(P2pEvent::Refused { peer, addr, reason });
    }

    fn rr(&mut self, protocol: Proto) -> &mut request_response::Behaviour<FrameCodec> {
        match protocol {
            Proto::Btp => &mut self.swarm.behaviour_mut().btp,
            Proto::Nostr => &mut self.swarm.behaviour_mut().nostr,
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::ListenAddrs(tx) => {
                if self.unbound.is_empty() {
                    let _ = tx.send(self.swarm.listeners().cloned().collect());
                } else {
                    self.addr_waiters.push(tx);
                }
            }
            Command::Request { peer, protocol, data, reply } => {
                if data.len() > MAX_FRAME {
                    let _ = reply.send(Err(P2pError::TooLarge));
                } else if nostr_pubkey_of(&peer).is_none() {
                    let _ = reply.send(Err(P2pError::InvalidPeer));
                } else if peer == *self.swarm.local_peer_id() {
                    let _ = reply.send(Err(P2pError::NotConnected));
                } else {
                    let id = self.rr(protocol).send_request(&peer, Frame::Data(data));
                    self.pending_out.insert((protocol, id), reply);
                }
            }
            Command::Dial { addr, reply } => {
                let already = match addr.iter().last() {
                    Some(Protocol::P2p(peer)) => self.swarm.is_connected(&peer),
                    _ => false,
                };
                let result = if already {
                    Ok(())
                } else if !is_quic(&addr) {
                    Err(P2pError::Transport(format!("dial {addr}: not a QUIC v1 address")))
                } else {
                    self.swarm.dial(addr.clone()).map_err(|e| P2pError::Transport(format!("dial {addr}: {e}")))
                };
                let _ = reply.send(result);
            }
            Command::AddAddress { peer, addr, done } => {
                if nostr_pubkey_of(&peer).is_some() {
                    self.swarm.behaviour_mut().kad.add_address(&peer, without_p2p(&addr));
                } else {
                    tracing::warn!(%peer, %addr, "p2p: not adding an address of a peer without a secp256k1 key");
                }
                let _ = done.send(());
            }
            Command::KnownNodes(tx) => {
                let mut nodes = Vec::new();
                for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
                    for entry in bucket.iter() {
                        let peer = *entry.node.key.preimage();
                        if let Some(pubkey) = nostr_pubkey_of(&peer) {
                            let mut addrs: Vec<Multiaddr> = Vec::new();
                            for addr in entry.node.value.iter().map(without_p2p) {
                                if !addrs.contains(&addr) {
                                    addrs.push(addr);
                                }
                            }
                            nodes.push(KnownNode { peer, pubkey, addrs });
                        }
                    }
                }
                let _ = tx.send(nodes);
            }
            Command::Connected(tx) => {
                let _ = tx.send(self.connected.iter().map(|(p, k)| (*p, *k)).collect());
            }
            Command::Disconnect { peer, done } => {
                let _ = self.swarm.disconnect_peer_id(peer);
                let _ = done.send(());
            }
            Command::Shutdown(_) => unreachable!("handled by run"),
        }
    }

    /// Close connections, fail pending requests, drop listeners.
    async fn shutdown(&mut self) {
        tracing::info!("p2p: shutting down");
        for (_, tx) in self.pending_out.drain() {
            let _ = tx.send(Err(P2pError::Stopped));
        }
        for tx in self.addr_waiters.drain(..) {
            let _ = tx.send(Vec::new());
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.swarm.connected_peers().next().is_some() {
            if tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await.is_err() {
                tracing::debug!("p2p: connections still open at the end of the shutdown grace");
                break;
            }
        }
        for id in std::mem::take(&mut self.listeners) {
            self.swarm.remove_listener(id);
        }
    }

    fn on_reply(&mut self, reply: PendingReply) {
        let PendingReply { protocol, peer, channel, answer } = reply;
        match answer {
            Some(data) if data.len() > MAX_FRAME => {
                tracing::warn!(%peer, len = data.len(), "p2p: reply above {MAX_FRAME} bytes dropped");
            }
            Some(data) => {
                if self.rr(protocol).send_response(channel, data).is_err() {
                    tracing::debug!(%peer, "p2p: response stream gone before the reply");
                }
            }
            None => tracing::debug!(%peer, "p2p: request dropped without reply"),
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for i in 0..self.boot.len() {
            let st = &self.boot[i];
            if st.own || st.peer.is_some() || st.dialing.is_some() || now < st.next {
                continue;
            }
            let addr = self.bootstrap[i].addr.clone();
            let opts = DialOpts::unknown_peer_id().address(addr.clone()).build();
            let id = opts.connection_id();
            self.swarm.behaviour_mut().gate.dials.insert(id, i);
            match self.swarm.dial(opts) {
                Ok(()) => {
                    tracing::debug!(%addr, "p2p: dialing bootstrap peer");
                    self.boot[i].dialing = Some(id);
                }
                Err(e) => {
                    self.swarm.behaviour_mut().gate.dials.remove(&id);
                    tracing::warn!(%addr, "p2p: cannot dial bootstrap peer: {e}");
                    self.retry_later(i);
                }
            }
        }
        if let Some(at) = self.next_kad {
            if now >= at && !self.connected.is_empty() {
                self.next_kad = Some(now + self.kad_interval);
                let kad = &mut self.swarm.behaviour_mut().kad;
                if let Err(e) = kad.bootstrap() {
                    tracing::debug!("p2p: kademlia bootstrap: {e}");
                }
                kad.get_closest_peers(PeerId::random());
            }
        }
    }

    /// Schedule the next dial of bootstrap entry `i` after its backoff, and double the backoff.
    fn retry_later(&mut self, i: usize) {
        let st = &mut self.boot[i];
        st.dialing = None;
        st.next = Instant::now() + st.backoff;
        st.backoff = (st.backoff * 2).min(BACKOFF_MAX);
    }

    fn on_swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { listener_id, address } => {
                tracing::info!(%address, "p2p: listening");
                if is_specified(&address) {
                    self.swarm.add_external_address(address.clone());
                }
                self.listener_ready(listener_id);
                self.emit(P2pEvent::Listening { addr: address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => self.swarm.remove_external_address(&address),
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                tracing::info!(?reason, "p2p: listener closed");
                self.listener_ready(listener_id);
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                tracing::warn!("p2p: listener error: {error}");
                self.listener_ready(listener_id);
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, num_established, .. } => {
                self.on_established(peer_id, connection_id, endpoint, num_established.get())
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, cause, .. } => {
                tracing::debug!(%peer_id, ?cause, "p2p: connection closed");
                if num_established == 0 {
                    self.on_peer_gone(peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError { connection_id, peer_id, error } => {
                let boot = self.swarm.behaviour_mut().gate.dials.remove(&connection_id);
                let addr = boot.map(|i| self.bootstrap[i].addr.clone());
                match error {
                    DialError::Denied { cause } => self.on_denied(peer_id, addr, cause),
                    DialError::WrongPeerId { obtained, address } => self.refuse(
                        Some(obtained),
                        Some(address.clone()),
                        format!("peer at {address} is {obtained}, not the dialed {peer_id:?}"),
                    ),
                    e => tracing::debug!(peer = ?peer_id, addr = ?addr, "p2p: dial failed: {e}"),
                }
                if let Some(i) = boot {
                    self.retry_later(i);
                }
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, peer_id, .. } => match error {
                ListenError::Denied { cause } => self.on_denied(peer_id, Some(send_back_addr), cause),
                e => tracing::debug!(addr = %send_back_addr, "p2p: inbound connection failed: {e}"),
            },
            SwarmEvent::Behaviour(ev) => self.on_behaviour_event(ev),
            _ => {}
        }
    }

    fn listener_ready(&mut self, id: ListenerId) {
        self.unbound.remove(&id);
        if self.unbound.is_empty() && !self.addr_waiters.is_empty() {
            let addrs: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
            for tx in self.addr_waiters.drain(..) {
                let _ = tx.send(addrs.clone());
            }
        }
    }

    fn on_denied(&mut self, peer: Option<PeerId>, addr: Option<Multiaddr>, cause: libp2p::swarm::ConnectionDenied) {
        match cause.downcast::<GateDenied>() {
            Ok(GateDenied { peer, reason }) => self.refuse(Some(peer), addr, reason),
            Err(cause) => {
                let why = std::error::Error::source(&cause).map_or_else(|| cause.to_string(), |e| e.to_string());
                self.refuse(peer, addr, format!("connection denied: {why}"))
            }
        }
    }

    fn on_established(
        &mut self,
        peer: PeerId,
        conn: ConnectionId,
        endpoint: libp2p::core::ConnectedPoint,
        num_established: u32,
    ) {
        let Some(pubkey) = nostr_pubkey_of(&peer) else {
            // The gate refuses these; never reached.
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        };
        let dialed_entry = self.swarm.behaviour_mut().gate.dials.remove(&conn);
        if let Some(i) = dialed_entry {
            self.boot[i].dialing = None;
            let addr = without_p2p(&self.bootstrap[i].addr);
            self.swarm.behaviour_mut().kad.add_address(&peer, addr);
        }
        let mut bootstrap = false;
        for (i, entry) in self.bootstrap.iter().enumerate() {
            if entry.pubkey == pubkey {
                bootstrap = true;
                let st = &mut self.boot[i];
                st.peer = Some(peer);
                st.backoff = BACKOFF_MIN;
            }
        }
        if self.connected.is_empty() {
            // First connection (again): refresh the routing table right away.
            self.next_kad = Some(Instant::now());
        }
        self.connected.insert(peer, pubkey);
        if num_established == 1 {
            let addr = endpoint.get_remote_address().clone();
            tracing::info!(%peer, pubkey = %hex::encode(pubkey), %addr, bootstrap, "p2p: peer connected");
            self.emit(P2pEvent::PeerConnected { peer, pubkey, addr, outbound: endpoint.is_dialer(), bootstrap });
        }
    }

    fn on_peer_gone(&mut self, peer: PeerId) {
        self.buckets.remove(&peer);
        self.malformed.remove(&peer);
        for i in 0..self.boot.len() {
            if self.boot[i].peer == Some(peer) {
                self.boot[i].peer = None;
                if self.boot[i].dialing.is_none() {
                    self.retry_later(i);
                }
            }
        }
        if let Some(pubkey) = self.connected.remove(&peer) {
            tracing::info!(%peer, "p2p: peer disconnected");
            self.emit(P2pEvent::PeerDisconnected { peer, pubkey });
        }
    }

    fn on_behaviour_event(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let kad = &mut self.swarm.behaviour_mut().kad;
                for addr in info.listen_addrs.iter().filter(|a| is_quic(a) && is_specified(a)) {
                    kad.add_address(&peer_id, without_p2p(addr));
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer, .. }) => {
                tracing::debug!(%peer, "p2p: routing table updated");
            }
            BehaviourEvent::Btp(ev) => self.on_rr_event(Proto::Btp, ev),
            BehaviourEvent::Nostr(ev) => self.on_rr_event(Proto::Nostr, ev),
            _ => {}
        }
    }

    fn on_rr_event(&mut self, protocol: Proto, ev: request_response::Event<Frame, Vec<u8>>) {
        match ev {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request: Frame::Data(data), channel, .. } => {
                    self.on_request(peer, protocol, data, channel)
                }
                // Dropping `channel` drops the stream.
                request_response::Message::Request { request: Frame::Malformed(e), .. } => {
                    self.on_malformed(peer, protocol, e)
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(tx) = self.pending_out.remove(&(protocol, request_id)) {
                        let _ = tx.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                tracing::debug!(%peer, "p2p: {} request failed: {error}", protocol.name());
                let err = match error {
                    OutboundFailure::DialFailure => P2pError::NotConnected,
                    OutboundFailure::Timeout => P2pError::Timeout,
                    OutboundFailure::ConnectionClosed => P2pError::Closed,
                    OutboundFailure::UnsupportedProtocols => P2pError::Unsupported,
                    OutboundFailure::Io(e) => P2pError::Stream(e.to_string()),
                };
                if let Some(tx) = self.pending_out.remove(&(protocol, request_id)) {
                    let _ = tx.send(Err(err));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "p2p: inbound {} request failed: {error}", protocol.name())
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_malformed(&mut self, peer: PeerId, protocol: Proto, e: io::Error) {
        let count = self.malformed.entry(peer).or_insert(0);
        *count += 1;
        let count = *count;
        self.refuse(Some(peer), None, format!("malformed {} frame ({count}): {e}", protocol.name()));
        if count >= MALFORMED_LIMIT {
            self.malformed.remove(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
            self.refuse(Some(peer), None, format!("disconnected after {MALFORMED_LIMIT} malformed frames"));
        }
    }

    fn on_request(&mut self, peer: PeerId, protocol: Proto, data: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        let Some(pubkey) = self.connected.get(&peer).copied().or_else(|| nostr_pubkey_of(&peer)) else {
            return;
        };
        if !self.admit(peer) {
            return;
        }
        let (tx, rx) = oneshot::channel();
        let timeout = self.request_timeout;
        self.replies.push(Box::pin(async move {
            let answer = tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok);
            PendingReply { protocol, peer, channel, answer }
        }));
        self.emit(P2pEvent::Request { peer, pubkey, protocol, data, reply: tx });
    }

    /// Take a token from `peer`'s bucket; `false` (request dropped) when it is empty.
    fn admit(&mut self, peer: PeerId) -> bool {
        if self.rate == 0 {
            return true;
        }
        let rate = f64::from(self.rate);
        let burst = rate * 2.0;
        let now = Instant::now();
        let b = self.buckets.entry(peer).or_insert(Bucket { tokens: burst, last: now, dropped: 0, last_report: None });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return true;
        }
        b.dropped += 1;
        if b.last_report.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            b.last_report = Some(now);
            let dropped = std::mem::take(&mut b.dropped);
            let reason = format!("over {} requests/s: {dropped} request(s) dropped", self.rate);
            self.refuse(Some(peer), None, reason);
        }
        false
    }
}

/// `addr` without a trailing `/p2p/<peer id>`.
fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    let mut addr = addr.clone();
    if let Some(Protocol::P2p(_)) = addr.iter().last() {
        addr.pop();
    }
    addr
}

fn is_quic(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::QuicV1))
}

/// `false` for `0.0.0.0` and `::` addresses.
fn is_specified(addr: &Multiaddr) -> bool {
    match addr.iter().next() {
        Some(Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => !ip.is_unspecified(),
        _ => true,
    }
}
