//! libp2p peer-to-peer layer: QUIC transport, Kademlia discovery and two request-response
//! protocols that carry BTP packets and Nostr messages between btpnips nodes.
//!
//! [`start`] builds a swarm keyed by the node's secp256k1 secret (see [`identity`]), spawns
//! the task that drives it on the current tokio runtime, and hands back a [`P2pHandle`]
//! (commands) and a receiver of [`P2pEvent`]s. The task runs until [`P2pHandle::shutdown`]
//! or until every clone of the handle is dropped.
//!
//! Protocols (libp2p multistream-select names):
//! - [`BTP_PROTOCOL`] `/btpnips/btp/1.0.0`: request = one BTP packet, response = one BTP packet.
//! - [`NOSTR_PROTOCOL`] `/btpnips/nostr/1.0.0`: NIP-01 messages as UTF-8 JSON (Kind 32001
//!   announcements between nodes), request and response.
//! - [`KAD_PROTOCOL`] `/btpnips/kad/1.0.0`: libp2p Kademlia DHT spec, own protocol name so
//!   btpnips nodes form their own DHT.
//! - identify (`/ipfs/id/1.0.0`, libp2p identify spec) with protocol version
//!   [`IDENTIFY_PROTOCOL_VERSION`] and agent `btpnips/<version>`; ping (`/ipfs/ping/1.0.0`).
//!
//! Every request and response is one length-prefixed frame of at most [`MAX_FRAME`] bytes
//! ([`codec`]). Every connection's peer must hold a secp256k1 key; its Nostr pubkey is read
//! from the peer id ([`nostr_pubkey_of`]).
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use tokio::sync::{mpsc, oneshot};

pub use libp2p::{Multiaddr, PeerId};

mod behaviour;
pub mod codec;
pub mod identity;
mod swarm_task;

pub use codec::MAX_FRAME;
pub use identity::{keypair_from_secret, nostr_pubkey_of};

use swarm_task::Command;

/// Request-response protocol of BTP packets (ILP traffic).
pub const BTP_PROTOCOL: &str = "/btpnips/btp/1.0.0";
/// Request-response protocol of NIP-01 messages (UTF-8 JSON).
pub const NOSTR_PROTOCOL: &str = "/btpnips/nostr/1.0.0";
/// Kademlia protocol name of the btpnips DHT.
pub const KAD_PROTOCOL: &str = "/btpnips/kad/1.0.0";
/// The `protocolVersion` field that identify sends.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "/btpnips/id/1.0.0";
/// Capacity of the [`P2pEvent`] channel returned by [`start`].
pub const EVENT_CHANNEL: usize = 1024;

/// Settings of the libp2p layer. [`Default`] gives the production values with no listen
/// address and no bootstrap peer.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/udp/4001/quic-v1` (port 0 = any free port;
    /// [`P2pHandle::listen_addrs`] tells the bound ones). Only QUIC v1 is supported.
    pub listen: Vec<Multiaddr>,
    /// Peers dialed at start and redialed while not connected, with a backoff of 1 s doubling
    /// up to 30 s. A peer connected inbound that proves an entry's key counts as connected.
    /// An entry with this node's own pubkey is skipped, so one list can serve every node.
    pub bootstrap: Vec<P2pBootstrap>,
    /// Established connections in total (both directions); more are refused
    /// ([`P2pEvent::Refused`]). Also the bound on inbound handshakes in progress.
    pub max_connections: u32,
    /// How long an outbound request waits for its response, and an inbound request for the
    /// node's reply (default 60 s).
    pub request_timeout: Duration,
    /// Period of the Kademlia bootstrap plus random walk (`FIND_NODE` of a random id) that
    /// refreshes the routing table (default 30 s). The first runs as soon as a connection exists.
    pub kad_query_interval: Duration,
    /// A connection without any open stream closes after this long (default 60 s).
    pub idle_connection_timeout: Duration,
    /// Inbound requests per second accepted from one peer (token bucket, burst of twice as many);
    /// requests above it are dropped and reported as [`P2pEvent::Refused`]. 0 = no limit.
    /// Default 5 000 (every ILP packet between linked nodes is one request). Independently,
    /// libp2p accepts at most 256 inbound requests in flight per connection and protocol
    /// (request-response `max_concurrent_streams`) and resets extra streams.
    pub max_requests_per_sec: u32,
    /// A connection whose peer sends nothing (not even QUIC keep-alives, sent every quarter
    /// of this) for this long is closed: how fast a crashed peer is noticed. At least 1 s;
    /// default 10 s (the libp2p QUIC default).
    pub liveness_timeout: Duration,
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            max_connections: 64,
            request_timeout: Duration::from_secs(60),
            kad_query_interval: Duration::from_secs(30),
            idle_connection_timeout: Duration::from_secs(60),
            max_requests_per_sec: 5_000,
            liveness_timeout: Duration::from_secs(10),
        }
    }
}

/// A bootstrap peer: where to dial and which key it must prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P2pBootstrap {
    /// QUIC address, with or without a trailing `/p2p/<peer id>`, e.g.
    /// `/ip4/198.51.100.7/udp/4001/quic-v1`.
    pub addr: Multiaddr,
    /// The peer's expected Nostr (BIP-340 x-only) pubkey; a peer at `addr` proving another key
    /// is refused.
    pub pubkey: [u8; 32],
}

impl P2pBootstrap {
    /// Parse an entry from a multiaddr string and 64 hex digits.
    ///
    /// Errors: [`P2pError::Config`] if the address does not parse or the key is not 32 bytes of
    /// hex, or if the address ends in a `/p2p/` id whose key is not `pubkey_hex`.
    pub fn parse(addr: &str, pubkey_hex: &str) -> Result<Self, P2pError> {
        let addr: Multiaddr = addr.parse().map_err(|e| P2pError::Config(format!("bootstrap address {addr:?}: {e}")))?;
        let mut pubkey = [0u8; 32];
        hex::decode_to_slice(pubkey_hex, &mut pubkey)
            .map_err(|e| P2pError::Config(format!("bootstrap pubkey {pubkey_hex:?}: {e}")))?;
        let entry = P2pBootstrap { addr, pubkey };
        entry.check()?;
        Ok(entry)
    }

    /// The peer id at the end of `addr`, if any.
    pub fn peer_id(&self) -> Option<PeerId> {
        match self.addr.iter().last() {
            Some(Protocol::P2p(peer)) => Some(peer),
            _ => None,
        }
    }

    /// Errors: [`P2pError::Config`] if `addr` names a peer id that is not `pubkey`'s.
    fn check(&self) -> Result<(), P2pError> {
        match self.peer_id() {
            Some(peer) if nostr_pubkey_of(&peer) != Some(self.pubkey) => Err(P2pError::Config(format!(
                "bootstrap address {} names a peer id that is not key {}",
                self.addr,
                hex::encode(self.pubkey)
            ))),
            _ => Ok(()),
        }
    }
}

/// Which request-response protocol a request travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// [`BTP_PROTOCOL`]: one BTP packet each way.
    Btp,
    /// [`NOSTR_PROTOCOL`]: one NIP-01 message (UTF-8 JSON) each way.
    Nostr,
}

impl Proto {
    /// The protocol name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Btp => BTP_PROTOCOL,
            Proto::Nostr => NOSTR_PROTOCOL,
        }
    }
}

/// What the libp2p layer reports to the node.
#[derive(Debug)]
pub enum P2pEvent {
    /// A listener is bound to `addr` (port resolved; one event per interface address when
    /// listening on an unspecified IP).
    Listening {
        /// The bound address, without `/p2p`.
        addr: Multiaddr,
    },
    /// The first connection to `peer` is established and its key checked. Emitted once per
    /// peer while connected, not per connection.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// Its Nostr pubkey, [`nostr_pubkey_of`]`(peer)`.
        pubkey: [u8; 32],
        /// The remote address of this connection.
        addr: Multiaddr,
        /// `true` if we dialed.
        outbound: bool,
        /// `true` if the peer proves the key of one of our bootstrap entries.
        bootstrap: bool,
    },
    /// The last connection to `peer` closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
        /// Its Nostr pubkey.
        pubkey: [u8; 32],
    },
    /// An inbound request. Answer with one frame (at most [`MAX_FRAME`] bytes) through `reply`
    /// within `request_timeout`; dropping `reply` (or an oversized answer) drops the response
    /// stream, which the requester sees as an error.
    Request {
        /// The requester.
        peer: PeerId,
        /// Its Nostr pubkey.
        pubkey: [u8; 32],
        /// The protocol the request came on.
        protocol: Proto,
        /// The request frame: a BTP packet ([`Proto::Btp`]) or NIP-01 JSON ([`Proto::Nostr`]).
        data: Vec<u8>,
        /// Where the answer goes.
        reply: oneshot::Sender<Vec<u8>>,
    },
    /// A peer or its traffic was refused: it is not a secp256k1 key, a bootstrap peer proved
    /// another key than expected, the connection limit was reached, it sent a malformed or
    /// oversized frame (10 of them and it is disconnected), or it went over
    /// `max_requests_per_sec` (reported at most once a second per peer). Also logged.
    Refused {
        /// The peer, when known.
        peer: Option<PeerId>,
        /// Its address, when known.
        addr: Option<Multiaddr>,
        /// Why, for people.
        reason: String,
    },
}

/// A node in the Kademlia routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownNode {
    /// Its peer id.
    pub peer: PeerId,
    /// Its Nostr pubkey.
    pub pubkey: [u8; 32],
    /// Its known addresses (without `/p2p`).
    pub addrs: Vec<Multiaddr>,
}

/// Errors of the libp2p layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P2pError {
    /// The secret key is zero or not below the secp256k1 order.
    #[error("invalid secp256k1 secret key")]
    InvalidKey,
    /// The peer id does not carry a secp256k1 key, so it cannot be a btpnips node.
    #[error("peer id is not a secp256k1 key")]
    InvalidPeer,
    /// A configuration value is unusable (message says which).
    #[error("p2p config: {0}")]
    Config(String),
    /// Listening or dialing failed at the transport.
    #[error("transport: {0}")]
    Transport(String),
    /// Not connected to the peer, and dialing it failed or no address is known.
    #[error("not connected to the peer and no dialable address")]
    NotConnected,
    /// No response within `request_timeout`.
    #[error("request timed out")]
    Timeout,
    /// The connection closed before the response arrived.
    #[error("connection closed before the response")]
    Closed,
    /// The request is above [`MAX_FRAME`] bytes.
    #[error("request larger than {MAX_FRAME} bytes")]
    TooLarge,
    /// The peer does not speak the protocol.
    #[error("peer does not support the protocol")]
    Unsupported,
    /// The response stream failed: reset, malformed or oversized response, or the peer's node
    /// dropped the request without answering.
    #[error("response stream: {0}")]
    Stream(String),
    /// The swarm task has stopped ([`P2pHandle::shutdown`]).
    #[error("p2p task stopped")]
    Stopped,
}

/// Cloneable handle to the swarm task. Methods send a command and wait for its answer; when
/// the task has stopped they return [`P2pError::Stopped`] or an empty answer.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    local_peer_id: PeerId,
    cmds: mpsc::Sender<Command>,
}

impl P2pHandle {
    /// Our peer id (identity multihash of our secp256k1 key).
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.cmds.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The bound listen addresses (port 0 resolved, without `/p2p`). Waits until every
    /// listener of [`P2pConfig::listen`] has reported at least one address.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(Command::ListenAddrs).await.unwrap_or_default()
    }

    /// Send one request to `peer` on `protocol` and wait for its response.
    ///
    /// Dials the peer if it is not connected, with the addresses Kademlia knows (from
    /// identify, bootstrap entries, [`P2pHandle::add_address`]). Errors: [`P2pError::TooLarge`]
    /// (above [`MAX_FRAME`], nothing sent), [`P2pError::InvalidPeer`], [`P2pError::NotConnected`],
    /// [`P2pError::Timeout`] (`request_timeout`), [`P2pError::Closed`],
    /// [`P2pError::Unsupported`], [`P2pError::Stream`], [`P2pError::Stopped`].
    pub async fn request(&self, peer: PeerId, protocol: Proto, data: Vec<u8>) -> Result<Vec<u8>, P2pError> {
        if data.len() > MAX_FRAME {
            return Err(P2pError::TooLarge);
        }
        self.ask(|reply| Command::Request { peer, protocol, data, reply }).await.unwrap_or(Err(P2pError::Stopped))
    }

    /// Start dialing `addr` (ideally ending in `/p2p/<peer id>`, which is then checked). Returns
    /// once the dial is started, or at once if that peer is already connected; the outcome
    /// shows as [`P2pEvent::PeerConnected`] or [`P2pEvent::Refused`]. Errors:
    /// [`P2pError::Transport`] if the dial cannot start (not a QUIC v1 address, our own id),
    /// [`P2pError::Stopped`].
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), P2pError> {
        self.ask(|reply| Command::Dial { addr, reply }).await.unwrap_or(Err(P2pError::Stopped))
    }

    /// Add an address of `peer` to the Kademlia routing table (e.g. from a verified Kind 32001
    /// announcement). Ignored (and logged) if `peer` is not a secp256k1 key.
    pub async fn add_address(&self, peer: PeerId, addr: Multiaddr) {
        self.ask(|done| Command::AddAddress { peer, addr, done }).await;
    }

    /// The Kademlia routing table: every node we know of, connected or not.
    pub async fn known_nodes(&self) -> Vec<KnownNode> {
        self.ask(Command::KnownNodes).await.unwrap_or_default()
    }

    /// The peers with at least one established connection, and their Nostr pubkeys.
    pub async fn connected(&self) -> Vec<(PeerId, [u8; 32])> {
        self.ask(Command::Connected).await.unwrap_or_default()
    }

    /// Close every connection to `peer` (a bootstrap peer is redialed after the backoff).
    pub async fn disconnect(&self, peer: PeerId) {
        self.ask(|done| Command::Disconnect { peer, done }).await;
    }

    /// Stop the swarm task: close every connection (waiting up to 2 s for the closes to go
    /// out), fail pending requests with [`P2pError::Stopped`], drop the listeners.
    /// Returns when the task has finished; a no-op if it already has. QUIC keeps the UDP
    /// socket while closed connections drain (3 PTOs, a few seconds at most), so a new
    /// [`start`] on the same port in the same process may fail with [`P2pError::Transport`]
    /// for that long.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}

/// Build the swarm, listen on every [`P2pConfig::listen`] address and spawn the task that
/// drives it on the current tokio runtime.
///
/// `secret` is the node's secp256k1 secret key (also its Nostr and EVM key). Returns the handle
/// and the event receiver ([`EVENT_CHANNEL`] deep; while it is full the task stops reading the
/// network, so no event is ever dropped). Errors: [`P2pError::InvalidKey`],
/// [`P2pError::Config`] (no tokio runtime, a bootstrap `/p2p` id that contradicts its pubkey),
/// [`P2pError::Transport`] (an address cannot be listened on, e.g. port in use).
pub fn start(secret: &[u8; 32], config: P2pConfig) -> Result<(P2pHandle, mpsc::Receiver<P2pEvent>), P2pError> {
    let keypair = keypair_from_secret(secret)?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(P2pError::Config("start must be called inside a tokio runtime".into()));
    }
    config.bootstrap.iter().try_for_each(P2pBootstrap::check)?;
    let local_peer_id = keypair.public().to_peer_id();
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (event_tx, event_rx) = mpsc::channel(EVENT_CHANNEL);
    let driver = swarm_task::Driver::new(keypair, config, cmd_rx, event_tx)?;
    tokio::spawn(driver.run());
    Ok((P2pHandle { local_peer_id, cmds: cmd_tx }, event_rx))
}
