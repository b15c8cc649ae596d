//! The STREAM endpoint (RFC 29) between btpnips nodes.
//!
//! Each peer we send to has one outgoing connection (we are its STREAM client), addressed
//! `<peer address>.<our pubkey>.<tag>` (docs/btp-nips.md §2). Each peer sending to us has
//! incoming connections keyed by (its pubkey, its tag). Every connection direction is
//! driven by one actor task, so packets of one connection are handled in order and no lock
//! is held across an await:
//! - [`receiver`]: decrypts incoming Prepares, reassembles stream data into BTP-NIPs
//!   messages, asks `btpnips` to apply them (which commits before answering), then
//!   fulfills or rejects with an encrypted STREAM reply.
//! - [`sender`]: a thin task around the sans-IO `protocol::stream::sender::SendMachine`:
//!   several Prepares in flight (RFC 29 window), temporary failures retried with the same
//!   frames, outcomes in order per stream.
mod receiver;
mod sender;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use protocol::btpnips::addressing::{self, TAG_LEN};
use protocol::ilp::{ErrorCode, Fulfill, Prepare, Reject};
use tokio::sync::{mpsc, oneshot};

pub use receiver::{
    ConnectionKind, PacketContext, StreamDelivery, MAX_CLOSED_REMEMBERED, MAX_CONNECTION_HELD, MAX_OPEN_STREAMS,
};
pub use sender::{pay, PayOutcome, SendError};

use crate::connector::{reject, Source};
use crate::node::Node;

/// Most incoming connections kept per peer; the least recently used is dropped beyond it.
pub const MAX_INCOMING_PER_PEER: usize = 4;

/// All STREAM connections of this node.
#[derive(Default)]
pub struct Endpoint {
    outgoing: Mutex<HashMap<[u8; 32], Arc<Outgoing>>>,
    incoming: Mutex<HashMap<ConnectionKind, Incoming>>,
}

/// Our sending side towards one peer.
pub struct Outgoing {
    /// The peer's pubkey.
    pub peer: [u8; 32],
    /// This connection's tag.
    pub tag: [u8; TAG_LEN],
    next_stream: AtomicU64,
    tx: mpsc::Sender<sender::Job>,
    /// Set when this connection is given up: its task fails what it holds and stops.
    cancel: tokio::sync::watch::Sender<bool>,
}

impl Outgoing {
    /// Open a new stream id on this connection (odd: we are the client).
    pub fn open_stream(&self) -> u64 {
        addressing::client_stream_id(self.next_stream.fetch_add(1, Ordering::Relaxed))
    }

    /// Send framed BTP-NIPs `data` and `amount` (asset units) on `stream_id`, and wait until
    /// the peer fulfilled every packet of it.
    ///
    /// Errors: [`SendError`] when the peer rejected it with a final code, or could not be
    /// reached after retries.
    pub async fn send(&self, stream_id: u64, data: Vec<u8>, amount: u64) -> Result<(), SendError> {
        self.enqueue(stream_id, data, amount)?.await.map_err(|_| SendError::ConnectionClosed)?
    }

    /// Queue a send without waiting: jobs queued from one task go out in queue order. The
    /// receiver yields the job's outcome. Errors: the queue is full or the connection gone.
    pub fn enqueue(
        &self,
        stream_id: u64,
        data: Vec<u8>,
        amount: u64,
    ) -> Result<oneshot::Receiver<Result<(), SendError>>, SendError> {
        let (done, rx) = oneshot::channel();
        let job = sender::Job { stream_id, data, amount, min_received: amount, done };
        self.tx.try_send(job).map_err(|_| SendError::ConnectionClosed)?;
        Ok(rx)
    }
}

#[derive(Clone)]
struct Incoming {
    tx: mpsc::Sender<receiver::Packet>,
    last_used: u64,
}

impl Endpoint {
    /// Our outgoing connection to `peer`, opened if there is none.
    pub fn outgoing(&self, node: &Arc<Node>, peer: [u8; 32]) -> Result<Arc<Outgoing>, SendError> {
        let mut map = self.outgoing.lock().expect("poisoned");
        if let Some(c) = map.get(&peer) {
            return Ok(c.clone());
        }
        let tag: [u8; TAG_LEN] = rand::random();
        let (cancel, cancelled) = tokio::sync::watch::channel(false);
        let tx = sender::spawn(node.clone(), peer, tag, cancelled)?;
        let conn = Arc::new(Outgoing { peer, tag, next_stream: AtomicU64::new(0), tx, cancel });
        map.insert(peer, conn.clone());
        Ok(conn)
    }

    /// Drop our outgoing connection to `peer` (after its link came back: the peer may have
    /// restarted and lost the connection's state). The next send opens a new one.
    /// Its task stops at once: packets it still held (retries towards a peer that restarted)
    /// would reach the new process as data after a gap that nobody reads.
    pub fn reset_outgoing(&self, peer: &[u8; 32]) {
        if let Some(old) = self.outgoing.lock().expect("poisoned").remove(peer) {
            old.cancel.send_replace(true);
        }
    }

    /// Drop our outgoing connection to `peer` if it is still the one with `tag` (its receiver
    /// closed it); the next send opens a new one.
    pub fn reset_outgoing_if(&self, peer: &[u8; 32], tag: &[u8; TAG_LEN]) {
        let mut map = self.outgoing.lock().expect("poisoned");
        if map.get(peer).is_some_and(|c| &c.tag == tag) {
            map.remove(peer);
        }
    }

    /// Number of (outgoing, incoming) connections, for status output.
    pub fn counts(&self) -> (usize, usize) {
        (self.outgoing.lock().expect("poisoned").len(), self.incoming.lock().expect("poisoned").len())
    }

    fn incoming_for(&self, node: &Arc<Node>, kind: ConnectionKind) -> Result<mpsc::Sender<receiver::Packet>, ()> {
        let now = crate::clock::now_secs();
        let mut map = self.incoming.lock().expect("poisoned");
        if let Some(c) = map.get_mut(&kind) {
            c.last_used = now;
            return Ok(c.tx.clone());
        }
        let tx = receiver::spawn(node.clone(), kind).map_err(|_| ())?;
        if let ConnectionKind::BtpNips(peer, _) = kind {
            let same_peer: Vec<_> = map
                .iter()
                .filter(|(k, _)| matches!(k, ConnectionKind::BtpNips(p, _) if *p == peer))
                .map(|(k, v)| (*k, v.last_used))
                .collect();
            if same_peer.len() >= MAX_INCOMING_PER_PEER {
                if let Some((oldest, _)) = same_peer.iter().min_by_key(|(_, t)| *t) {
                    map.remove(oldest);
                }
            }
        }
        map.insert(kind, Incoming { tx: tx.clone(), last_used: now });
        Ok(tx)
    }

    fn close_incoming(&self, kind: ConnectionKind) {
        self.incoming.lock().expect("poisoned").remove(&kind);
    }
}

/// Deliver a Prepare addressed to this node (called by the connector).
///
/// Rejects: F02 when the address names no BTP-NIPs connection, F06 when the sender key is
/// unusable; otherwise whatever the receiver decides.
///
/// `local` is the node address the destination falls under.
pub async fn receive(
    node: &Arc<Node>,
    from: Source,
    prepare: Prepare,
    local: &protocol::ilp::Address,
) -> Result<Fulfill, Reject> {
    let kind = if let Some((peer, tag)) = addressing::sender_of(local, &prepare.destination) {
        if peer == node.key.pubkey {
            return Err(reject(node, ErrorCode::F02_UNREACHABLE, "a node does not pay itself"));
        }
        ConnectionKind::BtpNips(peer, tag)
    } else if let Some(token) = crate::spsp::token_of(local, &prepare.destination) {
        ConnectionKind::Spsp(token)
    } else {
        return Err(reject(node, ErrorCode::F02_UNREACHABLE, "no receiver at this address"));
    };
    let Ok(tx) = node.stream.incoming_for(node, kind) else {
        return Err(reject(node, ErrorCode::F06_UNEXPECTED_PAYMENT, "sender key is not a valid secp256k1 key"));
    };
    let (reply, rx) = oneshot::channel();
    if tx.send(receiver::Packet { from, prepare, reply }).await.is_err() {
        return Err(reject(node, ErrorCode::T00_INTERNAL_ERROR, "connection closed"));
    }
    rx.await.unwrap_or_else(|_| Err(reject(node, ErrorCode::T00_INTERNAL_ERROR, "connection closed")))
}
