//! Per-stream receive state: put StreamData frames back in offset order and cut the bytes
//! into BTP-NIPs messages (RFC 29 §5.3 StreamData; docs/btp-nips.md §3).
use std::collections::BTreeMap;

use protocol::btpnips::framing::MessageDecoder;
use protocol::btpnips::BtpNipsError;
use protocol::stream::{FlowError, Frame, RecvWindow};

/// Most bytes buffered out of order on one stream before the stream is refused.
pub const MAX_BUFFERED: usize = 512 * 1024;
/// Receive window per stream (bytes beyond what the application consumed), advertised with
/// StreamMaxData (RFC 29 §5.3). Larger than one BTP-NIPs message, so a message always fits.
pub const STREAM_WINDOW: u64 = 512 * 1024;

/// Receive side of one stream. Cloned before a packet is applied, so a rejected packet
/// leaves no trace (a Reject NACKs its frames).
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

/// What one StreamData frame made available, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Received {
    /// Newly contiguous bytes.
    pub bytes: Vec<u8>,
    /// Messages completed (framed streams only).
    pub messages: Vec<String>,
}

impl RecvStream {
    /// A stream whose bytes are BTP-NIPs framed messages.
    pub fn framed() -> Self {
        Self { decoder: Some(MessageDecoder::new()), ..Self::default() }
    }

    /// A stream of raw bytes (e.g. an SPSP payment's data).
    pub fn raw() -> Self {
        Self::default()
    }

    /// Check a StreamData frame against the window we advertised.
    /// Errors: FlowError::DataOverLimit (close the connection with FlowControlError).
    pub fn check_window(&self, stream_id: u64, offset: u64, len: u64) -> Result<(), FlowError> {
        self.window.check_stream(stream_id, offset, len)
    }

    /// The offset of the next byte the stream expects (everything before it was consumed).
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Count money received on this stream; returns the new total.
    pub fn add_money(&mut self, amount: u64) -> u64 {
        self.money = self.money.saturating_add(amount);
        self.money
    }

    /// Frames to put in our reply: StreamMaxData with our current window (raised once enough
    /// was consumed; senders assume 16 384 bytes until told), and StreamMaxMoney (we accept
    /// any amount) when money arrived.
    pub fn reply_frames(&mut self, stream_id: u64, got_money: bool) -> Vec<Frame> {
        let mut frames = Vec::new();
        self.window.on_consumed(self.next_offset);
        frames.push(Frame::StreamMaxData { stream_id, max_offset: self.window.max_offset() });
        if got_money {
            frames.push(Frame::StreamMaxMoney { stream_id, receive_max: u64::MAX, total_received: self.money });
        }
        frames
    }

    /// Apply one StreamData frame and return the bytes and messages it completes.
    ///
    /// Bytes before `next_offset` (a retransmission) are skipped; bytes after a gap wait
    /// for the gap to fill. Errors: too much buffered, or a framing error.
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Result<Received, BtpNipsError> {
        if offset > self.next_offset {
            self.buffered += data.len();
            if self.buffered > MAX_BUFFERED {
                return Err(BtpNipsError::MessageTooLarge(self.buffered));
            }
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
    use protocol::btpnips::framing::encode_message;

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
}
