//! The composed libp2p behaviour and the key gate that checks every connection.
use std::collections::HashMap;
use std::convert::Infallible;
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent,
    ToSwarm,
};
use libp2p::{connection_limits, identify, kad, ping, request_response, Multiaddr, PeerId, StreamProtocol};

use super::codec::FrameCodec;
use super::identity::nostr_pubkey_of;
use super::{P2pBootstrap, P2pConfig, BTP_PROTOCOL, IDENTIFY_PROTOCOL_VERSION, KAD_PROTOCOL, NOSTR_PROTOCOL};

/// Everything the swarm runs, polled in field order.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Refuses peers whose key is not secp256k1 or not the expected bootstrap key.
    pub gate: Gate,
    /// `max_connections` established connections in total.
    pub limits: connection_limits::Behaviour,
    /// Kademlia DHT (`/btpnips/kad/1.0.0`), used only for its routing table (who is out there).
    pub kad: kad::Behaviour<kad::store::MemoryStore>,
    /// libp2p identify: tells peers our listen addresses.
    pub identify: identify::Behaviour,
    /// libp2p ping: liveness of idle connections.
    pub ping: ping::Behaviour,
    /// `/btpnips/btp/1.0.0` request-response.
    pub btp: request_response::Behaviour<FrameCodec>,
    /// `/btpnips/nostr/1.0.0` request-response.
    pub nostr: request_response::Behaviour<FrameCodec>,
}

impl Behaviour {
    pub(crate) fn new(key: &libp2p::identity::Keypair, config: &P2pConfig) -> Self {
        let local = key.public().to_peer_id();
        let mut kad_cfg = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
        // The swarm task runs bootstrap and random walks itself, every `kad_query_interval`.
        kad_cfg.set_periodic_bootstrap_interval(None);
        let mut kad = kad::Behaviour::with_config(local, kad::store::MemoryStore::new(local), kad_cfg);
        // Answer DHT queries even without a confirmed external address (loopback, NAT tests).
        kad.set_mode(Some(kad::Mode::Server));
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_string(), key.public())
                .with_agent_version(format!("btpnips/{}", env!("CARGO_PKG_VERSION"))),
        );
        let rr_cfg = request_response::Config::default()
            .with_request_timeout(config.request_timeout)
            .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS);
        let rr = |proto: &'static str| {
            request_response::Behaviour::with_codec(
                FrameCodec,
                [(StreamProtocol::new(proto), request_response::ProtocolSupport::Full)],
                rr_cfg.clone(),
            )
        };
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_connections))
            .with_max_pending_incoming(Some(config.max_connections));
        Behaviour {
            gate: Gate { bootstrap: config.bootstrap.clone(), dials: HashMap::new() },
            limits: connection_limits::Behaviour::new(limits),
            kad,
            identify,
            ping: ping::Behaviour::default(),
            btp: rr(BTP_PROTOCOL),
            nostr: rr(NOSTR_PROTOCOL),
        }
    }
}

/// Inbound request streams in flight per connection and protocol.
const MAX_CONCURRENT_STREAMS: usize = 256;

/// Why [`Gate`] refused a connection; carried in [`ConnectionDenied`].
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub(crate) struct GateDenied {
    /// The peer that proved its key.
    pub peer: PeerId,
    /// Human-readable reason, also the text of `P2pEvent::Refused`.
    pub reason: String,
}

/// Checks the key of every established connection before any other behaviour sees it.
///
/// - The peer id must carry a secp256k1 key ([`nostr_pubkey_of`] is `Some`).
/// - A connection dialed for bootstrap entry `i` (its [`ConnectionId`] is in `dials`) must
///   prove entry `i`'s pubkey.
pub(crate) struct Gate {
    /// The configured bootstrap entries.
    pub bootstrap: Vec<P2pBootstrap>,
    /// Bootstrap dials in flight: connection id → index into `bootstrap`. Entries are
    /// removed by the swarm task when the dial ends (established or failed).
    pub dials: HashMap<ConnectionId, usize>,
}

impl Gate {
    fn check(&self, conn: ConnectionId, peer: PeerId) -> Result<(), ConnectionDenied> {
        let deny = |reason: String| Err(ConnectionDenied::new(GateDenied { peer, reason }));
        let Some(pubkey) = nostr_pubkey_of(&peer) else {
            return deny(format!("peer {peer} does not have a secp256k1 key"));
        };
        if let Some(entry) = self.dials.get(&conn).and_then(|&i| self.bootstrap.get(i)) {
            if entry.pubkey != pubkey {
                return deny(format!(
                    "bootstrap peer at {} proved key {}, expected {}",
                    entry.addr,
                    hex::encode(pubkey),
                    hex::encode(entry.pubkey)
                ));
            }
        }
        Ok(())
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        conn: ConnectionId,
        peer: PeerId,
        _local: &Multiaddr,
        _remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(conn, peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        conn: ConnectionId,
        peer: PeerId,
        _addr: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(conn, peer)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, _event: FromSwarm) {}

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
