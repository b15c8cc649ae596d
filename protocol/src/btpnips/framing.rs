//! Framing of NIP-01 messages inside STREAM data (docs/btp-nips.md §3).
//!
//! STREAM data is an ordered byte stream without message boundaries (RFC 29 §5.3, StreamData),
//! so every NIP-01 message (a JSON array such as `["REQ",…]`) is written as an OER
//! var-octet-string (RFC 30 length determinant, then the UTF-8 JSON bytes).
use super::BtpNipsError;

/// Largest NIP-01 message accepted on a stream, in bytes of JSON (256 KiB). One message may
/// span several ILP packets; this bound keeps a peer from making us buffer without limit.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// Frame one NIP-01 JSON message: `length determinant | utf8 bytes`.
///
/// Errors: [`BtpNipsError::MessageTooLarge`] above [`MAX_MESSAGE_LEN`].
pub fn encode_message(json: &str) -> Result<Vec<u8>, BtpNipsError> {
    if json.len() > MAX_MESSAGE_LEN {
        return Err(BtpNipsError::MessageTooLarge(json.len()));
    }
    let mut out = Vec::with_capacity(json.len() + 4);
    crate::oer::put_var_octets(&mut out, json.as_bytes());
    Ok(out)
}

/// Reassembles framed messages from the in-order bytes of one stream.
///
/// Feed it contiguous bytes with [`MessageDecoder::push`]; it yields every complete message.
/// A partial message stays buffered until the rest arrives.
#[derive(Debug, Default, Clone)]
pub struct MessageDecoder {
    buf: Vec<u8>,
}

impl MessageDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes buffered that do not yet form a whole message.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of heap the buffer holds (at most twice [`MessageDecoder::pending`] after a push).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Append in-order stream bytes and return the complete messages they finish, in order.
    ///
    /// Errors: a length prefix that is malformed or above [`MAX_MESSAGE_LEN`], or a message
    /// that is not UTF-8. After an error the stream is unusable (close it with
    /// FrameFormatError).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, BtpNipsError> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut consumed = 0;
        loop {
            let rest = &self.buf[consumed..];
            let Some((header, len)) = read_length(rest)? else { break };
            if len > MAX_MESSAGE_LEN {
                return Err(BtpNipsError::MessageTooLarge(len));
            }
            if rest.len() < header + len {
                break;
            }
            let body = &rest[header..header + len];
            let text = std::str::from_utf8(body).map_err(|_| BtpNipsError::InvalidUtf8)?;
            out.push(text.to_owned());
            consumed += header + len;
        }
        self.buf.drain(..consumed);
        // What stays is only the start of the next message: keep no capacity beyond it, so a
        // stream at rest holds no buffer (a connection may keep thousands of streams).
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else if self.buf.capacity() > 2 * self.buf.len() {
            self.buf.shrink_to_fit();
        }
        Ok(out)
    }
}

/// Parse an OER length determinant at the start of `buf`: `Some((header_len, len))`, or `None`
/// when more bytes are needed.
fn read_length(buf: &[u8]) -> Result<Option<(usize, usize)>, BtpNipsError> {
    let Some(&first) = buf.first() else { return Ok(None) };
    if first & 0x80 == 0 {
        return Ok(Some((1, first as usize)));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return Err(BtpNipsError::BadLength);
    }
    if buf.len() < 1 + n {
        return Ok(None);
    }
    let len = buf[1..1 + n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    if len < 128 || buf[1] == 0 {
        return Err(BtpNipsError::BadLength);
    }
    Ok(Some((1 + n, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_messages_round_trip_across_splits() {
        let small = r#"["CLOSE","s"]"#;
        let big = format!(r#"["NOTICE","{}"]"#, "x".repeat(300));
        let mut wire = encode_message(small).unwrap();
        wire.extend(encode_message(&big).unwrap());
        assert_eq!(wire[0], small.len() as u8);
        for split in 0..wire.len() {
            let mut d = MessageDecoder::new();
            let mut got = d.push(&wire[..split]).unwrap();
            got.extend(d.push(&wire[split..]).unwrap());
            assert_eq!(got, vec![small.to_string(), big.clone()], "split at {split}");
            assert_eq!(d.pending(), 0);
        }
    }

    /// After a push the decoder keeps at most twice what it still needs: a 30 000-byte packet
    /// of whole messages leaves no buffer, one ending in a message's first bytes keeps ~those.
    #[test]
    fn a_decoder_at_rest_keeps_no_buffer() {
        let msg = format!(r#"["NOTICE","{}"]"#, "x".repeat(29_000));
        let wire = encode_message(&msg).unwrap();
        let mut d = MessageDecoder::new();
        assert_eq!(d.push(&wire).unwrap().len(), 1);
        assert_eq!(d.capacity(), 0, "a buffer kept after whole messages");
        let mut two = wire.clone();
        two.extend_from_slice(&wire[..10]);
        assert_eq!(d.push(&two).unwrap().len(), 1);
        assert_eq!(d.pending(), 10);
        assert!(d.capacity() <= 20, "kept {} bytes of buffer for 10 pending", d.capacity());
        assert_eq!(d.push(&wire[10..]).unwrap(), vec![msg]);
    }

    #[test]
    fn rejects_oversized_and_non_canonical_lengths() {
        let mut d = MessageDecoder::new();
        assert_eq!(d.push(&[0x83, 0x10, 0x00, 0x00]), Err(BtpNipsError::MessageTooLarge(0x100000)));
        let mut d = MessageDecoder::new();
        assert_eq!(d.push(&[0x81, 0x05]), Err(BtpNipsError::BadLength));
        let mut d = MessageDecoder::new();
        assert_eq!(d.push(&[0x02, 0xff, 0xfe]), Err(BtpNipsError::InvalidUtf8));
    }
}
