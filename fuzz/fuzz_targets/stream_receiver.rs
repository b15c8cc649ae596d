//! The STREAM receiver path as the node runs it (node/src/stream/receiver.rs), sans-IO: one
//! incoming connection's `StreamIds` (RFC 29 §3.3, §4.4.1), per-stream
//! `protocol::stream::RecvStream` (StreamData reassembly §5.3.11, window §4.4.4, BTP-NIPs
//! framing docs/btp-nips.md §3) and the money split of StreamMoney shares (§5.3.10).
//!
//! Input: byte 0 chooses the connection (bit 0: a BTP-NIPs connection with framed streams and
//! parking of packets after a gap, else a raw SPSP one; bit 1: packets are AES-GCM envelopes
//! under the `stream_decrypt` key, decrypted as the node does, else STREAM plaintexts). Then
//! packets, each `len: u16 BE | flags: u8 | amount: u64 BE | len bytes`; flags bit 0: the
//! application refuses the packet after its frames applied (`btpnips::on_stream_packet`
//! failing), bit 1: the parking timeout passes before this packet (parked packets end R00).
//! Per packet the target does what `Receiver::offer` / `handle` / `apply_frames` do: decrypt,
//! decode, type Prepare, amount ≥ the sender's minimum, apply the frames to clones, keep the
//! clones only if the packet is accepted; a violation or a ConnectionClose drops the
//! connection (the next packet meets a new one). The per-packet logic is a mirror of
//! `apply_frames` (node code); `RecvStream`, `StreamIds` and the codecs are the real ones.
//!
//! Properties besides "never panics", checked against a model built from accepted packets
//! only (per stream: the byte sent at each offset, bytes and messages delivered, money):
//! - delivered bytes are the in-order prefix of what was sent: `next_offset` equals the bytes
//!   delivered, each delivered byte is the one accepted at its offset (unless a sender sent
//!   two different bytes at one offset), and no accepted byte right after the prefix is left
//!   undelivered (nothing accepted is ever lost);
//! - bytes held out of order never exceed `MAX_BUFFERED`, and are 0 once nothing accepted lies
//!   past the prefix;
//! - no accepted StreamData ends past the window advertised for its stream (`STREAM_WINDOW`
//!   until a StreamMaxData said more), and an advertised window never shrinks (§4.4.4);
//! - a rejected packet (undecryptable, malformed, wrong type, amount too low, refused, parked
//!   until R00) changes no connection state (compared via `Debug`);
//! - an accepted packet's money is conserved (the stream shares sum to its amount), per-stream
//!   totals never decrease and equal the saturated sum (`MoneyWindow` as the model), and the
//!   StreamMaxMoney in the reply says that total;
//! - the reply encodes and decodes to itself, and `remote_limits` reads back what it says;
//! - on framed streams the messages delivered are what `MessageDecoder` makes of the delivered
//!   bytes fed at once.
#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol::btpnips::framing::MessageDecoder;
use protocol::stream::reassembly::{MAX_BUFFERED, STREAM_WINDOW};
use protocol::stream::{
    remote_limits, CloseCode, Frame, IlpPacketType, MoneyWindow, RecvStream, Side, StreamIds, StreamKeys, StreamPacket,
};

/// node/src/stream/receiver.rs `MAX_REMOTE_STREAM_ID`.
const MAX_REMOTE_STREAM_ID: u64 = 2_000_001;
/// node/src/stream/receiver.rs `MAX_PARKED`.
const MAX_PARKED: usize = 16;

fn keys() -> &'static StreamKeys {
    static KEYS: OnceLock<StreamKeys> = OnceLock::new();
    KEYS.get_or_init(|| StreamKeys::derive(&[7u8; 32]))
}

/// node `StreamDelivery`.
#[derive(Debug, Default, Clone)]
struct Delivery {
    stream_id: u64,
    money: u64,
    messages: Vec<String>,
    bytes: Vec<u8>,
}

/// The receiver's state of one connection (node `Receiver` without its I/O).
#[derive(Debug, Clone)]
struct Connection {
    framed: bool,
    streams: HashMap<u64, RecvStream>,
    ids: StreamIds,
    advertised: bool,
}

impl Connection {
    fn new(framed: bool) -> Self {
        Connection {
            framed,
            streams: HashMap::new(),
            ids: StreamIds::new(Side::Server, MAX_REMOTE_STREAM_ID),
            advertised: false,
        }
    }

    fn snapshot(&self) -> String {
        let sorted: BTreeMap<_, _> = self.streams.iter().collect();
        format!("{sorted:?} {:?} {}", self.ids, self.advertised)
    }

    fn fresh(&self) -> RecvStream {
        if self.framed {
            RecvStream::framed()
        } else {
            RecvStream::raw()
        }
    }

    /// node `Receiver::data_starts`.
    fn data_starts(&self, packet: Option<&StreamPacket>) -> Vec<(u64, u64, u64)> {
        let (true, Some(packet)) = (self.framed, packet) else { return Vec::new() };
        packet
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::StreamData { stream_id, offset, data } => Some((*stream_id, *offset, data.len() as u64)),
                _ => None,
            })
            .collect()
    }

    /// node `Receiver::after_gap`.
    fn after_gap(&self, starts: &[(u64, u64, u64)]) -> bool {
        let fresh = RecvStream::framed();
        starts.iter().any(|&(stream_id, offset, len)| {
            let state = self.streams.get(&stream_id).unwrap_or(&fresh);
            offset > state.next_offset() && state.check_window(stream_id, offset, len).is_ok()
        })
    }

    /// node `Receiver::apply_frames`.
    #[allow(clippy::type_complexity)]
    fn apply_frames(
        &self,
        packet: &StreamPacket,
        amount: u64,
    ) -> Result<(Vec<Delivery>, HashMap<u64, RecvStream>, bool), (CloseCode, String)> {
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut touched: HashMap<u64, RecvStream> = HashMap::new();
        let mut close = false;
        let entry = |deliveries: &mut Vec<Delivery>, id: u64| -> usize {
            match deliveries.iter().position(|d| d.stream_id == id) {
                Some(i) => i,
                None => {
                    deliveries.push(Delivery { stream_id: id, ..Default::default() });
                    deliveries.len() - 1
                }
            }
        };
        let state_of = |touched: &mut HashMap<u64, RecvStream>, id: u64| -> RecvStream {
            touched.remove(&id).or_else(|| self.streams.get(&id).cloned()).unwrap_or_else(|| self.fresh())
        };
        let check_id = |id: u64| self.ids.check_remote(id).map_err(|e| (e.close_code(), e.to_string()));
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
                        .map_err(|e| (e.close_code(), e.to_string()))?;
                    let got = state
                        .push(*offset, data)
                        .map_err(|e| (CloseCode::FrameFormatError, format!("stream {stream_id}: {e}")))?;
                    touched.insert(*stream_id, state);
                    let i = entry(&mut deliveries, *stream_id);
                    deliveries[i].messages.extend(got.messages);
                    deliveries[i].bytes.extend(got.bytes);
                }
                Frame::StreamClose { stream_id, .. } => {
                    entry(&mut deliveries, *stream_id);
                }
                Frame::StreamDataBlocked { stream_id, .. } => {
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
            return Err((CloseCode::ProtocolViolation, "money sent without a StreamMoney frame".into()));
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
        Ok((deliveries, touched, close))
    }
}

/// What the model knows of one stream, from accepted packets only.
struct StreamModel {
    /// The first byte accepted at each offset.
    sent: BTreeMap<u64, u8>,
    /// Offsets at which the sender sent two different bytes.
    conflicted: BTreeSet<u64>,
    delivered: Vec<u8>,
    messages: Vec<String>,
    /// The largest max offset in force (bytes): `STREAM_WINDOW`, or a larger StreamMaxData.
    advertised: u64,
    money: MoneyWindow,
    money_sum: u128,
}

impl Default for StreamModel {
    fn default() -> Self {
        StreamModel {
            sent: BTreeMap::new(),
            conflicted: BTreeSet::new(),
            delivered: Vec::new(),
            messages: Vec::new(),
            advertised: STREAM_WINDOW,
            money: MoneyWindow::new(u64::MAX),
            money_sum: 0,
        }
    }
}

struct Harness {
    envelopes: bool,
    conn: Connection,
    model: HashMap<u64, StreamModel>,
    /// `(data starts, body, amount, refuse)` of parked packets.
    parked: VecDeque<(Vec<(u64, u64, u64)>, Vec<u8>, u64, bool)>,
}

enum Outcome {
    Rejected,
    Accepted,
    /// A violation or a ConnectionClose: the node drops the connection.
    Dropped,
}

impl Harness {
    fn decode(&self, body: &[u8]) -> Option<StreamPacket> {
        if self.envelopes {
            keys().decrypt_packet(body).ok()
        } else {
            StreamPacket::decode(body).ok()
        }
    }

    /// node `Receiver::offer`.
    fn offer(&mut self, body: Vec<u8>, amount: u64, refuse: bool) {
        let starts = self.conn.data_starts(self.decode(&body).as_ref());
        if self.conn.after_gap(&starts) {
            if self.parked.len() < MAX_PARKED {
                self.parked.push_back((starts, body, amount, refuse));
            }
            return;
        }
        self.handle(&body, amount, refuse);
        while let Some(i) = self.parked.iter().position(|q| !self.conn.after_gap(&q.0)) {
            let (_, body, amount, refuse) = self.parked.remove(i).expect("index in range");
            self.handle(&body, amount, refuse);
        }
    }

    fn drop_connection(&mut self) {
        self.conn = Connection::new(self.conn.framed);
        self.model.clear();
        self.parked.clear();
    }

    /// node `Receiver::handle`, with the checks of the model.
    fn handle(&mut self, body: &[u8], amount: u64, refuse: bool) {
        let before = self.conn.snapshot();
        let outcome = self.try_handle(body, amount, refuse);
        match outcome {
            Outcome::Rejected => assert_eq!(self.conn.snapshot(), before, "a rejected packet changed the state"),
            Outcome::Dropped => self.drop_connection(),
            Outcome::Accepted => {}
        }
    }

    fn try_handle(&mut self, body: &[u8], amount: u64, refuse: bool) -> Outcome {
        let Some(packet) = self.decode(body) else { return Outcome::Rejected };
        if packet.ilp_packet_type != IlpPacketType::Prepare || amount < packet.prepare_amount {
            return Outcome::Rejected;
        }
        let (deliveries, mut touched, close) = match self.conn.apply_frames(&packet, amount) {
            Ok(x) => x,
            Err((_code, why)) => {
                let _ = why;
                return Outcome::Dropped;
            }
        };
        if refuse {
            return Outcome::Rejected;
        }

        // Accepted: what `handle` does after `on_stream_packet` returned Ok.
        let mut frames = Vec::new();
        let first_reply = !self.conn.advertised;
        if first_reply {
            frames.push(self.conn.ids.advertise());
            self.conn.advertised = true;
        }
        for d in &deliveries {
            if let Some(state) = touched.get_mut(&d.stream_id) {
                frames.extend(state.reply_frames(d.stream_id, d.money > 0));
            }
        }
        self.conn.streams.extend(touched);
        let reply = StreamPacket {
            sequence: packet.sequence,
            ilp_packet_type: IlpPacketType::Fulfill,
            prepare_amount: amount,
            frames,
        };

        self.check_accepted(&packet, amount, &deliveries, &reply, first_reply);
        if close {
            return Outcome::Dropped;
        }
        Outcome::Accepted
    }

    fn check_accepted(
        &mut self,
        packet: &StreamPacket,
        amount: u64,
        deliveries: &[Delivery],
        reply: &StreamPacket,
        first_reply: bool,
    ) {
        // The data accepted, against the window in force before this packet.
        for frame in &packet.frames {
            if let Frame::StreamData { stream_id, offset, data } = frame {
                let m = self.model.entry(*stream_id).or_default();
                let end = offset + data.len() as u64;
                assert!(
                    end <= m.advertised,
                    "stream {stream_id}: data to {end} accepted over the window {}",
                    m.advertised
                );
                for (i, &b) in data.iter().enumerate() {
                    let at = offset + i as u64;
                    match m.sent.get(&at) {
                        None => {
                            m.sent.insert(at, b);
                        }
                        Some(&old) if old != b => {
                            m.conflicted.insert(at);
                        }
                        Some(_) => {}
                    }
                }
            }
        }

        // Money is conserved and counted.
        let split: u128 = deliveries.iter().map(|d| d.money as u128).sum();
        assert_eq!(split, amount as u128, "the stream shares do not add up to the amount");

        for d in deliveries {
            let m = self.model.entry(d.stream_id).or_default();
            let from = m.delivered.len() as u64;
            for (i, &b) in d.bytes.iter().enumerate() {
                let at = from + i as u64;
                let sent = m.sent.get(&at).copied();
                assert!(sent.is_some(), "stream {}: byte {at} delivered but never accepted", d.stream_id);
                assert!(
                    sent == Some(b) || m.conflicted.contains(&at),
                    "stream {}: byte {at} delivered as {b:#04x}, accepted as {sent:?}",
                    d.stream_id
                );
            }
            m.delivered.extend_from_slice(&d.bytes);
            m.messages.extend(d.messages.iter().cloned());
            if d.money > 0 {
                m.money.on_received(d.money);
                m.money_sum += d.money as u128;
            }
        }

        for (id, state) in &self.conn.streams {
            let m = self.model.entry(*id).or_default();
            let next = state.next_offset();
            assert_eq!(next, m.delivered.len() as u64, "stream {id}: next offset is not the bytes delivered");
            assert!(
                !m.sent.contains_key(&next),
                "stream {id}: accepted byte {next} after the delivered prefix is lost"
            );
            assert!(state.buffered() <= MAX_BUFFERED, "stream {id}: {} bytes buffered", state.buffered());
            if m.sent.range(next..).next().is_none() {
                assert_eq!(state.buffered(), 0, "stream {id}: nothing is out of order, yet bytes count as buffered");
            }
        }

        // The reply, as the sender reads it.
        let encoded = reply.encode();
        assert_eq!(StreamPacket::decode(&encoded).as_ref(), Ok(reply), "the reply does not decode to itself");
        let limits = remote_limits(&reply.frames);
        assert_eq!(limits.max_stream_id, first_reply.then_some(MAX_REMOTE_STREAM_ID));
        for &(id, max) in &limits.stream_max_data {
            let m = self.model.entry(id).or_default();
            assert!(max >= m.advertised, "stream {id}: window shrank from {} to {max}", m.advertised);
            m.advertised = max;
        }
        for &(id, receive_max, total) in &limits.stream_max_money {
            let m = self.model.entry(id).or_default();
            assert_eq!(receive_max, u64::MAX);
            assert_eq!(total, m.money.total_received(), "stream {id}: StreamMaxMoney total");
            assert_eq!(total as u128, m.money_sum.min(u64::MAX as u128), "stream {id}: money total");
        }
    }

    /// At the end: the messages of each framed stream are its delivered bytes, decoded at once.
    fn check_messages(&self) {
        if !self.conn.framed {
            return;
        }
        for (id, m) in &self.model {
            let whole = MessageDecoder::new().push(&m.delivered).expect("delivered bytes were framed");
            assert_eq!(whole, m.messages, "stream {id}: messages differ from the delivered bytes decoded at once");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let mut h = Harness {
        envelopes: mode & 2 != 0,
        conn: Connection::new(mode & 1 != 0),
        model: HashMap::new(),
        parked: VecDeque::new(),
    };
    while rest.len() >= 11 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let flags = rest[2];
        let amount = u64::from_be_bytes(rest[3..11].try_into().expect("8 bytes"));
        rest = &rest[11..];
        let body = &rest[..len.min(rest.len())];
        rest = &rest[body.len()..];
        if flags & 2 != 0 {
            h.parked.clear(); // PARK_FOR passed: each is rejected R00, nothing applied
        }
        h.offer(body.to_vec(), amount, flags & 1 != 0);
    }
    h.check_messages();
});
