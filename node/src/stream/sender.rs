//! Sending side of our STREAM connection to one peer (RFC 29), one actor per connection.
//!
//! Jobs are sent one Prepare at a time, in order, so stream data arrives in offset order and
//! a retry repeats exactly the same frames at the same offsets. Data respects the receiver's
//! window (StreamMaxData from its encrypted replies; 16 384 bytes assumed until told, as JS). Temporary failures (T and R
//! codes, a link that is down, and F02 Unreachable while routes converge) are retried with
//! backoff; a final Reject (other F codes) fails the job and leaves the offsets where they
//! were, since the receiver NACKed those bytes.
//!
//! Fees: on a BTP-NIPs connection the receiver must get at least the job's amount (the STREAM
//! `prepareAmount`), but every connector on the path takes its fee. When the receiver answers
//! F99 with an encrypted reply saying less arrived, the same frames go again with the source
//! amount raised by the shortfall; the fee the path took (source amount − what arrived, from
//! the receiver's replies) is remembered per connection and added to later packets.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::btpnips::addressing::{connection_address, TAG_LEN};
use protocol::btpnips::secret::shared_secret;
use protocol::ilp::{Address, ErrorCode, Prepare, Reject};
use protocol::stream::{remote_limits, Frame, IlpPacketType, RemoteLimits, SendWindow, StreamKeys, StreamPacket};
use tokio::sync::{mpsc, oneshot};

use crate::connector::{self, Source};
use crate::node::Node;

/// Most STREAM data bytes put in one Prepare: ILP data max 32767 − 28 bytes of encryption
/// envelope − room for the STREAM header and frames.
pub const MAX_DATA_PER_PACKET: usize = 30_000;
/// How long each Prepare may take, end to end.
pub const PACKET_EXPIRY: Duration = Duration::from_secs(30);
/// StreamDataBlocked packets sent (50 ms to 800 ms apart) before a full receiver window
/// fails the job.
pub const MAX_BLOCKED_TRIES: u32 = 12;
/// Tries per packet before a temporary failure becomes the job's failure (waits between
/// them: 250 ms doubling to 8 s, about 24 s in all).
pub const MAX_TRIES: u32 = 8;
/// Longest wait between two tries of a packet.
pub const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Times one packet's source amount is raised for the path's fees before the receiver's
/// F99 "amount below the minimum" counts as the job's failure.
pub const MAX_FEE_TRIES: u32 = 6;

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The receiver (or a connector) rejected with a final code; nothing was accepted.
    #[error("rejected {}: {}", .0.code, .0.message)]
    Rejected(Reject),
    /// Retries ran out on temporary failures.
    #[error("gave up after {MAX_TRIES} tries: {0}")]
    Unreachable(String),
    /// We know no ILP address for the peer (never linked).
    #[error("no address known for peer")]
    UnknownPeer,
    /// The connection was reset before the job finished.
    #[error("connection closed")]
    ConnectionClosed,
    /// The receiver closed the STREAM connection (ConnectionClose frame).
    #[error("receiver closed the connection: {0}")]
    Closed(String),
    /// The receiver's flow-control window stayed full.
    #[error("receiver's window is full (StreamDataBlocked got no larger StreamMaxData)")]
    Blocked,
}

pub(super) struct Job {
    pub stream_id: u64,
    pub data: Vec<u8>,
    pub amount: u64,
    pub done: oneshot::Sender<Result<(), SendError>>,
}

pub(super) fn spawn(node: Arc<Node>, peer: [u8; 32], tag: [u8; TAG_LEN]) -> Result<mpsc::Sender<Job>, SendError> {
    let secret = shared_secret(&node.key.secret, &peer, &tag).map_err(|_| SendError::UnknownPeer)?;
    let (tx, mut rx) = mpsc::channel::<Job>(4096);
    let mut actor = Sender::new(node, Target::BtpNips { peer, tag }, &secret);
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let out = actor.run(job.stream_id, &job.data, job.amount).await;
            if let Err(e) = &out {
                tracing::warn!(target = ?actor.target, stream_id = job.stream_id, error = %e, "STREAM send failed");
            }
            let _ = job.done.send(out);
        }
    });
    Ok(tx)
}

/// Where a sender's packets go.
#[derive(Debug, Clone)]
enum Target {
    /// A btpnips node, addressed by its current ILP address, our pubkey and our tag.
    BtpNips { peer: [u8; 32], tag: [u8; TAG_LEN] },
    /// A fixed STREAM receiver (from SPSP).
    Fixed(Address),
}

/// The outcome of [`pay`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct PayOutcome {
    /// Amount fulfilled, asset units.
    pub delivered: u64,
    /// Prepares fulfilled.
    pub packets: u64,
    /// Largest packet amount the path accepted, if a connector announced one (F08).
    pub max_packet_amount: Option<u64>,
}

/// Pay `amount` (asset units) and send `data` to a plain STREAM receiver (RFC 29) with
/// `destination` and `shared_secret` (from SPSP), on stream 1 of a new connection. Splits the
/// amount when a connector on the path answers F08 (its reject data says the maximum).
///
/// Errors: a final Reject other than F08, or retries running out; `delivered` so far is lost
/// in the error (the ledger has it).
pub async fn pay(
    node: &Arc<Node>,
    destination: Address,
    shared_secret: [u8; 32],
    amount: u64,
    data: Vec<u8>,
) -> Result<PayOutcome, SendError> {
    let mut sender = Sender::new(node.clone(), Target::Fixed(destination), &shared_secret);
    // Announce our address as STREAM clients do: receivers (the JS one) only send stream-level
    // limits (StreamMaxData) to a connection whose remote end they know.
    let mut out = PayOutcome { delivered: 0, packets: 0, max_packet_amount: None };
    let mut data = Some(data);
    while out.delivered < amount || data.is_some() {
        let chunk = (amount - out.delivered).min(out.max_packet_amount.unwrap_or(u64::MAX));
        let bytes = data.take().unwrap_or_default();
        match sender.run_with_min(1, &bytes, chunk, 0).await {
            Ok(()) => {
                out.delivered += chunk;
                out.packets += 1;
            }
            Err(SendError::Rejected(r)) if r.code == protocol::ilp::ErrorCode::F08_AMOUNT_TOO_LARGE => {
                let Ok(d) = protocol::ilp::AmountTooLargeData::decode(&r.data) else {
                    return Err(SendError::Rejected(r));
                };
                // Scale the path's maximum back to our units (same asset: usually 1:1).
                let max = ((d.maximum_amount as u128 * chunk as u128) / d.received_amount.max(1) as u128) as u64;
                if max == 0 || out.max_packet_amount.is_some_and(|m| m <= max) {
                    return Err(SendError::Rejected(r));
                }
                out.max_packet_amount = Some(max);
                data = Some(bytes);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

struct Sender {
    node: Arc<Node>,
    target: Target,
    keys: StreamKeys,
    sequence: u64,
    /// Per stream: what we sent and what the receiver allows (flow control).
    windows: HashMap<u64, SendWindow>,
    /// What the receiver allows over all streams (ConnectionMaxData; unlimited until told).
    connection_window: SendWindow,
    announced: bool,
    /// What the path took in fees on the last paid packet (source amount − amount that
    /// arrived): added to the source amount of later packets with a minimum to reach.
    path_fee: u64,
}

impl Sender {
    fn new(node: Arc<Node>, target: Target, secret: &[u8; 32]) -> Self {
        Self {
            node,
            target,
            keys: StreamKeys::derive(secret),
            sequence: 0,
            windows: HashMap::new(),
            connection_window: SendWindow::with_remote_max(u64::MAX),
            announced: false,
            path_fee: 0,
        }
    }

    fn destination(&self) -> Result<Address, SendError> {
        match &self.target {
            Target::Fixed(a) => Ok(a.clone()),
            Target::BtpNips { peer, tag } => {
                let address = self.node.peer_info(&hex::encode(peer)).map(|i| i.ilp_address);
                let address: Address = address.and_then(|a| a.parse().ok()).ok_or(SendError::UnknownPeer)?;
                connection_address(&address, &self.node.key.pubkey, tag).map_err(|_| SendError::UnknownPeer)
            }
        }
    }

    /// Send on a BTP-NIPs connection: the receiver must get at least `amount`.
    async fn run(&mut self, stream_id: u64, data: &[u8], amount: u64) -> Result<(), SendError> {
        self.run_with_min(stream_id, data, amount, amount).await
    }

    /// Send `data` and `amount` on `stream_id`; `min_received` is the STREAM `prepareAmount`.
    async fn run_with_min(
        &mut self,
        stream_id: u64,
        data: &[u8],
        amount: u64,
        min_received: u64,
    ) -> Result<(), SendError> {
        let destination = self.destination()?;
        let mut pos = 0;
        let mut first = true;
        let mut blocked_tries = 0u32;
        while first || pos < data.len() {
            let window = self.windows.entry(stream_id).or_default();
            let offset = window.sent();
            let take = (data.len() - pos)
                .min(MAX_DATA_PER_PACKET)
                .min(window.available().min(self.connection_window.available()) as usize);
            let mut frames = Vec::new();
            if !self.announced {
                frames.push(Frame::ConnectionNewAddress { source_account: self.node.address.clone() });
                frames.push(Frame::ConnectionAssetDetails {
                    asset_code: self.node.config.asset_code.clone(),
                    asset_scale: self.node.config.asset_scale,
                });
            }
            let money = if first { amount } else { 0 };
            if money > 0 {
                frames.push(Frame::StreamMoney { stream_id, shares: 1 });
            }
            if take > 0 {
                frames.push(Frame::StreamData { stream_id, offset, data: data[pos..pos + take].to_vec() });
                blocked_tries = 0;
            } else if pos < data.len() {
                // The receiver's window is full (RFC 29 §5.3): say so; its reply raises the
                // window once its application has read what it buffered.
                if blocked_tries >= MAX_BLOCKED_TRIES {
                    return Err(SendError::Blocked);
                }
                if blocked_tries > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << blocked_tries.min(4))).await;
                }
                frames.extend(window.blocked_frame(stream_id));
                blocked_tries += 1;
            }
            let limits =
                self.send_with_retries(&destination, money, if first { min_received } else { 0 }, frames).await?;
            self.announced = true;
            first = false;
            let window = self.windows.entry(stream_id).or_default();
            window.on_sent(take as u64);
            self.connection_window.on_sent(take as u64);
            pos += take;
            if let Some(max) = limits.connection_max_data {
                self.connection_window.on_remote_max(max);
            }
            if let Some((code, message)) = limits.connection_close {
                return Err(SendError::Closed(format!("{code:?}: {message}")));
            }
            for (id, max) in limits.stream_max_data {
                self.windows.entry(id).or_default().on_remote_max(max);
            }
        }
        Ok(())
    }

    /// The receiver's encrypted STREAM reply (in a Fulfill or Reject): only one that
    /// decrypts, echoes our sequence and names the right packet type counts (RFC 29 §4.4).
    fn decode_reply(&self, data: &[u8], expected: IlpPacketType) -> Option<StreamPacket> {
        let reply = self.keys.decrypt(data).ok().and_then(|p| StreamPacket::decode(&p).ok());
        match reply {
            Some(r) if r.sequence == self.sequence && r.ilp_packet_type == expected => {
                tracing::debug!(target = ?self.target, frames = ?r.frames, arrived = r.prepare_amount, "STREAM reply");
                Some(r)
            }
            other => {
                tracing::debug!(target = ?self.target, sequence = self.sequence, reply = ?other.map(|r| (r.sequence, r.ilp_packet_type)), len = data.len(), "no usable STREAM reply");
                None
            }
        }
    }

    /// Send one packet's frames, retrying temporary failures; returns the limits the
    /// receiver's reply carried.
    ///
    /// With `min_received` > 0 (the receiver must get that much), the source amount is
    /// `amount` plus the fee the path took last time, raised by the shortfall when the
    /// receiver says less arrived (at most [`MAX_FEE_TRIES`] times, and only while what
    /// arrives grows).
    async fn send_with_retries(
        &mut self,
        destination: &Address,
        amount: u64,
        min_received: u64,
        frames: Vec<Frame>,
    ) -> Result<RemoteLimits, SendError> {
        let mut source = if min_received > 0 { amount.max(min_received).saturating_add(self.path_fee) } else { amount };
        let mut fee_tries = 0u32;
        let mut last_arrived: Option<u64> = None;
        let mut backoff = Duration::from_millis(250);
        let mut last = String::new();
        let mut tries = 0u32;
        loop {
            if tries >= MAX_TRIES {
                return Err(SendError::Unreachable(last));
            }
            tries += 1;
            self.sequence += 1;
            let packet = StreamPacket {
                sequence: self.sequence,
                ilp_packet_type: IlpPacketType::Prepare,
                prepare_amount: min_received,
                frames: frames.clone(),
            };
            let data = self.keys.encrypt(rand::random(), &packet.encode());
            let prepare = Prepare {
                amount: source,
                expires_at: crate::clock::now() + chrono::Duration::from_std(PACKET_EXPIRY).expect("small"),
                execution_condition: self.keys.condition(&data),
                destination: destination.clone(),
                data,
            };
            match connector::handle_prepare(&self.node, Source::Local, prepare).await {
                Ok(f) => {
                    let reply = self.decode_reply(&f.data, IlpPacketType::Fulfill);
                    if min_received > 0 {
                        if let Some(arrived) = reply.as_ref().map(|r| r.prepare_amount) {
                            let fee = source.saturating_sub(arrived);
                            if fee != self.path_fee {
                                tracing::info!(target = ?self.target, fee, previous = self.path_fee, "STREAM: the path's fee changed");
                            }
                            self.path_fee = fee;
                        }
                    }
                    return Ok(reply.map(|r| remote_limits(&r.frames)).unwrap_or_default());
                }
                Err(r) if r.code.is_final() && r.code != ErrorCode::F02_UNREACHABLE => {
                    let reply = self.decode_reply(&r.data, IlpPacketType::Reject);
                    let arrived = reply.as_ref().map(|p| p.prepare_amount);
                    if let Some(arrived) = arrived.filter(|a| {
                        r.code == ErrorCode::F99_APPLICATION_ERROR
                            && *a < min_received
                            && fee_tries < MAX_FEE_TRIES
                            && last_arrived.is_none_or(|l| *a > l)
                    }) {
                        // The path took more than we allowed for: add the shortfall and send
                        // the same frames again (a rejected packet moved no money).
                        let shortfall = min_received - arrived;
                        tracing::info!(target = ?self.target, sent = source, arrived, min_received, "STREAM: raising the source amount to cover the path's fees");
                        source = source.saturating_add(shortfall);
                        fee_tries += 1;
                        last_arrived = Some(arrived);
                        tries -= 1;
                        continue;
                    }
                    if let Some((code, message)) =
                        reply.map(|p| remote_limits(&p.frames)).and_then(|l| l.connection_close)
                    {
                        tracing::warn!(target = ?self.target, ?code, %message, "receiver closed the STREAM connection");
                    }
                    return Err(SendError::Rejected(r));
                }
                Err(r) => {
                    tracing::debug!(target = ?self.target, code = %r.code, message = %r.message, "temporary failure; retrying");
                    last = format!("{} {}", r.code, r.message);
                }
            }
            if tries < MAX_TRIES {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
