//! Per-stream receive state of a STREAM receiver, sans-IO: put StreamData frames back in
//! offset order (RFC 29 §5.3.11 StreamData), enforce the stream's receive window (RFC 29
//! §4.4.4, StreamMaxData §5.3.12) and, on BTP-NIPs connections, cut the in-order bytes into
//! framed NIP-01 messages (docs/btp-nips.md §3, [`MessageDecoder`]).
//!
//! Like the rest of the crate this does no I/O and reads no clock. A receiver applies a
//! packet's frames to *clones* of its [`RecvStream`]s and keeps them only when it accepts the
//! packet, so a rejected packet (whose frames the sender will resend) leaves no trace.
//!
//! Units: offsets, lengths, windows and buffer sizes are **bytes**; money is **asset units**
//! of the receiver.
use std::collections::BTreeMap;

use crate::btpnips::framing::MessageDecoder;
use crate::btpnips::BtpNipsError;
use crate::stream::{FlowError, Frame, RecvWindow};

/// Most bytes (512 KiB) buffered out of order on one stream; a StreamData frame that would
/// buffer more is refused ([`BtpNipsError::MessageTooLarge`] with the total, bytes).
pub const MAX_BUFFERED: usize = 512 * 1024;
/// Receive window per stream (512 KiB: bytes beyond what the application consumed),
/// advertised with StreamMaxData (RFC 29 §5.3.12). Larger than one BTP-NIPs message
/// ([`crate::btpnips::framing::MAX_MESSAGE_LEN`], 256 KiB), so a message always fits.
pub const STREAM_WINDOW: u64 = 512 * 1024;

/// Receive side of one stream (RFC 29 §4.4, §5.3.11): the next expected offset, data that
/// arrived after a gap, the receive window and the money received. Cloned before a packet is
/// applied, so a rejected packet leaves no trace (a Reject NACKs its frames).
#[derive(Debug, Clone)]
pub struct RecvStream {
    next_offset: u64,
    out_of_order: BTreeMap<u64, Vec<u8>>,
    buffered: usize,
    /// `Some` on BTP-NIPs connections: the bytes are framed NIP-01 messages.
    decoder: Option<MessageDecoder>,
    /// What we allow the sender to send (flow control).
    window: RecvWindow,
    /// Money received on this stream, asset units.
    money: u64,
}

impl Default for RecvStream {
    /// A raw stream: nothing received, a window of [`STREAM_WINDOW`] bytes.
    fn default() -> Self {
        Self {
            next_offset: 0,
            out_of_order: BTreeMap::new(),
            buffered: 0,
            decoder: None,
            window: RecvWindow::new(STREAM_WINDOW),
            money: 0,
        }
    }
}

/// What one StreamData frame (RFC 29 §5.3.11) made available, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Received {
    /// Newly contiguous bytes, in stream order.
    pub bytes: Vec<u8>,
    /// NIP-01 JSON messages completed (framed streams only, docs/btp-nips.md §3).
    pub messages: Vec<String>,
}

impl RecvStream {
    /// A stream whose bytes are BTP-NIPs framed messages (docs/btp-nips.md §3), with a window
    /// of [`STREAM_WINDOW`] bytes.
    pub fn framed() -> Self {
        Self { decoder: Some(MessageDecoder::new()), ..Self::default() }
    }

    /// A stream of raw bytes (e.g. an SPSP payment's data, RFC 9), with a window of
    /// [`STREAM_WINDOW`] bytes.
    pub fn raw() -> Self {
        Self::default()
    }

    /// Check a StreamData frame of `len` bytes at byte `offset` against the window we
    /// advertised (RFC 29 §4.4.4: its end must not pass our StreamMaxData).
    ///
    /// Errors: [`FlowError::DataOverLimit`] (close the connection with FlowControlError,
    /// RFC 29 §5.4).
    pub fn check_window(&self, stream_id: u64, offset: u64, len: u64) -> Result<(), FlowError> {
        self.window.check_stream(stream_id, offset, len)
    }

    /// The offset (bytes) of the next byte the stream expects: every byte before it was
    /// delivered in order.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Bytes held out of order (after a gap), waiting for the gap to fill; at most
    /// [`MAX_BUFFERED`].
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Bytes this stream holds in memory: out of order after a gap ([`Self::buffered`]) plus,
    /// on a framed stream, the start of a BTP-NIPs message whose rest has not arrived.
    pub fn held(&self) -> usize {
        self.buffered + self.decoder.as_ref().map_or(0, |d| d.pending())
    }

    /// Count `amount` (asset units) received on this stream (RFC 29 §5.3.10 StreamMoney);
    /// returns the new total, saturating at `u64::MAX`.
    pub fn add_money(&mut self, amount: u64) -> u64 {
        self.money = self.money.saturating_add(amount);
        self.money
    }

    /// Frames to put in our reply: StreamMaxData (RFC 29 §5.3.12) with our current window in
    /// bytes (raised once enough was consumed; senders assume 16 384 bytes until told), and
    /// StreamMaxMoney (§5.3.9; we accept any amount) when money arrived.
    pub fn reply_frames(&mut self, stream_id: u64, got_money: bool) -> Vec<Frame> {
        let mut frames = Vec::new();
        self.window.on_consumed(self.next_offset);
        frames.push(Frame::StreamMaxData { stream_id, max_offset: self.window.max_offset() });
        if got_money {
            frames.push(Frame::StreamMaxMoney { stream_id, receive_max: u64::MAX, total_received: self.money });
        }
        frames
    }

    /// Apply one StreamData frame (RFC 29 §5.3.11): `data` at byte `offset`. Returns the
    /// bytes and messages it completes.
    ///
    /// Bytes before [`RecvStream::next_offset`] (a retransmission) are skipped; bytes after a
    /// gap wait for the gap to fill. Of two chunks after a gap at the same offset the longer
    /// is kept. The caller checks the window first ([`RecvStream::check_window`]).
    ///
    /// Errors: more than [`MAX_BUFFERED`] bytes out of order
    /// ([`BtpNipsError::MessageTooLarge`]), or a framing error from [`MessageDecoder::push`].
    /// After an error the state is unusable: apply frames to a clone and drop it.
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Result<Received, BtpNipsError> {
        if offset > self.next_offset {
            // A chunk at an offset already held (a resend whose Fulfill was lost, or the same
            // bytes cut differently) replaces it only if longer, and is counted once.
            let held = self.out_of_order.get(&offset).map_or(0, Vec::len);
            if data.len() <= held {
                return Ok(Received::default());
            }
            let buffered = self.buffered - held + data.len();
            if buffered > MAX_BUFFERED {
                return Err(BtpNipsError::MessageTooLarge(buffered));
            }
            self.buffered = buffered;
            self.out_of_order.insert(offset, data.to_vec());
            return Ok(Received::default());
        }
        let mut out = Received::default();
        self.take(offset, data, &mut out)?;
        while let Some((&off, _)) = self.out_of_order.first_key_value() {
            if off > self.next_offset {
                break;
            }
            let chunk = self.out_of_order.remove(&off).expect("present");
            self.buffered -= chunk.len();
            self.take(off, &chunk, &mut out)?;
        }
        Ok(out)
    }

    fn take(&mut self, offset: u64, data: &[u8], out: &mut Received) -> Result<(), BtpNipsError> {
        let skip = (self.next_offset - offset) as usize;
        if skip >= data.len() {
            return Ok(());
        }
        let fresh = &data[skip..];
        self.next_offset += fresh.len() as u64;
        if let Some(d) = &mut self.decoder {
            out.messages.extend(d.push(fresh)?);
        }
        out.bytes.extend_from_slice(fresh);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btpnips::framing::encode_message;

    /// A stream at rest is small (the node's receiver keeps up to 4 096 per connection and
    /// says each costs ~200 bytes with its map entry).
    #[test]
    fn a_stream_state_at_rest_is_small() {
        let size = std::mem::size_of::<RecvStream>();
        assert!(size <= 160, "RecvStream is {size} bytes");
    }

    #[test]
    fn reorders_and_skips_retransmissions() {
        let mut wire = encode_message(r#"["EOSE","a"]"#).unwrap();
        wire.extend(encode_message(r#"["EOSE","b"]"#).unwrap());
        let (x, y) = wire.split_at(5);
        let mut s = RecvStream::framed();
        assert_eq!(s.push(5, y).unwrap(), Received::default());
        let got = s.push(0, x).unwrap();
        assert_eq!(got.messages, vec![r#"["EOSE","a"]"#, r#"["EOSE","b"]"#]);
        assert_eq!(got.bytes, wire);
        assert_eq!(s.push(0, &wire).unwrap(), Received::default(), "a resend of consumed bytes yields nothing");
        let mut raw = RecvStream::raw();
        assert_eq!(raw.push(0, b"hello").unwrap().bytes, b"hello");
        assert!(raw.push(5, b"\xff").unwrap().messages.is_empty());
    }

    /// Found by the `stream_receiver` fuzz target: a chunk after a gap that arrived twice (the
    /// sender resent it because its Fulfill was lost) was counted twice in the buffered bytes,
    /// which then never went back to 0 (so resends could exhaust `MAX_BUFFERED`), and a shorter
    /// chunk at the same offset replaced a longer one, losing bytes already fulfilled.
    #[test]
    fn a_resent_chunk_after_a_gap_is_held_once() {
        let mut s = RecvStream::raw();
        assert_eq!(s.push(5, b"0123456789").unwrap(), Received::default());
        assert_eq!(s.push(5, b"0123456789").unwrap(), Received::default());
        assert_eq!(s.buffered(), 10);
        assert_eq!(s.push(5, b"01").unwrap(), Received::default());
        assert_eq!(s.buffered(), 10);
        assert_eq!(s.push(0, b"abcde").unwrap().bytes, b"abcde0123456789");
        assert_eq!((s.buffered(), s.next_offset()), (0, 15));

        let big = vec![0u8; MAX_BUFFERED / 2 + 1];
        let mut s = RecvStream::raw();
        s.push(1, &big).unwrap();
        s.push(1, &big).expect("a resend does not count twice");
        assert_eq!(s.buffered(), big.len());
        s.push(1, &[0u8; MAX_BUFFERED]).expect("a longer chunk replaces the shorter one");
        assert_eq!(s.buffered(), MAX_BUFFERED);
        assert_eq!(s.push(2, b"x"), Err(BtpNipsError::MessageTooLarge(MAX_BUFFERED + 1)));
    }
}
