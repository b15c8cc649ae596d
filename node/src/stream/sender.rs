//! Sending side of our STREAM connection to one peer (RFC 29): a thin task around
//! [`protocol::stream::sender::SendMachine`], which makes every decision (window of Prepares in
//! flight, retries with the same frames at the same offsets, the receiver's StreamMaxData,
//! raising the source amount for the path's fees, in-order outcomes per stream). This task
//! only encrypts the machine's packets, sends them as Prepares through the connector,
//! decrypts the replies, feeds them back with the time, and hands each job its outcome.
//!
//! Fees: on a BTP-NIPs connection the receiver must get at least the job's amount (the STREAM
//! `prepareAmount`); every connector on the path takes its fee, which the machine learns from
//! the receiver's replies and adds to later packets.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::btpnips::addressing::{connection_address, TAG_LEN};
use protocol::btpnips::secret::shared_secret;
use protocol::ilp::{Address, ErrorCode, Prepare, Reject};
use protocol::stream::sender::{Announce, Event, Job as MachineJob, JobError, JobId, SendMachine, SenderConfig};
use protocol::stream::{StreamKeys, StreamPacket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::connector::{self, Source};
use crate::node::Node;

/// Most STREAM data bytes put in one Prepare: ILP data max 32767 − 28 bytes of encryption
/// envelope − room for the STREAM header and frames.
pub const MAX_DATA_PER_PACKET: usize = 30_000;
/// How long each Prepare may take, end to end.
pub const PACKET_EXPIRY: Duration = Duration::from_secs(30);
/// Prepares in flight at once on one connection (RFC 29 window). The receiver handles a
/// connection's packets in order, so more would only queue there.
pub const MAX_IN_FLIGHT: usize = 8;
/// Jobs taken into the machine at once; the rest wait in the connection's queue.
pub const MAX_JOBS_IN_MACHINE: usize = 256;
/// Capacity of a connection's job queue (jobs beyond it are refused at once).
pub const JOB_QUEUE: usize = 4096;

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The receiver (or a connector) rejected with a final code; nothing was accepted.
    #[error("rejected {}: {}", .0.code, .0.message)]
    Rejected(Reject),
    /// Retries ran out on temporary failures.
    #[error("gave up after retries: {0}")]
    Unreachable(String),
    /// We know no ILP address for the peer (never linked).
    #[error("no address known for peer")]
    UnknownPeer,
    /// The connection was reset before the job finished, or its queue is full.
    #[error("connection closed")]
    ConnectionClosed,
    /// The receiver closed the STREAM connection (ConnectionClose frame).
    #[error("receiver closed the connection: {0}")]
    Closed(String),
    /// The receiver's flow-control window stayed full.
    #[error("receiver's window is full (StreamDataBlocked got no larger StreamMaxData)")]
    Blocked,
    /// An earlier packet's data on this stream was refused: the application must use a new
    /// stream for what failed.
    #[error("stream {0} is broken (an earlier packet on it was refused)")]
    StreamBroken(u64),
}

impl From<JobError> for SendError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Rejected(r) => SendError::Rejected(r),
            JobError::Unreachable { last, .. } => SendError::Unreachable(last),
            JobError::Closed(why) => SendError::Closed(why),
            JobError::Blocked => SendError::Blocked,
            JobError::StreamBroken(id) => SendError::StreamBroken(id),
        }
    }
}

pub(super) struct Job {
    pub stream_id: u64,
    pub data: Vec<u8>,
    pub amount: u64,
    /// STREAM `prepareAmount`: the least that must arrive (the amount on BTP-NIPs
    /// connections, 0 for SPSP payments).
    pub min_received: u64,
    pub done: oneshot::Sender<Result<(), SendError>>,
}

/// Start the task of our connection to `peer` with `tag`; it stops when `cancelled` turns
/// true (see `Endpoint::reset_outgoing`).
pub(super) fn spawn(
    node: Arc<Node>,
    peer: [u8; 32],
    tag: [u8; TAG_LEN],
    cancelled: watch::Receiver<bool>,
) -> Result<mpsc::Sender<Job>, SendError> {
    let secret = shared_secret(&node.key.secret, &peer, &tag).map_err(|_| SendError::UnknownPeer)?;
    Ok(start(node, Target::BtpNips { peer, tag }, &secret, cancelled))
}

fn start(node: Arc<Node>, target: Target, secret: &[u8; 32], cancelled: watch::Receiver<bool>) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>(JOB_QUEUE);
    let task = Task::new(node, target, secret);
    tokio::spawn(task.run(rx, cancelled));
    tx
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
    let (_keep, cancelled) = watch::channel(false);
    let tx = start(node.clone(), Target::Fixed(destination), &shared_secret, cancelled);
    let mut out = PayOutcome { delivered: 0, packets: 0, max_packet_amount: None };
    let mut data = Some(data);
    while out.delivered < amount || data.is_some() {
        let chunk = (amount - out.delivered).min(out.max_packet_amount.unwrap_or(u64::MAX));
        let bytes = data.take().unwrap_or_default();
        let (done, rx) = oneshot::channel();
        let job = Job { stream_id: 1, data: bytes.clone(), amount: chunk, min_received: 0, done };
        tx.send(job).await.map_err(|_| SendError::ConnectionClosed)?;
        match rx.await.map_err(|_| SendError::ConnectionClosed)? {
            Ok(()) => {
                out.delivered += chunk;
                out.packets += 1;
            }
            Err(SendError::Rejected(r)) if r.code == ErrorCode::F08_AMOUNT_TOO_LARGE => {
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

/// A Prepare's outcome, back from the connector.
struct Answer {
    sequence: u64,
    result: Result<protocol::ilp::Fulfill, Reject>,
}

/// The task driving one connection's [`SendMachine`].
struct Task {
    node: Arc<Node>,
    target: Target,
    keys: Arc<StreamKeys>,
    machine: SendMachine,
    waiting: HashMap<JobId, oneshot::Sender<Result<(), SendError>>>,
    answers_tx: mpsc::Sender<Answer>,
    answers: mpsc::Receiver<Answer>,
}

impl Task {
    fn new(node: Arc<Node>, target: Target, secret: &[u8; 32]) -> Self {
        let announce = Announce {
            source_account: node.address.clone(),
            asset_code: node.config.asset_code.clone(),
            asset_scale: node.config.asset_scale,
        };
        let config = SenderConfig {
            max_in_flight: MAX_IN_FLIGHT,
            max_data_per_packet: MAX_DATA_PER_PACKET,
            ..SenderConfig::default()
        };
        // Answers never outnumber the Prepares in flight, so this channel never blocks a sender.
        let (answers_tx, answers) = mpsc::channel(MAX_IN_FLIGHT + 1);
        Self {
            node,
            target,
            keys: Arc::new(StreamKeys::derive(secret)),
            machine: SendMachine::new(config, announce),
            waiting: HashMap::new(),
            answers_tx,
            answers,
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

    async fn run(mut self, mut jobs: mpsc::Receiver<Job>, mut cancelled: watch::Receiver<bool>) {
        let mut open = true;
        // False once the connection's owner is gone (nobody can cancel any more).
        let mut cancellable = true;
        loop {
            if *cancelled.borrow() && !self.machine.is_closed() {
                // Stop sending and retrying; what is in flight still gets its answer (a
                // Prepare already on its way may be fulfilled, and its job must know).
                self.machine.abort("connection reset: the peer's link came back");
                jobs.close();
            }
            self.transmit();
            self.report();
            if self.machine.is_closed() {
                if let Target::BtpNips { peer, tag } = &self.target {
                    self.node.stream.reset_outgoing_if(peer, tag);
                }
                open = false;
            }
            if (!open || self.machine.is_closed()) && self.machine.is_idle() && self.machine.outstanding() == 0 {
                while let Ok(job) = jobs.try_recv() {
                    let _ = job.done.send(Err(SendError::ConnectionClosed));
                }
                if !open || jobs.is_closed() {
                    return;
                }
            }
            let timeout = self.machine.poll_timeout();
            let take_jobs = open && self.machine.pending_jobs() < MAX_JOBS_IN_MACHINE;
            tokio::select! {
                job = jobs.recv(), if take_jobs => match job {
                    Some(job) => self.push(job),
                    None => open = false,
                },
                Some(answer) = self.answers.recv() => self.on_answer(answer),
                changed = cancelled.changed(), if cancellable => cancellable = changed.is_ok(),
                _ = tokio::time::sleep_until(timeout.map(Instant::from_std).unwrap_or_else(Instant::now)), if timeout.is_some() => {
                    self.machine.handle_timeout(Instant::now().into_std());
                }
            }
        }
    }

    fn push(&mut self, job: Job) {
        let id = self.machine.push(MachineJob {
            stream_id: job.stream_id,
            data: job.data,
            amount: job.amount,
            min_received: job.min_received,
        });
        self.waiting.insert(id, job.done);
    }

    /// Send every packet the machine allows now, each as its own connector call.
    fn transmit(&mut self) {
        let now = Instant::now().into_std();
        while let Some(t) = self.machine.poll_transmit(now) {
            let destination = match self.destination() {
                Ok(d) => d,
                Err(e) => {
                    // Unknown until the peer's link is up: a temporary failure, retried.
                    let r = connector::reject(&self.node, ErrorCode::T01_PEER_UNREACHABLE, &e.to_string());
                    self.machine.on_reject(t.sequence, r, None, now);
                    continue;
                }
            };
            let data = self.keys.encrypt(rand::random(), &t.packet.encode());
            let prepare = Prepare {
                amount: t.source_amount,
                expires_at: crate::clock::now() + chrono::Duration::from_std(PACKET_EXPIRY).expect("small"),
                execution_condition: self.keys.condition(&data),
                destination,
                data,
            };
            let (node, answers, sequence) = (self.node.clone(), self.answers_tx.clone(), t.sequence);
            tokio::spawn(async move {
                let result = connector::handle_prepare(&node, Source::Local, prepare).await;
                let _ = answers.send(Answer { sequence, result }).await;
            });
        }
    }

    fn decrypt(&self, data: &[u8]) -> Option<StreamPacket> {
        self.keys.decrypt(data).ok().and_then(|p| StreamPacket::decode(&p).ok())
    }

    fn on_answer(&mut self, answer: Answer) {
        let now = Instant::now().into_std();
        match answer.result {
            Ok(f) => {
                let reply = self.decrypt(&f.data);
                self.machine.on_fulfill(answer.sequence, reply);
            }
            Err(r) => {
                let reply = self.decrypt(&r.data);
                if r.code.is_final() {
                    tracing::debug!(target = ?self.target, code = %r.code, message = %r.message, "STREAM packet rejected");
                } else {
                    tracing::debug!(target = ?self.target, code = %r.code, message = %r.message, "temporary failure; retrying");
                }
                self.machine.on_reject(answer.sequence, r, reply, now);
            }
        }
    }

    /// Hand finished jobs their outcomes.
    fn report(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            match event {
                Event::JobDone { job, result } => {
                    if let Err(e) = &result {
                        tracing::warn!(target = ?self.target, error = %e, "STREAM send failed");
                    }
                    if let Some(done) = self.waiting.remove(&job) {
                        let _ = done.send(result.map_err(SendError::from));
                    }
                }
                Event::PathFee { fee } => {
                    tracing::info!(target = ?self.target, fee, "STREAM: the path's fee changed");
                }
            }
        }
    }
}
