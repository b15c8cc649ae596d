//! Receiving side of one incoming STREAM connection (RFC 29 §4–5), one actor per
//! connection.
//!
//! Order of checks, as the JS reference receiver does them: decrypt (else F06, empty data),
//! packet type must be Prepare (else F06), the condition must be the one we can derive
//! (else F99 with an encrypted reply: an unfulfillable probe), the amount must reach the
//! sender's minimum (else F99 with reply). Then frames are applied to copies of the stream
//! states, `btpnips` commits what the messages mean, and only then does the Fulfill go out.
//! On BTP-NIPs connections a packet whose data starts after a gap is parked until the packets
//! before it arrived ([`PARK_FOR`]), so a Fulfill always means its messages were committed.
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use protocol::btpnips::addressing::TAG_LEN;
use protocol::btpnips::secret::shared_secret;
use protocol::ilp::{condition_of, ErrorCode, Fulfill, Prepare, Reject};
use protocol::stream::{CloseCode, Frame, IlpPacketType, RecvStream, Side, StreamIds, StreamKeys, StreamPacket};
use tokio::sync::{mpsc, oneshot};

use crate::connector::{reject, Source};
use crate::node::Node;

/// One Prepare handed to the actor, with where to send the answer.
pub(super) struct Packet {
    pub from: Source,
    pub prepare: Prepare,
    pub reply: oneshot::Sender<Result<Fulfill, Reject>>,
}

/// What one Prepare brought on one stream: money (asset units, the Prepare's amount split by
/// StreamMoney shares), complete BTP-NIPs messages, and whether the sender closed it.
#[derive(Debug, Clone, Default)]
pub struct StreamDelivery {
    /// Stream id within the connection.
    pub stream_id: u64,
    /// Asset units credited to this stream by this Prepare.
    pub money: u64,
    /// NIP-01 JSON messages completed by this Prepare, in order (BTP-NIPs connections).
    pub messages: Vec<String>,
    /// Raw stream bytes that became contiguous with this Prepare (SPSP connections).
    pub bytes: Vec<u8>,
    /// The sender closed the stream (StreamClose).
    pub closed: bool,
}

/// Which kind of incoming connection a receiver serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// A btpnips node's connection: (its pubkey, its tag). Data is framed NIP-01.
    BtpNips([u8; 32], [u8; TAG_LEN]),
    /// A plain STREAM payment set up by SPSP (RFC 9): the token we issued.
    Spsp([u8; crate::spsp::TOKEN_LEN]),
}

impl PacketContext {
    /// The ledger entry crediting this Prepare's amount to the account it came from, to commit
    /// with the packet's other effects before the Fulfill (`None` for amount 0).
    ///
    /// Errors: money that came from this node itself (a refusal for the packet).
    pub fn credit(&self, node: &Node, memo: &str) -> Result<Option<storage::Op>, crate::btpnips::Refusal> {
        if self.amount == 0 {
            return Ok(None);
        }
        let Source::Peer(account) = &self.from else {
            return Err((ErrorCode::F99_APPLICATION_ERROR, "invalid: local money to self".into()));
        };
        let entry =
            crate::connector::ledger_entry(node, account, self.amount as i64, format!("in:{}", self.condition), memo);
        Ok(Some(storage::Op::Ledger(entry)))
    }
}

/// The context the application gets with a packet.
#[derive(Debug, Clone)]
pub struct PacketContext {
    /// The sending node's pubkey (hex) on BTP-NIPs connections; the token (hex) on SPSP ones.
    pub peer: String,
    /// The link the Prepare arrived on (the account to credit).
    pub from: Source,
    /// The Prepare's amount, asset units.
    pub amount: u64,
    /// Hex of the execution condition: unique per packet, used as ledger reference.
    pub condition: String,
}

pub(super) fn spawn(
    node: Arc<Node>,
    kind: ConnectionKind,
) -> Result<mpsc::Sender<Packet>, protocol::btpnips::BtpNipsError> {
    let secret = match kind {
        ConnectionKind::BtpNips(peer, tag) => shared_secret(&node.key.secret, &peer, &tag)?,
        ConnectionKind::Spsp(token) => crate::spsp::shared_secret(&node, &token),
    };
    let (tx, mut rx) = mpsc::channel::<Packet>(256);
    let ids = StreamIds::new(Side::Server, MAX_REMOTE_STREAM_ID);
    let mut actor = Receiver {
        node,
        kind,
        keys: StreamKeys::derive(&secret),
        streams: HashMap::new(),
        ids,
        advertised: false,
        held: 0,
        closed: Default::default(),
        closed_floor: 0,
    };
    tokio::spawn(async move {
        // Packets whose data lies after a gap, with when they give up (see `PARK_FOR`).
        let mut parked: VecDeque<Parked> = VecDeque::new();
        loop {
            let deadline = parked.front().map(|q| q.until);
            tokio::select! {
                p = rx.recv() => {
                    let Some(p) = p else { break };
                    // Packets that queued while the last commit ran go in together.
                    let mut group = vec![p];
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(p) => group.push(p),
                            Err(_) => break,
                        }
                    }
                    if group.len() > 1 && matches!(actor.kind, ConnectionKind::BtpNips(..)) {
                        actor.offer_group(group, &mut parked).await;
                    } else {
                        for p in group {
                            actor.offer(p, &mut parked).await;
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                    let now = tokio::time::Instant::now();
                    while parked.front().is_some_and(|q| q.until <= now) {
                        let q = parked.pop_front().expect("front exists");
                        let _ = q.packet.reply.send(Err(actor.out_of_order(&q.packet.prepare)));
                    }
                }
            }
        }
    });
    Ok(tx)
}

/// Most BTP-NIPs packets of one connection committed together: those that arrived while the
/// previous commit ran (a sender keeps several in flight), so a burst of deliveries costs one
/// transaction per group instead of one per packet.
pub const MAX_GROUP: usize = 16;

/// How long a BTP-NIPs packet whose stream data starts after a gap waits for the packets
/// before it (a sender keeps several in flight, and they may overtake each other on the way).
/// Its messages can only be applied, and so fulfilled, once the gap is filled: a Fulfill
/// means committed. Past this it is rejected `R00` and the sender sends it again.
pub const PARK_FOR: std::time::Duration = std::time::Duration::from_secs(2);
/// Most packets parked per connection (the sender's window is 8); past it, `R00` at once.
pub const MAX_PARKED: usize = 16;

/// A packet waiting for the stream data before it: where its data starts, decrypted once.
struct Parked {
    until: tokio::time::Instant,
    /// `(stream id, offset, length)` of each StreamData frame.
    starts: Vec<(u64, u64, u64)>,
    packet: Packet,
}

/// Most bytes one connection's streams may hold in memory together (out-of-order data and
/// partial BTP-NIPs messages, [`RecvStream::held`]): a packet that would pass it is refused
/// `F99` (nothing of it is kept) and the sender sends it again once earlier data completed.
/// Without it, a peer could make each of up to a million streams hold its own window.
pub const MAX_CONNECTION_HELD: usize = 4 * 1024 * 1024;

/// Most streams open at once on one connection (state kept, no StreamClose yet). A packet that
/// would open one more is a `StreamIdError` (RFC 29 §5.4): the connection is closed, so the
/// sender starts a new one. Each open stream's state is ~200 bytes plus what it holds (counted
/// in [`MAX_CONNECTION_HELD`]), so the streams of one connection cost at most ~1 MiB besides
/// the held bytes. A BTP-NIPs sender opens a stream per REQ or per delivery restart and a
/// connection is renewed whenever its link comes back, so honest connections stay far below.
pub const MAX_OPEN_STREAMS: usize = 4096;

/// Most closed stream ids remembered one by one per connection; past it the lowest are
/// forgotten and every id up to them counts as closed (senders open ids in increasing order,
/// RFC 29 §3.3).
pub const MAX_CLOSED_REMEMBERED: usize = 4096;

/// Highest stream id a sender may open on one connection (RFC 29 §3.3: ConnectionMaxStreamId).
/// BTP-NIPs opens a stream per REQ on a long-lived connection, so this is generous.
pub const MAX_REMOTE_STREAM_ID: u64 = 2_000_001;

struct Receiver {
    node: Arc<Node>,
    kind: ConnectionKind,
    keys: StreamKeys,
    streams: HashMap<u64, RecvStream>,
    /// The sender is the client: it opens odd ids, up to our advertised maximum.
    ids: StreamIds,
    /// ConnectionMaxStreamId was sent in a reply.
    advertised: bool,
    /// Sum of [`RecvStream::held`] over `streams`, bytes.
    held: usize,
    /// Streams the sender closed: their state is dropped, later data on them refused.
    closed: std::collections::BTreeSet<u64>,
    /// Every id up to this one without state counts as closed (see [`MAX_CLOSED_REMEMBERED`]).
    closed_floor: u64,
}

/// Why `apply_frames` refuses a packet.
enum FrameError {
    /// A STREAM protocol violation: the connection is closed with this code (RFC 29 §5.2).
    Violation(CloseCode, String),
    /// The packet is refused (F99) but the connection goes on: data on a closed stream, or
    /// over the connection's memory bound.
    Refused(String),
}

/// A packet checked, its frames applied to copies of the stream states, waiting for the
/// commit of what its messages mean.
struct Staged {
    seq: u64,
    /// The Prepare's amount, asset units.
    amount: u64,
    fulfillment: [u8; 32],
    /// Held against the peer's credit limit until the packet is answered.
    _reservation: Option<crate::connector::credit::Reservation>,
    ctx: PacketContext,
    deliveries: Vec<StreamDelivery>,
    /// `(stream id, whether money arrived on it)` of each delivery, for the reply frames.
    moneyed: Vec<(u64, bool)>,
    deliveries_closed: Vec<u64>,
    touched: HashMap<u64, RecvStream>,
    /// The sender closed the connection.
    close: bool,
}

/// What [`Receiver::move_in`] replaced: the connection's held bytes before, and each
/// stream's previous state (`None`: it had none).
struct Undo {
    held: usize,
    states: Vec<(u64, Option<RecvStream>)>,
}

impl Receiver {
    /// Handle a packet, or park it while its data waits for earlier bytes; then handle every
    /// parked packet the progress made ready, in offset order.
    async fn offer(&mut self, p: Packet, parked: &mut VecDeque<Parked>) {
        let Some(p) = self.park_if_after_gap(p, parked) else { return };
        let out = self.handle(p.from, p.prepare).await;
        let _ = p.reply.send(out);
        self.handle_ready(parked).await;
    }

    /// Park `p` if its data starts after a gap (or refuse it `R00` when [`MAX_PARKED`] are
    /// parked already); otherwise give it back to be handled now.
    fn park_if_after_gap(&self, p: Packet, parked: &mut VecDeque<Parked>) -> Option<Packet> {
        let starts = self.data_starts(&p.prepare);
        if !self.after_gap(&starts) {
            return Some(p);
        }
        if parked.len() >= MAX_PARKED {
            let _ = p.reply.send(Err(self.out_of_order(&p.prepare)));
        } else {
            parked.push_back(Parked { until: tokio::time::Instant::now() + PARK_FOR, starts, packet: p });
        }
        None
    }

    /// Handle every parked packet whose gap is filled, in the order they become ready.
    async fn handle_ready(&mut self, parked: &mut VecDeque<Parked>) {
        while let Some(i) = parked.iter().position(|q| !self.after_gap(&q.starts)) {
            let q = parked.remove(i).expect("index in range").packet;
            let out = self.handle(q.from, q.prepare).await;
            let _ = q.reply.send(out);
        }
    }

    /// `(stream id, offset, length)` of the StreamData frames of a BTP-NIPs packet; empty for
    /// other connections and for packets that do not decrypt (`handle` refuses those).
    fn data_starts(&self, prepare: &Prepare) -> Vec<(u64, u64, u64)> {
        if !matches!(self.kind, ConnectionKind::BtpNips(..)) {
            return Vec::new();
        }
        let Some(packet) = self.keys.decrypt(&prepare.data).ok().and_then(|p| StreamPacket::decode(&p).ok()) else {
            return Vec::new();
        };
        packet
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::StreamData { stream_id, offset, data } => Some((*stream_id, *offset, data.len() as u64)),
                _ => None,
            })
            .collect()
    }

    /// Whether stream data at `starts` begins after bytes we have not received yet. Data over
    /// the window we advertised is a violation, not a gap: `handle` closes the connection.
    fn after_gap(&self, starts: &[(u64, u64, u64)]) -> bool {
        let fresh = RecvStream::framed();
        starts.iter().any(|&(stream_id, offset, len)| {
            if self.is_closed(stream_id) {
                return false; // `handle` refuses it at once
            }
            let state = self.streams.get(&stream_id).unwrap_or(&fresh);
            offset > state.next_offset() && state.check_window(stream_id, offset, len).is_ok()
        })
    }

    /// The Reject for a packet whose gap did not fill in time (RFC 27 `R00`, with our STREAM
    /// reply so the sender knows it was read).
    fn out_of_order(&self, prepare: &Prepare) -> Reject {
        let seq = self.keys.decrypt(&prepare.data).ok().and_then(|p| StreamPacket::decode(&p).ok()).map(|p| p.sequence);
        let message = "out of order: the stream data before this packet did not arrive in time";
        match seq {
            Some(seq) => self.reply_reject(seq, prepare.amount, ErrorCode::R00_TRANSFER_TIMED_OUT, message),
            None => reject(&self.node, ErrorCode::R00_TRANSFER_TIMED_OUT, message),
        }
    }

    /// One packet alone: check it and apply its frames to copies ([`Receiver::stage`]), let
    /// the application commit what it means, then move the copies in and fulfill.
    async fn handle(&mut self, from: Source, prepare: Prepare) -> Result<Fulfill, Reject> {
        let mut st = self.stage(from, &prepare).await?;
        let node = self.node.clone();
        let deliveries = std::mem::take(&mut st.deliveries);
        let outcome = match self.kind {
            ConnectionKind::BtpNips(..) => crate::btpnips::on_stream_packet(&node, st.ctx.clone(), deliveries).await,
            ConnectionKind::Spsp(_) => crate::spsp::on_stream_packet(&node, st.ctx.clone(), deliveries).await,
        };
        match outcome {
            Ok(()) => {
                let (frames, _undo) = self.move_in(&mut st);
                Ok(self.finish(st, frames))
            }
            Err((code, message)) => Err(self.reply_reject(st.seq, st.amount, code, &message)),
        }
    }

    /// Several BTP-NIPs packets that arrived together, committed as one
    /// ([`crate::btpnips::on_stream_packets`]): each is staged on the stream states the ones
    /// before it left (moved in at once, with what to undo), parked packets whose gap they
    /// fill join, and every Fulfill goes out after the one commit. A packet that fails its
    /// checks gets its Reject at once and is not part of the group. If the group's commit
    /// fails, the states are put back and the packets are handled one at a time, so each
    /// gets its own answer.
    async fn offer_group(&mut self, packets: Vec<Packet>, parked: &mut VecDeque<Parked>) {
        let mut queue: VecDeque<Packet> = packets.into();
        let mut group: Vec<(Packet, Staged, Vec<Frame>)> = Vec::new();
        let mut undo: Vec<Undo> = Vec::new();
        loop {
            let p = match queue.pop_front() {
                Some(p) => p,
                None => match parked.iter().position(|q| !self.after_gap(&q.starts)) {
                    Some(i) => parked.remove(i).expect("index in range").packet,
                    None => break,
                },
            };
            let Some(p) = self.park_if_after_gap(p, parked) else { continue };
            match self.stage(p.from.clone(), &p.prepare).await {
                Err(reject) => {
                    let _ = p.reply.send(Err(reject));
                }
                Ok(mut st) => {
                    // A packet that closes streams or the connection ends the group: what
                    // follows must see those closes, which happen only after the commit.
                    let ends = st.close || !st.deliveries_closed.is_empty();
                    let (frames, u) = self.move_in(&mut st);
                    undo.push(u);
                    group.push((p, st, frames));
                    if ends {
                        break;
                    }
                }
            }
        }
        if group.is_empty() {
            return;
        }
        let node = self.node.clone();
        let packets: Vec<_> =
            group.iter_mut().map(|(_, st, _)| (st.ctx.clone(), std::mem::take(&mut st.deliveries))).collect();
        match crate::btpnips::on_stream_packets(&node, packets).await {
            Ok(()) => {
                for (p, st, frames) in group {
                    let _ = p.reply.send(Ok(self.finish(st, frames)));
                }
            }
            Err((code, message)) => {
                for u in undo.into_iter().rev() {
                    self.undo(u);
                }
                if let [(_, st, _)] = group.as_slice() {
                    let reject = self.reply_reject(st.seq, st.amount, code, &message);
                    let (p, _, _) = group.pop().expect("one packet");
                    let _ = p.reply.send(Err(reject));
                } else {
                    tracing::debug!(packets = group.len(), code = %code, %message, "group refused; handling its packets one at a time");
                    for (p, st, _) in group {
                        drop(st); // its credit reservation
                                  // Parked again if an earlier one is refused and leaves a gap.
                        self.offer(p, parked).await;
                    }
                }
            }
        }
        // Whatever else this unblocked, and what came after a group that ended early.
        for p in queue {
            self.offer(p, parked).await;
        }
        self.handle_ready(parked).await;
    }

    /// Check a packet (decryption, type, condition, amount, the credit reservation) and apply
    /// its frames to copies of the stream states. `Err` is the Reject to answer with; nothing
    /// changed (a protocol violation also closes the connection, RFC 29 §5.2).
    async fn stage(&mut self, from: Source, prepare: &Prepare) -> Result<Staged, Reject> {
        let node = self.node.clone();
        let Ok(plain) = self.keys.decrypt(&prepare.data) else {
            return Err(reject(&node, ErrorCode::F06_UNEXPECTED_PAYMENT, "could not decrypt STREAM data"));
        };
        let Ok(packet) = StreamPacket::decode(&plain) else {
            return Err(reject(&node, ErrorCode::F06_UNEXPECTED_PAYMENT, "malformed STREAM packet"));
        };
        if packet.ilp_packet_type != IlpPacketType::Prepare {
            return Err(reject(
                &node,
                ErrorCode::F06_UNEXPECTED_PAYMENT,
                "STREAM packet type does not match ILP Prepare",
            ));
        }
        let seq = packet.sequence;
        let fulfillment = self.keys.fulfillment(&prepare.data);
        if condition_of(&fulfillment) != prepare.execution_condition {
            return Err(self.reply_reject(
                seq,
                prepare.amount,
                ErrorCode::F99_APPLICATION_ERROR,
                "unfulfillable packet",
            ));
        }
        if prepare.amount < packet.prepare_amount {
            return Err(self.reply_reject(
                seq,
                prepare.amount,
                ErrorCode::F99_APPLICATION_ERROR,
                "amount below the sender's minimum",
            ));
        }
        let reservation = match &from {
            Source::Peer(account) => crate::connector::credit::reserve(&node, account, prepare.amount)
                .await
                .map_err(|r| self.reply_reject(seq, prepare.amount, r.code, &r.message))?,
            Source::Local => None,
        };
        let (deliveries, touched, close) = match self.apply_frames(&packet, prepare.amount) {
            Ok(x) => x,
            Err(FrameError::Refused(why)) => {
                return Err(self.reply_reject(seq, prepare.amount, ErrorCode::F99_APPLICATION_ERROR, &why));
            }
            Err(FrameError::Violation(code, why)) => {
                // A protocol violation ends the connection: say so in the reply (RFC 29 §5.2).
                let frames = vec![Frame::ConnectionClose { code, message: why.clone() }];
                node.stream.close_incoming(self.kind);
                return Err(self.reply_reject_with(
                    seq,
                    prepare.amount,
                    ErrorCode::F99_APPLICATION_ERROR,
                    &why,
                    frames,
                ));
            }
        };
        let peer = match self.kind {
            ConnectionKind::BtpNips(pk, _) => hex::encode(pk),
            ConnectionKind::Spsp(token) => hex::encode(token),
        };
        let ctx =
            PacketContext { peer, from, amount: prepare.amount, condition: hex::encode(prepare.execution_condition) };
        Ok(Staged {
            seq,
            amount: prepare.amount,
            fulfillment,
            _reservation: reservation,
            ctx,
            moneyed: deliveries.iter().map(|d| (d.stream_id, d.money > 0)).collect(),
            deliveries_closed: deliveries.iter().filter(|d| d.closed).map(|d| d.stream_id).collect(),
            deliveries,
            touched,
            close,
        })
    }

    /// Move a staged packet's stream states in: the reply frames they give (our windows,
    /// money received), and what [`Receiver::undo`] needs to put the old states back.
    fn move_in(&mut self, st: &mut Staged) -> (Vec<Frame>, Undo) {
        let mut frames = Vec::new();
        for &(stream_id, got_money) in &st.moneyed {
            if let Some(state) = st.touched.get_mut(&stream_id) {
                frames.extend(state.reply_frames(stream_id, got_money));
            }
        }
        let held = self.held;
        let mut states = Vec::with_capacity(st.touched.len());
        for (id, state) in st.touched.drain() {
            self.held = self.held + state.held() - self.streams.get(&id).map_or(0, RecvStream::held);
            states.push((id, self.streams.insert(id, state)));
        }
        (frames, Undo { held, states })
    }

    /// Put back the stream states a [`Receiver::move_in`] replaced (newest first).
    fn undo(&mut self, u: Undo) {
        for (id, old) in u.states {
            match old {
                Some(state) => self.streams.insert(id, state),
                None => self.streams.remove(&id),
            };
        }
        self.held = u.held;
    }

    /// After the commit: the closes the packet asked for, and its Fulfill with our reply.
    fn finish(&mut self, st: Staged, mut frames: Vec<Frame>) -> Fulfill {
        if !self.advertised {
            frames.insert(0, self.ids.advertise());
            self.advertised = true;
        }
        for d in st.deliveries_closed {
            self.on_stream_closed(d);
        }
        if st.close {
            self.node.stream.close_incoming(self.kind);
        }
        let reply = StreamPacket {
            sequence: st.seq,
            ilp_packet_type: IlpPacketType::Fulfill,
            prepare_amount: st.amount,
            frames,
        };
        Fulfill { fulfillment: st.fulfillment, data: self.keys.encrypt(rand::random(), &reply.encode()) }
    }

    /// The sender closed `id` (its StreamClose was accepted): drop the state, remember the id.
    fn on_stream_closed(&mut self, id: u64) {
        if let Some(state) = self.streams.remove(&id) {
            self.held -= state.held();
        }
        self.closed.insert(id);
        while self.closed.len() > MAX_CLOSED_REMEMBERED {
            let lowest = self.closed.pop_first().expect("non-empty");
            self.closed_floor = self.closed_floor.max(lowest);
        }
    }

    /// Whether the sender closed `id` earlier.
    fn is_closed(&self, id: u64) -> bool {
        !self.streams.contains_key(&id) && (self.closed.contains(&id) || id <= self.closed_floor)
    }

    /// Apply frames to copies of the stream states. Returns the per-stream deliveries, the
    /// updated states (kept only if the packet is accepted) and whether the sender closed the
    /// connection. Errors: protocol violations (wrong stream id parity or over our limit,
    /// data over the advertised window, malformed framing), with the close code to send.
    #[allow(clippy::type_complexity)]
    fn apply_frames(
        &self,
        packet: &StreamPacket,
        amount: u64,
    ) -> Result<(Vec<StreamDelivery>, HashMap<u64, RecvStream>, bool), FrameError> {
        let mut deliveries: Vec<StreamDelivery> = Vec::new();
        let mut touched: HashMap<u64, RecvStream> = HashMap::new();
        let mut close = false;
        let framed = matches!(self.kind, ConnectionKind::BtpNips(..));
        let entry = |deliveries: &mut Vec<StreamDelivery>, id: u64| -> usize {
            match deliveries.iter().position(|d| d.stream_id == id) {
                Some(i) => i,
                None => {
                    deliveries.push(StreamDelivery { stream_id: id, ..Default::default() });
                    deliveries.len() - 1
                }
            }
        };
        let state_of = |touched: &mut HashMap<u64, RecvStream>, id: u64| -> RecvStream {
            touched.remove(&id).or_else(|| self.streams.get(&id).cloned()).unwrap_or_else(|| {
                if framed {
                    RecvStream::framed()
                } else {
                    RecvStream::raw()
                }
            })
        };
        let check_id = |id: u64| {
            self.ids.check_remote(id).map_err(|e| FrameError::Violation(e.close_code(), e.to_string()))?;
            if self.is_closed(id) {
                return Err(FrameError::Refused(format!("stream {id} is closed")));
            }
            Ok(())
        };
        let mut shares: Vec<(u64, u64)> = Vec::new();
        for frame in &packet.frames {
            match frame {
                Frame::StreamMoney { stream_id, shares: s } => {
                    check_id(*stream_id)?;
                    shares.push((*stream_id, *s));
                }
                Frame::StreamData { stream_id, offset, data } => {
                    check_id(*stream_id)?;
                    let mut state = state_of(&mut touched, *stream_id);
                    state
                        .check_window(*stream_id, *offset, data.len() as u64)
                        .map_err(|e| FrameError::Violation(e.close_code(), e.to_string()))?;
                    let got = state.push(*offset, data).map_err(|e| {
                        FrameError::Violation(CloseCode::FrameFormatError, format!("stream {stream_id}: {e}"))
                    })?;
                    touched.insert(*stream_id, state);
                    let i = entry(&mut deliveries, *stream_id);
                    deliveries[i].messages.extend(got.messages);
                    deliveries[i].bytes.extend(got.bytes);
                }
                Frame::StreamClose { stream_id, .. } => {
                    let i = entry(&mut deliveries, *stream_id);
                    deliveries[i].closed = true;
                }
                Frame::StreamDataBlocked { stream_id, .. } => {
                    // Answered with our window in the reply.
                    check_id(*stream_id)?;
                    let state = state_of(&mut touched, *stream_id);
                    touched.insert(*stream_id, state);
                    entry(&mut deliveries, *stream_id);
                }
                Frame::ConnectionClose { .. } => close = true,
                _ => {}
            }
        }
        let total: u128 = shares.iter().map(|(_, s)| *s as u128).sum();
        if amount > 0 && total == 0 {
            return Err(FrameError::Violation(
                CloseCode::ProtocolViolation,
                "money sent without a StreamMoney frame".into(),
            ));
        }
        let mut given = 0u64;
        for (id, s) in &shares {
            let part = ((amount as u128 * *s as u128) / total.max(1)) as u64;
            given += part;
            let i = entry(&mut deliveries, *id);
            deliveries[i].money += part;
        }
        if let Some((first, _)) = shares.iter().filter(|(_, s)| *s > 0).min_by_key(|(id, _)| *id) {
            let i = entry(&mut deliveries, *first);
            deliveries[i].money += amount - given;
        }
        for d in deliveries.iter().filter(|d| d.money > 0) {
            let mut state = state_of(&mut touched, d.stream_id);
            state.add_money(d.money);
            touched.insert(d.stream_id, state);
        }
        let opened = touched.keys().filter(|id| !self.streams.contains_key(id)).count();
        if self.streams.len() + opened > MAX_OPEN_STREAMS {
            return Err(FrameError::Violation(
                CloseCode::StreamIdError,
                format!("more than {MAX_OPEN_STREAMS} streams open on one connection; close streams or open a new connection"),
            ));
        }
        let before: usize = touched.keys().filter_map(|id| self.streams.get(id)).map(RecvStream::held).sum();
        let after: usize = touched.values().map(RecvStream::held).sum();
        if (self.held + after).saturating_sub(before) > MAX_CONNECTION_HELD {
            return Err(FrameError::Refused(format!(
                "the connection holds {} bytes of incomplete stream data; at most {MAX_CONNECTION_HELD}",
                self.held
            )));
        }
        Ok((deliveries, touched, close))
    }

    /// A Reject carrying an encrypted STREAM reply (RFC 29 §4.4: the receiver tells the
    /// sender what arrived, even when it refuses).
    fn reply_reject(&self, sequence: u64, amount: u64, code: ErrorCode, message: &str) -> Reject {
        self.reply_reject_with(sequence, amount, code, message, vec![])
    }

    fn reply_reject_with(
        &self,
        sequence: u64,
        amount: u64,
        code: ErrorCode,
        message: &str,
        frames: Vec<Frame>,
    ) -> Reject {
        let reply = StreamPacket { sequence, ilp_packet_type: IlpPacketType::Reject, prepare_amount: amount, frames };
        let mut r = reject(&self.node, code, message);
        r.data = self.keys.encrypt(rand::random(), &reply.encode());
        r
    }
}
