//! Peer links: authenticated, bidirectional channels that carry ILP packets to one peer.
//!
//! A link is anything that can take an ILP Prepare to its peer and bring back the Fulfill or
//! Reject; the connector only sees [`LinkHandle`]. Today's transport is BTP 2.0 over
//! WebSocket ([`btp_ws`]), for any BTP peer, and libp2p over QUIC ([`p2p`]), between btpnips
//! nodes; both hand BTP Messages to [`dispatch`].
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use protocol::btp::ProtocolData;
use protocol::btpnips::info::NodeInfo;
use protocol::ilp::{Fulfill, Prepare, Reject};
use tokio::sync::{mpsc, oneshot};

mod btp_ws;
pub use btp_ws::MAX_INCOMING_IN_FLIGHT;
pub mod dispatch;
mod handshake;
pub mod p2p;

pub use btp_ws::{dial_forever, listen, parse_btp_url, DialTarget};

/// Why a link could not carry a packet (as opposed to the peer answering with a Reject).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The link closed before the reply came.
    #[error("link closed")]
    Closed,
    /// No reply before the deadline.
    #[error("timed out waiting for the peer")]
    Timeout,
    /// The peer answered with a BTP Error instead of an ILP reply.
    #[error("peer sent BTP error {0}")]
    Btp(String),
    /// The peer's reply was not a valid ILP Fulfill or Reject.
    #[error("malformed reply: {0}")]
    Malformed(String),
}

/// The ILP reply carried by a BTP Response's entries (RFC 23 §3.2: the `ilp` entry).
///
/// Errors: [`LinkError::Malformed`] when there is no `ilp` entry, it does not parse, or it is
/// a Prepare.
pub(crate) fn ilp_reply(protocol_data: &[ProtocolData]) -> Result<Result<Fulfill, Reject>, LinkError> {
    match protocol::btp::find_entry(protocol_data, "ilp").map(|e| protocol::ilp::Packet::decode(&e.data)) {
        Some(Ok(protocol::ilp::Packet::Fulfill(f))) => Ok(Ok(f)),
        Some(Ok(protocol::ilp::Packet::Reject(r))) => Ok(Err(r)),
        Some(Ok(protocol::ilp::Packet::Prepare(_))) => Err(LinkError::Malformed("Prepare in a Response".into())),
        Some(Err(e)) => Err(LinkError::Malformed(e.to_string())),
        None => Err(LinkError::Malformed("Response without ilp entry".into())),
    }
}

/// A request to a link's task.
pub(crate) enum LinkRequest {
    /// Send this ILP Prepare; answer with the Fulfill or Reject.
    Prepare { prepare: Prepare, reply: oneshot::Sender<Result<Result<Fulfill, Reject>, LinkError>> },
    /// Send a BTP Message with these protocol-data entries (not ILP, e.g. a settlement
    /// claim); answer with the Response's entries.
    Message { protocol_data: Vec<ProtocolData>, reply: oneshot::Sender<Result<Vec<ProtocolData>, LinkError>> },
}

/// Handle to one live link. Clone freely.
#[derive(Clone)]
pub struct LinkHandle {
    /// Account id of the peer: its pubkey hex.
    pub account: String,
    /// Unique id of this link instance (a reconnect gets a new one).
    pub link_id: u64,
    /// What a btpnips peer said about itself when the link came up; `None` for a configured
    /// (non-btpnips) account.
    pub info: Option<NodeInfo>,
    /// How the account relates to us (btpnips peers are `Peer`).
    pub relation: crate::config::Relation,
    /// "inbound" (the peer dialed us) or "outbound" (we dialed).
    pub direction: &'static str,
    /// "btp-ws" (BTP over WebSocket) or "libp2p" (QUIC).
    pub transport: &'static str,
    pub(crate) tx: mpsc::Sender<LinkRequest>,
}

impl LinkHandle {
    /// Send a Prepare to the peer and wait for its Fulfill or Reject, at most `timeout`.
    ///
    /// Errors: [`LinkError`] when no ILP reply came back (closed link, timeout, BTP error).
    pub async fn send_prepare(
        &self,
        prepare: Prepare,
        timeout: Duration,
    ) -> Result<Result<Fulfill, Reject>, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(LinkRequest::Prepare { prepare, reply }).await.map_err(|_| LinkError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => Err(LinkError::Timeout),
        }
    }

    /// Send a non-ILP BTP Message (RFC 23) and wait for the Response's entries.
    ///
    /// Errors: [`LinkError::Btp`] when the peer answers with a BTP Error (its data in the
    /// message), or the link closed / timed out.
    pub async fn send_message(
        &self,
        protocol_data: Vec<ProtocolData>,
        timeout: Duration,
    ) -> Result<Vec<ProtocolData>, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(LinkRequest::Message { protocol_data, reply }).await.map_err(|_| LinkError::Closed)?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => Err(LinkError::Timeout),
        }
    }
}

/// The live links, by account id.
#[derive(Default)]
pub struct Registry {
    links: Mutex<HashMap<String, LinkHandle>>,
}

impl Registry {
    /// The live link to `account`, if any.
    pub fn get(&self, account: &str) -> Option<LinkHandle> {
        self.links.lock().expect("poisoned").get(account).cloned()
    }

    /// All live links.
    pub fn all(&self) -> Vec<LinkHandle> {
        self.links.lock().expect("poisoned").values().cloned().collect()
    }

    /// Install a link, replacing any older link to the same account (the newer one wins, as
    /// with the JS BTP listener).
    pub(crate) fn insert(&self, link: LinkHandle) {
        self.links.lock().expect("poisoned").insert(link.account.clone(), link);
    }

    /// Remove the link with `link_id` if it is still the current one for `account`.
    /// Returns whether it was removed.
    pub(crate) fn remove(&self, account: &str, link_id: u64) -> bool {
        let mut links = self.links.lock().expect("poisoned");
        if links.get(account).is_some_and(|l| l.link_id == link_id) {
            links.remove(account);
            true
        } else {
            false
        }
    }
}
