//! STREAM flow control, sans-IO (RFC 29 §3.3, §4.4.1, §4.4.4, §4.5).
//!
//! Pure bookkeeping: nothing here reads a clock, does I/O or draws randomness, and no method
//! panics (all arithmetic is checked or saturating). The connection code feeds in what it
//! saw or did and sends the frames these types hand back.
//!
//! - [`StreamIds`]: who may open which stream ids (RFC 29 §3.3, §4.4.1, §5.3.5, §5.3.6).
//! - [`RecvWindow`]: how many bytes we accept on a stream or the connection and when to
//!   advertise more (`StreamMaxData` §5.3.12 / `ConnectionMaxData` §5.3.3).
//! - [`SendWindow`]: how many bytes the remote lets us send (§4.4.4, §4.5).
//! - [`MoneyWindow`]: how much money we accept on a stream (`StreamMaxMoney` §5.3.9).
//! - [`remote_limits`]: the limits and closes a peer sent in one STREAM packet.
//! - [`FlowError`]: a violation, with the close code to send (§5.4).
//!
//! Units: stream data limits and offsets are **bytes**; money limits are **asset units of
//! the endpoint that sends the `StreamMaxMoney` frame** (the receiver of the money).
//!
//! Limits only ever grow: an endpoint MUST NOT renege on an advertisement, and a sender MUST
//! ignore a smaller limit that arrives out of order (RFC 29 §4.4.4).

use thiserror::Error;

use super::{CloseCode, Frame};

/// Which side of a connection we are (RFC 29 §3.3: client opens odd stream ids, server even).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that initiated the connection; opens streams 1, 3, 5, …
    Client,
    /// The endpoint that accepted the connection; opens streams 2, 4, 6, …
    Server,
}

impl Side {
    /// The other side of the connection.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// The first stream id this side opens (RFC 29 §3.3): 1 for the client, 2 for the server.
    pub fn first_stream_id(self) -> u64 {
        match self {
            Side::Client => 1,
            Side::Server => 2,
        }
    }

    /// Whether `id` has this side's parity, i.e. this side would open it (RFC 29 §3.3).
    /// Stream id 0 belongs to nobody.
    pub fn opens(self, id: u64) -> bool {
        id != 0
            && match self {
                Side::Client => id & 1 == 1,
                Side::Server => id & 1 == 0,
            }
    }
}

/// A flow-control violation, mapped to the STREAM close code to send (RFC 29 §5.4).
///
/// Ids are stream ids, `end`/`max` of data errors are byte offsets, `total`/`max` of money
/// errors are asset units of the receiving endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum FlowError {
    /// The stream id has the wrong parity for the side that used it (or is 0) and was not
    /// opened by us (RFC 29 §4.4.1). Close code: `ProtocolViolation`.
    #[error("invalid stream id {id}: wrong parity for the side that opened it")]
    StreamId {
        /// The offending stream id.
        id: u64,
    },
    /// The stream id is above the allowed maximum stream id (RFC 29 §3.3, §5.3.5).
    /// Close code: `StreamIdError`.
    #[error("stream id {id} exceeds the maximum stream id {max}")]
    TooManyStreams {
        /// The stream id that was (to be) opened.
        id: u64,
        /// The maximum stream id in force.
        max: u64,
    },
    /// Stream data would end past the advertised `StreamMaxData` (RFC 29 §4.4.4).
    /// Close code: `FlowControlError`.
    #[error("stream {stream_id} data ends at byte {end}, over the advertised max offset {max}")]
    DataOverLimit {
        /// The stream.
        stream_id: u64,
        /// End offset of the data (offset + length, bytes).
        end: u64,
        /// The advertised maximum offset (bytes).
        max: u64,
    },
    /// Connection data would end past the advertised `ConnectionMaxData` (RFC 29 §4.5).
    /// Close code: `FlowControlError`.
    #[error("connection data ends at byte {end}, over the advertised max offset {max}")]
    ConnectionDataOverLimit {
        /// Total bytes on the connection including the new data.
        end: u64,
        /// The advertised maximum (bytes).
        max: u64,
    },
    /// Money would push a stream's total over its `StreamMaxMoney` receive max (RFC 29
    /// §4.4.4, §5.3.9). Close code: `FlowControlError`. (The JS reference instead rejects
    /// such a Prepare with F99 and keeps the connection; the caller chooses.)
    #[error("stream {stream_id} would receive {total} in total, over its receive max {max}")]
    MoneyOverLimit {
        /// The stream.
        stream_id: u64,
        /// Total received including the new amount (asset units; `u64::MAX` if it overflows).
        total: u64,
        /// The receive max (asset units).
        max: u64,
    },
    /// A frame for a stream that is already closed (RFC 29 §4.4.5, §5.4).
    /// Close code: `StreamStateError`.
    #[error("stream {stream_id} is already closed")]
    StreamClosed {
        /// The stream.
        stream_id: u64,
    },
}

impl FlowError {
    /// The close code to send in a `ConnectionClose` (or `StreamClose`) frame (RFC 29 §5.4):
    ///
    /// - [`FlowError::StreamId`] → `ProtocolViolation`: RFC 29 §4.4.1 says a stream id of the
    ///   wrong parity MUST close the connection with a protocol violation (the JS reference
    ///   does the same).
    /// - [`FlowError::TooManyStreams`] → `StreamIdError` ("opened more streams than allowed").
    /// - data and money limits → `FlowControlError` (§4.4.4, §4.5).
    /// - [`FlowError::StreamClosed`] → `StreamStateError`.
    pub fn close_code(&self) -> CloseCode {
        match self {
            FlowError::StreamId { .. } => CloseCode::ProtocolViolation,
            FlowError::TooManyStreams { .. } => CloseCode::StreamIdError,
            FlowError::DataOverLimit { .. }
            | FlowError::ConnectionDataOverLimit { .. }
            | FlowError::MoneyOverLimit { .. } => CloseCode::FlowControlError,
            FlowError::StreamClosed { .. } => CloseCode::StreamStateError,
        }
    }

    /// A `ConnectionClose` frame carrying [`FlowError::close_code`] and this error's message.
    pub fn connection_close(&self) -> Frame {
        Frame::ConnectionClose { code: self.close_code(), message: self.to_string() }
    }
}

/// Stream-id bookkeeping for one connection (RFC 29 §3.3, §4.4.1, §5.3.5).
///
/// Tracks the next id we open, the maximum id we let the remote open (which we advertise
/// with `ConnectionMaxStreamId`) and the maximum id the remote lets us open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamIds {
    side: Side,
    /// Next stream id of our parity; `None` once ids ran past `u64::MAX`.
    next_local: Option<u64>,
    /// Largest stream id we allow the remote to open (what we advertise).
    max_remote_id: u64,
    /// Largest stream id the remote allows us to open.
    remote_allows: u64,
}

impl StreamIds {
    /// The default maximum stream id (RFC 29 §3.3 SHOULD; JS `maxRemoteStreams` 10): up to 10
    /// concurrent streams per side.
    pub const DEFAULT_MAX_STREAM_ID: u64 = 20;

    /// Bookkeeping for `side`, allowing the remote stream ids up to `max_remote_id`
    /// (use [`StreamIds::DEFAULT_MAX_STREAM_ID`], 20, as JS does). Until the remote sends a
    /// `ConnectionMaxStreamId`, we assume it allows us ids up to 20 as well.
    pub fn new(side: Side, max_remote_id: u64) -> Self {
        StreamIds {
            side,
            next_local: Some(side.first_stream_id()),
            max_remote_id,
            remote_allows: Self::DEFAULT_MAX_STREAM_ID,
        }
    }

    /// Our side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The largest stream id we allow the remote to open (the value [`StreamIds::advertise`]
    /// sends).
    pub fn max_remote_id(&self) -> u64 {
        self.max_remote_id
    }

    /// The largest stream id the remote allows us to open (default 20 until told).
    pub fn remote_allows(&self) -> u64 {
        self.remote_allows
    }

    /// The id the next [`StreamIds::open_local`] would return, if ids are not exhausted.
    pub fn next_local_id(&self) -> Option<u64> {
        self.next_local
    }

    /// Opens the next stream id of our parity (client 1, 3, 5…; server 2, 4, 6…; RFC 29
    /// §3.3), if it is within the remote's `ConnectionMaxStreamId` limit.
    ///
    /// On [`FlowError::TooManyStreams`] nothing is consumed; the caller may send
    /// [`StreamIds::blocked_frame`] and retry after [`StreamIds::on_remote_max_stream_id`].
    pub fn open_local(&mut self) -> Result<u64, FlowError> {
        let Some(id) = self.next_local else {
            return Err(FlowError::TooManyStreams { id: u64::MAX, max: self.remote_allows });
        };
        if id > self.remote_allows {
            return Err(FlowError::TooManyStreams { id, max: self.remote_allows });
        }
        self.next_local = id.checked_add(2);
        Ok(id)
    }

    /// A `ConnectionMaxStreamId` from the peer (RFC 29 §5.3.5). The limit only grows; a
    /// smaller value (e.g. an out-of-order frame) is ignored (§4.4.4).
    pub fn on_remote_max_stream_id(&mut self, max: u64) {
        self.remote_allows = self.remote_allows.max(max);
    }

    /// Checks a stream id the remote used in a frame (RFC 29 §4.4.1, §3.3).
    ///
    /// - An id of our parity is fine only if we already opened it; otherwise (and for id 0)
    ///   it is [`FlowError::StreamId`].
    /// - An id of the remote's parity must not exceed the limit we advertise, else
    ///   [`FlowError::TooManyStreams`].
    ///
    /// Whether the stream is closed is the caller's business ([`FlowError::StreamClosed`]).
    pub fn check_remote(&self, id: u64) -> Result<(), FlowError> {
        if self.side.opens(id) {
            let opened = match self.next_local {
                Some(next) => id < next,
                None => true,
            };
            return if opened { Ok(()) } else { Err(FlowError::StreamId { id }) };
        }
        if !self.side.peer().opens(id) {
            return Err(FlowError::StreamId { id });
        }
        if id > self.max_remote_id {
            return Err(FlowError::TooManyStreams { id, max: self.max_remote_id });
        }
        Ok(())
    }

    /// Raises the limit we advertise to the remote to `max` (it never shrinks, RFC 29
    /// §4.4.4). Returns the `ConnectionMaxStreamId` frame to send if it grew.
    pub fn raise_max_remote_id(&mut self, max: u64) -> Option<Frame> {
        if max > self.max_remote_id {
            self.max_remote_id = max;
            Some(self.advertise())
        } else {
            None
        }
    }

    /// A stream the remote opened has closed: like JS, allow one more remote stream (limit
    /// + 2, saturating) and return the `ConnectionMaxStreamId` frame to send.
    pub fn on_remote_stream_closed(&mut self) -> Frame {
        self.max_remote_id = self.max_remote_id.saturating_add(2);
        self.advertise()
    }

    /// `ConnectionMaxStreamId { max_stream_id }` with the limit we allow the remote (§5.3.5).
    pub fn advertise(&self) -> Frame {
        Frame::ConnectionMaxStreamId { max_stream_id: self.max_remote_id }
    }

    /// `ConnectionStreamIdBlocked` (§5.3.6) with the id we want to open, when the next local
    /// id is over the remote's limit; `None` if we may open a stream now.
    pub fn blocked_frame(&self) -> Option<Frame> {
        match self.next_local {
            Some(id) if id <= self.remote_allows => None,
            Some(id) => Some(Frame::ConnectionStreamIdBlocked { max_stream_id: id }),
            None => Some(Frame::ConnectionStreamIdBlocked { max_stream_id: u64::MAX }),
        }
    }
}

/// Receive-side data window of one stream (RFC 29 §4.4.4, `StreamMaxData` §5.3.12) or of the
/// connection (§4.5, `ConnectionMaxData` §5.3.3). All values are bytes.
///
/// We accept data up to `max_offset`; as the application consumes bytes, the window slides
/// to `consumed + window`, advertised once at least half a window was consumed since the
/// last advertisement. `max_offset` never shrinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvWindow {
    /// Bytes the application has consumed (read) so far.
    consumed: u64,
    /// `consumed` at the last advertisement (0 initially).
    advertised_at: u64,
    /// Largest end offset we have advertised (bytes).
    max_offset: u64,
    /// Window size (bytes).
    window: u64,
}

impl RecvWindow {
    /// A window of `window` bytes; the initial advertised max offset is `window`.
    pub fn new(window: u64) -> Self {
        RecvWindow { consumed: 0, advertised_at: 0, max_offset: window, window }
    }

    /// Whether data at byte `offset` of length `len` bytes fits: its end (`offset + len`)
    /// must be ≤ the advertised max offset. On failure returns `(end, max)`; an end past
    /// `u64::MAX` is reported as `u64::MAX`.
    pub fn check(&self, offset: u64, len: u64) -> Result<(), (u64, u64)> {
        match offset.checked_add(len) {
            Some(end) if end <= self.max_offset => Ok(()),
            Some(end) => Err((end, self.max_offset)),
            None => Err((u64::MAX, self.max_offset)),
        }
    }

    /// [`RecvWindow::check`] for stream `stream_id`, as [`FlowError::DataOverLimit`].
    pub fn check_stream(&self, stream_id: u64, offset: u64, len: u64) -> Result<(), FlowError> {
        self.check(offset, len).map_err(|(end, max)| FlowError::DataOverLimit { stream_id, end, max })
    }

    /// [`RecvWindow::check`] for the connection window, as
    /// [`FlowError::ConnectionDataOverLimit`].
    pub fn check_connection(&self, offset: u64, len: u64) -> Result<(), FlowError> {
        self.check(offset, len).map_err(|(end, max)| FlowError::ConnectionDataOverLimit { end, max })
    }

    /// The application has now consumed `total_consumed` bytes in total (a running total;
    /// a smaller value than before is ignored). Returns the new max offset to advertise
    /// (`total_consumed + window`, saturating) when at least half the window (rounded up)
    /// was consumed since the last advertisement and it raises the limit; else `None`.
    /// The max offset never shrinks.
    pub fn on_consumed(&mut self, total_consumed: u64) -> Option<u64> {
        self.consumed = self.consumed.max(total_consumed);
        let half = self.window / 2 + self.window % 2;
        if self.consumed.saturating_sub(self.advertised_at) < half {
            return None;
        }
        let candidate = self.consumed.saturating_add(self.window);
        if candidate > self.max_offset {
            self.max_offset = candidate;
            self.advertised_at = self.consumed;
            Some(candidate)
        } else {
            None
        }
    }

    /// The advertised max offset (bytes).
    pub fn max_offset(&self) -> u64 {
        self.max_offset
    }

    /// Bytes consumed so far (the largest total passed to [`RecvWindow::on_consumed`]).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The window size (bytes).
    pub fn window(&self) -> u64 {
        self.window
    }

    /// `StreamMaxData { stream_id, max_offset }` (§5.3.12).
    pub fn stream_frame(&self, stream_id: u64) -> Frame {
        Frame::StreamMaxData { stream_id, max_offset: self.max_offset }
    }

    /// `ConnectionMaxData { max_offset }` (§5.3.3).
    pub fn connection_frame(&self) -> Frame {
        Frame::ConnectionMaxData { max_offset: self.max_offset }
    }
}

/// Send-side data limit of one stream (or the connection): what the remote allows
/// (`StreamMaxData` §5.3.12 / `ConnectionMaxData` §5.3.3). All values are bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Bytes sent so far (the next offset).
    sent: u64,
    /// The remote's max offset (bytes).
    remote_max: u64,
}

impl Default for SendWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl SendWindow {
    /// The per-stream max offset the JS reference assumes until the remote says otherwise
    /// (bytes).
    pub const DEFAULT_REMOTE_MAX: u64 = 16_384;

    /// Nothing sent; remote max [`SendWindow::DEFAULT_REMOTE_MAX`] (16384 bytes).
    pub fn new() -> Self {
        Self::with_remote_max(Self::DEFAULT_REMOTE_MAX)
    }

    /// Nothing sent; remote max `remote_max` bytes (e.g. `u64::MAX` for a connection-level
    /// window before any `ConnectionMaxData` arrived).
    pub fn with_remote_max(remote_max: u64) -> Self {
        SendWindow { sent: 0, remote_max }
    }

    /// Bytes we may send now: remote max − sent, never below 0.
    pub fn available(&self) -> u64 {
        self.remote_max.saturating_sub(self.sent)
    }

    /// We sent `n` more bytes (saturating at `u64::MAX`). Callers should keep `n` ≤
    /// [`SendWindow::available`]; going over only makes `available` 0.
    pub fn on_sent(&mut self, n: u64) {
        self.sent = self.sent.saturating_add(n);
    }

    /// The last `n` bytes sent were refused with a final Reject and nothing was sent after
    /// them: they may be sent again at the same offsets (saturating at 0).
    pub fn on_unsent(&mut self, n: u64) {
        self.sent = self.sent.saturating_sub(n);
    }

    /// The remote's max offset (bytes). Only grows; an out-of-order smaller value is ignored
    /// (RFC 29 §4.4.4).
    pub fn on_remote_max(&mut self, max_offset: u64) {
        self.remote_max = self.remote_max.max(max_offset);
    }

    /// Bytes sent so far (the offset of the next byte).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The remote's max offset (bytes).
    pub fn remote_max(&self) -> u64 {
        self.remote_max
    }

    /// `StreamDataBlocked { stream_id, max_offset: sent }` (§5.3.13) when nothing may be sent
    /// (`available() == 0`), else `None`. Senders SHOULD send it when they have more data
    /// than the limit allows (§4.4.4).
    pub fn blocked_frame(&self, stream_id: u64) -> Option<Frame> {
        (self.available() == 0).then_some(Frame::StreamDataBlocked { stream_id, max_offset: self.sent })
    }

    /// `ConnectionDataBlocked { max_offset: sent }` (§5.3.4) when this is the connection
    /// window and `available() == 0`, else `None`.
    pub fn connection_blocked_frame(&self) -> Option<Frame> {
        (self.available() == 0).then_some(Frame::ConnectionDataBlocked { max_offset: self.sent })
    }
}

/// Receive-side money limit of one stream (`StreamMaxMoney` §5.3.9), in the receiver's
/// asset units (our units: we are the receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyWindow {
    /// Total we are willing to receive (asset units; `u64::MAX` ≈ unlimited).
    receive_max: u64,
    /// Total received so far (asset units).
    total_received: u64,
}

impl MoneyWindow {
    /// A stream that accepts up to `receive_max` asset units in total.
    pub fn new(receive_max: u64) -> Self {
        MoneyWindow { receive_max, total_received: 0 }
    }

    /// Whether `amount` more fits: `total_received + amount` ≤ `receive_max`. On failure
    /// returns `(total, max)`, where a total past `u64::MAX` is reported as `u64::MAX`.
    pub fn accept(&self, amount: u64) -> Result<(), (u64, u64)> {
        match self.total_received.checked_add(amount) {
            Some(total) if total <= self.receive_max => Ok(()),
            Some(total) => Err((total, self.receive_max)),
            None => Err((u64::MAX, self.receive_max)),
        }
    }

    /// [`MoneyWindow::accept`] as [`FlowError::MoneyOverLimit`] for stream `stream_id`.
    pub fn check(&self, stream_id: u64, amount: u64) -> Result<(), FlowError> {
        self.accept(amount).map_err(|(total, max)| FlowError::MoneyOverLimit { stream_id, total, max })
    }

    /// Records `amount` received (asset units; saturating at `u64::MAX`).
    pub fn on_received(&mut self, amount: u64) {
        self.total_received = self.total_received.saturating_add(amount);
    }

    /// Raises the receive max (never lowers it: no reneging, RFC 29 §4.4.4). Returns whether
    /// it grew (then send [`MoneyWindow::advertise`]).
    pub fn raise_receive_max(&mut self, receive_max: u64) -> bool {
        let grew = receive_max > self.receive_max;
        self.receive_max = self.receive_max.max(receive_max);
        grew
    }

    /// Total we are willing to receive (asset units).
    pub fn receive_max(&self) -> u64 {
        self.receive_max
    }

    /// Total received so far (asset units).
    pub fn total_received(&self) -> u64 {
        self.total_received
    }

    /// How much more we accept (asset units), never below 0.
    pub fn available(&self) -> u64 {
        self.receive_max.saturating_sub(self.total_received)
    }

    /// `StreamMaxMoney { stream_id, receive_max, total_received }` (§5.3.9).
    pub fn advertise(&self, stream_id: u64) -> Frame {
        Frame::StreamMaxMoney { stream_id, receive_max: self.receive_max, total_received: self.total_received }
    }
}

/// Limits and closes a peer sent in one STREAM packet (a reply or a Prepare).
///
/// Byte limits are bytes; money values are in the peer's asset units (§5.3.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteLimits {
    /// Largest `ConnectionMaxStreamId` (§5.3.5) in the packet.
    pub max_stream_id: Option<u64>,
    /// Largest `ConnectionMaxData` (§5.3.3) in the packet (bytes).
    pub connection_max_data: Option<u64>,
    /// `StreamMaxData` (§5.3.12) as `(stream_id, max_offset bytes)`, in frame order.
    pub stream_max_data: Vec<(u64, u64)>,
    /// `StreamMaxMoney` (§5.3.9) as `(stream_id, receive_max, total_received)`, in frame order.
    pub stream_max_money: Vec<(u64, u64, u64)>,
    /// `StreamClose` (§5.3.7) as `(stream_id, code, message)`, in frame order.
    pub closed_streams: Vec<(u64, CloseCode, String)>,
    /// The first `ConnectionClose` (§5.3.1) in the packet.
    pub connection_close: Option<(CloseCode, String)>,
}

/// Collects the flow-control limits and closes from `frames` (other frame types are
/// ignored). Since limits only grow (RFC 29 §4.4.4), repeated connection-level limits keep
/// the largest; per-stream entries are kept in order for the caller to apply (e.g. with
/// [`SendWindow::on_remote_max`], which ignores smaller values).
pub fn remote_limits(frames: &[Frame]) -> RemoteLimits {
    let mut limits = RemoteLimits::default();
    for frame in frames {
        match frame {
            Frame::ConnectionMaxStreamId { max_stream_id } => {
                limits.max_stream_id = Some(limits.max_stream_id.map_or(*max_stream_id, |m| m.max(*max_stream_id)));
            }
            Frame::ConnectionMaxData { max_offset } => {
                limits.connection_max_data =
                    Some(limits.connection_max_data.map_or(*max_offset, |m| m.max(*max_offset)));
            }
            Frame::StreamMaxData { stream_id, max_offset } => limits.stream_max_data.push((*stream_id, *max_offset)),
            Frame::StreamMaxMoney { stream_id, receive_max, total_received } => {
                limits.stream_max_money.push((*stream_id, *receive_max, *total_received))
            }
            Frame::StreamClose { stream_id, code, message } => {
                limits.closed_streams.push((*stream_id, *code, message.clone()))
            }
            Frame::ConnectionClose { code, message } if limits.connection_close.is_none() => {
                limits.connection_close = Some((*code, message.clone()));
            }
            _ => {}
        }
    }
    limits
}
