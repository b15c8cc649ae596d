//! The sending side of one STREAM connection as a deterministic machine (RFC 29 §4.4, §4.5,
//! §5.3): jobs in, packets out, replies and time in, job outcomes out. No I/O, no clock
//! reads, no randomness (quinn-proto style): the caller encrypts each [`Transmit`], sends it
//! as an ILP Prepare, feeds back the decrypted reply with [`SendMachine::on_fulfill`] /
//! [`SendMachine::on_reject`], and calls [`SendMachine::handle_timeout`] at
//! [`SendMachine::poll_timeout`].
//!
//! - **Window.** Up to [`SenderConfig::max_in_flight`] Prepares are outstanding at once
//!   (in flight or waiting to be retried). Data goes out in queue order at increasing
//!   offsets within the receiver's `StreamMaxData` / `ConnectionMaxData` (16 384 bytes per
//!   stream assumed until told, as the JS implementation does); the receiver reassembles by
//!   offset, so packets may arrive in any order.
//! - **Retries.** A temporary failure (T and R codes, and F02 while routes converge) sends
//!   the *same frames at the same offsets* again after a backoff (doubling up to
//!   [`SenderConfig::max_backoff`]), with a new sequence number. After
//!   [`SenderConfig::max_tries`] tries the job fails with [`JobError::Unreachable`].
//! - **Fees.** A packet with a minimum to arrive (`prepare_amount`, RFC 29 §5.2) is sent with
//!   the source amount raised by the fee the path took last time; when the receiver rejects
//!   with F99 and says less arrived, the shortfall is added and the same frames go again (at
//!   most [`SenderConfig::max_fee_tries`] times, while what arrives grows).
//! - **Order of outcomes.** A job is done when every packet of it was fulfilled *and* every
//!   earlier job on the same stream is done: a fulfilled packet whose data sits after a gap
//!   is only buffered by the receiver. A final Reject of a data-carrying packet fails its job
//!   and breaks the stream (the receiver NACKed bytes that later packets depend on): later
//!   jobs on that stream fail with [`JobError::StreamBroken`], and the application carries on
//!   with a new stream. Money-only packets do not touch offsets.
//! - **Close.** A `ConnectionClose` in any reply fails every job with [`JobError::Closed`];
//!   the machine then refuses new jobs ([`SendMachine::is_closed`]).
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::ilp::{ErrorCode, Reject};

use super::flow::{remote_limits, SendWindow};
use super::{Frame, IlpPacketType, StreamPacket};

/// Limits of a [`SendMachine`]. Units: bytes for data, durations as given.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Most Prepares outstanding at once (in flight or waiting to be retried).
    pub max_in_flight: usize,
    /// Most STREAM data bytes in one Prepare (ILP data is at most 32 767 bytes, RFC 27 §3.1,
    /// less the encryption envelope and the frames' own bytes).
    pub max_data_per_packet: usize,
    /// Tries per packet before a temporary failure fails its job.
    pub max_tries: u32,
    /// Wait before the first retry; doubles per try up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between two tries of a packet.
    pub max_backoff: Duration,
    /// `StreamDataBlocked` probes sent (50 ms to 800 ms apart) while the receiver's window
    /// stays full and nothing is in flight, before the job fails with [`JobError::Blocked`].
    pub max_blocked_tries: u32,
    /// Times one packet's source amount is raised for the path's fees.
    pub max_fee_tries: u32,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            max_data_per_packet: 30_000,
            max_tries: 8,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            max_blocked_tries: 12,
            max_fee_tries: 6,
        }
    }
}

/// Who we are, for the frames announcing the connection (RFC 29 §5.3.2, §5.3.4).
#[derive(Debug, Clone)]
pub struct Announce {
    /// Our ILP address (`ConnectionNewAddress`).
    pub source_account: crate::ilp::Address,
    /// Our asset code (`ConnectionAssetDetails`).
    pub asset_code: String,
    /// Our asset scale.
    pub asset_scale: u8,
}

/// One piece of work: `data` (bytes, appended to the stream) and `amount` (asset units, sent
/// with the job's first packet) on `stream_id`.
#[derive(Debug, Clone)]
pub struct Job {
    /// The stream the data and money go on.
    pub stream_id: u64,
    /// Bytes to append to the stream (may be empty: a payment).
    pub data: Vec<u8>,
    /// Source amount (asset units) of the job's first packet, before fees.
    pub amount: u64,
    /// The least that must arrive (STREAM `prepare_amount`); 0: whatever arrives.
    pub min_received: u64,
}

/// Identifies a job; given out by [`SendMachine::push`] in increasing order.
pub type JobId = u64;

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A final Reject (F code other than F02); nothing of that packet was accepted.
    #[error("rejected {}: {}", .0.code, .0.message)]
    Rejected(Reject),
    /// Tries ran out on temporary failures; `last` describes the last one.
    #[error("gave up after {tries} tries: {last}")]
    Unreachable {
        /// Tries made.
        tries: u32,
        /// The last failure's code and message.
        last: String,
    },
    /// The receiver closed the connection (`ConnectionClose`, RFC 29 §5.3.1).
    #[error("receiver closed the connection: {0}")]
    Closed(String),
    /// The receiver's window stayed full (`StreamDataBlocked` got no larger `StreamMaxData`).
    #[error("receiver's window is full")]
    Blocked,
    /// An earlier job's data on the same stream was refused, so this job's bytes can never be
    /// read: send them again on a new stream.
    #[error("an earlier packet on stream {0} was refused; use a new stream")]
    StreamBroken(u64),
}

/// A packet to send now: encrypt `packet` and send it as a Prepare of `source_amount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The STREAM sequence number (also `packet.sequence`); the reply must echo it.
    pub sequence: u64,
    /// The Prepare's amount, asset units.
    pub source_amount: u64,
    /// The plaintext STREAM packet (type Prepare).
    pub packet: StreamPacket,
}

/// What the machine reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A job finished (in order per stream).
    JobDone {
        /// The job.
        job: JobId,
        /// Its outcome.
        result: Result<(), JobError>,
    },
    /// The path's fee (source amount − amount that arrived, asset units) changed.
    PathFee {
        /// The fee seen on the last fulfilled packet.
        fee: u64,
    },
}

#[derive(Debug, Clone)]
struct PacketState {
    job: JobId,
    stream_id: u64,
    /// Offset of this packet's data on its stream (bytes).
    offset: u64,
    /// Data bytes this packet carries.
    data_len: u64,
    frames: Vec<Frame>,
    min_received: u64,
    source: u64,
    tries: u32,
    fee_tries: u32,
    last_arrived: Option<u64>,
    backoff: Duration,
    last_failure: String,
    /// A `StreamDataBlocked` probe, not part of any job's bytes.
    probe: bool,
}

#[derive(Debug)]
struct JobState {
    id: JobId,
    job: Job,
    /// Bytes of `job.data` given to packets so far.
    assigned: usize,
    money_sent: bool,
    /// Packets of this job not yet fulfilled.
    outstanding: usize,
    failed: Option<JobError>,
}

impl JobState {
    /// Every byte and the money were given to packets (the first packet marks the money sent,
    /// even when it is 0).
    fn fully_assigned(&self) -> bool {
        self.assigned >= self.job.data.len() && self.money_sent
    }
    fn complete(&self) -> bool {
        self.failed.is_some() || (self.fully_assigned() && self.outstanding == 0)
    }
}

/// The sending side of one STREAM connection; see the module docs.
#[derive(Debug)]
pub struct SendMachine {
    config: SenderConfig,
    announce: Announce,
    announced: bool,
    sequence: u64,
    next_job: JobId,
    jobs: VecDeque<JobState>,
    in_flight: HashMap<u64, PacketState>,
    /// Packets waiting for their retry time, by (deadline, sequence it replaces).
    retries: BTreeMap<(Instant, u64), PacketState>,
    /// Retries whose time came, to go out before new packets.
    due: VecDeque<PacketState>,
    windows: HashMap<u64, SendWindow>,
    connection_window: SendWindow,
    broken: HashSet<u64>,
    path_fee: u64,
    blocked_tries: u32,
    /// When the next `StreamDataBlocked` probe may go.
    probe_at: Option<Instant>,
    closed: Option<String>,
    events: VecDeque<Event>,
}

impl SendMachine {
    /// A machine for a new connection.
    pub fn new(config: SenderConfig, announce: Announce) -> Self {
        Self {
            config,
            announce,
            announced: false,
            sequence: 0,
            next_job: 0,
            jobs: VecDeque::new(),
            in_flight: HashMap::new(),
            retries: BTreeMap::new(),
            due: VecDeque::new(),
            windows: HashMap::new(),
            connection_window: SendWindow::with_remote_max(u64::MAX),
            broken: HashSet::new(),
            path_fee: 0,
            blocked_tries: 0,
            probe_at: None,
            closed: None,
            events: VecDeque::new(),
        }
    }

    /// Queue a job; its outcome comes as [`Event::JobDone`]. On a closed connection it fails
    /// at once with [`JobError::Closed`]; on a broken stream with [`JobError::StreamBroken`].
    pub fn push(&mut self, job: Job) -> JobId {
        let id = self.next_job;
        self.next_job += 1;
        let failed = if let Some(why) = &self.closed {
            Some(JobError::Closed(why.clone()))
        } else if self.broken.contains(&job.stream_id) && !job.data.is_empty() {
            Some(JobError::StreamBroken(job.stream_id))
        } else {
            None
        };
        self.jobs.push_back(JobState { id, job, assigned: 0, money_sent: false, outstanding: 0, failed });
        self.emit_done();
        id
    }

    /// The application gave the connection up (e.g. the peer restarted and a new connection
    /// replaces it): nothing more is sent, retries are dropped, and every job fails with
    /// [`JobError::Closed`], except that a job whose packets are all in flight still gets
    /// their answers: a Prepare already on its way may be fulfilled, and its sender must then
    /// know it was delivered. Call [`Self::is_idle`] to know when to stop.
    pub fn abort(&mut self, why: &str) {
        self.closed = Some(why.to_owned());
        self.retries.clear();
        self.due.clear();
        self.fail_unfinishable();
    }

    /// Nothing is queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.in_flight.is_empty()
    }

    /// On a closed connection: fail every job that can no longer finish (bytes or money not
    /// yet sent, or a packet that will not be retried).
    fn fail_unfinishable(&mut self) {
        let Some(why) = self.closed.clone() else { return };
        let in_flight: HashSet<JobId> = self.in_flight.values().filter(|p| !p.probe).map(|p| p.job).collect();
        for j in self.jobs.iter_mut().filter(|j| j.failed.is_none()) {
            let can_finish = j.fully_assigned() && j.outstanding > 0 && in_flight.contains(&j.id);
            if !(can_finish || j.fully_assigned() && j.outstanding == 0) {
                j.failed = Some(JobError::Closed(why.clone()));
            }
        }
        self.emit_done();
    }

    /// Whether a `ConnectionClose` (or [`Self::abort`]) ended this connection.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Jobs queued and not yet reported done.
    pub fn pending_jobs(&self) -> usize {
        self.jobs.len()
    }

    /// Prepares outstanding (in flight or waiting to be retried).
    pub fn outstanding(&self) -> usize {
        self.in_flight.len() + self.retries.len() + self.due.len()
    }

    /// The fee (asset units) the path took on the last fulfilled packet with a minimum.
    pub fn path_fee(&self) -> u64 {
        self.path_fee
    }

    /// The next packet to send now, if the window and the receiver's limits allow one.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let Some(p) = self.due.pop_front() {
            return Some(self.transmit(p));
        }
        if self.closed.is_some() || self.outstanding() >= self.config.max_in_flight {
            return None;
        }
        let idx = self.jobs.iter().position(|j| j.failed.is_none() && !j.fully_assigned())?;
        let (id, stream_id, amount, min_received, remaining, money_due) = {
            let j = &self.jobs[idx];
            (j.id, j.job.stream_id, j.job.amount, j.job.min_received, j.job.data.len() - j.assigned, !j.money_sent)
        };
        let (offset, room) = {
            let window = self.windows.entry(stream_id).or_default();
            (window.sent(), window.available().min(self.connection_window.available()) as usize)
        };
        if remaining <= self.config.max_data_per_packet && remaining > room && self.outstanding() > 0 {
            // A job that fits one packet is not split across packets just because the window
            // is short now: replies to what is in flight will raise it.
            return None;
        }
        let take = remaining.min(self.config.max_data_per_packet).min(room);
        if take == 0 && !(money_due && (amount > 0 || remaining == 0)) {
            // Data waits for the receiver's window (RFC 29 §5.3.11): replies to what is in
            // flight raise it; with nothing in flight, probe with StreamDataBlocked.
            if self.outstanding() > 0 {
                return None;
            }
            if self.probe_at.is_some_and(|t| now < t) {
                return None;
            }
            if self.blocked_tries >= self.config.max_blocked_tries {
                self.fail_job(idx, JobError::Blocked);
                return None;
            }
            self.blocked_tries += 1;
            self.probe_at = Some(now + Duration::from_millis(50 << self.blocked_tries.min(4)));
            let frames = self.windows.entry(stream_id).or_default().blocked_frame(stream_id).into_iter().collect();
            let p = self.packet(id, stream_id, frames, (offset, 0), 0, 0, true);
            return Some(self.transmit(p));
        }
        let mut frames = Vec::new();
        let money = if money_due { amount } else { 0 };
        if money > 0 {
            frames.push(Frame::StreamMoney { stream_id, shares: 1 });
        }
        if take > 0 {
            let j = &self.jobs[idx];
            frames.push(Frame::StreamData {
                stream_id,
                offset,
                data: j.job.data[j.assigned..j.assigned + take].to_vec(),
            });
            self.blocked_tries = 0;
            self.probe_at = None;
        }
        self.windows.entry(stream_id).or_default().on_sent(take as u64);
        self.connection_window.on_sent(take as u64);
        let min = if money_due { min_received } else { 0 };
        let j = &mut self.jobs[idx];
        j.assigned += take;
        j.money_sent = true;
        j.outstanding += 1;
        let p = self.packet(id, stream_id, frames, (offset, take as u64), money, min, false);
        Some(self.transmit(p))
    }

    #[allow(clippy::too_many_arguments)]
    fn packet(
        &self,
        job: JobId,
        stream_id: u64,
        frames: Vec<Frame>,
        (offset, data_len): (u64, u64),
        amount: u64,
        min_received: u64,
        probe: bool,
    ) -> PacketState {
        let source = if min_received > 0 { amount.max(min_received).saturating_add(self.path_fee) } else { amount };
        PacketState {
            job,
            stream_id,
            offset,
            data_len,
            frames,
            min_received,
            source,
            tries: 0,
            fee_tries: 0,
            last_arrived: None,
            backoff: self.config.initial_backoff,
            last_failure: String::new(),
            probe,
        }
    }

    fn transmit(&mut self, mut p: PacketState) -> Transmit {
        self.sequence += 1;
        p.tries += 1;
        let mut frames = Vec::with_capacity(p.frames.len() + 2);
        if !self.announced {
            frames.push(Frame::ConnectionNewAddress { source_account: self.announce.source_account.clone() });
            frames.push(Frame::ConnectionAssetDetails {
                asset_code: self.announce.asset_code.clone(),
                asset_scale: self.announce.asset_scale,
            });
        }
        frames.extend(p.frames.iter().cloned());
        let t = Transmit {
            sequence: self.sequence,
            source_amount: p.source,
            packet: StreamPacket {
                sequence: self.sequence,
                ilp_packet_type: IlpPacketType::Prepare,
                prepare_amount: p.min_received,
                frames,
            },
        };
        self.in_flight.insert(self.sequence, p);
        t
    }

    /// The receiver's reply must echo our sequence and name the right type (RFC 29 §4.4).
    fn usable(sequence: u64, reply: Option<StreamPacket>, expected: IlpPacketType) -> Option<StreamPacket> {
        reply.filter(|r| r.sequence == sequence && r.ilp_packet_type == expected)
    }

    /// The Prepare with `sequence` was fulfilled; `reply` is its decrypted STREAM reply
    /// (`None` if it had none or it did not decrypt). Unknown sequences are ignored.
    pub fn on_fulfill(&mut self, sequence: u64, reply: Option<StreamPacket>) {
        let Some(p) = self.in_flight.remove(&sequence) else { return };
        let reply = Self::usable(sequence, reply, IlpPacketType::Fulfill);
        self.announced = true;
        if p.min_received > 0 {
            if let Some(arrived) = reply.as_ref().map(|r| r.prepare_amount) {
                let fee = p.source.saturating_sub(arrived);
                if fee != self.path_fee {
                    self.path_fee = fee;
                    self.events.push_back(Event::PathFee { fee });
                }
            }
        }
        if !p.probe {
            if let Some(j) = self.jobs.iter_mut().find(|j| j.id == p.job) {
                j.outstanding = j.outstanding.saturating_sub(1);
            }
        }
        if let Some(r) = &reply {
            self.apply_limits(r);
        }
        self.fail_unfinishable();
        self.emit_done();
    }

    /// The Prepare with `sequence` was rejected with `reject`; `reply` is the decrypted STREAM
    /// reply in its data, if any. A local failure to send (link down, timeout) is a Reject
    /// with a T or R code. Unknown sequences are ignored.
    pub fn on_reject(&mut self, sequence: u64, reject: Reject, reply: Option<StreamPacket>, now: Instant) {
        let Some(mut p) = self.in_flight.remove(&sequence) else { return };
        let reply = Self::usable(sequence, reply, IlpPacketType::Reject);
        let is_final = reject.code.is_final() && reject.code != ErrorCode::F02_UNREACHABLE;
        if is_final {
            let arrived = reply.as_ref().map(|r| r.prepare_amount);
            if let Some(arrived) = arrived.filter(|a| {
                reject.code == ErrorCode::F99_APPLICATION_ERROR
                    && *a < p.min_received
                    && p.fee_tries < self.config.max_fee_tries
                    && p.last_arrived.is_none_or(|l| *a > l)
            }) {
                // The path took more than we allowed for: add the shortfall, same frames again
                // at once (a rejected packet moved no money).
                p.source = p.source.saturating_add(p.min_received - arrived);
                p.fee_tries += 1;
                p.last_arrived = Some(arrived);
                p.tries -= 1;
                self.due.push_back(p);
                return;
            }
            if let Some(r) = &reply {
                self.apply_limits(r);
            }
            if self.closed.is_none() {
                self.fail_packet(&p, JobError::Rejected(reject));
            }
            self.emit_done();
            return;
        }
        p.last_failure = format!("{} {}", reject.code, reject.message);
        if p.probe {
            // A probe is not retried: the next poll sends a new one in its time.
            self.emit_done();
            return;
        }
        if p.tries >= self.config.max_tries {
            let e = JobError::Unreachable { tries: p.tries, last: p.last_failure.clone() };
            self.fail_packet(&p, e);
            self.emit_done();
            return;
        }
        if self.closed.is_some() {
            // Given up: no retry.
            self.fail_packet(&p, JobError::Closed(self.closed.clone().unwrap_or_default()));
            self.emit_done();
            return;
        }
        let at = now + p.backoff;
        p.backoff = (p.backoff * 2).min(self.config.max_backoff);
        self.retries.insert((at, sequence), p);
    }

    /// When [`Self::handle_timeout`] should next be called (a retry or a blocked probe).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.retries.keys().next().map(|(t, _)| *t);
        let probe = self.probe_at.filter(|_| self.outstanding() == 0 && !self.jobs.is_empty());
        match (retry, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time passed: retries whose time came are sent by the next [`Self::poll_transmit`]s.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.retries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let p = entry.remove();
            self.due.push_back(p);
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn apply_limits(&mut self, reply: &StreamPacket) {
        let limits = remote_limits(&reply.frames);
        if let Some(max) = limits.connection_max_data {
            self.connection_window.on_remote_max(max);
        }
        for (id, max) in limits.stream_max_data {
            self.windows.entry(id).or_default().on_remote_max(max);
        }
        if let Some((code, message)) = limits.connection_close {
            let why = format!("{code:?}: {message}");
            self.closed = Some(why.clone());
            for j in self.jobs.iter_mut().filter(|j| j.failed.is_none()) {
                j.failed = Some(JobError::Closed(why.clone()));
            }
            self.retries.clear();
            self.due.clear();
        }
    }

    /// A packet failed finally: its job fails. If the packet was the job's only data and the
    /// last data sent on its stream, the offsets go back (the receiver NACKed those bytes and
    /// nothing after them exists); otherwise the stream is broken.
    fn fail_packet(&mut self, p: &PacketState, e: JobError) {
        let idx = self.jobs.iter().position(|j| j.id == p.job);
        if let Some(j) = idx.map(|i| &mut self.jobs[i]) {
            j.failed.get_or_insert(e.clone());
        }
        if p.data_len > 0 {
            let window = self.windows.entry(p.stream_id).or_default();
            let only = idx.is_some_and(|i| self.jobs[i].assigned as u64 == p.data_len);
            if only && p.offset + p.data_len == window.sent() {
                window.on_unsent(p.data_len);
                self.connection_window.on_unsent(p.data_len);
                if let Some(i) = idx {
                    self.jobs[i].assigned = 0;
                }
            } else {
                self.break_stream(p.stream_id);
            }
        }
        if let Some(idx) = idx {
            self.fail_job(idx, e);
        }
    }

    fn fail_job(&mut self, idx: usize, e: JobError) {
        let j = &mut self.jobs[idx];
        if j.failed.is_none() {
            j.failed = Some(e);
        }
        if j.assigned > 0 {
            let stream = j.job.stream_id;
            self.break_stream(stream);
        }
        self.emit_done();
    }

    fn break_stream(&mut self, stream_id: u64) {
        if !self.broken.insert(stream_id) {
            return;
        }
        for j in self.jobs.iter_mut().filter(|j| j.job.stream_id == stream_id && j.failed.is_none()) {
            if !j.job.data.is_empty() {
                j.failed = Some(JobError::StreamBroken(stream_id));
            }
        }
        // Retries of that stream's data would fill a gap nobody reads any more.
        self.retries.retain(|_, p| !(p.stream_id == stream_id && p.data_len > 0));
        self.due.retain(|p| !(p.stream_id == stream_id && p.data_len > 0));
    }

    /// Report finished jobs: a job is reported once it is complete and no earlier job on its
    /// stream is still open. Failed jobs are reported once none of their packets is
    /// outstanding any more (so a late Fulfill finds nothing to count).
    fn emit_done(&mut self) {
        let mut blocked: HashSet<u64> = HashSet::new();
        let mut i = 0;
        while i < self.jobs.len() {
            let j = &self.jobs[i];
            let stream = j.job.stream_id;
            let settled = j.failed.is_some() || j.complete();
            let waiting = self.in_flight.values().any(|p| p.job == j.id && !p.probe)
                || self.retries.values().any(|p| p.job == j.id)
                || self.due.iter().any(|p| p.job == j.id);
            if settled && !waiting && (j.failed.is_some() || !blocked.contains(&stream)) {
                let j = self.jobs.remove(i).expect("index in range");
                let result = match j.failed {
                    Some(e) => Err(e),
                    None => Ok(()),
                };
                self.events.push_back(Event::JobDone { job: j.id, result });
                continue;
            }
            blocked.insert(stream);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests;
